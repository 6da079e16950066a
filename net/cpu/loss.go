package cpu

import (
	"fmt"
	"math"

	"rout/net"
)

// SoftmaxCrossEntropy takes the log-sum-exp in float64 after subtracting the row's maximum. A
// label that is not a whole number below K is a data error: it is recorded for Err and the
// example is ignored.
func (b *Backend) SoftmaxCrossEntropy(logits, labels, dlogits, stats *net.Tensor, r net.Reduction) {
	n, k := logits.N, logits.SampleLen()
	if labels.N != n || labels.SampleLen() != 1 || stats.Len() != 3 || (dlogits != nil && dlogits.Shape() != logits.Shape()) {
		panic(fmt.Sprintf("cpu: softmax cross-entropy: logits %v, labels %v, stats %v do not match", logits.Shape(), labels.Shape(), stats.Shape()))
	}
	ld, lb, st := data(logits), data(labels), flat(stats, "loss stats")
	var dd []float32
	if dlogits != nil {
		dd = data(dlogits)
	}
	var loss float64
	correct, counted := 0, 0
	for i := 0; i < n; i++ {
		lab := sample(lb, labels, i)[0]
		if lab >= 0 && (lab != float32(int(lab)) || int(lab) >= k) {
			b.setErr(fmt.Errorf("cpu: softmax cross-entropy: example %d has label %v, want a class index below %d", i, lab, k))
			lab = -1
		}
		if lab >= 0 {
			counted++
		}
	}
	scale := 1.0
	if r == net.ReduceMean && counted > 0 {
		scale = 1 / float64(counted)
	}
	for i := 0; i < n; i++ {
		x := sample(ld, logits, i)
		lab := sample(lb, labels, i)[0]
		ok := lab >= 0 && lab == float32(int(lab)) && int(lab) < k
		var g []float32
		if dd != nil {
			g = sample(dd, dlogits, i)
		}
		if !ok {
			if g != nil {
				zero(g)
			}
			continue
		}
		y := int(lab)
		best := 0
		for c, v := range x {
			if v > x[best] {
				best = c
			}
		}
		mx := float64(x[best])
		var s float64
		for _, v := range x {
			s += math.Exp(float64(v) - mx)
		}
		lse := mx + math.Log(s)
		loss += lse - float64(x[y])
		if best == y {
			correct++
		}
		if g != nil {
			for c, v := range x {
				p := math.Exp(float64(v)-mx) / s
				if c == y {
					p--
				}
				g[c] = float32(p * scale)
			}
		}
	}
	st[0] += float32(loss)
	st[1] += float32(correct)
	st[2] += float32(counted)
}
