package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gorgonia.org/tensor"
)

// refLoss is an independent float64 forward pass of convnet-small with naive loops: it proves that
// the gorgonia graph computes the model it claims to (the same layers, padding, pooling, loss).
func refLoss(params [][]float64, x, y []float64, bs int) float64 {
	h, c, s := x, channels, side
	for i, k := range []int{32, 64, 128} {
		h = refConvReLU(h, params[2*i], params[2*i+1], bs, c, s, k)
		c = k
		if i < 2 {
			h = refMaxPool(h, bs, c, s)
			s /= 2
		}
	}
	var loss float64
	for n := 0; n < bs; n++ {
		feat := make([]float64, c)
		for ch := range feat {
			for _, v := range h[(n*c+ch)*s*s : (n*c+ch+1)*s*s] {
				feat[ch] += v
			}
			feat[ch] /= float64(s * s)
		}
		logits := make([]float64, classes)
		for j := range logits {
			logits[j] = params[7][j]
			for ch, f := range feat {
				logits[j] += f * params[6][ch*classes+j]
			}
		}
		mx := slices.Max(logits)
		var z float64
		for _, l := range logits {
			z += math.Exp(l - mx)
		}
		for j, l := range logits {
			loss -= y[n*classes+j] * (l - mx - math.Log(z))
		}
	}
	return loss / float64(bs)
}

// refConvReLU is a 3x3, padding 1, stride 1 convolution of an n x c x s x s input with k filters,
// plus bias, then ReLU.
func refConvReLU(x, w, b []float64, n, c, s, k int) []float64 {
	y := make([]float64, n*k*s*s)
	for in := 0; in < n; in++ {
		for ik := 0; ik < k; ik++ {
			for oy := 0; oy < s; oy++ {
				for ox := 0; ox < s; ox++ {
					acc := b[ik]
					for ic := 0; ic < c; ic++ {
						for ky := 0; ky < 3; ky++ {
							iy := oy + ky - 1
							if iy < 0 || iy >= s {
								continue
							}
							for kx := 0; kx < 3; kx++ {
								ix := ox + kx - 1
								if ix < 0 || ix >= s {
									continue
								}
								acc += w[((ik*c+ic)*3+ky)*3+kx] * x[((in*c+ic)*s+iy)*s+ix]
							}
						}
					}
					y[((in*k+ik)*s+oy)*s+ox] = max(acc, 0)
				}
			}
		}
	}
	return y
}

// refMaxPool is a 2x2 stride-2 max pool of an n x c x s x s input.
func refMaxPool(x []float64, n, c, s int) []float64 {
	o := s / 2
	y := make([]float64, n*c*o*o)
	for p := 0; p < n*c; p++ {
		for oy := 0; oy < o; oy++ {
			for ox := 0; ox < o; ox++ {
				at := func(dy, dx int) float64 { return x[(p*s+2*oy+dy)*s+2*ox+dx] }
				y[(p*o+oy)*o+ox] = max(at(0, 0), at(0, 1), at(1, 0), at(1, 1))
			}
		}
	}
	return y
}

// float64s returns the parameters' current values.
func (m *model) float64s() [][]float64 {
	out := make([][]float64, len(m.params))
	for i, p := range m.params {
		out[i] = slices.Clone(p.Value().Data().([]float64))
	}
	return out
}

// perturbBiases gives every bias small random values, so that the bias paths are exercised.
func perturbBiases(m *model, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 7))
	for i := 1; i < len(m.params); i += 2 {
		d := m.params[i].Value().Data().([]float64)
		for j := range d {
			d[j] = 0.1 * (2*r.Float64() - 1)
		}
	}
}

func TestForwardMatchesReference(t *testing.T) {
	const bs = 2
	m, err := newModel(tensor.Float64, bs, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer m.vm.Close()
	perturbBiases(m, 3)
	b := randomBatch(tensor.Float64, bs, 4)
	got, err := m.run(b)
	if err != nil {
		t.Fatal(err)
	}
	want := refLoss(m.float64s(), b.x.Data().([]float64), b.y.Data().([]float64), bs)
	if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Fatalf("gorgonia loss %.12g, reference %.12g", got, want)
	}
}

