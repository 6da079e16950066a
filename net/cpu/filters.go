package cpu

import (
	"fmt"
	"math"

	"rout/net"
	"rout/rng"
)

// RandomOut's operations. They touch each parameter once per step, so they run on one goroutine;
// norms are summed in float64 in filter order.

func checkFilters(op string, ft *net.FilterTable, t *net.Tensor, per int) []float32 {
	if t.Len() != ft.Filters*per {
		panic(fmt.Sprintf("cpu: %s: %v should hold %d values for %d filters", op, t, ft.Filters*per, ft.Filters))
	}
	return flat(t, "filter tensor")
}

func checkGroup(op string, g *net.FilterGroup, params []float32) {
	if g.Weight < 0 || g.Weight+g.Filters*g.FilterLen > len(params) || (g.Bias >= 0 && g.Bias+g.Filters > len(params)) {
		panic(fmt.Sprintf("cpu: %s: group %q (weights at %d, bias at %d, %d x %d) exceeds %d parameters",
			op, g.Name, g.Weight, g.Bias, g.Filters, g.FilterLen, len(params)))
	}
}

// FilterNorms sums each norm in float64 and rounds it once.
func (b *Backend) FilterNorms(ft *net.FilterTable, grads, norms *net.Tensor, kind net.NormKind) {
	out := checkFilters("filter norms", ft, norms, 1)
	gr := flat(grads, "filter norms gradients")
	f := 0
	for gi := range ft.Groups {
		g := &ft.Groups[gi]
		checkGroup("filter norms", g, gr)
		for k := 0; k < g.Filters; k++ {
			var s float64
			w := gr[g.Weight+k*g.FilterLen : g.Weight+(k+1)*g.FilterLen]
			if kind == net.NormL1 {
				for _, v := range w {
					s += math.Abs(float64(v))
				}
			} else {
				for _, v := range w {
					s += float64(v) * float64(v)
				}
				s = math.Sqrt(s)
			}
			out[f] = float32(s)
			f++
		}
	}
}

// MarkBelow runs group by group.
func (b *Backend) MarkBelow(ft *net.FilterTable, norms, mask, counts *net.Tensor, th net.Threshold) {
	nv := checkFilters("mark below", ft, norms, 1)
	mv := checkFilters("mark below", ft, mask, 1)
	cv := flat(counts, "mark below counts")
	if len(cv) != len(ft.Groups) {
		panic(fmt.Sprintf("cpu: mark below: counts %v should hold %d groups", counts, len(ft.Groups)))
	}
	f := 0
	for gi := range ft.Groups {
		g := &ft.Groups[gi]
		tau, allDead := th.Tau, false
		if th.Relative {
			var s float64
			for _, v := range nv[f : f+g.Filters] {
				s += float64(v)
			}
			if g.Filters > 0 {
				mean := float32(s / float64(g.Filters))
				tau, allDead = th.Tau*mean, th.Tau > 0 && mean == 0
			}
		}
		marked := 0
		for k := 0; k < g.Filters; k++ {
			if nv[f] < tau || allDead {
				mv[f] = 1
				marked++
			} else {
				mv[f] = 0
			}
			f++
		}
		cv[gi] += float32(marked)
	}
}

// RedrawFilters runs filter by filter, one rng block per four weights.
func (b *Backend) RedrawFilters(ft *net.FilterTable, mask *net.Tensor, r net.Redraw) {
	params := flat(r.Params, "redraw parameters")
	var mv, cv []float32
	if mask != nil {
		mv = checkFilters("redraw", ft, mask, 1)
	}
	if r.Counts != nil {
		cv = flat(r.Counts, "redraw counts")
		if len(cv) != len(ft.Groups) {
			panic(fmt.Sprintf("cpu: redraw: counts %v should hold %d groups", r.Counts, len(ft.Groups)))
		}
	}
	var moments [8][]float32
	if len(r.Moments) > len(moments) {
		panic(fmt.Sprintf("cpu: redraw: %d moment tensors, at most %d", len(r.Moments), len(moments)))
	}
	for i, m := range r.Moments {
		if m.Len() != r.Params.Len() {
			panic(fmt.Sprintf("cpu: redraw: moments %v differ from parameters %v", m, r.Params))
		}
		moments[i] = flat(m, "redraw moments")
	}
	key := rng.KeyFromSeed(r.Seed)
	f := 0
	for gi := range ft.Groups {
		g := &ft.Groups[gi]
		checkGroup("redraw", g, params)
		drawn := 0
		for k := 0; k < g.Filters; k, f = k+1, f+1 {
			if mv != nil && mv[f] == 0 {
				continue
			}
			drawn++
			w0 := g.Weight + k*g.FilterLen
			w := params[w0 : w0+g.FilterLen]
			var blk [4]uint32
			for t := range w {
				if t%4 == 0 {
					blk = rng.Block(key, rng.Counter{uint32(t / 4), uint32(k), g.Layer, r.Purpose})
				}
				w[t] = g.Bound * rng.Symmetric(blk[t%4])
			}
			for _, m := range moments[:len(r.Moments)] {
				zero(m[w0 : w0+g.FilterLen])
			}
			if r.ZeroBias && g.Bias >= 0 {
				params[g.Bias+k] = 0
				for _, m := range moments[:len(r.Moments)] {
					m[g.Bias+k] = 0
				}
			}
		}
		if cv != nil {
			cv[gi] += float32(drawn)
		}
	}
}
