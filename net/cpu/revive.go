package cpu

import (
	"fmt"
	"math"
	"sort"

	"rout/net"
)

// The operations of the activation-based revival rules (ReDo, continual backprop). They sum in
// float64 in an order fixed by the shapes; the activation means, which read a whole layer's
// output every step, run a channel per task on the worker pool, the rest (per filter, on the
// weights) on one goroutine.

// ActivationMeans writes each channel's mean |y| over the batch and positions into means, a
// channel per task, each summed in float64 in sample then position order.
func (b *Backend) ActivationMeans(y, means *net.Tensor) {
	out := flat(means, "activation means")
	if len(out) != y.C {
		panic(fmt.Sprintf("cpu: activation means: %v should hold %d channels of %v", means, y.C, y))
	}
	j := &b.means
	*j = meansJob{d: data(y), y: y, out: out}
	b.pool.do(j, y.C)
	*j = meansJob{}
}

// meansJob is ActivationMeans over one channel per task.
type meansJob struct {
	d   []float32
	y   *net.Tensor
	out []float32
}

func (j *meansJob) run(_, k int) {
	y := j.y
	hw := y.H * y.W
	var s float64
	for n := 0; n < y.N; n++ {
		o := y.Offset + n*y.Stride + k*hw
		for _, v := range j.d[o : o+hw] {
			s += math.Abs(float64(v))
		}
	}
	j.out[k] = float32(s / float64(y.N*hw))
}

// MarkDormant marks the filters whose mean activation over their group's mean (+1e-9) is at
// most tau.
func (b *Backend) MarkDormant(ft *net.FilterTable, means, mask, counts *net.Tensor, tau float32) {
	av := checkFilters("mark dormant", ft, means, 1)
	mv := checkFilters("mark dormant", ft, mask, 1)
	cv := groupCounts("mark dormant", ft, counts)
	f := 0
	for gi, g := range ft.Groups {
		var s float64
		for _, v := range av[f : f+g.Filters] {
			s += float64(v)
		}
		den := float32(s/float64(max(g.Filters, 1))) + 1e-9
		marked := 0
		for k := 0; k < g.Filters; k, f = k+1, f+1 {
			mv[f] = 0
			if av[f]/den <= tau {
				mv[f] = 1
				marked++
			}
		}
		cv[gi] += float32(marked)
	}
}

// OutgoingMeans writes each filter's mean |w| over the consumer weights reading its channel.
func (b *Backend) OutgoingMeans(rt *net.ReviveTable, params, out *net.Tensor) {
	pv := flat(params, "outgoing means parameters")
	ov := checkFilters("outgoing means", rt.FilterTable, out, 1)
	f := 0
	for gi, g := range rt.FilterTable.Groups {
		links := rt.Groups[gi].Links
		for k := 0; k < g.Filters; k, f = k+1, f+1 {
			var s float64
			count := 0
			for _, l := range links {
				checkLink("outgoing means", l, g.Filters, pv)
				for r := 0; r < l.Rows; r++ {
					o := l.Weight + k*l.Len + r*l.RowStride
					for _, v := range pv[o : o+l.Len] {
						s += math.Abs(float64(v))
					}
				}
				count += l.Rows * l.Len
			}
			ov[f] = 0
			if count > 0 {
				ov[f] = float32(s / float64(count))
			}
		}
	}
}

