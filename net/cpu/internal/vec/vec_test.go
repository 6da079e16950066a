package vec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// paths runs f with the assembly and with the Go loops (the assembly only where it can run).
func paths(t *testing.T, f func(t *testing.T)) {
	saved := useAVX
	defer func() { useAVX = saved }()
	for _, avx := range []bool{false, true} {
		if avx && !haveAVX {
			continue
		}
		useAVX = avx
		name := "go"
		if avx {
			name = "avx"
		}
		t.Run(name, f)
	}
}

// nan is a quiet NaN carrying payload p, so that a test sees which NaN came through.
func nan(p uint32) float32 { return math.Float32frombits(0x7fc00000 | p&0x3fffff) }

// values draws floats with many ties, both zeros, infinities, subnormals and NaNs with distinct
// payloads among ordinary values.
func values(r *rand.Rand, n int) []float32 {
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 2, float32(math.Inf(1)), float32(math.Inf(-1)), 1e-45, -1e-45}
	s := make([]float32, n)
	for i := range s {
		switch k := r.IntN(10); {
		case k < 4:
			s[i] = special[r.IntN(len(special))]
		case k == 4:
			s[i] = nan(r.Uint32())
		case k == 5:
			s[i] = -nan(r.Uint32())
		default:
			s[i] = float32(r.NormFloat64())
		}
	}
	return s
}

// sameBits fails unless got and want have the same bits, or are both NaNs: which NaN comes out
// where two meet is not fixed in Go either (its compiler may swap an addition's operands).
func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
			t.Fatalf("%s: element %d of %d: %v (%#x), want %v (%#x)", what, i, len(want), got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

func TestReLU(t *testing.T) {
	paths(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for n := 0; n <= 41; n++ {
			x := values(r, n)
			want := make([]float32, n)
			for i, v := range x {
				switch {
				case v != v, v > 0:
					want[i] = v
				default:
					want[i] = 0 // +0, for -0 too
				}
			}
			y := make([]float32, n)
			ReLU(x, y)
			sameBits(t, "relu", y, want)
			ReLU(x, x) // in place
			sameBits(t, "relu in place", x, want)
		}
	})
}

func TestReLUGrad(t *testing.T) {
	paths(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for n := 0; n <= 41; n++ {
			y, dy := values(r, n), values(r, n)
			want := make([]float32, n)
			for i, v := range y {
				if v > 0 {
					want[i] = dy[i]
				}
			}
			dx := values(r, n)
			ReLUGrad(y, dy, dx)
			sameBits(t, "relu gradient", dx, want)
			ReLUGrad(y, dy, dy) // in place
			sameBits(t, "relu gradient in place", dy, want)
		}
	})
}

func TestAddConst(t *testing.T) {
	paths(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for n := 0; n <= 41; n++ {
			s := values(r, n+1)
			v := s[n]
			s = s[:n]
			want := make([]float32, n)
			for i := range s {
				want[i] = s[i] + v
			}
			dst := values(r, n+3)
			AddConstTo(dst, s, v)
			sameBits(t, "add to", dst, append(want, dst[n:]...))
			AddConst(s, v)
			sameBits(t, "add", s, want)
		}
	})
}

// poolShapes calls f for row pairs of several widths: windows filling the row, and rows with
// one and three floats past the windows.
func poolShapes(f func(w, rows, ow int)) {
	for rows := 1; rows <= 3; rows++ {
		for ow := 0; ow <= 19; ow++ {
			for _, extra := range []int{0, 1, 3} {
				f(2*ow+extra, rows, ow)
			}
		}
	}
}

const guard = 12345 // written past the outputs; must stay

func TestMaxPool2x2(t *testing.T) {
	paths(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		poolShapes(func(w, rows, ow int) {
			x := values(r, (2*rows-1)*w+2*ow)
			want := make([]float32, rows*ow)
			for i := 0; i < rows; i++ {
				for k := 0; k < ow; k++ {
					at := 2*i*w + 2*k
					want[i*ow+k] = max(x[at], x[at+1], x[at+w], x[at+w+1])
				}
			}
			y := make([]float32, rows*ow+8)
			for i := range y {
				y[i] = guard
			}
			MaxPool2x2(x, w, rows, ow, y)
			sameBits(t, "max pool", y, append(want, y[len(want):]...))
			for i, v := range y[len(want):] {
				if v != guard {
					t.Fatalf("w %d rows %d ow %d: wrote %v past the outputs, at %d", w, rows, ow, v, len(want)+i)
				}
			}
		})
	})
}

func TestMaxPool2x2Grad(t *testing.T) {
	paths(t, func(t *testing.T) {
		for _, set := range []bool{false, true} {
			testMaxPool2x2Grad(t, set)
		}
	})
}

