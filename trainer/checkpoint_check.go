package trainer

import (
	"fmt"
	"math"

	"rout/internal/boundedio"
	"rout/internal/membudget"
	"rout/net"
)

// Limits of what a checkpoint may describe, beyond what its config's own checks bound.
const (
	maxImageSide = 1 << 15
	maxClasses   = 1 << 20
)

// readCheckpointFile reads a checkpoint whole, as a regular file of at most the memory budget.
func readCheckpointFile(path string) ([]byte, error) {
	b, err := membudget.Current()
	if err != nil {
		return nil, err
	}
	raw, err := boundedio.ReadFile(path, b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w (the memory budget is %s)", err, b)
	}
	return raw, nil
}

// check validates what a checkpoint says on its own, before anything is built from it or a run
// folder is touched: the trainer position, the image shape, the classes, the network and the
// finiteness of the parameters. restore checks the rest against the run (checkPosition).
func (ck *checkpoint) check() error {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("checkpoint %s: %s", ck.path, fmt.Sprintf(format, a...))
	}
	st, cfg := &ck.state, &ck.config
	for _, f := range []struct {
		name string
		v    int
	}{{"step", st.Step}, {"epoch", st.Epoch}, {"epoch_step", st.EpochStep}, {"epochs_run", st.EpochsRun}} {
		if f.v < 0 {
			return fail("trainer state %s = %d: must not be negative", f.name, f.v)
		}
	}
	if st.Epoch > cfg.Epochs {
		return fail("trainer state epoch = %d, beyond the run's %d epochs", st.Epoch, cfg.Epochs)
	}
	if st.EpochsRun != st.Epoch && !(st.EpochsRun == st.Epoch+1 && st.EpochStep > 0) {
		return fail("trainer state epochs_run = %d does not fit epoch %d, epoch_step %d", st.EpochsRun, st.Epoch, st.EpochStep)
	}
	if st.EvalStep < -1 || st.EvalStep > st.Step {
		return fail("trainer state eval_step = %d, want -1 to the step %d", st.EvalStep, st.Step)
	}
	if !(st.EpochCount >= 0) || st.EpochCount > float64(st.EpochStep)*float64(cfg.Batch) ||
		!(st.EpochCorrect >= 0 && st.EpochCorrect <= st.EpochCount) || math.IsNaN(st.EpochLoss) {
		return fail("trainer state epoch sums (loss %v, correct %v, count %v) do not fit %d steps of batch %d",
			st.EpochLoss, st.EpochCorrect, st.EpochCount, st.EpochStep, cfg.Batch)
	}
	if !(st.Elapsed >= 0) || math.IsInf(st.Elapsed, 0) {
		return fail("trainer state elapsed = %v: want a non-negative number of seconds", st.Elapsed)
	}
	for _, a := range []struct {
		name string
		v    Number
	}{{"test_acc", st.TestAcc}, {"val_acc", st.ValAcc}, {"best_test_acc", st.BestTest}, {"best_val_acc", st.BestVal}} {
		if v := float64(a.v); !math.IsNaN(v) && !(v >= 0 && v <= 1) {
			return fail("trainer state %s = %v: want a fraction in [0, 1]", a.name, v)
		}
	}
	for i, d := range ck.image {
		if d < 1 || d > maxImageSide || i == 0 && d > 4 {
			return fail("metadata image %v: want C,H,W with 1 to 4 channels and sides 1 to %d", ck.image, maxImageSide)
		}
	}
	if len(ck.classes) < 2 || len(ck.classes) > maxClasses {
		return fail("%d classes, want 2 to %d", len(ck.classes), maxClasses)
	}
	spec, err := net.ParseSpec(ck.spec, ck.path+" (model_toml)")
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", ck.path, err)
	}
	in := [3]int{ck.image[0], ck.image[1], ck.image[2]}
	if cfg.Crop > 0 {
		in[1], in[2] = cfg.Crop, cfg.Crop
	}
	sum, err := net.Summarize(spec, in, len(ck.classes))
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", ck.path, err)
	}
	p, ok := ck.tensors["params"]
	if !ok {
		return fail("tensor params is missing")
	}
	if len(p.Data) != sum.Params {
		return fail("tensor params has %d values, but its network (model_toml) has %d parameters", len(p.Data), sum.Params)
	}
	for i, v := range p.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fail("parameter %d is %v (rout never saves a network that is not finite: the file is damaged)", i, v)
		}
	}
	return nil
}

// checkPosition checks the checkpoint's position against the run it resumes: its step must be
// where its epoch and epoch step put it, and within the run.
func (r *run) checkPosition(ck *checkpoint) error {
	st := &ck.state
	if st.EpochStep >= r.perEpoch {
		return fmt.Errorf("checkpoint %s: trainer state epoch_step = %d, but an epoch has %d steps", ck.path, st.EpochStep, r.perEpoch)
	}
	if want := st.Epoch*r.perEpoch + st.EpochStep; st.Step != want {
		return fmt.Errorf("checkpoint %s: trainer state step = %d, but epoch %d and epoch_step %d make it %d (%d steps an epoch)",
			ck.path, st.Step, st.Epoch, st.EpochStep, want, r.perEpoch)
	}
	if total := r.cfg.Epochs * r.perEpoch; st.Step > total {
		return fmt.Errorf("checkpoint %s: trainer state step = %d, beyond the run's %d steps", ck.path, st.Step, total)
	}
	return nil
}
