package trainer

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"rout/net"
)

// divergence ends a run whose loss or parameters are no longer finite. The loop returns it as
// an error, so that one check stops the run, but finish makes it the run's result (status
// diverged), not an error of Run.
type divergence struct{ reason string }

func (d *divergence) Error() string { return "diverged: " + d.reason }

// diverged is a divergence for the reason the format gives.
func diverged(format string, args ...any) error {
	return &divergence{reason: fmt.Sprintf(format, args...)}
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

// finish writes summary.json for a run that ended: at its last step (stop nil) or diverged
// (stop a *divergence). Any other error stops the run without a summary and is returned.
func (r *run) finish(stop error) (Summary, error) {
	var div *divergence
	if stop != nil && !errors.As(stop, &div) {
		return Summary{}, stop
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
	case div != nil:
		s.Status = StatusDiverged
		s.FinalTestAcc, s.FinalTestLoss, s.FinalValAcc = nil, nil, nil
		s.Message = div.Error() + fmt.Sprintf("; the last finite state is the checkpoint at step %d", max(r.lastCkpt, 0))
		if r.lastCkpt < 0 {
			s.Message = div.Error() + "; no checkpoint was written before"
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
