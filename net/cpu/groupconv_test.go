package cpu

import (
	"fmt"
	"math"
	"testing"

	"rout/net"
)

// groupCase is a grouped convolution: c input channels and k filters per group.
type groupCase struct {
	groups int
	cc     convCase
}

var groupCases = []groupCase{
	{2, convCase{2, 3, 7, 7, 4, 3, 3, net.ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}}},
	{3, convCase{3, 2, 9, 8, 2, 3, 3, net.ConvParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}}},
	{4, convCase{2, 2, 5, 5, 3, 1, 1, net.ConvParams{StrideH: 1, StrideW: 1}}},                     // 1x1, one sample per chunk
	{2, convCase{5, 3, 4, 4, 2, 1, 1, net.ConvParams{StrideH: 1, StrideW: 1}}},                     // 1x1, five samples per chunk
	{2, convCase{9, 1, 13, 13, 2, 3, 3, net.ConvParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}}}, // chunks of 8 and 1
}

// whole is the convolution as the backend sees it: G*c channels in, G*k filters out.
func (gc groupCase) whole() convCase {
	cc := gc.cc
	cc.c, cc.k = gc.groups*cc.c, gc.groups*cc.k
	cc.p.Groups = gc.groups
	return cc
}

// groupRef is a direct float64 grouped convolution: each group's filters read its channels.
func groupRef(gc groupCase, x, w, bias []float64) []float64 {
	cc := gc.cc
	oh, ow := cc.p.OutSize(cc.h, cc.w, cc.kh, cc.kw)
	hw, ohw, G := cc.h*cc.w, oh*ow, gc.groups
	y := make([]float64, cc.n*G*cc.k*ohw)
	for n := 0; n < cc.n; n++ {
		for g := 0; g < G; g++ {
			xs := x[(n*G+g)*cc.c*hw : (n*G+g+1)*cc.c*hw]
			ws := w[g*cc.k*cc.c*cc.kh*cc.kw : (g+1)*cc.k*cc.c*cc.kh*cc.kw]
			var bs []float64
			if bias != nil {
				bs = bias[g*cc.k : (g+1)*cc.k]
			}
			one := cc
			one.n = 1
			copy(y[(n*G+g)*cc.k*ohw:], convRef(one, xs, ws, bs))
		}
	}
	return y
}

// TestGroupedConv checks grouped convolutions against a float64 reference and finite
// differences, forward and both backward directions, with strided views and accumulation.
func TestGroupedConv(t *testing.T) {
	b := newBackend(t, 2)
	r := newRand(11)
	for ci, gc := range groupCases {
		cc := gc.whole()
		oh, ow := cc.p.OutSize(cc.h, cc.w, cc.kh, cc.kw)
		for _, sliced := range []bool{false, true} {
			tag := fmt.Sprintf("case %d groups %d %+v sliced=%v", ci, gc.groups, gc.cc, sliced)
			x := randTensor(t, b, r, cc.n, cc.c, cc.h, cc.w, sliced)
			w := randTensor(t, b, r, cc.k, gc.cc.c, cc.kh, cc.kw, false)
			bias := randTensor(t, b, r, cc.k, 1, 1, 1, false)
			y := randTensor(t, b, r, cc.n, cc.k, oh, ow, sliced)
			x64, w64, b64 := get64(b, x), get64(b, w), get64(b, bias)

			before := raw(b, y)
			b.ConvForward(x, w, bias, y, cc.p)
			checkOutside(t, tag+" forward", before, raw(b, y), y)
			near(t, tag+" forward", get64(b, y), groupRef(gc, x64, w64, b64), 1e-5)

			dy := randTensor(t, b, r, cc.n, cc.k, oh, ow, sliced)
			dy64 := get64(b, dy)
			gx := numGrad(x64, 1e-3, func(v []float64) float64 { return dot(dy64, groupRef(gc, v, w64, b64)) })
			gw := numGrad(w64, 1e-3, func(v []float64) float64 { return dot(dy64, groupRef(gc, x64, v, b64)) })
			gb := numGrad(b64, 1e-3, func(v []float64) float64 { return dot(dy64, groupRef(gc, x64, w64, v)) })
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
			dw := randTensor(t, b, r, cc.k, gc.cc.c, cc.kh, cc.kw, false)
			db := randTensor(t, b, r, cc.k, 1, 1, 1, false)
			b.ConvBackwardFilter(x, dy, dw, db, cc.p)
			near(t, tag+" backward filter", get64(b, dw), gw, 1e-4)
			near(t, tag+" backward bias", get64(b, db), gb, 1e-4)
		}
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
}

// copyOf is a new dense tensor holding t's values.
func copyOf(t testing.TB, b *Backend, src *net.Tensor) *net.Tensor {
	t.Helper()
	d, err := b.Alloc(src.N, src.C, src.H, src.W)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, src.Len())
	b.Download(src, v)
	b.Upload(d, v)
	return d
}

func sameBits(tb testing.TB, name string, got, want []float32) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			tb.Fatalf("%s: element %d is %v, alone it is %v", name, i, got[i], want[i])
		}
	}
}

func values(b *Backend, t *net.Tensor) []float32 {
	v := make([]float32, t.Len())
	b.Download(t, v)
	return v
}

