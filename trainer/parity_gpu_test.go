//go:build !nocuda

package trainer

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"rout/data"
	"rout/net"
	"rout/net/cpu"
	"rout/net/gpu"
)

// The GPU-vs-CPU parity of whole training runs (issue 6): the same config and seed trained
// through Run on the cuDNN backend (deterministic algorithms, TF32 off) and on the pure-Go
// reference must give the same losses (to parityLossTol relative) and re-draw the same filters
// at every step. The per-operation tolerances are argued in net/gpu/gpu_test.go; here they
// compound over 20 optimiser steps, and RandomOut's decisions must not flip.
//
// Data: the dataset spec in ROUT_PARITY_DATA (on the GPU machine, the JPEG CIFAR-10 archive as
// folder:PATH), else the built-in shapes set. Its test split is cut to parityTestExamples so
// that the CPU's closing evaluation stays short; training reads the full training split.

const (
	parityLossTol      = 1e-3
	paritySteps        = 20
	parityTestExamples = 256
)

// TestGPUMatchesCPU trains the paper preset, and a variant that forces re-draws, on both backends.
func TestGPUMatchesCPU(t *testing.T) {
	if err := gpu.Available(); err != nil {
		if os.Getenv("ROUT_REQUIRE_GPU") == "1" {
			t.Fatalf("ROUT_REQUIRE_GPU=1 but no GPU is usable: %v", err)
		}
		t.Skipf("no usable GPU (set ROUT_REQUIRE_GPU=1 to fail instead): %s", strings.SplitN(err.Error(), "\n", 2)[0])
	}
	spec, ds := parityData(t)

	// The paper's protocol as published: tau 1e-30 on the L1 norm after every update, so a filter
	// is re-drawn only when its gradient is exactly zero (dead ReLUs: with this init, tens of
	// filters from the first step on, most of them by step 20). The loss barely leaves ln 10 in 20
	// steps, so the decisions carry most of the check; see lockstep for how they are compared.
	t.Run("paper", func(t *testing.T) {
		g, err := gpu.New(gpu.Options{Deterministic: true})
		if err != nil {
			t.Fatalf("opening the GPU backend: %v", err)
		}
		defer g.Close()
		lockstep(t, parityConfig(spec), ds, g, paritySteps)
	})

	// The same 20 steps run free on each backend: the losses must agree at every step. The
	// re-draw counts are logged; they part at the first decision that flips (see lockstep), after
	// which the two runs hold different filters.
	t.Run("paper-free", func(t *testing.T) {
		cfg := parityConfig(spec)
		cpuRun, gpuRun := runBoth(t, cfg, ds)
		compareLosses(t, cpuRun, gpuRun)
	})

	// Forcing re-draws: a quarter-width inception28 with tau at 0.3 times each layer's mean norm,
	// checked every 5 updates, re-draws a good share of its filters at steps 5, 10, 15 and 20.
	// Its weights start from Glorot's initialiser instead of U(-0.01, 0.01): with the paper's,
	// the loss stays within 1e-3 of ln 10 for the first 20 steps (measured on CIFAR-10 and on
	// shapes), so a 1e-3 relative tolerance on it cannot tell a wrong step from a right one; with
	// Glorot's it ranges over 2.5..7 and the loss comparison has teeth.
	// Up to and including the first step with a re-draw, both runs must agree exactly on which
	// filters (per layer) and closely on the losses. Later, a filter whose norm lies within the
	// backends' rounding difference of the threshold may be re-drawn by one run and not by the
	// other (a decision flip), after which the runs train different networks and comparing them
	// says nothing; the test then stops comparing at that step and says so. Without a flip the
	// runs must agree at every step.
	t.Run("redraws", func(t *testing.T) {
		cfg := parityConfig(spec)
		cfg.Model = "inception28@0.25"
		cfg.Init = "glorot"
		cfg.Tau, cfg.TauMode, cfg.RandomOutEvery = 0.3, "relative", 5
		cpuRun, gpuRun := runBoth(t, cfg, ds)
		firstRedraw := 0
		for _, r := range cpuRun.logs {
			if r.Reinits.Total() > 0 {
				firstRedraw = r.Step
				break
			}
		}
		if firstRedraw == 0 {
			t.Fatalf("the CPU run re-drew no filter in %d steps: this case does not exercise re-draws (loosen tau)", paritySteps)
		}
		flipAt, flip := compareRuns(t, cpuRun, gpuRun)
		switch {
		case flip == "":
			t.Logf("first re-draw at step %d; re-draws and losses agree at every step", firstRedraw)
			compareWeights(t, cpuRun, gpuRun)
		case flipAt <= firstRedraw:
			t.Errorf("RandomOut's decisions differ at step %d, at or before the first re-draw (step %d): %s", flipAt, firstRedraw, flip)
		default:
			t.Logf("decision flip at step %d (after the first re-draw at step %d): %s; the runs train different networks from there, so steps %d.. are not compared and the final weights are not either",
				flipAt, firstRedraw, flip, flipAt)
		}
	})
}

