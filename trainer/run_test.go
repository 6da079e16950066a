package trainer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"rout/data"
	"rout/net"
	"rout/rng"
	"rout/runlog"
)

// tinyConfig is a run small enough for a unit test: convnet-small at a quarter width on 16x16
// centre crops of a few hundred shapes images (20 steps per epoch).
func tinyConfig() Config {
	c, _ := Preset("quick")
	c.Model = "convnet-small@0.25"
	c.Init = "he"
	c.Crop = 16
	c.Batch = 16
	c.Epochs = 2
	c.LogEvery = 5
	c.Device = "cpu"
	c.Threads = 1
	c.Seed = 7
	c.DataSeed = 3
	return c
}

// tinyData is shared by the tests (Run does not modify a dataset).
var tinyData = data.Shapes(1, 320, 100)

func mustRun(t *testing.T, cfg Config, dir string, opts ...Option) Summary {
	t.Helper()
	s, err := Run(context.Background(), cfg, dir, append([]Option{WithDataset(tinyData)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// finalTensor reads a tensor of a run folder's checkpoint.
func finalTensor(t *testing.T, dir, name string) []float32 {
	t.Helper()
	ts, _, err := readSafetensors(filepath.Join(dir, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	d, ok := ts[name]
	if !ok {
		t.Fatalf("%s: no tensor %s", dir, name)
	}
	return d.Data
}

// sameMetrics checks that dir's metrics.jsonl holds want's lines, but for the timings.
func sameMetrics(t *testing.T, what, dir string, want []Record) {
	t.Helper()
	got := readMetrics(t, dir)
	if len(got) != len(want) {
		t.Fatalf("%s: %d metrics lines, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		g.ImagesPerSec, g.Elapsed, w.ImagesPerSec, w.Elapsed = 0, 0, 0, 0
		gb, _ := json.Marshal(g)
		wb, _ := json.Marshal(w)
		if string(gb) != string(wb) {
			t.Errorf("%s: metrics line %d\n got %s\nwant %s", what, i, gb, wb)
		}
	}
}

// readMetrics reads metrics.jsonl.
func readMetrics(t *testing.T, dir string) []Record {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rs []Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("metrics line %q: %v", sc.Text(), err)
		}
		rs = append(rs, r)
	}
	return rs
}

// initialParams sets a run up without training and returns its parameters.
func initialParams(t *testing.T, cfg Config) []float32 {
	t.Helper()
	r, err := newRun(cfg, t.TempDir(), runOptions{dataset: tinyData})
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	p := make([]float32, r.n.Params.Len())
	r.b.Download(r.n.Params, p)
	return p
}

// TestRunIsAPureFunctionOfItsConfig: the same config gives bit-identical weights, another seed
// other weights, and the data seed alone changes the batch order but not the initial weights.
func TestRunIsAPureFunctionOfItsConfig(t *testing.T) {
	cfg := tinyConfig()
	cfg.MaxSteps = 12
	cfg.RandomOut = true
	cfg.Tau, cfg.TauMode = 0.5, "relative" // so that re-draws happen and are part of the check
	a, b := t.TempDir(), t.TempDir()
	sa := mustRun(t, cfg, a)
	mustRun(t, cfg, b)
	pa, pb := finalTensor(t, a, "params"), finalTensor(t, b, "params")
	if !slices.Equal(pa, pb) {
		t.Fatal("two runs of one config differ")
	}
	if sa.ReinitsTotal == 0 {
		t.Fatal("no re-draw happened: the check does not cover them")
	}

	other := cfg
	other.Seed++
	c := t.TempDir()
	mustRun(t, other, c)
	if slices.Equal(pa, finalTensor(t, c, "params")) {
		t.Error("another seed gave the same weights")
	}
	if slices.Equal(initialParams(t, cfg), initialParams(t, other)) {
		t.Error("another seed gave the same initial weights")
	}

	ds := cfg
	ds.DataSeed++
	if !slices.Equal(initialParams(t, cfg), initialParams(t, ds)) {
		t.Error("the data seed changed the initial weights")
	}
	if slices.Equal(data.EpochOrder(tinyData.Train.N, cfg.DataSeed, 0), data.EpochOrder(tinyData.Train.N, ds.DataSeed, 0)) {
		t.Error("the data seed did not change the batch order")
	}
	d := t.TempDir()
	mustRun(t, ds, d)
	if slices.Equal(pa, finalTensor(t, d, "params")) {
		t.Error("another data seed gave the same trained weights (the order is not used?)")
	}
}

// TestDeadFilterInANetworkIsRedrawn kills conv1's filter 0 (weights and bias so negative that
// its ReLU never opens, so its gradient is exactly zero), trains one step, and checks that the
// filter holds exactly the initialiser's draws for (seed, step 0, conv1's layer word, filter 0)
// while the scope decides the bias.
func TestDeadFilterInANetworkIsRedrawn(t *testing.T) {
	for _, scope := range []string{"weights", "weights+bias"} {
		t.Run(scope, func(t *testing.T) {
			cfg := tinyConfig()
			cfg.RandomOut, cfg.RandomOutScope, cfg.MaxSteps = true, scope, 1
			r, err := newRun(cfg, t.TempDir(), runOptions{dataset: tinyData})
			if err != nil {
				t.Fatal(err)
			}
			defer r.close()
			g := r.n.Weights.Groups[0]
			if g.Name != "conv1" || g.Bias < 0 {
				t.Fatalf("first group %+v, want conv1 with a bias", g)
			}
			p := make([]float32, r.n.Params.Len())
			r.b.Download(r.n.Params, p)
			before := slices.Clone(p)
			for j := range g.FilterLen {
				p[g.Weight+j] = -1
			}
			p[g.Bias] = -1e4
			r.b.Upload(r.n.Params, p)
			if _, err := r.loop(context.Background()); err != nil {
				t.Fatal(err)
			}
			r.b.Download(r.n.Params, p)
			key := rng.KeyFromSeed(cfg.Seed)
			for j := range g.FilterLen {
				want := g.Bound * rng.Symmetric(rng.Uint32(key, 1, g.Layer, 0, j))
				if p[g.Weight+j] != want {
					t.Fatalf("weight %d of the dead filter: %v, want the re-draw %v", j, p[g.Weight+j], want)
				}
			}
			wantBias := float32(-1e4) // a zero gradient leaves Adam's update at exactly 0
			if scope == "weights+bias" {
				wantBias = 0
			}
			if p[g.Bias] != wantBias {
				t.Errorf("bias of the dead filter: %v, want %v", p[g.Bias], wantBias)
			}
			// The live filter 1 of conv1 trained (moved from its initial weights) and was not re-drawn.
			if p[g.Weight+g.FilterLen] == before[g.Weight+g.FilterLen] {
				t.Error("a live filter did not move")
			}
			reinits, _ := r.rev.Counters()
			if reinits[0] != 1 {
				t.Errorf("conv1 re-inits %d, want 1", reinits[0])
			}
		})
	}
}

// cancelAt cancels a context after a given step: an in-process kill.
type cancelAt struct {
	step   int
	cancel context.CancelFunc
}

func (c *cancelAt) Start(Plan)    {}
func (c *cancelAt) Record(Record) {}
func (c *cancelAt) Step(step int) {
	if step == c.step {
		c.cancel()
	}
}

// killAt runs cfg into dir until it is interrupted after step (resuming it with Resume among
// opts), as Ctrl-C would, and checks that it reports the interruption.
func killAt(t *testing.T, cfg Config, dir string, step int, opts ...Option) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := Run(ctx, cfg, dir, append([]Option{WithDataset(tinyData), WithObserver(&cancelAt{step, cancel})}, opts...)...)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("kill at %d: err %v, want ErrInterrupted", step, err)
	}
}

// TestKillAndResume interrupts runs at several points (mid-interval, on a log step, on an epoch
// boundary), resumes them, and checks that the final weights, optimiser state, counters and
// metrics equal an uninterrupted run's.
func TestKillAndResume(t *testing.T) {
	cfg := tinyConfig()
	cfg.Epochs = 3
	cfg.RandomOut = true
	cfg.Tau, cfg.TauMode = 0.5, "relative"
	cfg.RandomOutScope = "weights+bias+optimizer"
	cfg.Schedule = "cosine"
	cfg.LRMin = 1e-4
	cfg.ValFraction = 0.2 // 256 training examples: 16 steps per epoch
	ref := t.TempDir()
	want := mustRun(t, cfg, ref)
	wantMetrics := readMetrics(t, ref)
	for _, k := range []int{7, 10, 16} {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		_, err := Run(ctx, cfg, dir, WithDataset(tinyData), WithObserver(&cancelAt{k, cancel}))
		cancel()
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("kill at %d: err %v, want ErrInterrupted", k, err)
		}
		for _, f := range []string{ConfigFile, MetricsFile, CheckpointFile} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("kill at %d: %v", k, err)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, SummaryFile)); err == nil {
			t.Errorf("kill at %d: an interrupted run wrote a summary", k)
		}
		if st, _ := ResumeConfig(dir); st.Seed != cfg.Seed {
			t.Errorf("kill at %d: ResumeConfig gives seed %d", k, st.Seed)
		}
		if _, err := Run(context.Background(), cfg, dir, WithDataset(tinyData)); err == nil {
			t.Errorf("kill at %d: a fresh run over the interrupted one was accepted", k)
		}
		changed := cfg
		changed.LR *= 2
		if _, err := Run(context.Background(), changed, dir, WithDataset(tinyData), Resume()); err == nil || !strings.Contains(err.Error(), "lr") {
			t.Errorf("kill at %d: resuming with another lr: %v, want an error naming lr", k, err)
		}
		got, err := Run(context.Background(), cfg, dir, WithDataset(tinyData), Resume())
		if err != nil {
			t.Fatalf("kill at %d: resume: %v", k, err)
		}
		for _, name := range []string{"params", "adam.m", "adam.v", "randomout.reinits", "randomout.dead"} {
			if !slices.Equal(finalTensor(t, ref, name), finalTensor(t, dir, name)) {
				t.Errorf("kill at %d: final %s differs from the uninterrupted run's", k, name)
			}
		}
		if *got.FinalTestAcc != *want.FinalTestAcc || got.ReinitsTotal != want.ReinitsTotal || got.Steps != want.Steps || got.Epochs != want.Epochs {
			t.Errorf("kill at %d: summary %+v, want %+v", k, got, want)
		}
		sameMetrics(t, fmt.Sprintf("kill at %d", k), dir, wantMetrics)
	}
}

