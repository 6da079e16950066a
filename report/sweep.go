package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"rout/runlog"
	"strconv"
)

// Plan is DIR/sweep.json, the whole plan of a sweep as `rout sweep` records it.
type Plan struct {
	Preset  string         `json:"preset"`
	Arms    []Arm          `json:"arms"`
	Seeds   []uint64       `json:"seeds"`
	Flags   map[string]any `json:"flags"`
	Created string         `json:"created"`
}

// Arm is one arm of a sweep: a name and the `rout train` flags it overrides. The first arm of a
// plan is the reference every other arm is compared with.
type Arm struct {
	Name      string         `json:"name"`
	Overrides map[string]any `json:"overrides"`
}

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
}

// Done reports whether the run has finished (written its summary).
func (r *Run) Done() bool { return r.Summary != nil }

// Sweep is a sweep folder as read from disk: the plan and every planned run, in plan order
// (arms in order, seeds in order within each arm).
type Sweep struct {
	Dir  string
	Plan Plan
	Runs []Run
}

// Load reads the sweep in dir: sweep.json and, for every planned run, runs/ARM/SEED/summary.json
// and metrics.jsonl where they exist. Missing files mean an unfinished run, not an error; a file
// that exists but cannot be read or parsed is an error naming it.
func Load(dir string) (*Sweep, error) {
	planPath := filepath.Join(dir, "sweep.json")
	b, err := os.ReadFile(planPath)
	if err != nil {
		return nil, fmt.Errorf("report: reading the sweep plan: %w", err)
	}
	var plan Plan
	if err := json.Unmarshal(b, &plan); err != nil {
		return nil, fmt.Errorf("report: %s: %w", planPath, err)
	}
	if len(plan.Arms) == 0 || len(plan.Seeds) == 0 {
		return nil, fmt.Errorf("report: %s: want at least one arm and one seed, have %d arms and %d seeds", planPath, len(plan.Arms), len(plan.Seeds))
	}
	seenArm := map[string]bool{}
	for i, a := range plan.Arms {
		if a.Name == "" || a.Name != filepath.Base(a.Name) || a.Name == "." || a.Name == ".." {
			return nil, fmt.Errorf("report: %s: arm %d: name %q is not a folder name", planPath, i+1, a.Name)
		}
		if seenArm[a.Name] {
			return nil, fmt.Errorf("report: %s: arm %q listed twice", planPath, a.Name)
		}
		seenArm[a.Name] = true
	}
	seenSeed := map[uint64]bool{}
	for _, s := range plan.Seeds {
		if seenSeed[s] {
			return nil, fmt.Errorf("report: %s: seed %d listed twice", planPath, s)
		}
		seenSeed[s] = true
	}

	sw := &Sweep{Dir: dir, Plan: plan}
	for _, a := range plan.Arms {
		for _, seed := range plan.Seeds {
			r, err := loadRun(dir, a.Name, seed)
			if err != nil {
				return nil, err
			}
			sw.Runs = append(sw.Runs, r)
		}
	}
	return sw, nil
}

func loadRun(dir, arm string, seed uint64) (Run, error) {
	r := Run{Arm: arm, Seed: seed, Dir: filepath.Join(dir, "runs", arm, strconv.FormatUint(seed, 10))}
	if _, err := os.Stat(filepath.Join(r.Dir, "claim")); err == nil {
		r.Claimed = true
	}
	sumPath := filepath.Join(r.Dir, runlog.SummaryFile)
	b, err := os.ReadFile(sumPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return r, fmt.Errorf("report: %w", err)
	default:
		var s runlog.Summary
		if err := json.Unmarshal(b, &s); err != nil {
			return r, fmt.Errorf("report: %s: %w", sumPath, err)
		}
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
	r.Metrics, err = readMetrics(filepath.Join(r.Dir, runlog.MetricsFile), r.Summary == nil)
	return r, err
}

// readMetrics reads a metrics.jsonl file; a missing file gives no metrics. While a run is still
// going (live), its last line may be half written: a final line without its newline that does not
// parse is ignored. Any other bad line is an error naming the file and line.
func readMetrics(path string, live bool) ([]runlog.Record, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer f.Close()
	var ms []runlog.Record
	rd := bufio.NewReader(f)
	for line := 1; ; line++ {
		text, err := rd.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("report: %s: line %d: %w", path, line, err)
		}
		complete := err == nil
		if len(bytes.TrimSpace(text)) > 0 {
			var m runlog.Record
			if jerr := json.Unmarshal(text, &m); jerr != nil {
				if live && !complete {
					break
				}
				return nil, fmt.Errorf("report: %s: line %d: %w", path, line, jerr)
			}
			ms = append(ms, m)
		}
		if !complete {
			break
		}
	}
	return ms, nil
}
