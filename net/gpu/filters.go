//go:build !nocuda

package gpu

import (
	"fmt"

	"rout/cudnn"
	"rout/net"
	"rout/rng"
)

// deviceTable is a FilterTable uploaded for kernels/filters.cu, cached in FilterTable.Impl.
type deviceTable struct {
	owner   *Backend
	words   *cudnn.Buffer[int32]
	groups  int
	filters int
	end     int // one past the last parameter any group touches
}

// table returns ft's device copy, uploading it at first use (an asynchronous copy: no wait).
func (b *Backend) table(op string, ft *net.FilterTable) *deviceTable {
	if t, ok := ft.Impl.(*deviceTable); ok && t.owner == b && t.groups == len(ft.Groups) && t.filters == ft.Filters {
		return t
	}
	words, err := tableWords(ft)
	if err != nil {
		b.fail(fmt.Errorf("gpu: %s: %w", op, err))
		return nil
	}
	t := &deviceTable{owner: b, groups: len(ft.Groups), filters: ft.Filters}
	for _, g := range ft.Groups {
		t.end = max(t.end, g.Weight+g.Filters*g.FilterLen)
		if g.Bias >= 0 {
			t.end = max(t.end, g.Bias+g.Filters)
		}
	}
	if t.words, err = cudnn.Alloc[int32](b.ctx, len(words)); err != nil {
		b.fail(fmt.Errorf("gpu: %s: filter table: %w", op, err))
		return nil
	}
	b.tables = append(b.tables, t)
	if err := t.words.Upload(words); err != nil {
		b.fail(fmt.Errorf("gpu: %s: filter table: %w", op, err))
		return nil
	}
	ft.Impl = t
	return t
}

func checkFilters(op string, ft *net.FilterTable, t *net.Tensor) {
	if t.Len() != ft.Filters || !t.Dense() {
		panic(fmt.Sprintf("gpu: %s: %v should hold %d dense values for %d filters", op, t, ft.Filters, ft.Filters))
	}
}

func checkCounts(op string, ft *net.FilterTable, t *net.Tensor) {
	if t != nil && (t.Len() != len(ft.Groups) || !t.Dense()) {
		panic(fmt.Sprintf("gpu: %s: counts %v should hold %d dense values", op, t, len(ft.Groups)))
	}
}

func checkFlat(op string, t *net.Tensor, dt *deviceTable) {
	if !t.Dense() || t.Len() < dt.end {
		panic(fmt.Sprintf("gpu: %s: %v must be dense and hold the %d parameters the filter table addresses", op, t, dt.end))
	}
}

// FilterNorms runs kernels/filters.cu's filter_norms: one launch, a warp per filter, float64 sums.
func (b *Backend) FilterNorms(ft *net.FilterTable, grads, norms *net.Tensor, kind net.NormKind) {
	checkFilters("filter norms", ft, norms)
	if !b.ok() || ft.Filters == 0 {
		return
	}
	dt := b.table("filter norms", ft)
	if dt == nil {
		return
	}
	checkFlat("filter norms", grads, dt)
	const warps = 8
	b.launchFilterNorms((ft.Filters+warps-1)/warps, 32*warps, constIntPtr(dt.words.Ptr()), i32(dt.groups), i32(dt.filters),
		in(grads), out(norms), flag(kind == net.NormL2))
}

// MarkBelow runs kernels/filters.cu's mark_below: one launch, a block per group.
func (b *Backend) MarkBelow(ft *net.FilterTable, norms, mask, counts *net.Tensor, th net.Threshold) {
	checkFilters("mark below", ft, norms)
	checkFilters("mark below", ft, mask)
	checkCounts("mark below", ft, counts)
	if !b.ok() || len(ft.Groups) == 0 {
		return
	}
	dt := b.table("mark below", ft)
	if dt == nil {
		return
	}
	b.launchMarkBelow(dt.groups, 256, constIntPtr(dt.words.Ptr()), in(norms), out(mask), optOut(counts), cFloat(th.Tau), flag(th.Relative))
}

// redrawMoments is how many optimiser-state tensors one redraw_filters launch clears.
const redrawMoments = 4

// RedrawFilters runs kernels/filters.cu's redraw_filters, whose draws are the CPU's bit for bit:
// one launch, a block per filter (filters not marked return at once), plus one launch per further
// four state tensors.
func (b *Backend) RedrawFilters(ft *net.FilterTable, mask *net.Tensor, r net.Redraw) {
	if mask != nil {
		checkFilters("redraw", ft, mask)
	}
	checkCounts("redraw", ft, r.Counts)
	if !b.ok() || ft.Filters == 0 {
		return
	}
	dt := b.table("redraw", ft)
	if dt == nil {
		return
	}
	checkFlat("redraw", r.Params, dt)
	for _, m := range r.Moments {
		if m.Len() != r.Params.Len() {
			panic(fmt.Sprintf("gpu: redraw: moments %v differ from parameters %v", m, r.Params))
		}
		checkFlat("redraw", m, dt)
	}
	key := rng.KeyFromSeed(r.Seed)
	params, counts := out(r.Params), optOut(r.Counts)
	moments := r.Moments
	for first := true; first || len(moments) > 0; first = false {
		var m [redrawMoments]floatPtr
		for i := 0; i < redrawMoments && len(moments) > 0; i++ {
			m[i], moments = out(moments[0]), moments[1:]
		}
		b.launchRedrawFilters(dt.filters, 128, constIntPtr(dt.words.Ptr()), i32(dt.groups), optIn(mask), params,
			cUint(key[0]), cUint(key[1]), cUint(r.Purpose), flag(r.ZeroBias), m[0], m[1], m[2], m[3], counts)
		params, counts = 0, 0 // further launches only clear state
	}
}

// Launch wrappers of kernels/filters.cu, one per kernel, its parameters in its order.

func (b *Backend) launchFilterNorms(grid, block int, table constIntPtr, groups, filters cInt, grads constFloatPtr, norms floatPtr, kind cInt) {
	b.launch("filter_norms", grid, block, table, groups, filters, grads, norms, kind)
}

func (b *Backend) launchMarkBelow(grid, block int, table constIntPtr, norms constFloatPtr, mask, counts floatPtr, tau cFloat, relative cInt) {
	b.launch("mark_below", grid, block, table, norms, mask, counts, tau, relative)
}

func (b *Backend) launchRedrawFilters(grid, block int, table constIntPtr, groups cInt, mask constFloatPtr, params floatPtr,
	key0, key1, purpose cUint, zeroBias cInt, m0, m1, m2, m3, counts floatPtr) {
	b.launch("redraw_filters", grid, block, table, groups, mask, params, key0, key1, purpose, zeroBias, m0, m1, m2, m3, counts)
}
