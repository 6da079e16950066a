package trainer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"rout/data"
	"rout/internal/atomicfile"
	"rout/net"
	"rout/net/gpu"
)

// ErrInterrupted is returned (wrapped) by Run when its context is cancelled: the run saved a
// checkpoint at the step it reached and can be continued with Resume.
var ErrInterrupted = errors.New("training interrupted")

// Option adjusts how Run works without changing what it computes.
type Option func(*runOptions)

type runOptions struct {
	resume   bool
	observer Observer
	backend  net.Backend
	dataset  *data.Dataset
	version  string
	guard    func() error
}

// Resume continues the run in the output folder from its checkpoint instead of starting afresh.
// The config must equal the one the run started with, except for run-control settings
// (ResumeConfig reads it back).
func Resume() Option { return func(o *runOptions) { o.resume = true } }

// WithObserver reports progress to obs (a progress bar, log lines).
func WithObserver(obs Observer) Option { return func(o *runOptions) { o.observer = obs } }

// WithBackend runs on b instead of opening the device the config names; Run does not close it.
// A backend frees its memory only when closed, so give each run its own.
func WithBackend(b net.Backend) Option { return func(o *runOptions) { o.backend = b } }

// WithDataset uses an already loaded dataset, which must be what the config's data spec names
// (a sweep loads it once for all its runs). Run does not modify it.
func WithDataset(d *data.Dataset) Option { return func(o *runOptions) { o.dataset = d } }

// WithVersion records rout's version in config.json.
func WithVersion(v string) Option { return func(o *runOptions) { o.version = v } }

// WithGuard calls g before every write to the run folder (config.json, each metrics line, each
// checkpoint, summary.json). When g returns an error the run stops at once with it and writes
// nothing more. A sweep worker checks with it that the run is still its own: a worker stalled
// past its claim's timeout must not write into a run another worker took over, or finished.
func WithGuard(g func() error) Option { return func(o *runOptions) { o.guard = g } }

// Observer is told about a run's progress. Its methods run on the training goroutine between
// steps, so they must be quick.
type Observer interface {
	// Start is called once the run is set up, before its first step.
	Start(p Plan)
	// Step is called after every step with the number of steps done.
	Step(step int)
	// Record is called with every line written to metrics.jsonl.
	Record(r Record)
}

// Plan describes a run about to start, for progress displays.
type Plan struct {
	Config        Config
	Backend       string
	Params        int
	TrainExamples int
	StepsPerEpoch int
	TotalSteps    int // steps the run will have done when it ends
	StartStep     int // steps already done (a resumed run)
}

// ResumeConfig reads the config a run in folder out started with, from its checkpoint, so that
// a caller can resume it (changing only run-control settings, such as max-steps or device).
func ResumeConfig(out string) (Config, error) {
	ck, err := readCheckpoint(filepath.Join(out, CheckpointFile))
	if err != nil {
		return Config{}, err
	}
	return ck.config, nil
}

// HasCheckpoint reports whether folder out holds a checkpoint to resume.
func HasCheckpoint(out string) bool {
	_, err := os.Stat(filepath.Join(out, CheckpointFile))
	return err == nil
}

// ClearLeftovers removes what killed runs leave in folder out that can be neither resumed nor
// kept: the temporary files of interrupted writes, and the partial record (config.json,
// metrics.jsonl) of a run stopped before its first checkpoint, so that the run can start afresh.
// It reports whether there was such a record; a folder with a checkpoint or a summary keeps its
// record. The caller must hold the folder (a sweep claim), since the same files may also be a
// live run's.
func ClearLeftovers(out string) (bool, error) {
	if err := atomicfile.RemoveTemps(out, CheckpointFile, SummaryFile, ConfigFile, MetricsFile); err != nil {
		return false, err
	}
	for _, f := range []string{CheckpointFile, SummaryFile} {
		if _, err := os.Stat(filepath.Join(out, f)); !errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
	}
	if !ownRecord(out) {
		return false, nil // someone else's files: the run refuses the folder (prepareFolder)
	}
	cleared := false
	for _, f := range []string{MetricsFile, ConfigFile} {
		err := os.Remove(filepath.Join(out, f))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return cleared, fmt.Errorf("clearing the run stopped before its first checkpoint: %w", err)
		}
		cleared = cleared || err == nil
	}
	return cleared, nil
}