// TestDivergence: an absurd learning rate makes the loss NaN; the run ends as diverged with a
// message, its files intact and readable, and no error.
func TestDivergence(t *testing.T) {
	cfg := tinyConfig()
	cfg.LR = 1e30
	dir := t.TempDir()
	s := mustRun(t, cfg, dir)
	if s.Status != StatusDiverged || !strings.Contains(s.Message, "diverged") {
		t.Fatalf("status %q message %q, want diverged", s.Status, s.Message)
	}
	if s.FinalTestAcc != nil {
		t.Errorf("a diverged run reports final test accuracy %v", *s.FinalTestAcc)
	}
	got, err := runlog.ReadSummary(dir)
	if err != nil || got.Status != StatusDiverged || got.Message != s.Message {
		t.Fatalf("summary.json: %+v, %v", got, err)
	}
	ms := readMetrics(t, dir)
	last := ms[len(ms)-1]
	if !math.IsNaN(float64(last.Loss)) && !math.IsInf(float64(last.Loss), 0) {
		t.Errorf("the last metrics line has loss %v, want null (NaN)", last.Loss)
	}
	var cf configFile
	readJSON(t, filepath.Join(dir, ConfigFile), &cf)
	if s.Steps >= 2*20 {
		t.Errorf("the diverged run went on to step %d", s.Steps)
	}

	// Without a log line to notice it, the checkpoint does: it never saves non-finite weights.
	cfg.LogEvery, cfg.CheckpointEvery = 1000, 2
	dir = t.TempDir()
	s = mustRun(t, cfg, dir)
	if s.Status != StatusDiverged {
		t.Fatalf("status %q (%s), want diverged", s.Status, s.Message)
	}
	if _, err := os.Stat(filepath.Join(dir, CheckpointFile)); err == nil {
		for _, v := range finalTensor(t, dir, "params") {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("the checkpoint kept a parameter %v", v)
			}
		}
	}
	t.Logf("caught: %s", s.Message)
}

