//go:build !nocuda

package gpu

import (
	"fmt"
	"math"

	"rout/cudnn"
	"rout/kernels"
	"rout/net"
)

// The activation-based revival rules' operations (kernels/revive.cu). They have been compile- and
// stand-in-checked but not yet run on a GPU; their parity tests (revive_test.go) run where one is.

// reviveWords lays out a ReviveTable as kernels/revive.cu reads it: kernels.RVWords words per
// group, each filter's group index, then kernels.LinkWords words per link.
func reviveWords(rt *net.ReviveTable) ([]int32, int, error) {
	ft := rt.FilterTable
	if len(rt.Groups) != len(ft.Groups) {
		return nil, 0, fmt.Errorf("gpu: revive table has %d groups for %d filter groups", len(rt.Groups), len(ft.Groups))
	}
	nLinks := 0
	for _, g := range rt.Groups {
		nLinks += len(g.Links)
	}
	head := kernels.RVWords*len(ft.Groups) + ft.Filters
	words := make([]int32, head+kernels.LinkWords*nLinks)
	fits := func(v int) bool { return v >= -1 && v <= math.MaxInt32 }
	first, link, end := 0, 0, 0
	for gi, g := range ft.Groups {
		rg := rt.Groups[gi]
		w := words[kernels.RVWords*gi:]
		w[kernels.RVFirst] = int32(first)
		w[kernels.RVFilters] = int32(g.Filters)
		w[kernels.RVLinks] = int32(len(rg.Links))
		w[kernels.RVLink0] = int32(head + kernels.LinkWords*link)
		w[kernels.RVGamma] = int32(max(rg.Gamma, -1))
		w[kernels.RVRunMean] = int32(max(rg.RunMean, -1))
		if !fits(rg.Gamma+2*g.Filters) || !fits(rg.RunMean+2*g.Filters) {
			return nil, 0, fmt.Errorf("gpu: revive group %q does not fit 32-bit offsets", g.Name)
		}
		if rg.Gamma >= 0 {
			end = max(end, rg.Gamma+2*g.Filters)
		}
		for k := 0; k < g.Filters; k++ {
			words[kernels.RVWords*len(ft.Groups)+first+k] = int32(gi)
		}
		for _, l := range rg.Links {
			last := l.Weight + (g.Filters-1)*l.Len + (l.Rows-1)*l.RowStride + l.Len
			if l.Weight < 0 || l.Rows < 1 || l.Len < 1 || !fits(last) || !fits(l.Rows*l.Len) {
				return nil, 0, fmt.Errorf("gpu: revive group %q: link %+v does not fit 32-bit offsets", g.Name, l)
			}
			lw := words[head+kernels.LinkWords*link:]
			lw[kernels.LWeight], lw[kernels.LRows] = int32(l.Weight), int32(l.Rows)
			lw[kernels.LRowStride], lw[kernels.LLen] = int32(l.RowStride), int32(l.Len)
			end = max(end, last)
			link++
		}
		first += g.Filters
	}
	if first != ft.Filters {
		return nil, 0, fmt.Errorf("gpu: filter table says %d filters, its groups hold %d", ft.Filters, first)
	}
	return words, end, nil
}

// reviveTable returns rt's device copy, uploading it at first use.
func (b *Backend) reviveTable(op string, rt *net.ReviveTable) *deviceTable {
	if t, ok := rt.Impl.(*deviceTable); ok && t.owner == b && t.groups == len(rt.Groups) && t.filters == rt.Filters {
		return t
	}
	words, end, err := reviveWords(rt)
	if err != nil {
		b.fail(fmt.Errorf("gpu: %s: %w", op, err))
		return nil
	}
	t := &deviceTable{owner: b, groups: len(rt.Groups), filters: rt.Filters, end: end}
	if t.words, err = cudnn.Alloc[int32](b.ctx, len(words)); err != nil {
		b.fail(fmt.Errorf("gpu: %s: revive table: %w", op, err))
		return nil
	}
	b.tables = append(b.tables, t)
	if err := t.words.Upload(words); err != nil {
		b.fail(fmt.Errorf("gpu: %s: revive table: %w", op, err))
		return nil
	}
	rt.Impl = t
	return t
}

// ActivationMeans writes each channel's mean |y|: one launch, a block per channel.
func (b *Backend) ActivationMeans(y, means *net.Tensor) {
	if means.Len() != y.C || !means.Dense() {
		panic(fmt.Sprintf("gpu: activation means: %v should hold %d dense values for %v", means, y.C, y))
	}
	if !b.ok() || y.Len() == 0 {
		return
	}
	b.launchActivationMeans(y.C, 256, in(y), i32(y.N), i32(y.H*y.W), i32(y.Stride), out(means))
}

