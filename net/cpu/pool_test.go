package cpu

import (
	"fmt"
	"math"
	"testing"

	"rout/net"
)

type poolCase struct {
	n, c, h, w int
	p          net.PoolParams
	oh, ow     int // the expected output size
}

func pp(mode net.PoolMode, k, s, pad int, ceil bool) net.PoolParams {
	return net.PoolParams{Mode: mode, KH: k, KW: k, StrideH: s, StrideW: s, PadH: pad, PadW: pad, Ceil: ceil}
}

func poolCases(mode net.PoolMode) []poolCase {
	return []poolCase{
		{2, 2, 28, 28, pp(mode, 3, 2, 0, true), 14, 14}, // inception28's D blocks: 28 -> 14 -> 7
		{2, 3, 14, 14, pp(mode, 3, 2, 0, true), 7, 7},
		{2, 2, 9, 9, pp(mode, 3, 2, 0, true), 4, 4},
		{2, 2, 13, 13, pp(mode, 3, 2, 0, true), 6, 6},
		{1, 2, 8, 8, pp(mode, 3, 2, 0, true), 4, 4}, // the last window covers one column
		{2, 2, 13, 13, pp(mode, 3, 2, 0, false), 6, 6},
		{2, 2, 8, 8, pp(mode, 3, 2, 0, false), 3, 3},
		{2, 3, 7, 7, pp(mode, 3, 2, 1, false), 4, 4},
		{2, 2, 5, 5, pp(mode, 3, 3, 1, true), 2, 2},  // a third window would start in the padding
		{3, 2, 7, 7, pp(mode, 7, 1, 0, false), 1, 1}, // global pooling
		{2, 5, 6, 6, pp(mode, 6, 1, 0, false), 1, 1}, // global pooling, four planes at once and one more
		{2, 3, 8, 8, pp(mode, 2, 2, 0, false), 4, 4}, // convnet-small's 2x2 pools
		{2, 2, 7, 7, pp(mode, 2, 2, 0, true), 4, 4},  // the last 2x2 windows cover one row or column
		{2, 2, 8, 9, pp(mode, 2, 2, 0, false), 4, 4}, // 2x2 windows over every row, not every column
		{2, 2, 9, 8, pp(mode, 2, 2, 0, false), 4, 4}, // and over every column, not every row
		{1, 2, 5, 6, pp(mode, 2, 1, 0, false), 4, 5}, // overlapping 2x2 windows
		{2, 2, 6, 5, net.PoolParams{Mode: mode, KH: 2, KW: 3, StrideH: 2, StrideW: 1, PadW: 1, Ceil: true}, 3, 5},
	}
}

// poolRef is direct float64 pooling; windows cover only elements inside the input.
func poolRef(pc poolCase, x []float64) []float64 {
	p := pc.p
	y := make([]float64, pc.n*pc.c*pc.oh*pc.ow)
	for n := 0; n < pc.n; n++ {
		for c := 0; c < pc.c; c++ {
			for i := 0; i < pc.oh; i++ {
				for j := 0; j < pc.ow; j++ {
					best, sum, count := math.Inf(-1), 0.0, 0
					for a := 0; a < p.KH; a++ {
						for q := 0; q < p.KW; q++ {
							ih, iw := i*p.StrideH-p.PadH+a, j*p.StrideW-p.PadW+q
							if ih < 0 || ih >= pc.h || iw < 0 || iw >= pc.w {
								continue
							}
							v := x[((n*pc.c+c)*pc.h+ih)*pc.w+iw]
							best = max(best, v)
							sum += v
							count++
						}
					}
					o := ((n*pc.c+c)*pc.oh+i)*pc.ow + j
					if p.Mode == net.MaxPool {
						y[o] = best
					} else {
						y[o] = sum / float64(count)
					}
				}
			}
		}
	}
	return y
}

func TestPool(t *testing.T) {
	b := newBackend(t, 2)
	r := newRand(2)
	for _, mode := range []net.PoolMode{net.MaxPool, net.AvgPool} {
		for ci, pc := range poolCases(mode) {
			if oh, ow := pc.p.OutSize(pc.h, pc.w); oh != pc.oh || ow != pc.ow {
				t.Fatalf("case %d: OutSize gives %dx%d, want %dx%d", ci, oh, ow, pc.oh, pc.ow)
			}
			for _, sliced := range []bool{false, true} {
				tag := fmt.Sprintf("mode %d case %d %+v sliced=%v", mode, ci, pc, sliced)
				x := randTensor(t, b, r, pc.n, pc.c, pc.h, pc.w, sliced)
				y := randTensor(t, b, r, pc.n, pc.c, pc.oh, pc.ow, sliced)
				x64 := get64(b, x)
				before := raw(b, y)
				b.PoolForward(x, y, pc.p)
				checkOutside(t, tag, before, raw(b, y), y)
				near(t, tag+" forward", get64(b, y), poolRef(pc, x64), 1e-6)

				dy := randTensor(t, b, r, pc.n, pc.c, pc.oh, pc.ow, sliced)
				dy64 := get64(b, dy)
				// Pooling is piecewise linear: a step smaller than the gap between a window's values
				// does not cross a kink. 1e-8 is below the float32 spacing above 0.06, so only two
				// values nearer zero than that could come closer (1e-6 did not hold: two float32
				// neighbours near 0.56 met in a window).
				gx := numGrad(x64, 1e-8, func(v []float64) float64 { return dot(dy64, poolRef(pc, v)) })
				for _, acc := range []bool{false, true} {
					dx := randTensor(t, b, r, pc.n, pc.c, pc.h, pc.w, sliced)
					want := gx
					if acc {
						want = add(gx, get64(b, dx))
					}
					before := raw(b, dx)
					b.PoolBackward(x, y, dy, dx, pc.p, acc)
					checkOutside(t, tag, before, raw(b, dx), dx)
					near(t, fmt.Sprintf("%s backward accumulate=%v", tag, acc), get64(b, dx), want, 1e-5)
				}
			}
		}
	}
}

