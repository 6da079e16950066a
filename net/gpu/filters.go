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

// FilterNorms writes every filter's L1 or L2 gradient norm into norms: one launch, a warp per
// filter, float64 sums.
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
	k := int32(0)
	if kind == net.NormL2 {
		k = 1
	}
	const warps = 8
	b.launch("filter_norms", (ft.Filters+warps-1)/warps, 32*warps, dt.words.Ptr(), i32(dt.groups), i32(dt.filters),
		ptr(grads), ptr(norms), k)
}

// MarkBelow sets mask[f] = norms[f] < tau (relative to the group's mean norm with Relative) and
// adds each group's count to counts: one launch, a block per group.
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
	rel := int32(0)
	if th.Relative {
		rel = 1
	}
	b.launch("mark_below", dt.groups, 256, dt.words.Ptr(), ptr(norms), ptr(mask), optPtr(counts), th.Tau, rel)
}

// redrawMoments is how many optimiser-state tensors one redraw_filters launch clears.
const redrawMoments = 4

// RedrawFilters re-draws the filters whose mask is non-zero (all when mask is nil) with the
// counter-based draws the CPU makes, bit for bit: one launch, a block per filter (filters not
// marked return at once), plus one launch per further four state tensors.
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
	zb := int32(0)
	if r.ZeroBias {
		zb = 1
	}
	params, counts := ptr(r.Params), optPtr(r.Counts)
	moments := r.Moments
	for first := true; first || len(moments) > 0; first = false {
		var m [redrawMoments]cudnn.DevicePtr
		for i := 0; i < redrawMoments && len(moments) > 0; i++ {
			m[i], moments = ptr(moments[0]), moments[1:]
		}
		b.launch("redraw_filters", dt.filters, 128, dt.words.Ptr(), i32(dt.groups), optPtr(mask), params,
			key[0], key[1], r.Purpose, zb, m[0], m[1], m[2], m[3], counts)
		params, counts = 0, 0 // further launches only clear state
	}
}
