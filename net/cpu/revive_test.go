package cpu

import (
	"math"
	"slices"
	"testing"

	"rout/net"
)

// TestActivationMeans compares the per-channel mean |y| of a channel slice with a float64
// reference, and checks that nothing outside the slice is read into it.
func TestActivationMeans(t *testing.T) {
	b := newBackend(t, 2)
	r := newRand(1)
	y := randTensor(t, b, r, 3, 4, 5, 6, true)
	means, _ := b.Alloc(4, 1, 1, 1)
	b.ActivationMeans(y, means)
	v := get64(b, y)
	want := make([]float64, 4)
	for n := range 3 {
		for k := range 4 {
			for _, a := range v[(n*4+k)*30 : (n*4+k+1)*30] {
				want[k] += math.Abs(a) / 90
			}
		}
	}
	near(t, "activation means", get64(b, means), want, 1e-6)
}

// reviveFixture is a hand-made revive table over 60 parameters: group a (3 filters) read by two
// links, one of them a dense-like link of 2 rows of 2 values per filter, with batch norm at 40
// and running statistics at 0 of the state; group b (2 filters) read by one link of 3 rows.
func reviveFixture() (*net.ReviveTable, int) {
	ft := net.NewFilterTable([]net.FilterGroup{
		{Name: "a", Layer: 1, Weight: 0, Bias: 6, Filters: 3, FilterLen: 2, Bound: 1},
		{Name: "b", Layer: 2, Weight: 9, Bias: -1, Filters: 2, FilterLen: 1, Bound: 1},
	})
	rt := &net.ReviveTable{FilterTable: ft, Groups: []net.ReviveGroup{
		{Links: []net.Link{{Weight: 11, Rows: 2, RowStride: 7, Len: 1}, {Weight: 30, Rows: 2, RowStride: 6, Len: 2}},
			Gamma: 40, RunMean: 0, FanOut: 3},
		{Links: []net.Link{{Weight: 50, Rows: 3, RowStride: 3, Len: 1}}, Gamma: -1, RunMean: -1, FanOut: 2},
	}}
	return rt, 60
}

// outgoingOf lists, by hand, the parameters reading filter k of group g of reviveFixture.
func outgoingOf(g, k int) []int {
	if g == 1 {
		return []int{50 + k, 53 + k, 56 + k}
	}
	return []int{11 + k, 18 + k, 30 + 2*k, 31 + 2*k, 36 + 2*k, 37 + 2*k}
}

// TestOutgoingMeansAndReset checks OutgoingMeans against a float64 reference and ResetOutgoing
// against the parameters, moments and batch-norm state it must touch, and nothing else.
func TestOutgoingMeansAndReset(t *testing.T) {
	b := newBackend(t, 1)
	rt, total := reviveFixture()
	r := newRand(2)
	params := randTensor(t, b, r, total, 1, 1, 1, false)
	state := randTensor(t, b, r, 6, 1, 1, 1, false)
	m := randTensor(t, b, r, total, 1, 1, 1, false)
	p0, s0, m0 := raw(b, params), raw(b, state), raw(b, m)
	out, _ := b.Alloc(5, 1, 1, 1)
	b.OutgoingMeans(rt, params, out)
	var want []float64
	for f := range 5 {
		g, k := 0, f
		if f >= 3 {
			g, k = 1, f-3
		}
		s := 0.0
		idx := outgoingOf(g, k)
		for _, i := range idx {
			s += math.Abs(float64(p0[i]))
		}
		want = append(want, s/float64(len(idx)))
	}
	near(t, "outgoing means", get64(b, out), want, 1e-6)

	mask, _ := b.Alloc(5, 1, 1, 1)
	b.Upload(mask, []float32{0, 1, 0, 0, 1}) // a's filter 1, b's filter 1
	b.ResetOutgoing(rt, mask, params, state, []*net.Tensor{m})
	wantP, wantM, wantS := slices.Clone(p0), slices.Clone(m0), slices.Clone(s0)
	for _, i := range append(outgoingOf(0, 1), outgoingOf(1, 1)...) {
		wantP[i], wantM[i] = 0, 0
	}
	wantP[41], wantP[44], wantM[41], wantM[44] = 1, 0, 0, 0 // a's scale and shift (3 filters)
	wantS[1], wantS[4] = 0, 1                               // a's running mean and variance
	for name, c := range map[string][2][]float32{"params": {raw(b, params), wantP}, "moments": {raw(b, m), wantM}, "state": {raw(b, state), wantS}} {
		if !slices.Equal(c[0], c[1]) {
			t.Errorf("%s after the reset: %v, want %v", name, c[0], c[1])
		}
	}
}