// ownRecord reports whether the config.json and metrics.jsonl in folder out, those that exist,
// are a run's: config.json with its provenance, metrics.jsonl of log and epoch lines (a torn last
// line allowed). ClearLeftovers removes nothing else, so a folder holding a user's own files of
// those names is refused rather than emptied.
func ownRecord(out string) bool {
	if b, err := os.ReadFile(filepath.Join(out, ConfigFile)); err == nil {
		var cf struct {
			Provenance struct {
				StartTime string `json:"start_time"`
			} `json:"provenance"`
		}
		if json.Unmarshal(b, &cf) != nil || cf.Provenance.StartTime == "" {
			return false
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	b, err := os.ReadFile(filepath.Join(out, MetricsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	if err != nil {
		return false
	}
	lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	for i, line := range lines {
		var r Record
		if json.Unmarshal(line, &r) != nil || r.Kind != "log" && r.Kind != "epoch" {
			if i == len(lines)-1 && !bytes.HasSuffix(b, []byte("\n")) && i > 0 {
				return true // a line torn by the kill
			}
			return len(b) == 0
		}
	}
	return true
}

// Run trains the network that cfg describes and leaves the run's record in the folder out:
// config.json, metrics.jsonl, checkpoint.safetensors and, when the run completes,
// summary.json. A run that completes returns its Summary and a nil error whatever its status
// (ok, failed or diverged: results, not errors). Errors are for bad settings or data, I/O and
// devices. When ctx is cancelled the run checkpoints the step it reached and returns an error
// wrapping ErrInterrupted; Resume continues it to the same final weights.
func Run(ctx context.Context, cfg Config, out string, opts ...Option) (Summary, error) {
	var o runOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	r, err := newRun(cfg, out, o)
	if err != nil {
		return Summary{}, err
	}
	sum, err := r.loop(ctx)
	if cerr := r.close(); err == nil && cerr != nil {
		err = cerr
	}
	return sum, err
}

// runState is the host side of a run that a checkpoint keeps (the device side is tensors).
type runState struct {
	Step      int `json:"step"`       // steps done
	Epoch     int `json:"epoch"`      // the epoch in progress, from 0
	EpochStep int `json:"epoch_step"` // steps done in it
	// The epoch's training sums read back so far: loss, correct predictions, examples.
	EpochLoss    float64 `json:"epoch_loss"`
	EpochCorrect float64 `json:"epoch_correct"`
	EpochCount   float64 `json:"epoch_count"`
	Elapsed      float64 `json:"elapsed"` // training seconds so far
	EpochsRun    int     `json:"epochs_run"`
	// Results of the latest evaluation (NaN, written null, before the first).
	TestAcc   Number `json:"test_acc"`
	TestLoss  Number `json:"test_loss"`
	ValAcc    Number `json:"val_acc"`
	ValLoss   Number `json:"val_loss"`
	TrainLoss Number `json:"train_loss"`
	BestTest  Number `json:"best_test_acc"`
	BestVal   Number `json:"best_val_acc"`
	// EvalStep is the step of the latest evaluation (-1: none; 0 in checkpoints from before
	// it was kept). A resume at the end of a run tells by it whether the checkpoint's step still
	// needs the final evaluation.
	EvalStep int `json:"eval_step"`
}

// run is one training run being carried out.
type run struct {
	cfg      Config
	out      string
	o        runOptions
	b        net.Backend
	ownsB    bool
	ds       *data.Dataset
	n        *net.Net
	spec     *net.Spec
	opt      Optimizer
	rev      Reviver
	classes  int
	train    data.Split
	val      *data.Split
	trainSet net.ImageSet
	testSet  net.ImageSet
	valSet   net.ImageSet
	prep     preprocessing
	trainAug net.Augment
	evalAug  net.Augment
	stats    *net.Tensor // training [loss, correct, count] since the last read-back
	evalSt   *net.Tensor
	perEpoch int
	st       runState
	metrics  *metricsLog
	lastCkpt int // step of the last checkpoint written (or read), -1 for none
	// interval bookkeeping for log lines
	lastLogStep int
	lastLogTime time.Time
	epochStep0  int // step and time at which this process began the current epoch
	epochTime0  time.Time
	segStart    time.Time // when the current stretch of training time began
	prov        provenance
}

// newRun sets up everything a run needs: folder, data, device, network, optimiser, policy.
func newRun(cfg Config, out string, o runOptions) (_ *run, err error) {
	r := &run{cfg: cfg, out: out, o: o, lastCkpt: -1}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if err := r.prepareFolder(); err != nil {
		return nil, err
	}
	var ck *checkpoint
	if o.resume {
		if ck, err = readCheckpoint(filepath.Join(out, CheckpointFile)); err != nil {
			return nil, fmt.Errorf("resume %s: %w", out, err)
		}
		if err := checkResumable(&ck.config, &cfg); err != nil {
			return nil, fmt.Errorf("resume %s: %w", out, err)
		}
	}
	if err := r.loadData(); err != nil {
		return nil, err
	}
	if o.backend != nil {
		r.b = o.backend
	} else {
		if r.b, err = OpenBackend(&cfg); err != nil {
			return nil, err
		}
		r.ownsB = true
	}
	if err := r.build(); err != nil {
		return nil, err
	}
	r.st = runState{TestAcc: nan(), TestLoss: nan(), ValAcc: nan(), ValLoss: nan(), TrainLoss: nan(),
		BestTest: nan(), BestVal: nan(), EvalStep: -1}
	if ck != nil {
		if err := r.restore(ck); err != nil {
			return nil, fmt.Errorf("resume %s: %w", out, err)
		}
	} else {
		r.n.Init(cfg.Seed)
	}
	if err := r.b.Err(); err != nil {
		return nil, fmt.Errorf("device %s: %w", r.b.Name(), err)
	}
	if end := r.endStep(); r.st.Step > end { // before config.json records the setting
		return nil, fmt.Errorf("setting max-steps: %d is below the checkpoint's step %d", end, r.st.Step)
	}
	r.prov = newProvenance(r, ck)
	if err := r.guarded(); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(out, ConfigFile), configFile{Config: cfg, Provenance: r.prov}); err != nil {
		return nil, err
	}
	if r.metrics, err = openMetrics(filepath.Join(out, MetricsFile), ck != nil, r.st.Step, r.evaluatedAtStep()); err != nil {
		return nil, err
	}
	return r, nil
}

func nan() Number { return Number(math.NaN()) }

// guarded runs the WithGuard check, if any, before a write to the run folder.
func (r *run) guarded() error {
	if r.o.guard == nil {
		return nil
	}
	if err := r.o.guard(); err != nil {
		return fmt.Errorf("stopped without writing to %s: %w", r.out, err)
	}
	return nil
}

// evaluatedAtStep reports whether the run's evaluation at its present step is done: it was made
// there, or the step ends an epoch (an epoch's evaluation comes before its checkpoint).
func (r *run) evaluatedAtStep() bool {
	return r.st.EvalStep == r.st.Step || r.st.EpochStep == 0
}

// prepareFolder creates the output folder, refusing to start afresh over another run's record.
func (r *run) prepareFolder() error {
	if r.out == "" {
		return fmt.Errorf("no output folder given (--out)")
	}
	if err := os.MkdirAll(r.out, 0o755); err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	if r.o.resume {
		return nil
	}
	for _, f := range []string{CheckpointFile, SummaryFile, MetricsFile, ConfigFile} {
		if _, err := os.Stat(filepath.Join(r.out, f)); err == nil {
			return fmt.Errorf("output folder %s already holds a run (%s): resume it (--resume) or choose another --out", r.out, f)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("output folder: %w", err)
		}
	}
	return nil
}

// checkResumable refuses a resume whose config changes anything but run-control settings.
func checkResumable(saved, now *Config) error {
	var bad []string
	for _, k := range saved.Diff(now) {
		if !runControl(k) {
			a, _ := saved.Get(k)
			b, _ := now.Get(k)
			bad = append(bad, fmt.Sprintf("%s (%s, now %s)", k, a, b))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("the run started with other settings: %v; only run-control settings may change on resume", bad)
	}
	return nil
}

// loadData opens the dataset and carves the validation split.
func (r *run) loadData() error {
	ds := r.o.dataset
	if ds == nil {
		var err error
		if ds, err = data.Open(r.cfg.Data); err != nil {
			return fmt.Errorf("setting data: %w", err)
		}
	}
	r.ds = ds
	r.classes = len(ds.Classes)
	if r.classes < 2 {
		return fmt.Errorf("data %s: %d classes, want at least 2", r.cfg.Data, r.classes)
	}
	r.train = ds.Train
	if r.cfg.ValFraction > 0 {
		t, v, err := ds.CarveValidation(r.cfg.ValFraction, r.cfg.DataSeed)
		if err != nil {
			return fmt.Errorf("setting val-fraction: %w", err)
		}
		r.train, r.val = t, &v
	}
	r.perEpoch = r.train.N / r.cfg.Batch
	if r.perEpoch == 0 {
		return fmt.Errorf("setting batch: %d is more than the %d training examples of %s", r.cfg.Batch, r.train.N, r.cfg.Data)
	}
	if ds.Test.N == 0 {
		return fmt.Errorf("data %s: the test split is empty", r.cfg.Data)
	}
	return nil
}

// build makes the network, optimiser, policy, image sets and preprocessing on the backend.
func (r *run) build() error {
	cfg := &r.cfg
	spec, err := buildSpec(cfg)
	if err != nil {
		return err
	}
	r.spec = spec
	if r.prep, err = newPreprocessing(cfg, &r.train); err != nil {
		return err
	}
	if err := r.setup(); err != nil {
		return err
	}
	ft, err := r.n.ConvTable(cfg.layerList())
	if err != nil {
		return fmt.Errorf("setting randomout-layers: %w", err)
	}
	if r.opt, err = newOptimizer(r.b, cfg, r.n.Params, r.n.Grads); err != nil {
		return err
	}
	if r.rev, err = newReviver(cfg, r.b, r.n, ft, r.opt.Moments()); err != nil {
		return err
	}
	if r.trainSet, err = r.b.NewImageSet(r.train.Pixels, r.train.Labels, r.train.N, r.train.C, r.train.H, r.train.W); err != nil {
		return fmt.Errorf("device %s: training images: %w", r.b.Name(), err)
	}
	r.trainAug = r.prep.augment(cfg, true)
	return nil
}

// setup builds the network and evaluation state shared by training and `rout eval`.
func (r *run) setup() error {
	var err error
	in := [3]int{r.train.C, r.prep.cropH, r.prep.cropW}
	if r.n, err = net.Build(r.b, r.spec, r.cfg.Batch, in, r.classes); err != nil {
		return fmt.Errorf("model %s: %w", r.cfg.Model, err)
	}
	if err := r.prep.upload(r.b); err != nil {
		return err
	}
	r.evalAug = r.prep.augment(&r.cfg, false)
	if r.stats, err = r.b.Alloc(1, 3, 1, 1); err != nil {
		return fmt.Errorf("device %s: %w", r.b.Name(), err)
	}
	if r.evalSt, err = r.b.Alloc(1, 3, 1, 1); err != nil {
		return fmt.Errorf("device %s: %w", r.b.Name(), err)
	}
	if r.testSet, err = newEvalSet(r.b, &r.ds.Test); err != nil {
		return err
	}
	if r.val != nil {
		if r.valSet, err = newEvalSet(r.b, r.val); err != nil {
			return err
		}
	}
	return nil
}

// newEvalSet puts a split on a device in its stored order.
func newEvalSet(b net.Backend, s *data.Split) (net.ImageSet, error) {
	set, err := b.NewImageSet(s.Pixels, s.Labels, s.N, s.C, s.H, s.W)
	if err != nil {
		return nil, fmt.Errorf("device %s: evaluation images: %w", b.Name(), err)
	}
	order := make([]int32, s.N)
	for i := range order {
		order[i] = int32(i)
	}
	b.SetOrder(set, order)
	return set, nil
}

// buildSpec loads the model and applies the init override to every layer.
func buildSpec(cfg *Config) (*net.Spec, error) {
	spec, err := net.LoadSpec(cfg.Model)
	if err != nil {
		return nil, fmt.Errorf("setting model: %w", err)
	}
	if cfg.Init != "" {
		s := *spec
		s.Init = cfg.Init
		s.Layers = clearInit(spec.Layers)
		spec = &s
	}
	return spec, nil
}

// clearInit copies layers without their own initialisers, so the spec's applies to all.
func clearInit(ls []net.LayerSpec) []net.LayerSpec {
	out := make([]net.LayerSpec, len(ls))
	for i, l := range ls {
		l.Init = ""
		if l.Branches != nil {
			br := make([][]net.LayerSpec, len(l.Branches))
			for b := range l.Branches {
				br[b] = clearInit(l.Branches[b])
			}
			l.Branches = br
		}
		out[i] = l
	}
	return out
}

// OpenBackend opens the device a config names: the GPU when usable for "auto", else the CPU.
func OpenBackend(c *Config) (net.Backend, error) {
	switch c.Device {
	case "cpu":
		return newCPU(c), nil
	case "gpu":
		b, err := newGPU(c)
		if err != nil {
			return nil, fmt.Errorf("setting device gpu: %w", err)
		}
		return b, nil
	}
	// auto: the CPU only when no GPU is usable; a usable GPU that a GPU setting (--cudnn-graph,
	// say) cannot open is an error, not a silent fall back to a hundred times slower training.
	if gpu.Available() != nil {
		return newCPU(c), nil
	}
	b, err := newGPU(c)
	if err != nil {
		return nil, fmt.Errorf("setting device auto: a GPU is usable but: %w", err)
	}
	return b, nil
}

// endStep is the step the run stops at: the last of its epochs, or max-steps if sooner.
func (r *run) endStep() int {
	end := r.cfg.Epochs * r.perEpoch
	if r.cfg.MaxSteps > 0 && r.cfg.MaxSteps < end {
		end = r.cfg.MaxSteps
	}
	return end
}

// loop runs the steps and epochs until the end, an interruption or a divergence.
func (r *run) loop(ctx context.Context) (Summary, error) {
	cfg := &r.cfg
	total := cfg.Epochs * r.perEpoch
	end := r.endStep() // newRun refused a checkpoint past it
	if r.o.observer != nil {
		r.o.observer.Start(Plan{Config: *cfg, Backend: r.b.Name(), Params: r.n.ParamCount(),
			TrainExamples: r.train.N, StepsPerEpoch: r.perEpoch, TotalSteps: end, StartStep: r.st.Step})
	}
	r.segStart = time.Now()
	r.lastLogTime, r.lastLogStep = r.segStart, r.st.Step
	if r.st.Step == end && !r.evaluatedAtStep() {
		// Resumed at its end from a checkpoint taken mid-epoch (an interruption): the evaluation
		// that --max-steps promises has not been made yet.
		r.epochStep0, r.epochTime0 = r.st.Step, time.Now()
		if msg, err := r.endEpoch(learningRate(cfg, r.st.Step-1, r.perEpoch, total), false); err != nil || msg != "" {
			return r.finish(msg, err)
		}
		r.lastCkpt = -1 // the checkpoint at this step lacks the evaluation: write it again
		if msg, err := r.checkpoint(); err != nil || msg != "" {
			return r.finish(msg, err)
		}
	}
	orderEpoch := -1
	for r.st.Step < end {
		if ctx.Err() != nil {
			if msg, err := r.checkpoint(); err != nil || msg != "" {
				return r.finish(msg, err)
			}
			return Summary{}, fmt.Errorf("%w at step %d of %d; the checkpoint in %s resumes it", ErrInterrupted, r.st.Step, end, r.out)
		}
		if orderEpoch != r.st.Epoch {
			r.b.SetOrder(r.trainSet, data.EpochOrder(r.train.N, cfg.DataSeed, r.st.Epoch))
			r.trainAug.Epoch = uint32(r.st.Epoch)
			orderEpoch = r.st.Epoch
			r.epochStep0, r.epochTime0 = r.st.Step, time.Now()
		}
		lr := learningRate(cfg, r.st.Step, r.perEpoch, total)
		r.step(lr)
		r.st.Step++
		r.st.EpochStep++
		if r.o.observer != nil {
			r.o.observer.Step(r.st.Step)
		}
		if r.st.Step%cfg.LogEvery == 0 {
			if msg, err := r.logLine(lr); err != nil || msg != "" {
				return r.finish(msg, err)
			}
		}
		epochEnd := r.st.EpochStep == r.perEpoch
		if epochEnd || r.st.Step == end {
			if msg, err := r.endEpoch(lr, epochEnd); err != nil || msg != "" {
				return r.finish(msg, err)
			}
			if msg, err := r.checkpoint(); err != nil || msg != "" {
				return r.finish(msg, err)
			}
		} else if cfg.CheckpointEvery > 0 && r.st.Step%cfg.CheckpointEvery == 0 {
			if msg, err := r.checkpoint(); err != nil || msg != "" {
				return r.finish(msg, err)
			}
		}
	}
	return r.finish("", nil)
}

// step is one training step, all of it queued on the device: no read-back.
// A backend that runs steps as a whole (net.StepRunner: CUDA graphs) may run it twice.
func (r *run) step(lr float64) {
	red := net.ReduceSum
	if r.cfg.Loss == "mean" {
		red = net.ReduceMean
	}
	work := func() {
		r.b.GatherBatch(r.trainSet, r.st.EpochStep*r.cfg.Batch, r.n.Input, r.n.Labels, r.trainAug)
		r.n.Forward(true)
		if aw, ok := r.rev.(activationWatcher); ok {
			aw.AfterForward(r.st.Step)
		}
		r.b.SoftmaxCrossEntropy(r.n.Logits, r.n.Labels, r.n.DLogits, r.stats, red)
		r.n.Backward()
		r.opt.Update(r.st.Step, lr)
		r.rev.AfterUpdate(r.st.Step)
	}
	net.RunStep(r.b, work)
}

// readStats reads back and clears the training sums since the last read, adding them to the
// epoch's.
func (r *run) readStats() (loss, correct, count float64, err error) {
	s := make([]float32, 3)
	r.b.Download(r.stats, s)
	if err := r.b.Err(); err != nil {
		return 0, 0, 0, fmt.Errorf("device %s: %w", r.b.Name(), err)
	}
	r.b.Fill(r.stats, 0)
	loss, correct, count = float64(s[0]), float64(s[1]), float64(s[2])
	r.st.EpochLoss += loss
	r.st.EpochCorrect += correct
	r.st.EpochCount += count
	return loss, correct, count, nil
}

// elapsed is the training time so far, across resumes.
func (r *run) elapsed() float64 { return r.st.Elapsed + time.Since(r.segStart).Seconds() }

// record fills the fields every metrics line has.
func (r *run) record(kind string, loss, acc, lr float64) Record {
	reinits, dead := r.rev.Counters()
	now := time.Now()
	t0, s0 := r.lastLogTime, r.lastLogStep
	if kind == "epoch" {
		t0, s0 = r.epochTime0, r.epochStep0
	}
	ips := 0.0
	if dt := now.Sub(t0).Seconds(); dt > 0 {
		ips = float64((r.st.Step-s0)*r.cfg.Batch) / dt
	}
	r.lastLogTime, r.lastLogStep = now, r.st.Step
	epoch := r.st.Epoch + 1
	layers := r.rev.Layers()
	return Record{Kind: kind, Step: r.st.Step, Epoch: epoch, Loss: Number(loss), TrainAcc: Number(acc), LR: Number(lr),
		Reinits: LayerCounts{Layers: layers, Counts: reinits}, Dead: LayerCounts{Layers: layers, Counts: dead},
		ImagesPerSec: ips, Elapsed: r.elapsed()}
}

// emit writes a record and shows it to the observer.
func (r *run) emit(rec Record) error {
	if err := r.guarded(); err != nil {
		return err
	}
	if err := r.metrics.write(rec); err != nil {
		return err
	}
	if r.o.observer != nil {
		r.o.observer.Record(rec)
	}
	return nil
}

// logLine writes a periodic line. It returns a message when the loss is no longer finite.
func (r *run) logLine(lr float64) (string, error) {
	loss, correct, count, err := r.readStats()
	if err != nil {
		return "", err
	}
	if count == 0 {
		return "", nil
	}
	rec := r.record("log", loss/count, correct/count, lr)
	if err := r.emit(rec); err != nil {
		return "", err
	}
	if !finite(loss) {
		return fmt.Sprintf("the training loss became %v by step %d (epoch %d)", loss, r.st.Step, rec.Epoch), nil
	}
	return "", nil
}

// endEpoch evaluates after an epoch (or the last, partial one) and writes its line; full
// epochs move the position to the next. It returns a message when something is not finite.
func (r *run) endEpoch(lr float64, full bool) (string, error) {
	if _, _, _, err := r.readStats(); err != nil {
		return "", err
	}
	trainLoss := r.st.EpochLoss / r.st.EpochCount
	trainAcc := r.st.EpochCorrect / r.st.EpochCount
	rec := r.record("epoch", trainLoss, trainAcc, lr)
	testLoss, testAcc, err := r.evaluate(r.testSet, r.ds.Test.N)
	if err != nil {
		return "", err
	}
	rec.TestAcc, rec.TestLoss = num(testAcc), num(testLoss)
	r.st.TestAcc, r.st.TestLoss, r.st.TrainLoss = Number(testAcc), Number(testLoss), Number(trainLoss)
	r.st.EvalStep = r.st.Step
	if !(float64(r.st.BestTest) >= testAcc) {
		r.st.BestTest = Number(testAcc)
	}
	if r.valSet != nil {
		valLoss, valAcc, err := r.evaluate(r.valSet, r.val.N)
		if err != nil {
			return "", err
		}
		rec.ValAcc, rec.ValLoss = num(valAcc), num(valLoss)
		r.st.ValAcc, r.st.ValLoss = Number(valAcc), Number(valLoss)
		if !(float64(r.st.BestVal) >= valAcc) {
			r.st.BestVal = Number(valAcc)
		}
	}
	r.st.EpochsRun = r.st.Epoch + 1
	r.lastLogTime = time.Now() // the next log line's throughput leaves the evaluation out
	rec.Elapsed = r.elapsed()  // the line's time includes the evaluation it reports
	if err := r.emit(rec); err != nil {
		return "", err
	}
	if full {
		r.st.Epoch++
		r.st.EpochStep = 0
		r.st.EpochLoss, r.st.EpochCorrect, r.st.EpochCount = 0, 0, 0
	}
	switch {
	case !finite(trainLoss):
		return fmt.Sprintf("the training loss of epoch %d is %v", rec.Epoch, trainLoss), nil
	case !finite(testLoss):
		return fmt.Sprintf("the test loss after epoch %d is %v", rec.Epoch, testLoss), nil
	}
	return "", nil
}

// evaluate returns the mean loss and the accuracy of the network on a held image set, in
// batches whose last one is padded (label -1, ignored).
func (r *run) evaluate(set net.ImageSet, count int) (loss, acc float64, err error) {
	return evaluateSet(r.b, r.n, set, count, r.evalAug, r.evalSt)
}

func evaluateSet(b net.Backend, n *net.Net, set net.ImageSet, count int, aug net.Augment, st *net.Tensor) (loss, acc float64, err error) {
	b.Fill(st, 0)
	for start := 0; start < count; start += n.Batch {
		b.GatherBatch(set, start, n.Input, n.Labels, aug)
		n.Forward(false)
		b.SoftmaxCrossEntropy(n.Logits, n.Labels, nil, st, net.ReduceSum)
	}
	s := make([]float32, 3)
	b.Download(st, s)
	if err := b.Err(); err != nil {
		return 0, 0, fmt.Errorf("device %s: evaluation: %w", b.Name(), err)
	}
	if s[2] != float32(count) {
		return 0, 0, fmt.Errorf("evaluation counted %v examples, want %d", s[2], count)
	}
	return float64(s[0]) / float64(s[2]), float64(s[1]) / float64(s[2]), nil
}

// chanceAccuracy is what a network that learned nothing scores on the test split: a collapsed
// network predicts one class, at best the most common one, so it is that class's share of the
// labels (1/classes on a balanced split, and with no labels).
func chanceAccuracy(labels []int32, classes int) float64 {
	if len(labels) == 0 || classes < 1 {
		return 1 / float64(max(classes, 1))
	}
	counts := make([]int, classes)
	for _, l := range labels {
		if l >= 0 && int(l) < classes {
			counts[l]++
		}
	}
	return float64(slices.Max(counts)) / float64(len(labels))
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// finish writes summary.json for a run that ended (divergence: msg is its reason).
func (r *run) finish(diverged string, err error) (Summary, error) {
	if err != nil {
		return Summary{}, err
	}
	r.st.Elapsed = r.elapsed()
	r.segStart = time.Now()
	reinits, dead := r.rev.Counters()
	if err := r.b.Err(); err != nil {
		return Summary{}, fmt.Errorf("device %s: %w", r.b.Name(), err)
	}
	layers := r.rev.Layers()
	chance := chanceAccuracy(r.ds.Test.Labels, r.classes)
	s := Summary{
		Arm: r.cfg.Arm, Seed: r.cfg.Seed,
		FinalTestAcc: num(float64(r.st.TestAcc)), BestTestAcc: num(float64(r.st.BestTest)),
		FinalTestLoss: num(float64(r.st.TestLoss)), FinalTrainLoss: num(float64(r.st.TrainLoss)),
		ChanceAcc: chance, FailedMargin: r.cfg.FailMargin,
		Epochs: r.st.EpochsRun, Steps: r.st.Step, WallSeconds: r.st.Elapsed,
		ReinitsPerLayer: LayerCounts{Layers: layers, Counts: reinits}, DeadFinalPerLayer: LayerCounts{Layers: layers, Counts: dead},
	}
	s.ReinitsTotal = s.ReinitsPerLayer.Total()
	if ft, err := r.n.ConvTable(nil); err == nil {
		for _, g := range ft.Groups {
			s.ConvLayers = append(s.ConvLayers, g.Name)
		}
	}
	if sr, ok := r.b.(net.StepRunner); ok {
		s.StepGraphs = sr.StepReport()
	}
	if r.valSet != nil {
		s.FinalValAcc, s.BestValAcc = num(float64(r.st.ValAcc)), num(float64(r.st.BestVal))
	}
	switch {
	case diverged != "":
		s.Status = StatusDiverged
		s.FinalTestAcc, s.FinalTestLoss, s.FinalValAcc = nil, nil, nil
		s.Message = "diverged: " + diverged + fmt.Sprintf("; the last finite state is the checkpoint at step %d", max(r.lastCkpt, 0))
		if r.lastCkpt < 0 {
			s.Message = "diverged: " + diverged + "; no checkpoint was written before"
		}
	case s.FinalTestAcc == nil:
		s.Status = StatusFailed
		s.Message = "no evaluation was made"
	case float64(*s.FinalTestAcc) <= chance+r.cfg.FailMargin:
		s.Status = StatusFailed
		s.Message = fmt.Sprintf("final test accuracy %.4f is within %.4g of chance (%.4f): the network did not train", float64(*s.FinalTestAcc), r.cfg.FailMargin, chance)
	default:
		s.Status = StatusOK
	}
	if err := r.guarded(); err != nil {
		return s, err
	}
	if err := r.metrics.sync(); err != nil { // the summary must not outlive the lines it sums up
		return s, err
	}
	if err := writeJSON(filepath.Join(r.out, SummaryFile), s); err != nil {
		return s, err
	}
	return s, nil
}

// close releases the files and the device the run opened.
func (r *run) close() error {
	var err error
	if r.metrics != nil {
		err = r.metrics.close()
		r.metrics = nil
	}
	if r.ownsB && r.b != nil {
		if cerr := r.b.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("device %s: %w", r.b.Name(), cerr)
		}
		r.b = nil
	}
	return err
}
