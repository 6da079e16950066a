package trainer

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"rout/data"
	"rout/net"
	"rout/net/cpu"
)

// Lockstep parity: both backends take each step from the same state, the CPU's. After every
// step the test compares the losses and, at RandomOut's checks, every filter's gradient norm and
// re-draw decision, then uploads the CPU's parameters and optimiser state to the other backend,
// so that a difference never compounds and every step is compared from identical weights. (Run
// free, the two drift apart within a few steps for a reason of their own: Adam divides each
// update by the gradient's running size, so a weight whose gradient is at rounding level, as
// most are under the paper's tiny initialisation, moves by a full learning rate in whichever
// direction the rounding points.)
//
// A decision may differ (a flip) only at an edge no tolerance on tau can remove:
//   - a ReLU edge: with tau = 1e-30 a filter is re-drawn when its gradient is exactly zero, that
//     is when its ReLU is shut at every position of every example. A pre-activation within
//     rounding of zero can be shut on one backend and open on the other (cuDNN and gonum sum in
//     different orders); the filter's norm is then zero on one side and, on the other, below
//     lockstepEdge times the median norm of the live filters of its layer;
//   - a threshold edge: both norms agree to lockstepNormTol yet fall on either side of tau (or,
//     with a relative tau, of tau times the layer's mean norm).
//
// Flips must also stay below lockstepMaxFlips of the decisions. Any other disagreement fails, as
// does a filter's norm that differs from the CPU's by more than lockstepNormTol of the largest
// norm in its layer. That bound is loose on purpose: under the paper's initialisation most
// pre-activations sit within rounding of zero, so single ReLU gates open on one backend and not
// on the other, and a filter's norm moves by a few percent (measured on an H200 over the 20
// lockstep steps of the paper preset on CIFAR-10: up to 4.5% of the filter's norm, at most 1% of
// the layer's largest; at most 0.14% with Glorot's initialiser). A wrong gradient is off by its
// own size.
const (
	lockstepLossTol  = 1e-3
	lockstepNormTol  = 5e-2
	lockstepEdge     = 1e-2
	lockstepMaxFlips = 1e-3
)

// side is one backend's run, stepped by hand.
type side struct {
	r  *run
	ro *RandomOut
}

func openSide(t *testing.T, cfg Config, ds *data.Dataset, b net.Backend) *side {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r, err := newRun(cfg, t.TempDir(), runOptions{backend: b, dataset: ds})
	if err != nil {
		t.Fatalf("%s: %v", b.Name(), err)
	}
	t.Cleanup(func() { r.close() })
	ro, ok := r.rev.(*RandomOut)
	if !ok {
		t.Fatalf("%s: the reviver is a %T, want *RandomOut", b.Name(), r.rev)
	}
	r.b.SetOrder(r.trainSet, data.EpochOrder(r.train.N, cfg.DataSeed, 0))
	r.trainAug.Epoch = 0
	return &side{r: r, ro: ro}
}

// step runs one training step and returns its mean loss, the per-filter norms and the mask.
func (s *side) step(t *testing.T, lr float64) (loss float64, norms, mask []float32) {
	t.Helper()
	s.r.step(lr)
	s.r.st.Step++
	s.r.st.EpochStep++
	l, _, n, err := s.r.readStats()
	if err != nil {
		t.Fatalf("%s step %d: %v", s.r.b.Name(), s.r.st.Step, err)
	}
	norms, mask = make([]float32, s.ro.norms.Len()), make([]float32, s.ro.mask.Len())
	s.r.b.Download(s.ro.norms, norms)
	s.r.b.Download(s.ro.mask, mask)
	if err := s.r.b.Err(); err != nil {
		t.Fatalf("%s step %d: %v", s.r.b.Name(), s.r.st.Step, err)
	}
	return l / n, norms, mask
}