// TestMarkDormant checks ReDo's decision against a float64 reference, a whole dead layer
// (every filter dormant: 0 <= tau) included, and that counts accumulate.
func TestMarkDormant(t *testing.T) {
	b := newBackend(t, 1)
	rt, _ := reviveFixture()
	means, _ := b.Alloc(5, 1, 1, 1)
	v := []float32{0, 0.05, 1.2, 0, 0}
	b.Upload(means, v)
	mask, _ := b.Alloc(5, 1, 1, 1)
	counts, _ := b.Alloc(2, 1, 1, 1)
	b.Upload(counts, []float32{10, 20})
	b.MarkDormant(rt.FilterTable, means, mask, counts, 0.2)
	mean := (0 + 0.05 + 1.2) / 3.0
	var want []float32
	for i, a := range v {
		d := float32(0)
		if i < 3 && float64(a)/(mean+1e-9) <= 0.2 || i >= 3 {
			d = 1
		}
		want = append(want, d)
	}
	if got := raw(b, mask); !slices.Equal(got, want) {
		t.Errorf("mask %v, want %v", got, want)
	}
	if got := raw(b, counts); !slices.Equal(got, []float32{12, 22}) {
		t.Errorf("counts %v, want [12 22]", got)
	}
}

// TestCBPStepReplacesAllWhenFewer: when more replacements are due than a layer has mature
// filters, every mature one is replaced and the rest of the accumulator is dropped; immature
// filters are never replaced.
func TestCBPStepReplacesAllWhenFewer(t *testing.T) {
	b := newBackend(t, 1)
	rt, _ := reviveFixture()
	ft := rt.FilterTable
	ts := map[string]*net.Tensor{}
	for _, n := range []string{"means", "outs", "util", "age", "mask"} {
		ts[n], _ = b.Alloc(5, 1, 1, 1)
	}
	acc, _ := b.Alloc(2, 1, 1, 1)
	counts, _ := b.Alloc(2, 1, 1, 1)
	b.Upload(ts["means"], []float32{1, 2, 3, 4, 5})
	b.Upload(ts["outs"], []float32{1, 1, 1, 1, 1})
	b.Upload(ts["age"], []float32{5, 0, 7, 0, 0})
	b.Upload(acc, []float32{2.5, 0})
	b.CBPStep(ft, ts["means"], ts["outs"], ts["util"], ts["age"], acc, ts["mask"], counts, net.CBPParams{Decay: 0.5, Rate: 0.25, Maturity: 3})
	if got := raw(b, ts["mask"]); !slices.Equal(got, []float32{1, 0, 1, 0, 0}) {
		t.Errorf("mask %v, want the two mature filters of a", got)
	}
	// a: 2.5 + 0.25*2 = 3 due, 2 mature: both replaced, acc 0; b: no mature filter, acc untouched.
	if got := raw(b, acc); !slices.Equal(got, []float32{0, 0}) {
		t.Errorf("accumulated %v, want [0 0]", got)
	}
	if got := raw(b, counts); !slices.Equal(got, []float32{2, 0}) {
		t.Errorf("counts %v, want [2 0]", got)
	}
	if got := raw(b, ts["age"]); !slices.Equal(got, []float32{0, 1, 0, 1, 1}) {
		t.Errorf("ages %v, want [0 1 0 1 1]", got)
	}
	if got := raw(b, ts["util"]); !slices.Equal(got, []float32{0, 1, 0, 2, 2.5}) {
		t.Errorf("utilities %v, want [0 1 0 2 2.5]", got)
	}
}