// TestOutputFiles checks what a completed run leaves: the fields of summary.json and
// metrics.jsonl as documented, config.json's resolved config and provenance, a validation
// split, and an eval of the checkpoint that agrees with the last epoch line.
func TestOutputFiles(t *testing.T) {
	cfg := tinyConfig()
	cfg.ValFraction = 0.25
	cfg.Arm = "baseline"
	dir := t.TempDir()
	s := mustRun(t, cfg, dir)

	var sum map[string]any
	readJSON(t, filepath.Join(dir, SummaryFile), &sum)
	for _, k := range []string{"arm", "seed", "status", "final_test_acc", "best_test_acc", "final_test_loss",
		"final_train_loss", "chance_acc", "failed_margin", "epochs", "steps", "wall_seconds", "reinits_total",
		"reinits_per_layer", "dead_final_per_layer", "message", "final_val_acc", "best_val_acc"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("summary.json has no %s", k)
		}
	}
	if sum["arm"] != "baseline" || sum["seed"] != 7.0 || sum["chance_acc"] != 0.1 || sum["epochs"] != 2.0 || sum["steps"] != 30.0 {
		t.Errorf("summary.json: %v", sum)
	}
	if raw, _ := os.ReadFile(filepath.Join(dir, SummaryFile)); !strings.Contains(string(raw), `"reinits_per_layer": {
    "conv1": 0,
    "conv2": 0,
    "conv3": 0
  }`) {
		t.Errorf("reinits_per_layer is not in layer order:\n%s", raw)
	}

	ms := readMetrics(t, dir)
	var logs, epochs []Record
	for _, r := range ms {
		switch r.Kind {
		case "log":
			logs = append(logs, r)
		case "epoch":
			epochs = append(epochs, r)
		default:
			t.Errorf("metrics kind %q", r.Kind)
		}
	}
	// 240 training examples / 16 = 15 steps per epoch, a log line every 5 steps.
	if len(logs) != 6 || len(epochs) != 2 || epochs[0].Step != 15 || epochs[1].Step != 30 || epochs[1].Epoch != 2 || logs[3].Epoch != 2 {
		t.Fatalf("metrics: %d log lines, epochs %+v", len(logs), epochs)
	}
	for _, e := range epochs {
		if e.TestAcc == nil || e.TestLoss == nil || e.ValAcc == nil || e.ValLoss == nil || len(e.Dead.Layers) != 3 {
			t.Errorf("epoch line %+v lacks a field", e)
		}
	}
	if logs[0].TestAcc != nil {
		t.Error("a log line has test accuracy")
	}
	if float64(*epochs[1].TestAcc) != float64(*s.FinalTestAcc) {
		t.Errorf("final test acc %v, last epoch line %v", *s.FinalTestAcc, *epochs[1].TestAcc)
	}
	var line map[string]any
	raw, _ := os.ReadFile(filepath.Join(dir, MetricsFile))
	json.Unmarshal([]byte(strings.SplitN(string(raw), "\n", 2)[0]), &line)
	for _, k := range []string{"kind", "step", "epoch", "loss", "train_acc", "reinits", "dead", "images_per_sec", "elapsed", "lr"} {
		if _, ok := line[k]; !ok {
			t.Errorf("metrics line has no %s: %v", k, line)
		}
	}

	var cf struct {
		Config     Config         `json:"config"`
		Provenance map[string]any `json:"provenance"`
	}
	readJSON(t, filepath.Join(dir, ConfigFile), &cf)
	if d := cf.Config.Diff(&cfg); len(d) > 0 {
		t.Errorf("config.json differs from the config in %v", d)
	}
	for _, k := range []string{"rout_version", "go_version", "hostname", "start_time", "backend", "data", "model"} {
		if _, ok := cf.Provenance[k]; !ok {
			t.Errorf("config.json provenance has no %s", k)
		}
	}
	if raw, _ := os.ReadFile(filepath.Join(dir, ConfigFile)); !regexp.MustCompile(`"conv_filters": \{\s*"conv1": 8,\s*"conv2": 16,\s*"conv3": 32\s*\}`).Match(raw) {
		t.Errorf("config.json's model has no conv_filters in layer order:\n%s", raw)
	}

	for split, want := range map[string]float64{"test": float64(*epochs[1].TestAcc), "val": float64(*epochs[1].ValAcc)} {
		res, err := Evaluate(filepath.Join(dir, CheckpointFile), EvalSettings{Split: split, Device: "cpu", Threads: 1, Batch: 7}, WithDataset(tinyData))
		if err != nil {
			t.Fatal(err)
		}
		if res.Acc != want || res.Step != 30 {
			t.Errorf("eval %s: acc %v at step %d, want %v at 30", split, res.Acc, res.Step, want)
		}
	}
	res, err := Evaluate(filepath.Join(dir, CheckpointFile), EvalSettings{Split: "train", Device: "cpu"}, WithDataset(tinyData))
	if err != nil || res.Examples != 240 {
		t.Errorf("eval train: %+v %v, want 240 examples", res, err)
	}
	if _, err := Evaluate(filepath.Join(dir, CheckpointFile), EvalSettings{Split: "dev"}, WithDataset(tinyData)); err == nil {
		t.Error("eval accepted split dev")
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestRunErrors: bad data, a batch larger than the data, and a GPU where there is none are
// errors that name the setting.
func TestRunErrors(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Batch = 1000 }, "batch"},
		{func(c *Config) { c.RandomOutLayers = "conv9" }, "randomout-layers"},
		{func(c *Config) { c.Crop = 40 }, "crop"},
		{func(c *Config) { c.Model = "nosuchmodel" }, "model"},
		{func(c *Config) { c.Optimizer = "rmsprop" }, "optimizer"},
	} {
		cfg := tinyConfig()
		tc.mod(&cfg)
		_, err := Run(context.Background(), cfg, t.TempDir(), WithDataset(tinyData))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v", tc.want, err)
		}
	}
	cfg := tinyConfig()
	cfg.Data = "cifar10:/nonexistent/cifar"
	if _, err := Run(context.Background(), cfg, t.TempDir()); err == nil || !strings.Contains(err.Error(), "/nonexistent/cifar") {
		t.Errorf("missing data: %v", err)
	}
}

