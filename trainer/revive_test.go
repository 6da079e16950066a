package trainer

import (
	"math"
	"slices"
	"testing"

	"rout/net"
	"rout/net/cpu"
	"rout/rng"
)

// reviveFixture is two filter groups in a flat parameter tensor, laid out as a network's:
// group "a" (layer word 3): 3 filters of 4 weights with biases; group "b" (layer word 7):
// 2 filters of 5 weights without biases; and one trailing parameter that belongs to no group.
type reviveFixture struct {
	b              *cpu.Backend
	ft             *net.FilterTable
	params, grads  *net.Tensor
	m, v           *net.Tensor
	p0, g0, m0, v0 []float32
}

const (
	fxSeed = 99
	fxLen  = 3*4 + 3 + 2*5 + 1
)

func newReviveFixture(t *testing.T, deadA, deadB []int) *reviveFixture {
	t.Helper()
	f := &reviveFixture{b: cpu.New(cpu.Options{Threads: 1})}
	t.Cleanup(func() { f.b.Close() })
	f.ft = net.NewFilterTable([]net.FilterGroup{
		{Name: "a", Layer: 3, Weight: 0, Bias: 12, Filters: 3, FilterLen: 4, Bound: 0.5},
		{Name: "b", Layer: 7, Weight: 15, Bias: -1, Filters: 2, FilterLen: 5, Bound: 0.25},
	})
	alloc := func(fill func(i int) float32) (*net.Tensor, []float32) {
		tt, err := f.b.Alloc(fxLen, 1, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		d := make([]float32, fxLen)
		for i := range d {
			d[i] = fill(i)
		}
		f.b.Upload(tt, d)
		return tt, d
	}
	f.params, f.p0 = alloc(func(i int) float32 { return 10 + float32(i) })
	f.grads, f.g0 = alloc(func(i int) float32 { return 0.1 * float32(i+1) })
	f.m, f.m0 = alloc(func(i int) float32 { return -float32(i + 1) })
	f.v, f.v0 = alloc(func(i int) float32 { return float32(i+1) * 2 })
	// Zero the gradients of the dead filters (and of their biases: a dead unit has none).
	for _, k := range deadA {
		for j := range 4 {
			f.g0[k*4+j] = 0
		}
		f.g0[12+k] = 0
	}
	for _, k := range deadB {
		for j := range 5 {
			f.g0[15+k*5+j] = 0
		}
	}
	f.b.Upload(f.grads, f.g0)
	return f
}

func (f *reviveFixture) get(t *net.Tensor) []float32 {
	d := make([]float32, t.Len())
	f.b.Download(t, d)
	return d
}

// redrawn is what the initialiser draws for weight j of filter k of a group after step.
func redrawn(g net.FilterGroup, step, k, j int) float32 {
	return g.Bound * rng.Symmetric(rng.Uint32(rng.KeyFromSeed(fxSeed), uint32(step+1), g.Layer, uint32(k), j))
}

// TestRandomOutRedrawsExactlyTheDeadFilters crafts gradients in which filter 1 of group a and
// filter 0 of group b are dead (all-zero gradient), runs the policy after step 4 under each
// scope, and checks every parameter, moment and counter against what the scope promises.
func TestRandomOutRedrawsExactlyTheDeadFilters(t *testing.T) {
	const step = 4
	for _, scope := range []string{"weights", "weights+bias", "weights+bias+optimizer"} {
		t.Run(scope, func(t *testing.T) {
			f := newReviveFixture(t, []int{1}, []int{0})
			o := RandomOutOptions{Enabled: true, Seed: fxSeed, Every: 1, Norm: net.NormL1,
				Threshold: net.Threshold{Tau: 1e-30}}
			if scope != "weights" {
				o.ZeroBias = true
			}
			if scope == "weights+bias+optimizer" {
				o.Moments = []*net.Tensor{f.m, f.v}
			}
			r, err := NewRandomOut(f.b, f.ft, f.params, f.grads, o)
			if err != nil {
				t.Fatal(err)
			}
			r.AfterUpdate(step)
			wantP := slices.Clone(f.p0)
			wantM, wantV := slices.Clone(f.m0), slices.Clone(f.v0)
			ga, gb := f.ft.Groups[0], f.ft.Groups[1]
			for j := range 4 {
				wantP[4+j] = redrawn(ga, step, 1, j)
			}
			for j := range 5 {
				wantP[15+j] = redrawn(gb, step, 0, j)
			}
			zeroMoments := func(i int) {
				if o.Moments != nil {
					wantM[i], wantV[i] = 0, 0
				}
			}
			for j := range 4 {
				zeroMoments(4 + j)
			}
			for j := range 5 {
				zeroMoments(15 + j)
			}
			if o.ZeroBias {
				wantP[12+1] = 0
				zeroMoments(12 + 1)
			}
			if got := f.get(f.params); !slices.Equal(got, wantP) {
				t.Errorf("params\n got %v\nwant %v", got, wantP)
			}
			if got := f.get(f.m); !slices.Equal(got, wantM) {
				t.Errorf("first moments\n got %v\nwant %v", got, wantM)
			}
			if got := f.get(f.v); !slices.Equal(got, wantV) {
				t.Errorf("second moments\n got %v\nwant %v", got, wantV)
			}
			if got := f.get(f.grads); !slices.Equal(got, f.g0) {
				t.Errorf("the gradients changed")
			}
			reinits, dead := r.Counters()
			if !slices.Equal(reinits, []int64{1, 1}) || !slices.Equal(dead, []int64{1, 1}) {
				t.Errorf("counters: reinits %v dead %v, want [1 1] and [1 1]", reinits, dead)
			}
			// A second check with the same gradients re-draws again, with the next step's draws,
			// and the cumulative count grows while the dead count stays per-check.
			r.AfterUpdate(step + 1)
			if got := f.get(f.params)[4]; got != redrawn(ga, step+1, 1, 0) {
				t.Errorf("second re-draw: weight %v, want %v", got, redrawn(ga, step+1, 1, 0))
			}
			reinits, dead = r.Counters()
			if !slices.Equal(reinits, []int64{2, 2}) || !slices.Equal(dead, []int64{1, 1}) {
				t.Errorf("counters after two checks: reinits %v dead %v, want [2 2] and [1 1]", reinits, dead)
			}
		})
	}
}

// TestRandomOutDisabledOnlyMeasures is the baseline arm: dead filters are counted, nothing is
// re-drawn.
func TestRandomOutDisabledOnlyMeasures(t *testing.T) {
	f := newReviveFixture(t, []int{0, 2}, nil)
	r, err := NewRandomOut(f.b, f.ft, f.params, f.grads, RandomOutOptions{Seed: fxSeed, Every: 1,
		Norm: net.NormL1, Threshold: net.Threshold{Tau: 1e-30}, ZeroBias: true, Moments: []*net.Tensor{f.m}})
	if err != nil {
		t.Fatal(err)
	}
	r.AfterUpdate(0)
	if got := f.get(f.params); !slices.Equal(got, f.p0) {
		t.Errorf("params changed with RandomOut off")
	}
	if got := f.get(f.m); !slices.Equal(got, f.m0) {
		t.Errorf("moments changed with RandomOut off")
	}
	reinits, dead := r.Counters()
	if !slices.Equal(reinits, []int64{0, 0}) || !slices.Equal(dead, []int64{2, 0}) {
		t.Errorf("counters: reinits %v dead %v, want [0 0] and [2 0]", reinits, dead)
	}
	if !slices.Equal(r.Layers(), []string{"a", "b"}) {
		t.Errorf("layers %v", r.Layers())
	}
}

// TestRandomOutEveryAndThreshold checks the check interval, the L2 norm against an absolute
// tau, and a relative tau.
func TestRandomOutEveryAndThreshold(t *testing.T) {
	// Every 3: the update of step 4 (the 5th) is not checked, that of step 5 (the 6th) is.
	f := newReviveFixture(t, []int{0}, nil)
	r, err := NewRandomOut(f.b, f.ft, f.params, f.grads, RandomOutOptions{Enabled: true, Seed: fxSeed, Every: 3,
		Norm: net.NormL1, Threshold: net.Threshold{Tau: 1e-30}})
	if err != nil {
		t.Fatal(err)
	}
	r.AfterUpdate(4)
	if got := f.get(f.params); !slices.Equal(got, f.p0) {
		t.Errorf("step 4 was checked with every=3")
	}
	r.AfterUpdate(5)
	if got := f.get(f.params)[0]; got != redrawn(f.ft.Groups[0], 5, 0, 0) {
		t.Errorf("step 5: weight %v, want the re-draw %v", got, redrawn(f.ft.Groups[0], 5, 0, 0))
	}

	// Gradients 0.1*(i+1): group a's filter norms (L2) grow with k; an absolute tau between
	// filter 0's and filter 1's norm marks filter 0 of a only (group b's norms are larger).
	f = newReviveFixture(t, nil, nil)
	l2 := func(lo, n int) float64 {
		s := 0.0
		for i := lo; i < lo+n; i++ {
			s += float64(f.g0[i]) * float64(f.g0[i])
		}
		return s
	}
	n0, n1 := math.Sqrt(l2(0, 4)), math.Sqrt(l2(4, 4))
	r, err = NewRandomOut(f.b, f.ft, f.params, f.grads, RandomOutOptions{Seed: fxSeed, Every: 1,
		Norm: net.NormL2, Threshold: net.Threshold{Tau: float32((n0 + n1) / 2)}})
	if err != nil {
		t.Fatal(err)
	}
	r.AfterUpdate(0)
	if _, dead := r.Counters(); !slices.Equal(dead, []int64{1, 0}) {
		t.Errorf("L2, absolute tau: dead %v, want [1 0]", dead)
	}
	// Relative: tau 0.9 of each group's mean L1 norm marks the filters below 0.9x their mean:
	// group a's norms are 1.0, 2.6, 4.2 (mean 2.6): filter 0 only; group b's 9.0, 11.5 (mean
	// 10.25): filter 0 (9.0 < 9.225).
	r, err = NewRandomOut(f.b, f.ft, f.params, f.grads, RandomOutOptions{Seed: fxSeed, Every: 1,
		Norm: net.NormL1, Threshold: net.Threshold{Tau: 0.9, Relative: true}})
	if err != nil {
		t.Fatal(err)
	}
	r.AfterUpdate(0)
	if _, dead := r.Counters(); !slices.Equal(dead, []int64{1, 1}) {
		t.Errorf("L1, relative tau 0.9: dead %v, want [1 1]", dead)
	}
}