// TestGroupedConvBitIdentical checks that each group of a grouped convolution computes bit for
// bit what the ungrouped convolution of that group's channels and filters computes alone, for
// any number of threads: what lets a run trained in a pack keep the record it has alone. It
// also checks the pack's first layer, one convolution of G*k filters over a shared input,
// against each block of k filters alone.
func TestGroupedConvBitIdentical(t *testing.T) {
	cases := append(groupCases, groupCase{3, convCase{37, 5, 9, 9, 6, 3, 3, net.ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}}})
	for _, threads := range []int{1, 3} {
		b := newBackend(t, threads)
		r := newRand(5)
		for ci, gc := range cases {
			cc, one := gc.whole(), gc.cc
			oh, ow := cc.p.OutSize(cc.h, cc.w, cc.kh, cc.kw)
			x := randTensor(t, b, r, cc.n, cc.c, cc.h, cc.w, true)
			shared := randTensor(t, b, r, cc.n, one.c, cc.h, cc.w, false)
			w := randTensor(t, b, r, cc.k, one.c, cc.kh, cc.kw, false)
			bias := randTensor(t, b, r, cc.k, 1, 1, 1, false)
			dy := randTensor(t, b, r, cc.n, cc.k, oh, ow, true)
			y := randTensor(t, b, r, cc.n, cc.k, oh, ow, false)
			dx := randTensor(t, b, r, cc.n, cc.c, cc.h, cc.w, false)
			dw := randTensor(t, b, r, cc.k, one.c, cc.kh, cc.kw, false)
			db := randTensor(t, b, r, cc.k, 1, 1, 1, false)
			b.ConvForward(x, w, bias, y, cc.p)
			b.ConvBackwardData(dy, w, dx, cc.p, false)
			b.ConvBackwardFilter(x, dy, dw, db, cc.p)

			// The shared-input layer: ungrouped, G*k filters.
			firstP := cc.p
			firstP.Groups = 0
			sy := randTensor(t, b, r, cc.n, cc.k, oh, ow, false)
			sdw := randTensor(t, b, r, cc.k, one.c, cc.kh, cc.kw, false)
			sdb := randTensor(t, b, r, cc.k, 1, 1, 1, false)
			wFirst := randTensor(t, b, r, cc.k, one.c, cc.kh, cc.kw, false)
			b.ConvForward(shared, wFirst, bias, sy, firstP)
			b.ConvBackwardFilter(shared, dy, sdw, sdb, firstP)

			wlen := one.k * one.c * one.kh * one.kw
			for g := 0; g < gc.groups; g++ {
				tag := fmt.Sprintf("threads %d case %d group %d", threads, ci, g)
				k0, k1 := g*one.k, (g+1)*one.k
				xg := x.Channels(g*one.c, (g+1)*one.c)
				wg := copyOf(t, b, w.View(w.Offset+g*wlen, one.k, one.c, one.kh, one.kw))
				bg := copyOf(t, b, bias.View(bias.Offset+k0, one.k, 1, 1, 1))
				dyg := dy.Channels(k0, k1)
				yg := randTensor(t, b, r, cc.n, one.k, oh, ow, false)
				dxg := randTensor(t, b, r, cc.n, one.c, cc.h, cc.w, false)
				dwg := randTensor(t, b, r, one.k, one.c, cc.kh, cc.kw, false)
				dbg := randTensor(t, b, r, one.k, 1, 1, 1, false)
				b.ConvForward(xg, wg, bg, yg, one.p)
				b.ConvBackwardData(dyg, wg, dxg, one.p, false)
				b.ConvBackwardFilter(xg, dyg, dwg, dbg, one.p)
				sameBits(t, tag+" forward", values(b, y.Channels(k0, k1)), values(b, yg))
				sameBits(t, tag+" backward data", values(b, dx.Channels(g*one.c, (g+1)*one.c)), values(b, dxg))
				sameBits(t, tag+" backward filter", values(b, dw)[g*wlen:(g+1)*wlen], values(b, dwg))
				sameBits(t, tag+" backward bias", values(b, db)[k0:k1], values(b, dbg))

				wf := copyOf(t, b, wFirst.View(wFirst.Offset+g*wlen, one.k, one.c, one.kh, one.kw))
				b.ConvForward(shared, wf, bg, yg, one.p)
				b.ConvBackwardFilter(shared, dyg, dwg, dbg, one.p)
				sameBits(t, tag+" shared forward", values(b, sy.Channels(k0, k1)), values(b, yg))
				sameBits(t, tag+" shared backward filter", values(b, sdw)[g*wlen:(g+1)*wlen], values(b, dwg))
				sameBits(t, tag+" shared backward bias", values(b, sdb)[k0:k1], values(b, dbg))
			}
		}
		if err := b.Sync(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGroupedConvRejectsShapes checks that channels that do not split into the groups panic
// (a programming error) instead of reading past a group.
func TestGroupedConvRejectsShapes(t *testing.T) {
	b := newBackend(t, 1)
	r := newRand(2)
	x := randTensor(t, b, r, 1, 5, 4, 4, false)
	w := randTensor(t, b, r, 4, 2, 3, 3, false)
	y := randTensor(t, b, r, 1, 4, 2, 2, false)
	defer func() {
		if recover() == nil {
			t.Fatal("5 input channels in 2 groups of 2: no panic")
		}
	}()
	b.ConvForward(x, w, nil, y, net.ConvParams{StrideH: 1, StrideW: 1, Groups: 2})
}