// TestLearningRate checks the schedules at known points.
func TestLearningRate(t *testing.T) {
	c := tinyConfig()
	c.LR = 0.1
	if got := learningRate(&c, 1234, 10, 100); got != 0.1 {
		t.Errorf("constant: %v", got)
	}
	c.Schedule, c.LRStep, c.LRGamma = "step", 2, 0.5
	for step, want := range map[int]float64{0: 0.1, 19: 0.1, 20: 0.05, 39: 0.05, 40: 0.025} {
		if got := learningRate(&c, step, 10, 100); math.Abs(got-want) > 1e-15 {
			t.Errorf("step schedule at %d: %v, want %v", step, got, want)
		}
	}
	c.Schedule, c.LRMin = "cosine", 0.01
	for step, want := range map[int]float64{0: 0.1, 50: 0.01 + 0.09*(1+math.Cos(math.Pi*50/99))/2, 99: 0.01} {
		if got := learningRate(&c, step, 10, 100); math.Abs(got-want) > 1e-15 {
			t.Errorf("cosine at %d: %v, want %v", step, got, want)
		}
	}
}

// TestSGDTrains runs the SGD path with weight decay and Nesterov, standardisation and
// augmentation, and checks it trains at all (the loss falls).
func TestSGDTrains(t *testing.T) {
	cfg := tinyConfig()
	cfg.Optimizer, cfg.LR, cfg.Momentum, cfg.Nesterov, cfg.WeightDecay = "sgd", 0.05, 0.9, true, 1e-4
	cfg.Loss = "mean"
	cfg.MeanImage, cfg.Standardize, cfg.Scale = false, true, 1.0/255
	cfg.Pad, cfg.RandomCrop, cfg.Flip = 2, true, true
	cfg.Epochs = 3
	dir := t.TempDir()
	mustRun(t, cfg, dir)
	ms := readMetrics(t, dir)
	var ep []Record
	for _, r := range ms {
		if r.Kind == "epoch" {
			ep = append(ep, r)
		}
	}
	if !(ep[2].Loss < ep[0].Loss) {
		t.Errorf("SGD: epoch losses %v then %v: no progress", ep[0].Loss, ep[2].Loss)
	}
	if v := finalTensor(t, dir, "sgd.velocity"); !slices.ContainsFunc(v, func(x float32) bool { return x != 0 }) {
		t.Error("the checkpoint's SGD velocity is all zero")
	}
}

