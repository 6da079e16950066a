package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"rout/net"
)

// Helpers shared by the tests: tensors filled with random values (optionally as a channel slice
// of a wider tensor, so that strides are exercised), float64 copies, and comparisons.

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

func newBackend(t testing.TB, threads int) *Backend {
	b := New(Options{Threads: threads})
	t.Cleanup(func() { b.Close() })
	return b
}

// randTensor allocates n x c x h x w filled with uniform values in [-1, 1). With sliced it is
// channels [2, 2+c) of an n x (c+3) x h x w tensor whose other channels also hold random values.
func randTensor(t testing.TB, b *Backend, r *rand.Rand, n, c, h, w int, sliced bool) *net.Tensor {
	t.Helper()
	wide := c
	if sliced {
		wide = c + 3
	}
	all, err := b.Alloc(n, wide, h, w)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, all.Len())
	for i := range v {
		v[i] = float32(r.Float64()*2 - 1)
	}
	b.Upload(all, v)
	if sliced {
		return all.Channels(2, 2+c)
	}
	return all
}

// whole is a dense view of all of t's storage.
func whole(t *net.Tensor) *net.Tensor {
	l := t.Storage.Len()
	return &net.Tensor{N: 1, C: 1, H: 1, W: l, Stride: l, Storage: t.Storage}
}

// raw is a copy of all of t's storage.
func raw(b *Backend, t *net.Tensor) []float32 {
	w := whole(t)
	v := make([]float32, w.Len())
	b.Download(w, v)
	return v
}

func get64(b *Backend, t *net.Tensor) []float64 {
	v := make([]float32, t.Len())
	b.Download(t, v)
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func put64(b *Backend, t *net.Tensor, v []float64) {
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	b.Upload(t, f)
}

// checkOutside fails if any element of t's storage outside the view t changed.
func checkOutside(tb testing.TB, name string, before, after []float32, t *net.Tensor) {
	tb.Helper()
	in := make([]bool, len(before))
	for n := 0; n < t.N; n++ {
		for i := 0; i < t.SampleLen(); i++ {
			in[t.Offset+n*t.Stride+i] = true
		}
	}
	for i := range before {
		if !in[i] && math.Float32bits(before[i]) != math.Float32bits(after[i]) {
			tb.Fatalf("%s: element %d outside the view %v changed from %v to %v", name, i, t, before[i], after[i])
		}
	}
}

// near fails unless every |got-want| <= tol * max(1, max|want|).
func near(tb testing.TB, name string, got, want []float64, tol float64) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	scale := 1.0
	for _, w := range want {
		scale = max(scale, math.Abs(w))
	}
	for i := range got {
		if d := math.Abs(got[i] - want[i]); !(d <= tol*scale) {
			tb.Fatalf("%s: element %d is %.9g, want %.9g (|diff| %.3g > %.3g)", name, i, got[i], want[i], d, tol*scale)
		}
	}
}

// numGrad is the central finite difference of f at x, element by element, in float64.
func numGrad(x []float64, h float64, f func([]float64) float64) []float64 {
	g := make([]float64, len(x))
	for i := range x {
		v := x[i]
		x[i] = v + h
		fp := f(x)
		x[i] = v - h
		fm := f(x)
		x[i] = v
		g[i] = (fp - fm) / (2 * h)
	}
	return g
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func add(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] + b[i]
	}
	return out
}

func scaled(a []float64, s float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] * s
	}
	return out
}