// copyState sets dst's parameters and optimiser state to src's.
func copyState(t *testing.T, dst, src *side) {
	t.Helper()
	pairs := [][2]*net.Tensor{{dst.r.n.Params, src.r.n.Params}}
	dm, sm := dst.r.opt.Moments(), src.r.opt.Moments()
	for i := range dm {
		pairs = append(pairs, [2]*net.Tensor{dm[i], sm[i]})
	}
	for _, p := range pairs {
		v := make([]float32, p[1].Len())
		src.r.b.Download(p[1], v)
		dst.r.b.Upload(p[0], v)
	}
	if err := errors.Join(src.r.b.Err(), dst.r.b.Err()); err != nil {
		t.Fatalf("copying the state: %v", err)
	}
}

// lockstepResult is what a lockstep comparison found.
type lockstepResult struct {
	flips, decisions, marked int     // decisions that differ, decisions made, filters the CPU marked
	worstLoss, worstNorm     float64 // largest relative loss difference; largest norm difference of its layer's largest
}

// stepOut is what one side's step gave: its mean loss, per-filter norms and mask.
type stepOut struct {
	loss        float64
	norms, mask []float32
}

// compare checks step i of the other backend (name, o) against the CPU's (c), adds to res and
// to the table, and reports whether RandomOut checked at this step.
func (res *lockstepResult) compare(t *testing.T, cfg Config, groups []net.FilterGroup, i int, name string, c, o stepOut, tab *strings.Builder) bool {
	t.Helper()
	cl, cn, cm := c.loss, c.norms, c.mask
	gl, gn, gm := o.loss, o.norms, o.mask
	rel := math.Abs(gl-cl) / math.Max(math.Abs(cl), 1e-30)
	res.worstLoss = math.Max(res.worstLoss, rel)
	if !(rel <= lockstepLossTol) {
		t.Errorf("step %d: loss cpu %.8g, %s %.8g: relative difference %.3g, want at most %g", i+1, cl, name, gl, rel, lockstepLossTol)
	}
	if (i+1)%cfg.RandomOutEvery != 0 { // no check at this step: the norms and mask are the last check's
		fmt.Fprintf(tab, "%4d  %12.7f  %12.7f  %9.2e  %9s  %5s\n", i+1, cl, gl, rel, "-", "-")
		return false
	}
	var flipped []string
	marked, first := 0, 0
	for _, grp := range groups {
		end := first + grp.Filters
		live := liveMedian(cn[first:end], gn[first:end])
		top := layerMax(cn[first:end], gn[first:end])
		for _, side := range []struct {
			name        string
			norms, mask []float32
		}{{"cpu", cn, cm}, {name, gn, gm}} {
			if bad := markedRight(side.norms[first:end], side.mask[first:end], cfg); bad >= 0 {
				t.Errorf("step %d: %s: %s filter %d: norm %.6g, marked %v: not what tau %g (%s) says",
					i+1, side.name, grp.Name, bad, side.norms[first+bad], side.mask[first+bad] == 1, cfg.Tau, cfg.TauMode)
			}
		}
		for f := first; f < end; f++ {
			res.decisions++
			if cm[f] == 1 {
				marked++
				res.marked++
			}
			c, o := float64(cn[f]), float64(gn[f])
			normsAgree := math.Abs(c-o) <= lockstepNormTol*math.Max(c, o)
			if top > 0 {
				d := math.Abs(c-o) / top
				res.worstNorm = math.Max(res.worstNorm, d)
				if !(d <= lockstepNormTol) {
					t.Errorf("step %d: %s filter %d: gradient norm cpu %.6g, %s %.6g: differ by %.3g of the layer's largest norm %.3g, want at most %g",
						i+1, grp.Name, f-first, c, name, o, d, top, lockstepNormTol)
				}
			}
			if cm[f] == gm[f] {
				continue
			}
			res.flips++
			flipped = append(flipped, fmt.Sprintf("%s#%d: %.3g / %.3g", grp.Name, f-first, c, o))
			kept := math.Max(c, o) // the norm of the side that did not mark the filter
			reluEdge := math.Min(c, o) < 1e-30 && kept < lockstepEdge*live
			if !reluEdge && !normsAgree {
				t.Errorf("step %d: %s filter %d: cpu norm %.6g (marked %v), %s norm %.6g (marked %v): neither a ReLU edge (one norm zero, the other below %g of the layer's live median %.3g) nor a threshold edge (norms within %g)",
					i+1, grp.Name, f-first, c, cm[f] == 1, name, o, gm[f] == 1, lockstepEdge, live, lockstepNormTol)
			}
		}
		first = end
	}
	fmt.Fprintf(tab, "%4d  %12.7f  %12.7f  %9.2e  %9d  %5d  %s\n", i+1, cl, gl, rel, marked, len(flipped), strings.Join(flipped, ", "))
	return true
}