// stoppedMidEpoch runs tinyConfig stopped by --max-steps 7 (mid-epoch) for reference, and the
// same run without the limit killed at step 7 into dir: cfg is the config with the limit.
func stoppedMidEpoch(t *testing.T) (cfg Config, want Summary, wantMetrics []Record, dir string) {
	t.Helper()
	cfg = tinyConfig() // 20 steps per epoch
	cfg.MaxSteps = 7
	ref := t.TempDir()
	want = mustRun(t, cfg, ref)
	wantMetrics = readMetrics(t, ref)
	dir = t.TempDir()
	killAt(t, tinyConfig(), dir, 7)
	return cfg, want, wantMetrics, dir
}

// TestResumeAtMaxSteps: a run interrupted mid-epoch and resumed with --max-steps at the
// checkpoint's step makes the evaluation --max-steps promises (the summary and metrics equal a
// run stopped there by --max-steps, and resuming once more adds no line); a --max-steps below
// the checkpoint's step is an error that leaves the run alone.
func TestResumeAtMaxSteps(t *testing.T) {
	cfg, want, wantMetrics, dir := stoppedMidEpoch(t)
	for range 2 {
		got, err := Run(context.Background(), cfg, dir, WithDataset(tinyData), Resume())
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != want.Status || got.FinalTestAcc == nil || *got.FinalTestAcc != *want.FinalTestAcc ||
			*got.FinalTrainLoss != *want.FinalTrainLoss || got.Steps != 7 || got.Epochs != 1 {
			t.Fatalf("resumed at max-steps: summary %+v, want %+v", got, want)
		}
		sameMetrics(t, "resumed at max-steps", dir, wantMetrics)
	}

	before, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
	cfg.MaxSteps = 5
	_, err := Run(context.Background(), cfg, dir, WithDataset(tinyData), Resume())
	if err == nil || !strings.Contains(err.Error(), "max-steps: 5 is below the checkpoint's step 7") {
		t.Errorf("resume with max-steps 5 at step 7: %v, want an error", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, ConfigFile)); string(after) != string(before) {
		t.Error("the refused resume rewrote config.json")
	}
}

