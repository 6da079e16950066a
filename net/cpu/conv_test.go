package cpu

import (
	"fmt"
	"math"
	"testing"

	"rout/net"
)

type convCase struct {
	n, c, h, w, k, kh, kw int
	p                     net.ConvParams
}

var convCases = []convCase{
	{2, 3, 7, 7, 4, 3, 3, net.ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}},
	{3, 2, 9, 8, 5, 3, 3, net.ConvParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
	{2, 4, 5, 5, 3, 1, 1, net.ConvParams{StrideH: 1, StrideW: 1}},                     // 1x1: no im2col, one sample per chunk
	{5, 6, 4, 4, 7, 1, 1, net.ConvParams{StrideH: 1, StrideW: 1}},                     // 1x1, five samples per chunk
	{9, 3, 13, 13, 2, 3, 3, net.ConvParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}}, // chunks of 8 and 1
	{2, 3, 6, 5, 2, 2, 3, net.ConvParams{StrideH: 1, StrideW: 2, PadW: 1}},            // uneven kernel and stride
	{2, 2, 3, 3, 3, 5, 5, net.ConvParams{StrideH: 1, StrideW: 1, PadH: 2, PadW: 2}},   // kernel larger than the image
	{1, 1, 4, 4, 1, 3, 3, net.ConvParams{StrideH: 3, StrideW: 3, PadH: 2, PadW: 2}},   // padding wider than the stride
}

// convRef is a direct float64 convolution.
func convRef(cc convCase, x, w, bias []float64) []float64 {
	oh, ow := cc.p.OutSize(cc.h, cc.w, cc.kh, cc.kw)
	y := make([]float64, cc.n*cc.k*oh*ow)
	for n := 0; n < cc.n; n++ {
		for k := 0; k < cc.k; k++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					s := 0.0
					if bias != nil {
						s = bias[k]
					}
					for c := 0; c < cc.c; c++ {
						for a := 0; a < cc.kh; a++ {
							for q := 0; q < cc.kw; q++ {
								ih, iw := i*cc.p.StrideH-cc.p.PadH+a, j*cc.p.StrideW-cc.p.PadW+q
								if ih >= 0 && ih < cc.h && iw >= 0 && iw < cc.w {
									s += x[((n*cc.c+c)*cc.h+ih)*cc.w+iw] * w[((k*cc.c+c)*cc.kh+a)*cc.kw+q]
								}
							}
						}
					}
					y[((n*cc.k+k)*oh+i)*ow+j] = s
				}
			}
		}
	}
	return y
}

