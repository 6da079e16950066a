package sweep

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"rout/internal/atomicfile"
	"rout/runlog"
	"rout/trainer"
)

// The plan's format lives in package runlog (the report reads it too); these names keep the
// sweep's API whole.
const PlanFile = runlog.PlanFile

type (
	Plan = runlog.Plan
	Arm  = runlog.Arm
	Pair = runlog.Pair
)

// WorkerKeys are the settings that say how a worker computes rather than what: each worker of a
// sweep may choose its own (one machine has a GPU, another not), so they are not part of the
// plan; every run's config.json records what it ran with.
var WorkerKeys = []string{"device", "threads", "gpu-deterministic", "tf32", "cudnn-graph", "cuda-graph", "cudnn-packed"}

// NewPlan checks and normalises a plan: the preset exists, arms and seeds are non-empty with
// no name or seed twice, flags and arm overrides are `rout train` settings (worker settings and
// seed, arm go elsewhere), and every arm gives a valid config (checked for its first seed: the seed changes
// nothing else). Created is left for Ensure to set.
func NewPlan(preset string, arms []Arm, seeds []uint64, flags map[string]string, varyDataSeed bool) (Plan, error) {
	if _, err := trainer.Preset(preset); err != nil {
		return Plan{}, err
	}
	if err := checkArms(arms); err != nil {
		return Plan{}, err
	}
	arms = slices.Clone(arms)
	for i := range arms {
		arms[i].Overrides = canonicalKeys(arms[i].Overrides)
	}
	if len(seeds) == 0 {
		return Plan{}, fmt.Errorf("seeds: none given")
	}
	seen := map[uint64]bool{}
	for _, s := range seeds {
		if seen[s] {
			return Plan{}, fmt.Errorf("seeds: seed %d listed twice", s)
		}
		seen[s] = true
	}
	norm, err := normalizeSettings(flags)
	if err != nil {
		return Plan{}, fmt.Errorf("flags: %w", err)
	}
	for _, k := range WorkerKeys {
		if _, ok := norm[k]; ok {
			return Plan{}, fmt.Errorf("flags: %s is a worker setting, not part of the plan (give it to Runner.Worker)", k)
		}
	}
	if _, ok := norm["data-seed"]; ok && varyDataSeed {
		return Plan{}, fmt.Errorf("flags: data-seed and vary-data-seed together: with vary-data-seed each run's data seed is its seed")
	}
	// The preset and flags alone, so that a bad flag is not blamed on an arm. A setting may be
	// valid only with each arm's overrides (--lr-min under arms that raise lr), so the flags
	// alone are only parsed here, and blamed below when they fail as an arm fails.
	flagsOnly := Plan{Preset: preset, Arms: []Arm{{Name: "flags"}}, Seeds: seeds, Flags: norm, VaryDataSeed: varyDataSeed}
	flagsCfg, err := RunConfig(&flagsOnly, "flags", seeds[0], nil)
	if err != nil {
		return Plan{}, fmt.Errorf("flags: %w", err)
	}
	p := Plan{Preset: preset, Arms: arms, Seeds: seeds, Flags: norm, VaryDataSeed: varyDataSeed}
	for _, a := range arms {
		for _, k := range WorkerKeys {
			if _, ok := a.Overrides[k]; ok {
				return Plan{}, fmt.Errorf("arm %q: overrides %s, a worker setting, not part of the plan (give it to the worker, as --%s)", a.Name, k, k)
			}
		}
		if _, ok := a.Overrides["data-seed"]; ok && varyDataSeed {
			return Plan{}, fmt.Errorf("arm %q: overrides data-seed, but vary-data-seed makes each run's data seed its seed", a.Name)
		}
		cfg, err := RunConfig(&p, a.Name, seeds[0], nil)
		if err != nil {
			return Plan{}, err
		}
		if err := cfg.Validate(); err != nil {
			if ferr := flagsCfg.Validate(); ferr != nil && ferr.Error() == err.Error() {
				return Plan{}, fmt.Errorf("flags: %w", err)
			}
			return Plan{}, fmt.Errorf("arm %q: %w", a.Name, err)
		}
	}
	return p, nil
}

// RunConfig is the config of one run of plan p: the preset, the plan's flags, the worker's
// settings, the arm's overrides, then the seed, the arm's name and (with VaryDataSeed) the data
// seed.
func RunConfig(p *Plan, arm string, seed uint64, worker map[string]string) (trainer.Config, error) {
	i := slices.IndexFunc(p.Arms, func(a Arm) bool { return a.Name == arm })
	if i < 0 {
		return trainer.Config{}, fmt.Errorf("sweep: no arm %q in the plan", arm)
	}
	cfg, err := trainer.Preset(p.Preset)
	if err != nil {
		return trainer.Config{}, err
	}
	for _, layer := range []struct {
		what string
		kv   map[string]string
	}{{"flag", p.Flags}, {"worker setting", worker}, {"arm " + strconv.Quote(arm), p.Arms[i].Overrides}} {
		for _, k := range slices.Sorted(maps.Keys(layer.kv)) {
			if err := cfg.Set(k, layer.kv[k]); err != nil {
				return trainer.Config{}, fmt.Errorf("%s %s: %w", layer.what, k, err)
			}
		}
	}
	cfg.Seed = seed
	cfg.Arm = arm
	if p.VaryDataSeed {
		cfg.DataSeed = seed
	}
	return cfg, nil
}