// failingBackend is a backend whose sticky error can be raised by the test.
type failingBackend struct {
	net.Backend
	err error
}

func (f *failingBackend) Err() error {
	if f.err != nil {
		return f.err
	}
	return f.Backend.Err()
}

// TestFinishChecksTheDevice: a device error raised by the counters' read-back at the end is the
// run's error, not a summary written from what the failed reads left.
func TestFinishChecksTheDevice(t *testing.T) {
	cfg := tinyConfig()
	dir := t.TempDir()
	fb := &failingBackend{Backend: newCPU(&cfg)}
	defer fb.Close()
	r, err := newRun(cfg, dir, runOptions{dataset: tinyData, backend: fb})
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	fb.err = errors.New("device lost")
	if _, err := r.finish(nil); err == nil || !strings.Contains(err.Error(), "device lost") {
		t.Errorf("finish on a failed device: %v, want its error", err)
	}
	if _, err := os.Stat(filepath.Join(dir, SummaryFile)); err == nil {
		t.Error("finish on a failed device wrote summary.json")
	}
}

// resized is a test split whose images are the originals with b pixels (of value 200) added on
// every side, or, for b < 0, -b pixels cut from every side.
func resized(s data.Split, b int) data.Split {
	h, w := s.H+2*b, s.W+2*b
	out := data.Split{N: s.N, C: s.C, H: h, W: w, Labels: s.Labels, Pixels: make([]uint8, s.N*s.C*h*w)}
	for i := range out.Pixels {
		out.Pixels[i] = 200
	}
	for n := range s.N {
		for c := range s.C {
			for y := range min(h, s.H) {
				for x := range min(w, s.W) {
					sy, sx, dy, dx := y, x, y+b, x+b
					if b < 0 {
						sy, sx, dy, dx = y-b, x-b, y, x
					}
					out.Pixels[((n*s.C+c)*h+dy)*w+dx] = s.Pixels[((n*s.C+c)*s.H+sy)*s.W+sx]
				}
			}
		}
	}
	return out
}

// TestEvalKeepsTheTrainedImageSize: with crop 0 the network takes the whole training image, so
// eval centre-crops larger data to that size (giving exactly the accuracy of the original images
// when the extra pixels are a border) and refuses smaller data.
func TestEvalKeepsTheTrainedImageSize(t *testing.T) {
	cfg := tinyConfig()
	cfg.Crop, cfg.MaxSteps = 0, 5
	dir := t.TempDir()
	mustRun(t, cfg, dir)
	ck := filepath.Join(dir, CheckpointFile)
	set := EvalSettings{Device: "cpu", Threads: 1}
	want, err := Evaluate(ck, set, WithDataset(tinyData))
	if err != nil {
		t.Fatal(err)
	}
	bigger := &data.Dataset{Name: "shapes", Classes: tinyData.Classes, Train: tinyData.Train, Test: resized(tinyData.Test, 4)}
	got, err := Evaluate(ck, set, WithDataset(bigger))
	if err != nil {
		t.Fatalf("eval on 40x40 images: %v", err)
	}
	if got.Acc != want.Acc || got.Loss != want.Loss {
		t.Errorf("eval of the 32x32 centres of 40x40 images: acc %v loss %v, want the original's %v %v", got.Acc, got.Loss, want.Acc, want.Loss)
	}
	smaller := &data.Dataset{Name: "shapes", Classes: tinyData.Classes, Train: tinyData.Train, Test: resized(tinyData.Test, -2)}
	set.Data = "shapes:9"
	if _, err := Evaluate(ck, set, WithDataset(smaller)); err == nil || !strings.Contains(err.Error(), "data shapes:9: 28x28 images are smaller than the 32x32") {
		t.Errorf("eval on 28x28 images: %v, want an error naming the sizes", err)
	}
	// Another dataset with as many classes, other names: its labels mean other things.
	renamed := &data.Dataset{Name: "other", Classes: slices.Clone(tinyData.Classes), Train: tinyData.Train, Test: tinyData.Test}
	renamed.Classes[0] = "zebra"
	if _, err := Evaluate(ck, set, WithDataset(renamed)); err == nil || !strings.Contains(err.Error(), "has the classes zebra,") {
		t.Errorf("eval on other classes: %v, want an error naming them", err)
	}
}