// testMaxPool2x2Grad checks MaxPool2x2Grad against its definition: with set, the windows'
// elements cleared first, the other elements (in the rows past the windows, or below the last
// pair) kept either way.
func testMaxPool2x2Grad(t *testing.T, set bool) {
	r := rand.New(rand.NewPCG(9, 10))
	poolShapes(func(w, rows, ow int) {
		n := (2*rows-1)*w + 2*ow
		x, dy, dx := values(r, n), values(r, rows*ow), values(r, n+8)
		for i := n; i < len(dx); i++ {
			dx[i] = guard
		}
		want := append([]float32(nil), dx...)
		if set {
			for i := 0; i < rows; i++ {
				clear(want[2*i*w : 2*i*w+2*ow])
				clear(want[(2*i+1)*w : (2*i+1)*w+2*ow])
			}
		}
		for i := 0; i < rows; i++ {
			for k := 0; k < ow; k++ {
				taps := []int{2*i*w + 2*k, 2*i*w + 2*k + 1, (2*i+1)*w + 2*k, (2*i+1)*w + 2*k + 1}
				at := taps[0]
				for _, q := range taps[1:] {
					if x[q] > x[at] {
						at = q
					}
				}
				want[at] += dy[i*ow+k]
			}
		}
		MaxPool2x2Grad(x, w, rows, ow, dy, dx[:n], set)
		sameBits(t, fmt.Sprintf("max pool gradient (set %v, w %d, rows %d, ow %d)", set, w, rows, ow), dx, want)
	})
}

func TestPoolBounds(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a plane too short for its row pairs did not panic")
		}
	}()
	MaxPool2x2(make([]float32, 15), 4, 2, 2, make([]float32, 4)) // needs 3*4+4 = 16
}

// TestPositiveMask checks the branch-free v > 0 of ReLU's backward pass at the edges of the
// float32 encoding.
func TestPositiveMask(t *testing.T) {
	nan := float32(math.NaN())
	for _, v := range []float32{
		0, float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32,
		1, -1, math.MaxFloat32, -math.MaxFloat32, float32(math.Inf(1)), float32(math.Inf(-1)),
		nan, -nan, math.Float32frombits(0x7F800001), math.Float32frombits(0xFFFFFFFF),
	} {
		want := uint32(0)
		if v > 0 {
			want = 0xFFFFFFFF
		}
		if got := positiveMask(v); got != want {
			t.Errorf("positiveMask(%v, bits %08x) = %08x, want %08x", v, math.Float32bits(v), got, want)
		}
	}
}

func TestFillRuns(t *testing.T) {
	paths(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(11, 12))
		for trial := 0; trial < 300; trial++ {
			x := values(r, 1+r.IntN(60))
			var runs []Run
			total := 0
			for range r.IntN(8) {
				n := r.IntN(21)
				src := -1
				if r.IntN(3) > 0 && n <= len(x) {
					src = r.IntN(len(x) - n + 1)
				}
				runs = append(runs, Run{total, n, src})
				total += n
			}
			// want: the runs and the zeros after each run of data, in order; past the runs,
			// only those zeros are promised (a run of zeros may write more).
			want := make([]float32, total+7)
			known := make([]bool, total+7)
			for _, rn := range runs {
				for i := range rn.N {
					want[rn.O+i], known[rn.O+i] = 0, true
					if rn.Src >= 0 {
						want[rn.O+i] = x[rn.Src+i]
					}
				}
				if rn.Src >= 0 {
					for i := range ZerosAfter(rn.N) {
						want[rn.O+rn.N+i], known[rn.O+rn.N+i] = 0, true
					}
				}
			}
			backing := make([]float32, total+7+8)
			for i := range backing {
				backing[i] = guard
			}
			FillRuns(backing[:total+7], x, runs)
			for i, k := range known {
				if !k {
					want[i] = backing[i]
				}
			}
			sameBits(t, "runs", backing[:total+7], want)
			for i, v := range backing[total+7:] {
				if v != guard {
					t.Fatalf("runs %v: wrote %v past the room, at %d", runs, v, total+7+i)
				}
			}
		}
	})
}

func TestFillRunsBounds(t *testing.T) {
	x := make([]float32, 10)
	for _, c := range []struct {
		name string
		out  int
		run  Run
	}{
		{"past x", 20, Run{0, 5, 6}},
		{"no room", 12, Run{0, 6, 0}},
		{"negative position", 20, Run{-1, 2, 0}},
		{"negative length", 20, Run{0, -2, 0}},
	} {
		paths(t, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: run %+v into %d floats did not panic", c.name, c.run, c.out)
				}
			}()
			FillRuns(make([]float32, c.out), x, []Run{{0, 1, 0}, c.run})
		})
	}
}