// Ensure makes dir the folder of plan p: it writes dir/sweep.json when there is none (with the
// creation time), or checks that the one there records the same plan, and returns the plan as
// recorded. Workers starting together against one folder race safely: the file is written to a
// temporary name and hard-linked into place, which fails when another worker got there first
// (then its plan is read and compared), so sweep.json is always whole; it is replaced only to
// add seeds.
//
// One change is allowed: more seeds. When p is the recorded plan with seeds added (the recorded
// ones all kept, in any order), sweep.json is replaced (atomically) by the plan with the
// recorded seeds first and the new ones after, so that a sweep grows when its result needs more
// seeds. Pairs are numbered seed by seed, so the pairs already planned keep their numbers (and
// shards) and the new ones spread over the shards. Grow a sweep with its other workers stopped:
// a worker still on the old plan does not see the new seeds, and two growing it at once keep
// only the last one's seeds on record.
//
// A plan none of whose runs has trained (no run folder holds a checkpoint, a summary or a claim)
// is replaced by p, with a note saying what changed: a sweep whose every run failed to start, say
// on a misspelt --data, must not need a new folder once the setting is fixed.
func Ensure(dir string, p Plan) (Plan, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Plan{}, "", fmt.Errorf("sweep: output folder: %w", err)
	}
	path := filepath.Join(dir, PlanFile)
	if old, err := ReadPlan(dir); err == nil {
		return growOrReplace(dir, old, p)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Plan{}, "", err
	}
	p.Created = time.Now().UTC().Format(time.RFC3339)
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return Plan{}, "", fmt.Errorf("sweep: %s: %w", path, err)
	}
	if err := atomicfile.Create(path, append(b, '\n')); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return Plan{}, "", fmt.Errorf("sweep: writing %s: %w", path, err)
		}
		old, err := ReadPlan(dir)
		if err != nil {
			return Plan{}, "", err
		}
		return growOrReplace(dir, old, p)
	}
	return p, "", nil
}

// growOrReplace is grow, except that a recorded plan none of whose runs has trained is replaced
// by p rather than refused.
func growOrReplace(dir string, old, p Plan) (Plan, string, error) {
	path := filepath.Join(dir, PlanFile)
	got, err := grow(path, old, p)
	if err == nil || trained(dir, old) {
		return got, "", err
	}
	p.Created = time.Now().UTC().Format(time.RFC3339)
	b, merr := json.MarshalIndent(p, "", "  ")
	if merr != nil {
		return Plan{}, "", fmt.Errorf("sweep: %s: %w", path, merr)
	}
	if werr := atomicfile.Write(path, append(b, '\n')); werr != nil {
		return Plan{}, "", fmt.Errorf("sweep: replacing %s: %w", path, werr)
	}
	return p, fmt.Sprintf("%s recorded another plan (%s), none of whose runs had trained: replaced by this one", path, strings.Join(old.Diff(&p), "; ")), nil
}

// trained reports whether a run of plan p in dir has trained or is training: its folder holds a
// checkpoint, a summary or a claim.
func trained(dir string, p Plan) bool {
	for _, pr := range p.Pairs() {
		for _, f := range []string{trainer.CheckpointFile, trainer.SummaryFile, ClaimFile} {
			if _, err := os.Stat(filepath.Join(pr.Dir(dir), f)); !errors.Is(err, fs.ErrNotExist) {
				return true
			}
		}
	}
	return false
}

// grow checks plan p against the recorded plan old, its seeds as a set (the recorded order
// stays): the same plan gives old; old with seeds added is recorded (in path) and returned;
// anything else, a recorded seed left out included, is an error naming the differences.
func grow(path string, old, p Plan) (Plan, error) {
	if slices.ContainsFunc(old.Seeds, func(s uint64) bool { return !slices.Contains(p.Seeds, s) }) {
		return old, samePlan(path, &old, &p)
	}
	withOldSeeds := p
	withOldSeeds.Seeds = old.Seeds
	if err := samePlan(path, &old, &withOldSeeds); err != nil {
		return old, err
	}
	added := slices.DeleteFunc(slices.Clone(p.Seeds), func(s uint64) bool { return slices.Contains(old.Seeds, s) })
	if len(added) == 0 {
		return old, nil
	}
	grown := old
	grown.Seeds = append(slices.Clone(old.Seeds), added...)
	b, err := json.MarshalIndent(grown, "", "  ")
	if err != nil {
		return old, fmt.Errorf("sweep: %s: %w", path, err)
	}
	if err := atomicfile.Write(path, append(b, '\n')); err != nil {
		return old, fmt.Errorf("sweep: adding seeds %s to %s: %w", runlog.FormatSeeds(added), path, err)
	}
	return grown, nil
}

func samePlan(path string, old, now *Plan) error {
	if d := old.Diff(now); len(d) > 0 {
		return fmt.Errorf("sweep: %s records another plan: %s. A sweep folder holds one plan: rerun with the same settings to resume it (more seeds may be added), or choose another --out",
			path, strings.Join(d, "; "))
	}
	return nil
}

// ReadPlan reads dir/sweep.json; a missing file gives an error satisfying errors.Is(err,
// fs.ErrNotExist).
func ReadPlan(dir string) (Plan, error) {
	p, err := runlog.ReadPlan(dir)
	if err != nil {
		return Plan{}, fmt.Errorf("sweep: %w", err)
	}
	// A plan recorded before a setting was renamed names it as it was; the commands that
	// resume it give its name now.
	p.Flags = canonicalKeys(p.Flags)
	for i := range p.Arms {
		p.Arms[i].Overrides = canonicalKeys(p.Arms[i].Overrides)
	}
	return p, nil
}

// canonicalKeys is kv with every renamed setting under its name now.
func canonicalKeys(kv map[string]string) map[string]string {
	if kv == nil {
		return nil
	}
	out := make(map[string]string, len(kv))
	for k, v := range kv {
		out[trainer.CanonicalKey(k)] = v
	}
	return out
}