// TestResumeAtMaxStepsAfterAFailedCheckpoint: a resume at the end of a run evaluates, writes the
// epoch line, then fails to rewrite the checkpoint (here its guard refuses; a full disk does
// the same). The next resume must still evaluate (the checkpoint says it has not), and the
// metrics must hold that epoch line once, as an uninterrupted run's do.
func TestResumeAtMaxStepsAfterAFailedCheckpoint(t *testing.T) {
	cfg, want, wantMetrics, dir := stoppedMidEpoch(t)
	full := errors.New("disk full")
	calls := 0
	guard := func() error { // config.json, the epoch line, then the checkpoint
		if calls++; calls == 3 {
			return full
		}
		return nil
	}
	if _, err := Run(context.Background(), cfg, dir, WithDataset(tinyData), Resume(), WithGuard(guard)); !errors.Is(err, full) {
		t.Fatalf("resume whose checkpoint fails: err %v, want %v", err, full)
	}
	if n := len(readMetrics(t, dir)); n != len(wantMetrics) {
		t.Fatalf("after the failed checkpoint: %d metrics lines, want %d (the epoch line written)", n, len(wantMetrics))
	}
	got := mustRun(t, cfg, dir, Resume())
	if got.Status != want.Status || got.FinalTestAcc == nil || *got.FinalTestAcc != *want.FinalTestAcc {
		t.Fatalf("second resume: summary %+v, want %+v", got, want)
	}
	sameMetrics(t, "second resume", dir, wantMetrics)
}

// TestGuardStopsWithoutWriting: a run stopped because its guard fails (a sweep worker whose claim
// was taken over) writes no checkpoint on its way out, unlike an interrupted one.
func TestGuardStopsWithoutWriting(t *testing.T) {
	cfg := tinyConfig()
	dir := t.TempDir()
	lost := errors.New("claim taken over")
	ctx, cancel := context.WithCancel(context.Background())
	guard := func() error {
		if ctx.Err() != nil {
			return lost
		}
		return nil
	}
	_, err := Run(ctx, cfg, dir, WithDataset(tinyData), WithObserver(&cancelAt{9, cancel}), WithGuard(guard))
	cancel()
	if !errors.Is(err, lost) || !strings.Contains(err.Error(), "stopped without writing to "+dir) {
		t.Fatalf("err %v, want the guard's error", err)
	}
	if HasCheckpoint(dir) {
		t.Error("a run stopped by its guard wrote a checkpoint")
	}
	if n := len(readMetrics(t, dir)); n != 1 { // the log line of step 5; none after step 9
		t.Errorf("%d metrics lines, want 1", n)
	}
}

// TestResumeRefusesDamagedMetrics: an unreadable line with lines after it is damage, not a torn
// last line, and the resume names it rather than dropping every later line.
func TestResumeRefusesDamagedMetrics(t *testing.T) {
	cfg := tinyConfig()
	dir := t.TempDir()
	killAt(t, cfg, dir, 12)
	path := filepath.Join(dir, MetricsFile)
	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(b), "\n")
	if len(lines) < 3 {
		t.Fatalf("metrics has %d lines, want at least 2", len(lines)-1)
	}
	if err := os.WriteFile(path, []byte("garbage\n"+strings.Join(lines[1:], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), cfg, dir, WithDataset(tinyData), Resume())
	if err == nil || !strings.Contains(err.Error(), path+": line 1 is not a metrics record") {
		t.Fatalf("resume over a damaged first line: %v, want an error naming the file and line", err)
	}
	// A torn last line is what a kill during a write leaves: dropped.
	if err := os.WriteFile(path, []byte(string(b)+`{"kind":"log","st`), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, cfg, dir, Resume())
}

// TestProvenanceKeepsEarlierSegments: each resume replaces config.json, and its provenance keeps
// where and when the earlier stretches of the run ran.
func TestProvenanceKeepsEarlierSegments(t *testing.T) {
	cfg := tinyConfig()
	dir := t.TempDir()
	killAt(t, cfg, dir, 5)
	killAt(t, cfg, dir, 9, Resume())
	// A resume that fails before its first step (here at once: a damaged metrics line) leaves
	// no segment behind.
	metrics := filepath.Join(dir, MetricsFile)
	good, _ := os.ReadFile(metrics)
	os.WriteFile(metrics, append([]byte("garbage\n"), good...), 0o644)
	if _, err := Run(context.Background(), cfg, dir, WithDataset(tinyData), Resume()); err == nil {
		t.Fatal("a resume over a damaged metrics line succeeded")
	}
	os.WriteFile(metrics, good, 0o644)
	mustRun(t, cfg, dir, Resume())
	var cf configFile
	readJSON(t, filepath.Join(dir, ConfigFile), &cf)
	p := cf.Provenance
	if p.Resumed == nil || *p.Resumed != 9 || len(p.Earlier) != 2 || p.Earlier[0].FromStep != 0 || p.Earlier[1].FromStep != 5 {
		t.Fatalf("provenance resumed from %v with earlier segments %+v; want 9, and segments from 0 and 5", p.Resumed, p.Earlier)
	}
	for _, s := range p.Earlier {
		if s.StartTime == "" || s.Hostname == "" || len(s.Backend) == 0 {
			t.Errorf("segment %+v lacks its start time, host or backend", s)
		}
	}
}