func TestConv(t *testing.T) {
	b := newBackend(t, 2)
	r := newRand(1)
	for ci, cc := range convCases {
		oh, ow := cc.p.OutSize(cc.h, cc.w, cc.kh, cc.kw)
		for _, sliced := range []bool{false, true} {
			for _, withBias := range []bool{false, true} {
				tag := fmt.Sprintf("case %d %+v sliced=%v bias=%v", ci, cc, sliced, withBias)
				x := randTensor(t, b, r, cc.n, cc.c, cc.h, cc.w, sliced)
				w := randTensor(t, b, r, cc.k, cc.c, cc.kh, cc.kw, false)
				y := randTensor(t, b, r, cc.n, cc.k, oh, ow, sliced)
				var bias, db *net.Tensor
				var bias64 []float64
				if withBias {
					bias = randTensor(t, b, r, cc.k, 1, 1, 1, false)
					bias64 = get64(b, bias)
					db = randTensor(t, b, r, cc.k, 1, 1, 1, false)
				}
				x64, w64 := get64(b, x), get64(b, w)

				before := raw(b, y)
				b.ConvForward(x, w, bias, y, cc.p)
				checkOutside(t, tag+" forward", before, raw(b, y), y)
				near(t, tag+" forward", get64(b, y), convRef(cc, x64, w64, bias64), 1e-5)

				// The loss sum(dy * y) has gradient dy with respect to y.
				dy := randTensor(t, b, r, cc.n, cc.k, oh, ow, sliced)
				dy64 := get64(b, dy)
				gx := numGrad(x64, 1e-3, func(v []float64) float64 { return dot(dy64, convRef(cc, v, w64, bias64)) })
				gw := numGrad(w64, 1e-3, func(v []float64) float64 { return dot(dy64, convRef(cc, x64, v, bias64)) })
				for _, acc := range []bool{false, true} {
					dx := randTensor(t, b, r, cc.n, cc.c, cc.h, cc.w, sliced)
					want := gx
					if acc {
						want = add(gx, get64(b, dx))
					}
					before := raw(b, dx)
					b.ConvBackwardData(dy, w, dx, cc.p, acc)
					checkOutside(t, tag+" backward data", before, raw(b, dx), dx)
					near(t, fmt.Sprintf("%s backward data accumulate=%v", tag, acc), get64(b, dx), want, 1e-4)
				}
				dw := randTensor(t, b, r, cc.k, cc.c, cc.kh, cc.kw, false)
				b.ConvBackwardFilter(x, dy, dw, db, cc.p)
				near(t, tag+" backward filter", get64(b, dw), gw, 1e-4)
				if withBias {
					gb := numGrad(bias64, 1e-3, func(v []float64) float64 { return dot(dy64, convRef(cc, x64, w64, v)) })
					near(t, tag+" backward bias", get64(b, db), gb, 1e-4)
				}
			}
		}
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
}

// TestConvDeterministic checks that the convolutions give bit-identical results on repeated calls
// and for any number of threads, including the weight gradient, a sum over the batch.
func TestConvDeterministic(t *testing.T) {
	cc := convCase{37, 5, 9, 9, 6, 3, 3, net.ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}}
	var ref [3][]float32
	for _, threads := range []int{1, 2, 3, 5} {
		b := newBackend(t, threads)
		r := newRand(7)
		x := randTensor(t, b, r, cc.n, cc.c, cc.h, cc.w, true)
		w := randTensor(t, b, r, cc.k, cc.c, cc.kh, cc.kw, false)
		bias := randTensor(t, b, r, cc.k, 1, 1, 1, false)
		y := randTensor(t, b, r, cc.n, cc.k, cc.h, cc.w, false)
		dx := randTensor(t, b, r, cc.n, cc.c, cc.h, cc.w, false)
		dw := randTensor(t, b, r, cc.k, cc.c, cc.kh, cc.kw, false)
		db := randTensor(t, b, r, cc.k, 1, 1, 1, false)
		for rep := 0; rep < 2; rep++ {
			b.ConvForward(x, w, bias, y, cc.p)
			b.ConvBackwardData(y, w, dx, cc.p, false)
			b.ConvBackwardFilter(x, y, dw, db, cc.p)
			got := [3][]float32{raw(b, y), raw(b, dx), append(raw(b, dw), raw(b, db)...)}
			if ref[0] == nil {
				ref = got
				continue
			}
			for i := range got {
				for e := range got[i] {
					if math.Float32bits(got[i][e]) != math.Float32bits(ref[i][e]) {
						t.Fatalf("threads %d, repeat %d: output %d element %d is %v, first run gave %v", threads, rep, i, e, got[i][e], ref[i][e])
					}
				}
			}
		}
	}
}

// TestConvAllocs checks that convolutions allocate nothing once their scratch has grown.
func TestConvAllocs(t *testing.T) {
	b := newBackend(t, 2)
	r := newRand(3)
	cc := convCase{6, 4, 8, 8, 5, 3, 3, net.ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}}
	x := randTensor(t, b, r, cc.n, cc.c, cc.h, cc.w, true)
	w := randTensor(t, b, r, cc.k, cc.c, cc.kh, cc.kw, false)
	bias := randTensor(t, b, r, cc.k, 1, 1, 1, false)
	y := randTensor(t, b, r, cc.n, cc.k, cc.h, cc.w, true)
	dw := randTensor(t, b, r, cc.k, cc.c, cc.kh, cc.kw, false)
	step := func() {
		b.ConvForward(x, w, bias, y, cc.p)
		b.ConvBackwardData(y, w, x, cc.p, true)
		b.ConvBackwardFilter(x, y, dw, bias, cc.p)
	}
	step()
	if a := testing.AllocsPerRun(10, step); a != 0 {
		t.Fatalf("%v allocations per convolution step after warm-up, want 0", a)
	}
}