// lockstep runs cfg for steps steps (within the first epoch) on backend g and on the CPU in
// lockstep (see the top of the file).
func lockstep(t *testing.T, cfg Config, ds *data.Dataset, g net.Backend, steps int) lockstepResult {
	c := cpu.New(cpu.Options{})
	t.Cleanup(func() { c.Close() })
	gs := openSide(t, withDevice(cfg, g.Name()), ds, g)
	cs := openSide(t, withDevice(cfg, "cpu"), ds, c)
	// Both initialise from the seed's counter-based draws: the weights must start bit-identical.
	wc, wg := make([]float32, cs.r.n.Params.Len()), make([]float32, gs.r.n.Params.Len())
	c.Download(cs.r.n.Params, wc)
	g.Download(gs.r.n.Params, wg)
	if !slices.Equal(wc, wg) {
		t.Fatalf("the initial weights differ between the backends")
	}

	if steps > cs.r.perEpoch {
		t.Fatalf("lockstep: %d steps, but the first epoch has %d (the sides do not change epochs)", steps, cs.r.perEpoch)
	}
	groups := cs.ro.ft.Groups
	total := cfg.Epochs * cs.r.perEpoch
	var tab strings.Builder
	fmt.Fprintf(&tab, "%4s  %12s  %12s  %9s  %9s  %5s  %s\n", "step", "cpu loss", g.Name()+" loss", "rel diff", "re-drawn", "flips",
		"flipped filters (layer#filter: cpu norm / "+g.Name()+" norm)")
	defer func() {
		t.Logf("lockstep comparison, %s against cpu, every step from the CPU's state:\n%s", g.Name(), tab.String())
	}()
	var res lockstepResult
	checks := 0
	for i := 0; i < steps; i++ {
		lr := learningRate(&cfg, i, cs.r.perEpoch, total)
		cl, cn, cm := cs.step(t, lr)
		gl, gn, gm := gs.step(t, lr)
		if res.compare(t, cfg, groups, i, g.Name(), stepOut{cl, cn, cm}, stepOut{gl, gn, gm}, &tab) {
			checks++
		}
		copyState(t, gs, cs)
	}
	if checks == 0 {
		t.Fatalf("no RandomOut check in %d steps (every %d)", steps, cfg.RandomOutEvery)
	}
	if float64(res.flips) > lockstepMaxFlips*float64(res.decisions) {
		t.Errorf("%d of %d decisions flipped, more than %g of them", res.flips, res.decisions, lockstepMaxFlips)
	}
	t.Logf("%d steps: largest relative loss difference %.3g (tolerance %g); largest norm difference %.3g of its layer's largest norm (tolerance %g); %d of %d re-draw decisions differ (edge cases)",
		steps, res.worstLoss, lockstepLossTol, res.worstNorm, lockstepNormTol, res.flips, res.decisions)
	return res
}