// parityData opens the dataset the parity runs use, with its test split cut short, and returns
// its spec too.
func parityData(t *testing.T) (string, *data.Dataset) {
	t.Helper()
	spec := os.Getenv("ROUT_PARITY_DATA")
	if spec == "" {
		spec = "shapes"
	}
	start := time.Now()
	ds, err := data.Open(spec)
	if err != nil {
		t.Fatalf("ROUT_PARITY_DATA=%q: %v", spec, err)
	}
	cut := *ds
	if cut.Test.N > parityTestExamples {
		idx := make([]int, parityTestExamples)
		for i := range idx {
			idx[i] = i
		}
		cut.Test = ds.Test.Subset(idx)
	}
	t.Logf("data %s (%s): %d training images of %dx%dx%d, test split cut to %d; loaded in %.1fs",
		spec, ds.Source, ds.Train.N, ds.Train.C, ds.Train.H, ds.Train.W, cut.Test.N, time.Since(start).Seconds())
	return spec, &cut
}

// parityConfig is the paper preset on the data of spec for paritySteps steps, logging every
// step, RandomOut on.
func parityConfig(spec string) Config {
	cfg, _ := Preset("paper")
	cfg.Data = spec
	cfg.RandomOut = true
	cfg.Seed = 1
	cfg.MaxSteps = paritySteps
	cfg.LogEvery = 1
	cfg.Deterministic = true
	cfg.TF32 = false
	return cfg
}

// parityRun is what one backend's run left: its per-step log lines and its folder.
type parityRun struct {
	backend string
	dir     string
	logs    []Record
	seconds float64
}

// runBoth trains cfg on the GPU (first: it is quick, and a device error should not wait for the
// CPU) and then on the CPU, each on its own backend and in its own folder.
func runBoth(t *testing.T, cfg Config, ds *data.Dataset) (cpuRun, gpuRun parityRun) {
	t.Helper()
	g, err := gpu.New(gpu.Options{Deterministic: true})
	if err != nil {
		t.Fatalf("opening the GPU backend: %v", err)
	}
	defer func() {
		if err := g.Close(); err != nil {
			t.Errorf("closing the GPU backend: %v", err)
		}
	}()
	p := g.Provenance()
	if p["tf32"] != "false" || p["deterministic"] != "true" {
		t.Fatalf("the GPU backend runs with tf32=%s deterministic=%s, want false and true", p["tf32"], p["deterministic"])
	}
	t.Logf("GPU: %s (compute %s), cuDNN %s, cuBLAS %s, tf32 %s, deterministic %s",
		p["device"], p["compute_capability"], p["cudnn"], p["cublas"], p["tf32"], p["deterministic"])
	gcfg := cfg
	gcfg.Device = "gpu"
	gpuRun = trainOn(t, gcfg, ds, g)

	c := cpu.New(cpu.Options{})
	defer c.Close()
	ccfg := cfg
	ccfg.Device = "cpu"
	cpuRun = trainOn(t, ccfg, ds, c)
	t.Logf("%s: gpu %.1fs, cpu %.1fs for %d steps (setup and the closing evaluation included)",
		cfg.Model, gpuRun.seconds, cpuRun.seconds, paritySteps)
	return cpuRun, gpuRun
}

