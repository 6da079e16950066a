package report

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"rout/runlog"
)

// Run is one (arm, seed) pair of a sweep and what its folder holds so far.
type Run struct {
	Arm     string
	Seed    uint64
	Dir     string
	Summary *runlog.Summary // nil while the run is unfinished (running, interrupted or not started)
	Claimed bool            // a worker has claimed the run (its folder has a claim file)
	Metrics []runlog.Record // metrics.jsonl, possibly partial for an unfinished run
	// Filters is every conv layer's filter count and Classes the dataset's class count, from
	// config.json (empty and 0 where it does not say: a run not started, or an older rout).
	Filters runlog.LayerCounts
	Classes int
	// Err says why the run's files could not be read (nil: they could); such a run is left
	// out of the report, as if unfinished, and listed as damaged.
	Err error
}

// Done reports whether the run has finished (written its summary).
func (r *Run) Done() bool { return r.Summary != nil }

// Sweep is a sweep folder as read from disk: the plan and every planned run, in plan order
// (arms in order, seeds in order within each arm).
type Sweep struct {
	Dir  string
	Plan runlog.Plan
	Runs []Run
}

// Load reads the sweep in dir: sweep.json and, for every planned run, runs/ARM/SEED/summary.json
// and metrics.jsonl where they exist. Missing files mean an unfinished run, not an error; a run
// whose files exist but cannot be read or parsed is damaged: its Err names the file, and the
// other runs are reported all the same (Report.Damaged lists them).
func Load(dir string) (*Sweep, error) {
	plan, err := runlog.ReadPlan(dir)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if err := plan.Check(); err != nil {
		return nil, fmt.Errorf("report: %s: %w", filepath.Join(dir, runlog.PlanFile), err)
	}

	sw := &Sweep{Dir: dir, Plan: plan}
	for _, a := range plan.Arms {
		for _, seed := range plan.Seeds {
			r, err := loadRun(dir, a.Name, seed)
			if err != nil {
				r = Run{Arm: r.Arm, Seed: r.Seed, Dir: r.Dir, Claimed: r.Claimed, Err: err}
			}
			sw.Runs = append(sw.Runs, r)
		}
	}
	return sw, nil
}

func loadRun(dir, arm string, seed uint64) (Run, error) {
	r := Run{Arm: arm, Seed: seed, Dir: runlog.Pair{Arm: arm, Seed: seed}.Dir(dir)}
	if _, err := os.Stat(filepath.Join(r.Dir, runlog.ClaimFile)); err == nil {
		r.Claimed = true
	}
	sumPath := filepath.Join(r.Dir, runlog.SummaryFile)
	s, err := runlog.ReadSummary(r.Dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return r, fmt.Errorf("report: %w", err)
	default:
		if s.Arm != arm || s.Seed != seed {
			return r, fmt.Errorf("report: %s: says arm %q seed %d, but its folder is arm %q seed %d", sumPath, s.Arm, s.Seed, arm, seed)
		}
		switch s.Status {
		case runlog.StatusOK, runlog.StatusFailed, runlog.StatusDiverged:
		default:
			return r, fmt.Errorf("report: %s: status %q, want %q, %q or %q", sumPath, s.Status,
				runlog.StatusOK, runlog.StatusFailed, runlog.StatusDiverged)
		}
		if s.Status == runlog.StatusOK && s.FinalTestAcc == nil {
			return r, fmt.Errorf("report: %s: status ok but no final_test_acc", sumPath)
		}
		for _, acc := range []*runlog.Number{s.FinalTestAcc, s.BestTestAcc} {
			if acc != nil && !(*acc >= 0 && *acc <= 1) {
				return r, fmt.Errorf("report: %s: accuracy %g, want a fraction in [0, 1]", sumPath, *acc)
			}
		}
		r.Summary = &s
	}
	if r.Filters, r.Classes, err = readRunConfig(r.Dir); err != nil {
		return r, err
	}
	if r.Metrics, err = runlog.ReadMetrics(filepath.Join(r.Dir, runlog.MetricsFile), r.Summary == nil); err != nil {
		return r, fmt.Errorf("report: %w", err)
	}
	return r, nil
}