// TestGradientsMatchFiniteDifferences checks sampled entries of every parameter's gradient
// against central differences of the float64 loss.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	const (
		bs  = 2
		eps = 1e-5
	)
	m, err := newModel(tensor.Float64, bs, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer m.vm.Close()
	perturbBiases(m, 5)
	b := randomBatch(tensor.Float64, bs, 6)
	if _, err := m.run(b); err != nil {
		t.Fatal(err)
	}
	grads := make([][]float64, len(m.params))
	for i, p := range m.params {
		g, err := p.Grad()
		if err != nil {
			t.Fatalf("%s: %v", p.Name(), err)
		}
		grads[i] = slices.Clone(g.Data().([]float64))
	}
	// A second run adds to the gradients (the solvers zero them after each update), so the step
	// must always go through a solver, and the finite differences below compare with grads.
	if _, err := m.run(b); err != nil {
		t.Fatal(err)
	}
	for i, p := range m.params {
		g, _ := p.Grad()
		for j, v := range g.Data().([]float64) {
			if math.Abs(v-2*grads[i][j]) > 1e-12*math.Max(1, math.Abs(v)) {
				t.Fatalf("%s[%d]: gradient after two runs %.12g, want twice %.12g", p.Name(), j, v, grads[i][j])
			}
		}
	}
	r := rand.New(rand.NewPCG(9, 9))
	for i, p := range m.params {
		w := p.Value().Data().([]float64)
		var norm float64
		for _, g := range grads[i] {
			norm = max(norm, math.Abs(g))
		}
		if norm == 0 {
			t.Fatalf("%s: gradient is all zero", p.Name())
		}
		for trial := 0; trial < 6; trial++ {
			j := r.IntN(len(w))
			orig := w[j]
			w[j] = orig + eps
			lp, err := m.run(b)
			if err != nil {
				t.Fatal(err)
			}
			w[j] = orig - eps
			lm, err := m.run(b)
			if err != nil {
				t.Fatal(err)
			}
			w[j] = orig
			fd := (lp - lm) / (2 * eps)
			if math.Abs(fd-grads[i][j]) > 1e-6*norm+1e-6*math.Abs(fd) {
				t.Errorf("%s[%d]: gradient %.9g, finite difference %.9g (max |grad| %.3g)", p.Name(), j, grads[i][j], fd, norm)
			}
		}
	}
}

func TestSanityCheckFallsOnFixedBatch(t *testing.T) {
	const bs = 8
	m, err := newModel(tensor.Float32, bs, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.vm.Close()
	s, err := newSolver("sgd", 0.01)
	if err != nil {
		t.Fatal(err)
	}
	first, last, err := sanityCheck(m, randomBatch(tensor.Float32, bs, 2), s, 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loss %.4f -> %.4f", first, last)
	for _, p := range m.params {
		g, _ := p.Grad()
		for j, v := range g.Data().([]float32) {
			if v != 0 {
				t.Fatalf("%s[%d]: gradient %v after the solver's step, want 0 (else steps would accumulate)", p.Name(), j, v)
			}
		}
	}
}

func TestMedian(t *testing.T) {
	if got := median([]float64{1, 2, 10}); got != 2 {
		t.Errorf("median of 1,2,10 = %v, want 2", got)
	}
	if got := median([]float64{1, 2, 4, 10}); got != 3 {
		t.Errorf("median of 1,2,4,10 = %v, want 3", got)
	}
}

func TestNoneClearsGradsAndKeepsWeights(t *testing.T) {
	m, err := newModel(tensor.Float64, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.vm.Close()
	before := m.float64s()
	s, err := newSolver("none", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.step(randomBatch(tensor.Float64, 2, 2), s); err != nil {
		t.Fatal(err)
	}
	after := m.float64s()
	for i, p := range m.params {
		if !slices.Equal(before[i], after[i]) {
			t.Errorf("%s: weights changed under -opt none", p.Name())
		}
		g, _ := p.Grad()
		for j, v := range g.Data().([]float64) {
			if v != 0 {
				t.Fatalf("%s[%d]: gradient %v after -opt none's step, want 0", p.Name(), j, v)
			}
		}
	}
	if _, err := newSolver("rmsprop", 0.1); err == nil {
		t.Error("newSolver(rmsprop) gave no error")
	}
}