// trainOn runs cfg on b into a fresh folder and reads back its per-step log lines.
func trainOn(t *testing.T, cfg Config, ds *data.Dataset, b net.Backend) parityRun {
	t.Helper()
	r := parityRun{backend: b.Name(), dir: t.TempDir()}
	start := time.Now()
	s, err := Run(context.Background(), cfg, r.dir, WithBackend(b), WithDataset(ds))
	if err != nil {
		t.Fatalf("%s run: %v", r.backend, err)
	}
	r.seconds = time.Since(start).Seconds()
	if s.Steps != paritySteps {
		t.Fatalf("%s run: %d steps, want %d (status %s: %s)", r.backend, s.Steps, paritySteps, s.Status, s.Message)
	}
	for _, rec := range readMetrics(t, r.dir) {
		if rec.Kind == "log" {
			r.logs = append(r.logs, rec)
		}
	}
	if len(r.logs) != paritySteps {
		t.Fatalf("%s run: %d log lines, want one per step (%d)", r.backend, len(r.logs), paritySteps)
	}
	return r
}

// compareRuns checks the two runs step by step and logs the table. Losses must agree to
// parityLossTol at every step where the per-layer re-draw and dead-filter counts agree. The
// first step where the counts differ ends the comparison: it is returned with a description,
// for the caller to judge (an error, or a decision flip after which nothing is comparable).
func compareRuns(t *testing.T, c, g parityRun) (mismatchAt int, mismatch string) {
	t.Helper()
	var tab strings.Builder
	fmt.Fprintf(&tab, "%4s  %12s  %12s  %9s  %15s  %11s\n", "step", "cpu loss", "gpu loss", "rel diff", "reinits cpu/gpu", "dead cpu/gpu")
	defer func() { t.Logf("per-step comparison (%s):\n%s", c.dir, tab.String()) }()
	worst, lo, hi := 0.0, math.Inf(1), math.Inf(-1)
	for i := range c.logs {
		cr, gr := c.logs[i], g.logs[i]
		if cr.Step != i+1 || gr.Step != i+1 {
			t.Fatalf("log line %d is of step %d (cpu) and %d (gpu), want %d", i, cr.Step, gr.Step, i+1)
		}
		cl, gl := float64(cr.Loss), float64(gr.Loss)
		rel := math.Abs(gl-cl) / math.Max(math.Abs(cl), 1e-30)
		fmt.Fprintf(&tab, "%4d  %12.7f  %12.7f  %9.2e  %7d/%-7d  %5d/%-5d\n", cr.Step, cl, gl, rel,
			cr.Reinits.Total(), gr.Reinits.Total(), cr.Dead.Total(), gr.Dead.Total())
		if !slices.Equal(cr.Reinits.Layers, gr.Reinits.Layers) {
			t.Fatalf("the runs watch different layers: cpu %v, gpu %v", cr.Reinits.Layers, gr.Reinits.Layers)
		}
		if d := countDiff(cr, gr); d != "" {
			fmt.Fprintf(&tab, "(the counts differ at step %d: not compared further)\n", cr.Step)
			return cr.Step, d
		}
		if !(rel <= parityLossTol) { // NaN fails too
			t.Errorf("step %d: loss cpu %.8g, gpu %.8g: relative difference %.3g, want at most %g", cr.Step, cl, gl, rel, parityLossTol)
		}
		worst = math.Max(worst, rel)
		lo, hi = math.Min(lo, cl), math.Max(hi, cl)
	}
	t.Logf("largest relative loss difference over %d steps: %.3g (tolerance %g); the cpu losses span %.6g..%.6g",
		len(c.logs), worst, parityLossTol, lo, hi)
	return 0, ""
}