// markedRight checks one layer's mask against its norms and the threshold of cfg (tau, or tau
// times the layer's mean norm, computed as net/cpu does), and returns the first filter marked
// wrongly, or -1. A norm within 1e-6 of the threshold may go either way: another backend may sum
// the mean in another order.
func markedRight(norms, mask []float32, cfg Config) int {
	tau := float32(cfg.Tau)
	if cfg.TauMode == "relative" && len(norms) > 0 {
		var s float64
		for _, v := range norms {
			s += float64(v)
		}
		tau *= float32(s / float64(len(norms)))
	}
	for f, v := range norms {
		if (mask[f] == 1) != (v < tau) && math.Abs(float64(v-tau)) > 1e-6*math.Abs(float64(tau)) {
			return f
		}
	}
	return -1
}

// liveMedian is the median L1 norm of a layer's filters that are alive (norm >= 1e-30) on either
// backend, taking the larger of the two norms; 0 when none is.
func liveMedian(a, b []float32) float64 {
	var live []float64
	for i := range a {
		if m := math.Max(float64(a[i]), float64(b[i])); m >= 1e-30 {
			live = append(live, m)
		}
	}
	if len(live) == 0 {
		return 0
	}
	slices.Sort(live)
	return live[len(live)/2]
}

// layerMax is the largest norm of a layer's filters on either backend.
func layerMax(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Max(float64(a[i]), float64(b[i])))
	}
	return m
}

func withDevice(cfg Config, device string) Config {
	cfg.Device = device
	return cfg
}

// TestLockstepCPUAgainstItself runs the lockstep harness with a second CPU backend (other thread
// count) in place of the GPU: the pure-Go backend is bit-identical across thread counts, so every
// loss, norm and decision must agree exactly, while the quick preset re-draws filters at every
// other step (the mask comparison and the steps between checks are exercised) and the state
// copy runs every step.
func TestLockstepCPUAgainstItself(t *testing.T) {
	cfg, _ := Preset("quick")
	cfg.Model = "convnet-small@0.25"
	cfg.Data = "shapes"
	cfg.RandomOut = true
	cfg.Seed = 3
	cfg.Tau, cfg.TauMode = 0.5, "relative" // re-draws at every check
	cfg.RandomOutEvery = 2                 // and steps without a check in between
	ds, err := data.Open(cfg.Data)
	if err != nil {
		t.Fatal(err)
	}
	other := cpu.New(cpu.Options{Threads: 3})
	defer other.Close()
	res := lockstep(t, cfg, ds, other, 4)
	if res.flips != 0 || res.worstLoss != 0 || res.worstNorm != 0 || res.marked == 0 {
		t.Errorf("two CPU backends: %+v; want no flip, identical losses and norms, and some filters marked", res)
	}
}

// TestMarkedRight checks the harness's own check of a mask against tau, absolute and relative.
func TestMarkedRight(t *testing.T) {
	norms := []float32{0, 1e-31, 0.5, 2, 4}
	abs := Config{Tau: 1e-30, TauMode: "absolute"}
	if bad := markedRight(norms, []float32{1, 1, 0, 0, 0}, abs); bad != -1 {
		t.Errorf("a right absolute mask: filter %d reported", bad)
	}
	if bad := markedRight(norms, []float32{1, 1, 1, 0, 0}, abs); bad != 2 {
		t.Errorf("filter 2 (norm 0.5) marked under tau 1e-30: reported %d, want 2", bad)
	}
	rel := Config{Tau: 0.5, TauMode: "relative"} // mean 1.3, threshold 0.65
	if bad := markedRight(norms, []float32{1, 1, 1, 0, 0}, rel); bad != -1 {
		t.Errorf("a right relative mask: filter %d reported", bad)
	}
	if bad := markedRight(norms, []float32{1, 1, 0, 0, 0}, rel); bad != 2 {
		t.Errorf("filter 2 (norm 0.5 < 0.65) left unmarked: reported %d, want 2", bad)
	}
}