// MarkDormant is ReDo's decision: one launch, a block per group.
func (b *Backend) MarkDormant(ft *net.FilterTable, means, mask, counts *net.Tensor, tau float32) {
	checkFilters("mark dormant", ft, means)
	checkFilters("mark dormant", ft, mask)
	if counts == nil {
		panic("gpu: mark dormant: counts is nil")
	}
	checkCounts("mark dormant", ft, counts)
	if !b.ok() || len(ft.Groups) == 0 {
		return
	}
	dt := b.table("mark dormant", ft)
	if dt == nil {
		return
	}
	b.launchMarkDormant(dt.groups, 256, constIntPtr(dt.words.Ptr()), in(means), out(mask), out(counts), cFloat(tau))
}

// OutgoingMeans writes each filter's mean |outgoing weight|: one launch, a block per filter.
func (b *Backend) OutgoingMeans(rt *net.ReviveTable, params, outMeans *net.Tensor) {
	checkFilters("outgoing means", rt.FilterTable, outMeans)
	if !b.ok() || rt.Filters == 0 {
		return
	}
	dt := b.reviveTable("outgoing means", rt)
	if dt == nil {
		return
	}
	checkFlat("outgoing means", params, dt)
	b.launchOutgoingMeans(dt.filters, 128, constIntPtr(dt.words.Ptr()), i32(dt.groups), in(params), out(outMeans))
}

// ResetOutgoing zeroes the marked filters' outgoing weights and resets their batch norm: one
// launch, a block per filter (those not marked return at once), plus one per further four
// state tensors.
func (b *Backend) ResetOutgoing(rt *net.ReviveTable, mask, params, state *net.Tensor, moments []*net.Tensor) {
	checkFilters("reset outgoing", rt.FilterTable, mask)
	if !b.ok() || rt.Filters == 0 {
		return
	}
	dt := b.reviveTable("reset outgoing", rt)
	if dt == nil {
		return
	}
	checkFlat("reset outgoing", params, dt)
	for _, m := range moments {
		if m.Len() != params.Len() {
			panic(fmt.Sprintf("gpu: reset outgoing: moments %v differ from parameters %v", m, params))
		}
	}
	for _, g := range rt.Groups {
		if g.RunMean >= 0 && state == nil {
			panic("gpu: reset outgoing: a group has batch norm but no state was given")
		}
	}
	p := out(params)
	for first := true; first || len(moments) > 0; first = false {
		var m [redrawMoments]floatPtr
		for i := 0; i < redrawMoments && len(moments) > 0; i++ {
			m[i], moments = out(moments[0]), moments[1:]
		}
		b.launchResetOutgoing(dt.filters, 128, constIntPtr(dt.words.Ptr()), i32(dt.groups), in(mask), p, optOut(state),
			m[0], m[1], m[2], m[3])
		p = 0 // further launches only clear state
	}
}

// CBPStep is continual backprop's step: one launch, a block per group.
func (b *Backend) CBPStep(ft *net.FilterTable, means, outMeans, util, age, acc, mask, counts *net.Tensor, p net.CBPParams) {
	for _, t := range []*net.Tensor{means, outMeans, util, age, mask} {
		checkFilters("cbp step", ft, t)
	}
	if acc == nil || counts == nil {
		panic("gpu: cbp step: acc and counts are required")
	}
	checkCounts("cbp step", ft, acc)
	checkCounts("cbp step", ft, counts)
	if !b.ok() || len(ft.Groups) == 0 {
		return
	}
	dt := b.table("cbp step", ft)
	if dt == nil {
		return
	}
	b.launchCbpStep(dt.groups, 128, constIntPtr(dt.words.Ptr()), in(means), in(outMeans), out(util), out(age), out(acc),
		out(mask), out(counts), cFloat(p.Decay), cFloat(p.Rate), cFloat(p.Maturity))
}

// Launch wrappers of kernels/revive.cu, one per kernel, its parameters in its order.

func (b *Backend) launchActivationMeans(grid, block int, y constFloatPtr, n, hw, stride cInt, means floatPtr) {
	b.launch("activation_means", grid, block, y, n, hw, stride, means)
}

func (b *Backend) launchMarkDormant(grid, block int, table constIntPtr, means constFloatPtr, mask, counts floatPtr, tau cFloat) {
	b.launch("mark_dormant", grid, block, table, means, mask, counts, tau)
}

func (b *Backend) launchOutgoingMeans(grid, block int, rt constIntPtr, groups cInt, params constFloatPtr, out floatPtr) {
	b.launch("outgoing_means", grid, block, rt, groups, params, out)
}

func (b *Backend) launchResetOutgoing(grid, block int, rt constIntPtr, groups cInt, mask constFloatPtr, params, state,
	m0, m1, m2, m3 floatPtr) {
	b.launch("reset_outgoing", grid, block, rt, groups, mask, params, state, m0, m1, m2, m3)
}

func (b *Backend) launchCbpStep(grid, block int, table constIntPtr, means, outMeans constFloatPtr, util, age, acc, mask,
	counts floatPtr, decay, rate, maturity cFloat) {
	b.launch("cbp_step", grid, block, table, means, outMeans, util, age, acc, mask, counts, decay, rate, maturity)
}