// compareLosses checks the losses of two free runs at every step and logs where their per-layer
// counts first differ.
func compareLosses(t *testing.T, c, g parityRun) {
	t.Helper()
	worst, parted := 0.0, 0
	for i := range c.logs {
		cr, gr := c.logs[i], g.logs[i]
		cl, gl := float64(cr.Loss), float64(gr.Loss)
		rel := math.Abs(gl-cl) / math.Max(math.Abs(cl), 1e-30)
		if !(rel <= parityLossTol) {
			t.Errorf("step %d: loss cpu %.8g, gpu %.8g: relative difference %.3g, want at most %g", cr.Step, cl, gl, rel, parityLossTol)
		}
		worst = math.Max(worst, rel)
		if d := countDiff(cr, gr); d != "" && parted == 0 {
			parted = cr.Step
			t.Logf("the free runs' counts part at step %d: %s", cr.Step, d)
		}
	}
	t.Logf("largest relative loss difference over %d steps: %.3g (tolerance %g); last loss cpu %.7f gpu %.7f",
		len(c.logs), worst, parityLossTol, c.logs[len(c.logs)-1].Loss, g.logs[len(g.logs)-1].Loss)
}

// countDiff describes where two log lines' per-layer counts differ, or returns "".
func countDiff(c, g Record) string {
	var d []string
	for i, l := range c.Reinits.Layers {
		if c.Reinits.Counts[i] != g.Reinits.Counts[i] || c.Dead.Counts[i] != g.Dead.Counts[i] {
			d = append(d, fmt.Sprintf("%s re-drawn so far cpu %d gpu %d, dead cpu %d gpu %d",
				l, c.Reinits.Counts[i], g.Reinits.Counts[i], c.Dead.Counts[i], g.Dead.Counts[i]))
		}
	}
	return strings.Join(d, "; ")
}

// compareWeights reports how far the final parameters (from each run's checkpoint, a download
// of Params) lie apart. Adam's early steps move a weight by about lr whatever the size of its
// gradient, so a weight whose gradient is at rounding level (a sum that cancels) may move either
// way on either backend: the distance is reported, not bounded (the per-step losses are the
// bound). A gross error in any operation would show here as a relative L2 difference of order 1.
func compareWeights(t *testing.T, c, g parityRun) {
	t.Helper()
	pc, pg := finalTensor(t, c.dir, "params"), finalTensor(t, g.dir, "params")
	if len(pc) != len(pg) {
		t.Fatalf("final params: cpu has %d values, gpu %d", len(pc), len(pg))
	}
	var maxAbs, maxW, maxRel, diff2, norm2 float64
	at := -1
	for i := range pc {
		a, b := float64(pc[i]), float64(pg[i])
		if math.IsNaN(a) || math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) {
			t.Fatalf("final params: value %d is cpu %v, gpu %v", i, a, b)
		}
		d := math.Abs(a - b)
		maxAbs = math.Max(maxAbs, d)
		maxW = math.Max(maxW, math.Abs(a))
		if m := math.Max(math.Abs(a), math.Abs(b)); m > 0 && d/m > maxRel {
			maxRel, at = d/m, i
		}
		diff2 += d * d
		norm2 += a * a
	}
	relL2 := math.Sqrt(diff2 / math.Max(norm2, 1e-300))
	where := ""
	if at >= 0 {
		where = fmt.Sprintf(" (value %d: cpu %.6g, gpu %.6g)", at, pc[at], pg[at])
	}
	t.Logf("final params (%d values): max |gpu-cpu| %.3g = %.3g of max |w| %.3g; max element-wise relative difference %.3g%s; relative L2 difference %.3g",
		len(pc), maxAbs, maxAbs/math.Max(maxW, 1e-300), maxW, maxRel, where, relL2)
}