// maxPoolOnce runs a max pool forward and backward on one h x w plane with the given input and
// output gradient, and returns the output and the input gradient.
func maxPoolOnce(t *testing.T, p net.PoolParams, h, w int, xv, dyv []float32) (y, dx []float32) {
	b := newBackend(t, 1)
	oh, ow := p.OutSize(h, w)
	x, _ := b.Alloc(1, 1, h, w)
	yt, _ := b.Alloc(1, 1, oh, ow)
	dy, _ := b.Alloc(1, 1, oh, ow)
	dxt, _ := b.Alloc(1, 1, h, w)
	b.Upload(x, xv)
	b.Upload(dy, dyv)
	b.PoolForward(x, yt, p)
	b.PoolBackward(x, yt, dy, dxt, p, false)
	y, dx = make([]float32, oh*ow), make([]float32, h*w)
	b.Download(yt, y)
	b.Download(dxt, dx)
	return y, dx
}

// TestMaxPoolTies checks that a window's gradient goes to its first maximal element.
func TestMaxPoolTies(t *testing.T) {
	_, got := maxPoolOnce(t, pp(net.MaxPool, 3, 1, 0, false), 3, 3, []float32{0, 1, 5, 2, 5, 5, 5, -1, 3}, []float32{2})
	want := []float32{0, 0, 2, 0, 0, 0, 0, 0, 0}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("max pool gradient %v, want %v", got, want)
	}
}

// TestMaxPool2x2Ties checks that whole 2x2 windows, which have a path of their own, also send
// the gradient to the first maximal element, wherever the ties are.
func TestMaxPool2x2Ties(t *testing.T) {
	// Windows {3 3 3 3}, {1 4 4 2}, {0 1 2 2}, {-1 -2 -1 -3}, row-major within each window.
	gy, gx := maxPoolOnce(t, pp(net.MaxPool, 2, 2, 0, false), 2, 8,
		[]float32{3, 3, 1, 4, 0, 1, -1, -2, 3, 3, 4, 2, 2, 2, -1, -3}, []float32{1, 2, 3, 4})
	if want := []float32{3, 4, 2, -1}; fmt.Sprint(gy) != fmt.Sprint(want) {
		t.Fatalf("max pool %v, want %v", gy, want)
	}
	want := []float32{1, 0, 0, 2, 0, 0, 4, 0, 0, 0, 0, 0, 3, 0, 0, 0}
	if fmt.Sprint(gx) != fmt.Sprint(want) {
		t.Fatalf("max pool gradient %v, want %v", gx, want)
	}
}

// TestMaxPoolNaN checks that a NaN anywhere in a max window comes out, as on the GPU (cuDNN
// propagates NaN), so that a diverging run shows in its loss.
func TestMaxPoolNaN(t *testing.T) {
	b := newBackend(t, 1)
	x, _ := b.Alloc(1, 1, 2, 4)
	y, _ := b.Alloc(1, 1, 1, 2)
	nan := float32(math.NaN())
	b.Upload(x, []float32{1, 2, 3, 4, 5, nan, 7, 8})
	b.PoolForward(x, y, pp(net.MaxPool, 2, 2, 0, false))
	got := make([]float32, 2)
	b.Download(y, got)
	if !math.IsNaN(float64(got[0])) || got[1] != 8 {
		t.Fatalf("max pool of windows {1 2 5 NaN} and {3 4 7 8} gave %v, want [NaN 8]", got)
	}
}

func TestReLU(t *testing.T) {
	b := newBackend(t, 2)
	r := newRand(4)
	for _, sliced := range []bool{false, true} {
		x := randTensor(t, b, r, 3, 4, 5, 3, sliced)
		y := randTensor(t, b, r, 3, 4, 5, 3, sliced)
		x64 := get64(b, x)
		relu := func(v []float64) []float64 {
			out := make([]float64, len(v))
			for i, e := range v {
				out[i] = max(e, 0)
			}
			return out
		}
		before := raw(b, y)
		b.ReLUForward(x, y)
		checkOutside(t, "relu forward", before, raw(b, y), y)
		near(t, "relu forward", get64(b, y), relu(x64), 0)

		dy := randTensor(t, b, r, 3, 4, 5, 3, sliced)
		dy64 := get64(b, dy)
		gx := numGrad(x64, 1e-6, func(v []float64) float64 { return dot(dy64, relu(v)) })
		dx := randTensor(t, b, r, 3, 4, 5, 3, sliced)
		before = raw(b, dx)
		b.ReLUBackward(y, dy, dx)
		checkOutside(t, "relu backward", before, raw(b, dx), dx)
		near(t, "relu backward", get64(b, dx), gx, 1e-6)

		// In place: y may be x, dx may be dy.
		b.ReLUBackward(y, dy, dy)
		near(t, "relu backward in place", get64(b, dy), gx, 1e-6)
		b.ReLUForward(x, x)
		near(t, "relu forward in place", get64(b, x), relu(x64), 0)
	}
}
