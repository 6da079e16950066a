package cpu

import (
	"fmt"
	"math"
	"testing"

	"rout/net"
)

func TestAdam(t *testing.T) {
	b := newBackend(t, 2)
	r := newRand(9)
	const n = 40000 // more than one task's span
	for _, wd := range []float32{0, 0.01} {
		h := net.AdamParams{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: wd}
		p := randTensor(t, b, r, n, 1, 1, 1, false)
		m, _ := b.Alloc(n, 1, 1, 1)
		v, _ := b.Alloc(n, 1, 1, 1)
		p64, m64, v64 := get64(b, p), make([]float64, n), make([]float64, n)
		for step := 1; step <= 4; step++ {
			g := randTensor(t, b, r, n, 1, 1, 1, false)
			g64 := get64(b, g)
			h.Step = step
			b.AdamUpdate(p, g, m, v, h)
			b1, b2 := float64(h.Beta1), float64(h.Beta2)
			for i := range p64 {
				gi := g64[i] + float64(wd)*p64[i]
				m64[i] = b1*m64[i] + (1-b1)*gi
				v64[i] = b2*v64[i] + (1-b2)*gi*gi
				mh := m64[i] / (1 - math.Pow(b1, float64(step)))
				vh := v64[i] / (1 - math.Pow(b2, float64(step)))
				p64[i] -= float64(h.LR) * mh / (math.Sqrt(vh) + float64(h.Eps))
			}
			tag := fmt.Sprintf("adam wd=%v step %d", wd, step)
			near(t, tag+" m", get64(b, m), m64, 1e-6)
			near(t, tag+" v", get64(b, v), v64, 1e-6)
			near(t, tag+" params", get64(b, p), p64, 1e-6)
		}
	}
}

func TestSGD(t *testing.T) {
	b := newBackend(t, 2)
	r := newRand(10)
	const n = 20000
	for _, nesterov := range []bool{false, true} {
		h := net.SGDParams{LR: 0.1, Momentum: 0.9, WeightDecay: 5e-4, Nesterov: nesterov}
		p := randTensor(t, b, r, n, 1, 1, 1, false)
		vel, _ := b.Alloc(n, 1, 1, 1)
		p64, v64 := get64(b, p), make([]float64, n)
		for step := 1; step <= 3; step++ {
			g := randTensor(t, b, r, n, 1, 1, 1, false)
			g64 := get64(b, g)
			b.SGDUpdate(p, g, vel, h)
			mo := float64(h.Momentum)
			for i := range p64 {
				gi := g64[i] + float64(h.WeightDecay)*p64[i]
				v64[i] = mo*v64[i] + gi
				d := v64[i]
				if nesterov {
					d = gi + mo*v64[i]
				}
				p64[i] -= float64(h.LR) * d
			}
			tag := fmt.Sprintf("sgd nesterov=%v step %d", nesterov, step)
			near(t, tag+" velocity", get64(b, vel), v64, 1e-6)
			near(t, tag+" params", get64(b, p), p64, 1e-6)
		}
	}
}