// ResetOutgoing zeroes the consumer weights of the marked filters and resets their batch norm.
func (b *Backend) ResetOutgoing(rt *net.ReviveTable, mask, params, state *net.Tensor, moments []*net.Tensor) {
	pv := flat(params, "reset outgoing parameters")
	mv := checkFilters("reset outgoing", rt.FilterTable, mask, 1)
	var sv []float32
	if state != nil {
		sv = flat(state, "reset outgoing state")
	}
	ms := make([][]float32, len(moments))
	for i, m := range moments {
		if m.Len() != params.Len() {
			panic(fmt.Sprintf("cpu: reset outgoing: moments %v differ from parameters %v", m, params))
		}
		ms[i] = flat(m, "reset outgoing moments")
	}
	set := func(o int, v float32) {
		pv[o] = v
		for _, m := range ms {
			m[o] = 0
		}
	}
	f := 0
	for gi, g := range rt.FilterTable.Groups {
		rg := &rt.Groups[gi]
		for k := 0; k < g.Filters; k, f = k+1, f+1 {
			if mv[f] == 0 {
				continue
			}
			for _, l := range rg.Links {
				checkLink("reset outgoing", l, g.Filters, pv)
				for r := 0; r < l.Rows; r++ {
					o := l.Weight + k*l.Len + r*l.RowStride
					for j := o; j < o+l.Len; j++ {
						set(j, 0)
					}
				}
			}
			if rg.Gamma >= 0 {
				set(rg.Gamma+k, 1)
				set(rg.Gamma+g.Filters+k, 0)
			}
			if rg.RunMean >= 0 {
				if sv == nil {
					panic(fmt.Sprintf("cpu: reset outgoing: group %s has batch norm but no state was given", g.Name))
				}
				sv[rg.RunMean+k] = 0
				sv[rg.RunMean+g.Filters+k] = 1
			}
		}
	}
}

// CBPStep ages the filters, updates their utilities and replaces the least useful mature ones.
func (b *Backend) CBPStep(ft *net.FilterTable, means, outMeans, util, age, acc, mask, counts *net.Tensor, p net.CBPParams) {
	av := checkFilters("cbp step", ft, means, 1)
	ov := checkFilters("cbp step", ft, outMeans, 1)
	uv := checkFilters("cbp step", ft, util, 1)
	gv := checkFilters("cbp step", ft, age, 1)
	mv := checkFilters("cbp step", ft, mask, 1)
	accv := groupCounts("cbp step", ft, acc)
	cv := groupCounts("cbp step", ft, counts)
	f0 := 0
	keep := 1 - p.Decay
	var mature []int
	for gi, g := range ft.Groups {
		mature = mature[:0]
		for f := f0; f < f0+g.Filters; f++ {
			gv[f]++
			uv[f] = float32(p.Decay*uv[f]) + float32(float32(keep*av[f])*ov[f]) // each rounded, as the GPU
			mv[f] = 0
			if gv[f] > p.Maturity {
				mature = append(mature, f)
			}
		}
		if len(mature) > 0 {
			accv[gi] += float32(p.Rate * float32(len(mature)))
			n := float32(math.Floor(float64(accv[gi])))
			accv[gi] -= n
			replace := min(int(n), len(mature))
			corrected := func(f int) float64 {
				return float64(uv[f]) / (1 - math.Pow(float64(p.Decay), float64(gv[f])))
			}
			sort.SliceStable(mature, func(i, j int) bool { return corrected(mature[i]) < corrected(mature[j]) })
			for _, f := range mature[:replace] {
				mv[f], uv[f], gv[f] = 1, 0, 0
			}
			cv[gi] += float32(replace)
		}
		f0 += g.Filters
	}
}

// groupCounts is a per-group tensor of ft.
func groupCounts(op string, ft *net.FilterTable, t *net.Tensor) []float32 {
	v := flat(t, op+" counts")
	if len(v) != len(ft.Groups) {
		panic(fmt.Sprintf("cpu: %s: %v should hold %d groups", op, t, len(ft.Groups)))
	}
	return v
}

func checkLink(op string, l net.Link, filters int, params []float32) {
	end := l.Weight + (filters-1)*l.Len + (l.Rows-1)*l.RowStride + l.Len
	if l.Weight < 0 || l.Rows < 1 || l.Len < 1 || end > len(params) {
		panic(fmt.Sprintf("cpu: %s: link %+v exceeds %d parameters", op, l, len(params)))
	}
}
