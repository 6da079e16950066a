package cpu

import (
	"fmt"
	"math"

	"rout/net"
)

// The optimisers are element-wise over the flat parameter tensor, in float32, in chunks of
// optimSpan elements per task. Adam's bias corrections 1-beta^step are computed in float64 and
// rounded to float32 once per step.

const optimSpan = 1 << 14

type optimJob struct {
	sgd        bool
	p, g, m, v []float32
	adam       net.AdamParams
	bc1, bc2   float32
	sgdp       net.SGDParams
}

func optimTensors(op string, ts ...*net.Tensor) (out [4][]float32) {
	for i, t := range ts {
		if t.Len() != ts[0].Len() {
			panic(fmt.Sprintf("cpu: %s: %v and %v differ in length", op, ts[0], t))
		}
		out[i] = flat(t, "optimiser tensor")
	}
	return out
}

// AdamUpdate runs optimSpan parameters per task.
func (b *Backend) AdamUpdate(params, grads, m, v *net.Tensor, h net.AdamParams) {
	if h.Step < 1 {
		panic(fmt.Sprintf("cpu: adam: step %d, want >= 1", h.Step))
	}
	ts := optimTensors("adam", params, grads, m, v)
	j := &b.optim
	*j = optimJob{p: ts[0], g: ts[1], m: ts[2], v: ts[3], adam: h,
		bc1: float32(1 - math.Pow(float64(h.Beta1), float64(h.Step))),
		bc2: float32(1 - math.Pow(float64(h.Beta2), float64(h.Step)))}
	b.pool.do(j, (len(j.p)+optimSpan-1)/optimSpan)
	*j = optimJob{}
}

// SGDUpdate runs optimSpan parameters per task.
func (b *Backend) SGDUpdate(params, grads, vel *net.Tensor, h net.SGDParams) {
	ts := optimTensors("sgd", params, grads, vel)
	j := &b.optim
	*j = optimJob{sgd: true, p: ts[0], g: ts[1], v: ts[2], sgdp: h}
	b.pool.do(j, (len(j.p)+optimSpan-1)/optimSpan)
	*j = optimJob{}
}

func (j *optimJob) run(_, i int) {
	lo, hi := i*optimSpan, min((i+1)*optimSpan, len(j.p))
	p, g, v := j.p[lo:hi], j.g[lo:hi], j.v[lo:hi]
	if j.sgd {
		h := j.sgdp
		for t := range p {
			gt := g[t] + float32(h.WeightDecay*p[t])
			v[t] = float32(h.Momentum*v[t]) + gt
			step := v[t]
			if h.Nesterov {
				step = gt + float32(h.Momentum*v[t])
			}
			p[t] -= float32(h.LR * step)
		}
		return
	}
	h, m := j.adam, j.m[lo:hi]
	for t := range p {
		gt := g[t] + float32(h.WeightDecay*p[t])
		m[t] = float32(h.Beta1*m[t]) + float32((1-h.Beta1)*gt)
		v[t] = float32(h.Beta2*v[t]) + float32((1-h.Beta2)*float32(gt*gt))
		den := float32(math.Sqrt(float64(v[t]/j.bc2))) + h.Eps
		p[t] -= float32(h.LR*(m[t]/j.bc1)) / den
	}
}
