package cpu

import (
	"math"
	"testing"

	"rout/net"
	"rout/rng"
)

// testTable is three groups laid out in a flat tensor of 200 values: a conv layer with bias, a
// conv layer without, and a dense layer with bias, with a gap between them.
func testTable() (*net.FilterTable, int) {
	return net.NewFilterTable([]net.FilterGroup{
		{Name: "conv1", Layer: 0, Weight: 0, Bias: 24, Filters: 4, FilterLen: 6, Bound: 0.01},
		{Name: "conv2", Layer: 3, Weight: 30, Bias: -1, Filters: 5, FilterLen: 9, Bound: 0.5},
		{Name: "fc", Layer: 7, Weight: 80, Bias: 180, Filters: 10, FilterLen: 10, Bound: 2},
	}), 200
}

func TestFilterNorms(t *testing.T) {
	b := newBackend(t, 2)
	r := newRand(11)
	ft, size := testTable()
	g := randTensor(t, b, r, size, 1, 1, 1, false)
	g64 := get64(b, g)
	norms, _ := b.Alloc(ft.Filters, 1, 1, 1)
	for _, kind := range []net.NormKind{net.NormL1, net.NormL2} {
		var want []float64
		for _, gr := range ft.Groups {
			for k := 0; k < gr.Filters; k++ {
				s := 0.0
				for j := 0; j < gr.FilterLen; j++ {
					v := g64[gr.Weight+k*gr.FilterLen+j]
					if kind == net.NormL1 {
						s += math.Abs(v)
					} else {
						s += v * v
					}
				}
				if kind == net.NormL2 {
					s = math.Sqrt(s)
				}
				want = append(want, s)
			}
		}
		b.FilterNorms(ft, g, norms, kind)
		near(t, "filter norms", get64(b, norms), want, 1e-7)
	}
}

func TestMarkBelow(t *testing.T) {
	b := newBackend(t, 1)
	ft, _ := testTable()
	norms, _ := b.Alloc(ft.Filters, 1, 1, 1)
	b.Upload(norms, []float32{
		0, 1, 2, 3, // conv1: mean 1.5
		0, 0, 10, 10, 5, // conv2: mean 5
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // fc: mean 1
	})
	mask, _ := b.Alloc(ft.Filters, 1, 1, 1)
	b.Fill(mask, 7)
	counts, _ := b.Alloc(3, 1, 1, 1)
	b.Upload(counts, []float32{1, 1, 1})

	b.MarkBelow(ft, norms, mask, counts, net.Threshold{Tau: 1e-30})
	near(t, "absolute mask", get64(b, mask), []float64{1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0)
	near(t, "absolute counts", get64(b, counts), []float64{2, 3, 1}, 0)

	b.MarkBelow(ft, norms, mask, counts, net.Threshold{Tau: 1.2})
	near(t, "absolute 1.2 mask", get64(b, mask), []float64{1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 0)
	near(t, "absolute 1.2 counts", get64(b, counts), []float64{4, 5, 11}, 0)

	// Relative: below 0.9 times the group's mean (1.35, 4.5, 0.9).
	b.MarkBelow(ft, norms, mask, counts, net.Threshold{Tau: 0.9, Relative: true})
	near(t, "relative mask", get64(b, mask), []float64{1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0)
	near(t, "relative counts", get64(b, counts), []float64{6, 7, 11}, 0)

	// A group whose every filter is dead has mean 0: relative marks it whole (tau > 0), where
	// 0 < 0.9 * 0 alone would mark none; tau 0 still marks nothing.
	b.Upload(norms, []float32{0, 0, 0, 0, 0, 0, 10, 10, 5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
	b.MarkBelow(ft, norms, mask, counts, net.Threshold{Tau: 0.9, Relative: true})
	near(t, "relative all-dead mask", get64(b, mask), []float64{1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0)
	near(t, "relative all-dead counts", get64(b, counts), []float64{10, 9, 11}, 0)
	b.MarkBelow(ft, norms, mask, counts, net.Threshold{Tau: 0, Relative: true})
	near(t, "relative tau 0 counts", get64(b, counts), []float64{10, 9, 11}, 0)
}

func TestRedrawFilters(t *testing.T) {
	b := newBackend(t, 1)
	r := newRand(12)
	ft, size := testTable()
	const seed, purpose = 0x123456789abcdef, 42
	for _, masked := range []bool{true, false} {
		for _, zeroBias := range []bool{false, true} {
			params := randTensor(t, b, r, size, 1, 1, 1, false)
			m := randTensor(t, b, r, size, 1, 1, 1, false)
			v := randTensor(t, b, r, size, 1, 1, 1, false)
			counts, _ := b.Alloc(3, 1, 1, 1)
			b.Upload(counts, []float32{10, 20, 30})
			p0, m0, v0 := raw(b, params), raw(b, m), raw(b, v)
			marks := []float32{0, 1, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
			var mask *net.Tensor
			if masked {
				mask, _ = b.Alloc(ft.Filters, 1, 1, 1)
				b.Upload(mask, marks)
			}
			b.RedrawFilters(ft, mask, net.Redraw{Seed: seed, Purpose: purpose, Params: params,
				ZeroBias: zeroBias, Moments: []*net.Tensor{m, v}, Counts: counts})

			// The expected tensors, built from rng directly.
			wantP := append([]float32(nil), p0...)
			wantM, wantV := append([]float32(nil), m0...), append([]float32(nil), v0...)
			wantCounts := []float64{10, 20, 30}
			f := 0
			for gi, g := range ft.Groups {
				for k := 0; k < g.Filters; k, f = k+1, f+1 {
					if masked && marks[f] == 0 {
						continue
					}
					wantCounts[gi]++
					for j := 0; j < g.FilterLen; j++ {
						d := rng.Uint32(rng.KeyFromSeed(seed), purpose, g.Layer, uint32(k), j)
						i := g.Weight + k*g.FilterLen + j
						wantP[i] = g.Bound * rng.Symmetric(d)
						wantM[i], wantV[i] = 0, 0
					}
					if zeroBias && g.Bias >= 0 {
						wantP[g.Bias+k], wantM[g.Bias+k], wantV[g.Bias+k] = 0, 0, 0
					}
				}
			}
			for _, c := range []struct {
				name      string
				got, want []float32
			}{{"params", raw(b, params), wantP}, {"m", raw(b, m), wantM}, {"v", raw(b, v), wantV}} {
				for i := range c.want {
					if math.Float32bits(c.got[i]) != math.Float32bits(c.want[i]) {
						t.Fatalf("masked=%v zeroBias=%v: %s[%d] = %v, want %v", masked, zeroBias, c.name, i, c.got[i], c.want[i])
					}
				}
			}
			near(t, "counts", get64(b, counts), wantCounts, 0)
		}
	}
}