// TestOwnRecord: ClearLeftovers clears only what a run writes: config.json with its provenance,
// metrics.jsonl of log and epoch lines (a torn last line allowed), and not a user's files.
func TestOwnRecord(t *testing.T) {
	for _, c := range []struct {
		config, metrics string // "" for no file
		own             bool
	}{
		{"", "", true},
		{`{"config":{},"provenance":{"start_time":"2026-11-27T10:00:00Z"}}`, `{"kind":"log","step":5}` + "\n", true},
		{"", `{"kind":"log","step":5}` + "\n" + `{"kind":"epo`, true},
		{"", " ", false},
		{`{"my":"settings"}`, "", false},
		{"", `{"epoch":1,"my_loss":0.3}` + "\n", false},
	} {
		dir := t.TempDir()
		if c.config != "" {
			os.WriteFile(filepath.Join(dir, ConfigFile), []byte(c.config), 0o644)
		}
		if c.metrics != "" {
			os.WriteFile(filepath.Join(dir, MetricsFile), []byte(c.metrics), 0o644)
		}
		if got := ownRecord(dir); got != c.own {
			t.Errorf("config %q metrics %q: own %v, want %v", c.config, c.metrics, got, c.own)
		}
		cleared, err := ClearLeftovers(dir)
		_, stillThere := os.Stat(filepath.Join(dir, MetricsFile))
		if err != nil || c.own && c.metrics != "" && (!cleared || stillThere == nil) || !c.own && cleared {
			t.Errorf("config %q metrics %q: ClearLeftovers cleared %v (err %v)", c.config, c.metrics, cleared, err)
		}
	}
}

// TestChanceAccuracy: chance is the most common test class's share, which a collapsed network
// predicting that class scores; on a balanced split 1/classes.
func TestChanceAccuracy(t *testing.T) {
	for _, c := range []struct {
		labels  []int32
		classes int
		want    float64
	}{
		{[]int32{0, 1, 2, 0, 1, 2}, 3, 1.0 / 3},
		{[]int32{0, 0, 0, 1}, 3, 0.75},
		{nil, 4, 0.25},
	} {
		if got := chanceAccuracy(c.labels, c.classes); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("labels %v of %d classes: chance %v, want %v", c.labels, c.classes, got, c.want)
		}
	}
}

// slowEval is a backend whose evaluation batches (the loss without a gradient) each take at
// least evalPause longer.
type slowEval struct{ net.Backend }

const evalPause = 50 * time.Millisecond

func (s slowEval) SoftmaxCrossEntropy(logits, labels, dlogits, stats *net.Tensor, r net.Reduction) {
	if dlogits == nil {
		time.Sleep(evalPause)
	}
	s.Backend.SoftmaxCrossEntropy(logits, labels, dlogits, stats, r)
}

// TestEpochLineTimesItsEvaluation: an epoch line's elapsed includes the evaluation whose results
// it carries (its throughput does not).
func TestEpochLineTimesItsEvaluation(t *testing.T) {
	cfg := tinyConfig()
	cfg.Epochs = 1
	dir := t.TempDir()
	b := slowEval{newCPU(&cfg)}
	defer b.Close()
	mustRun(t, cfg, dir, WithBackend(b))
	batches := (tinyData.Test.N + cfg.Batch - 1) / cfg.Batch // 100 test images: 7 batches of 16
	var epoch *Record
	recs := readMetrics(t, dir)
	for i := range recs {
		if recs[i].Kind == "epoch" {
			epoch = &recs[i]
		}
	}
	if epoch == nil {
		t.Fatal("no epoch line")
	}
	if min := (time.Duration(batches) * evalPause).Seconds(); epoch.Elapsed < min {
		t.Errorf("epoch line: elapsed %.3f s, want at least the %d evaluation batches' %.3f s", epoch.Elapsed, batches, min)
	}
}
