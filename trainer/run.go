package trainer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"rout/data"
	"rout/net"
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
	pack     *PackProvenance // set by RunPack: the pack the run trains in
	trainSet net.ImageSet    // set by RunPack: the training images already on the backend
	sharedBy int             // runs sharing the device (SharedBy)
	// deviceFree, set by RunPack, is the device's free memory when the pack started: each
	// member's memory check reads it instead of the device, whose free memory shrinks by the
	// networks of the members set up before it while the check counts all of them.
	deviceFree int64
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
	stats    *net.Tensor // training [loss, correct, count] since the last read-back
	eval     *evaluator  // the network's evaluation (its n is n)
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
		if err := r.endEpoch(learningRate(cfg, r.st.Step-1, r.perEpoch, total), false); err != nil {
			return r.finish(err)
		}
		r.lastCkpt = -1 // the checkpoint at this step lacks the evaluation: write it again
		if err := r.checkpoint(); err != nil {
			return r.finish(err)
		}
	}
	orderEpoch := -1
	for r.st.Step < end {
		if ctx.Err() != nil {
			if err := r.checkpoint(); err != nil {
				return r.finish(err)
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
			if err := r.logLine(lr); err != nil {
				return r.finish(err)
			}
		}
		epochEnd := r.st.EpochStep == r.perEpoch
		if epochEnd || r.st.Step == end {
			if err := r.endEpoch(lr, epochEnd); err != nil {
				return r.finish(err)
			}
			if err := r.checkpoint(); err != nil {
				return r.finish(err)
			}
		} else if cfg.CheckpointEvery > 0 && r.st.Step%cfg.CheckpointEvery == 0 {
			if err := r.checkpoint(); err != nil {
				return r.finish(err)
			}
		}
	}
	return r.finish(nil)
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

// logLine writes a periodic line. It returns a divergence when the loss is no longer finite.
func (r *run) logLine(lr float64) error {
	loss, correct, count, err := r.readStats()
	if err != nil {
		return err
	}
	if count == 0 {
		return nil
	}
	rec := r.record("log", loss/count, correct/count, lr)
	if err := r.emit(rec); err != nil {
		return err
	}
	if !finite(loss) {
		return diverged("the training loss became %v by step %d (epoch %d)", loss, r.st.Step, rec.Epoch)
	}
	return nil
}

// endEpoch evaluates after an epoch (or the last, partial one) and writes its line; full
// epochs move the position to the next. It returns a divergence when something is not finite.
func (r *run) endEpoch(lr float64, full bool) error {
	if _, _, _, err := r.readStats(); err != nil {
		return err
	}
	trainLoss := r.st.EpochLoss / r.st.EpochCount
	trainAcc := r.st.EpochCorrect / r.st.EpochCount
	rec := r.record("epoch", trainLoss, trainAcc, lr)
	testLoss, testAcc, err := r.eval.evaluate(r.testSet, r.ds.Test.N)
	if err != nil {
		return err
	}
	rec.TestAcc, rec.TestLoss = num(testAcc), num(testLoss)
	r.st.TestAcc, r.st.TestLoss, r.st.TrainLoss = Number(testAcc), Number(testLoss), Number(trainLoss)
	r.st.EvalStep = r.st.Step
	if !(float64(r.st.BestTest) >= testAcc) {
		r.st.BestTest = Number(testAcc)
	}
	if r.valSet != nil {
		valLoss, valAcc, err := r.eval.evaluate(r.valSet, r.val.N)
		if err != nil {
			return err
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
		return err
	}
	if full {
		r.st.Epoch++
		r.st.EpochStep = 0
		r.st.EpochLoss, r.st.EpochCorrect, r.st.EpochCount = 0, 0, 0
	}
	switch {
	case !finite(trainLoss):
		return diverged("the training loss of epoch %d is %v", rec.Epoch, trainLoss)
	case !finite(testLoss):
		return diverged("the test loss after epoch %d is %v", rec.Epoch, testLoss)
	}
	return nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

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
