package trainer

import (
	"math"
	"testing"

	"rout/net/cpu"
)

// TestAdamMXNetEps: with --adam-mxnet-eps the steps are MXNet's Adam (the authors' optimiser),
// p -= lr sqrt(1-b2^t)/(1-b1^t) m/(sqrt(v) + eps), computed here in float64 from its definition;
// without it they are PyTorch's, which differ most in the first steps of gradients near eps.
func TestAdamMXNetEps(t *testing.T) {
	grads := [][]float64{{3e-8, -2e-9, 5e-7, 0}, {1e-8, 4e-9, -5e-7, 2e-10}, {-2e-8, 1e-9, 1e-7, 0}}
	p0 := []float64{0.01, -0.005, 0.002, 0.007}
	const lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-8
	run := func(mxnet bool) []float32 {
		b := cpu.New(cpu.Options{Threads: 1})
		defer b.Close()
		c := Config{Optimizer: "adam", Beta1: b1, Beta2: b2, Eps: eps, MXNetEps: mxnet}
		params, _ := b.Alloc(4, 1, 1, 1)
		g, _ := b.Alloc(4, 1, 1, 1)
		b.Upload(params, f32(p0))
		o, err := newOptimizer(b, &c, params, g)
		if err != nil {
			t.Fatal(err)
		}
		for step, gs := range grads {
			b.Upload(g, f32(gs))
			o.Update(step, lr)
		}
		out := make([]float32, 4)
		b.Download(params, out)
		return out
	}
	want := func(mxnet bool) []float64 {
		p, m, v := append([]float64(nil), p0...), make([]float64, 4), make([]float64, 4)
		for s, gs := range grads {
			tt := float64(s + 1)
			for i, g := range gs {
				m[i] = b1*m[i] + (1-b1)*g
				v[i] = b2*v[i] + (1-b2)*g*g
				if mxnet {
					p[i] -= lr * math.Sqrt(1-math.Pow(b2, tt)) / (1 - math.Pow(b1, tt)) * m[i] / (math.Sqrt(v[i]) + eps)
				} else {
					p[i] -= lr * (m[i] / (1 - math.Pow(b1, tt))) / (math.Sqrt(v[i]/(1-math.Pow(b2, tt))) + eps)
				}
			}
		}
		return p
	}
	for _, mxnet := range []bool{false, true} {
		got, ref := run(mxnet), want(mxnet)
		for i := range got {
			// float32 parameters near 0.01: a few ulps of the parameter, far below the rules'
			// difference (up to 0.9 lr per step here).
			if d := math.Abs(float64(got[i]) - ref[i]); d > 1e-8 {
				t.Errorf("mxnet=%v: parameter %d = %.9g, want %.9g", mxnet, i, got[i], ref[i])
			}
		}
	}
	if a, b := want(true), want(false); math.Abs(a[0]-b[0]) < 1e-4*lr {
		t.Fatalf("the test's gradients do not tell the rules apart: %g and %g", a[0], b[0])
	}
}

func f32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}
