package runlog

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"rout/internal/boundedio"
)

// The files of a sweep folder: its plan, and a run folder per pair under runs/ (Pair.Dir),
// which holds a claim file while a worker trains that run.
const (
	PlanFile  = "sweep.json"
	ClaimFile = "claim"
)

// Plan is a sweep folder's sweep.json, the whole of a sweep: the preset, the arms (the first is
// the reference the others are compared with), the seeds every arm runs, the settings given as
// flags to every run, and whether each seed has its own data order. A run's config is the
// preset, then Flags, then its arm's overrides, then its seed (and, with VaryDataSeed, its data
// seed). Package sweep writes it; the report reads it.
type Plan struct {
	Preset       string            `json:"preset"`
	Arms         []Arm             `json:"arms"`
	Seeds        []uint64          `json:"seeds"`
	Flags        map[string]string `json:"flags"`
	VaryDataSeed bool              `json:"vary_data_seed"`
	Created      string            `json:"created"`
}

// Arm is one arm of a sweep: a name (its folder under runs/) and the `rout train` settings it
// overrides, in the text form trainer.Config.Set reads. Overrides beat the sweep's flags, which
// beat the preset.
type Arm struct {
	Name      string            `json:"name"`
	Overrides map[string]string `json:"overrides"`
}

// String is the arm as on the command line: name:key=value,... in key order.
func (a Arm) String() string {
	if len(a.Overrides) == 0 {
		return a.Name
	}
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(a.Overrides)) {
		kv = append(kv, k+"="+a.Overrides[k])
	}
	return a.Name + ":" + strings.Join(kv, ",")
}

// Pair is one run of a plan: an arm and a seed. Its index is its place in plan order (seeds in
// order, every arm of a seed in order), the order sharding uses.
type Pair struct {
	Index int
	Arm   string
	Seed  uint64
}

// Dir is the pair's run folder inside the sweep folder dir.
func (p Pair) Dir(dir string) string {
	return filepath.Join(dir, "runs", p.Arm, strconv.FormatUint(p.Seed, 10))
}

func (p Pair) String() string { return fmt.Sprintf("%s/%d", p.Arm, p.Seed) }

// Pairs lists the plan's runs in plan order: seed by seed, every arm of a seed together (a
// paired comparison needs both arms of a seed, and a grown sweep keeps its pairs' numbers).
func (p *Plan) Pairs() []Pair {
	var ps []Pair
	for _, s := range p.Seeds {
		for _, a := range p.Arms {
			ps = append(ps, Pair{Index: len(ps), Arm: a.Name, Seed: s})
		}
	}
	return ps
}

// Diff says how plan q differs from p (Created aside), one phrase per difference; none means
// the same plan.
func (p *Plan) Diff(q *Plan) []string {
	var d []string
	if p.Preset != q.Preset {
		d = append(d, fmt.Sprintf("preset %s, now %s", p.Preset, q.Preset))
	}
	if !slices.Equal(p.Seeds, q.Seeds) {
		d = append(d, fmt.Sprintf("seeds %s, now %s", FormatSeeds(p.Seeds), FormatSeeds(q.Seeds)))
	}
	names := func(as []Arm) []string {
		var n []string
		for _, a := range as {
			n = append(n, a.Name)
		}
		return n
	}
	if !slices.Equal(names(p.Arms), names(q.Arms)) {
		d = append(d, fmt.Sprintf("arms %s, now %s", strings.Join(names(p.Arms), ","), strings.Join(names(q.Arms), ",")))
	} else {
		for i := range p.Arms {
			if !maps.Equal(p.Arms[i].Overrides, q.Arms[i].Overrides) {
				d = append(d, fmt.Sprintf("arm %s, now %s", p.Arms[i], q.Arms[i]))
			}
		}
	}
	keys := maps.Clone(p.Flags)
	if keys == nil {
		keys = map[string]string{}
	}
	maps.Copy(keys, q.Flags)
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		a, inP := p.Flags[k]
		b, inQ := q.Flags[k]
		switch {
		case !inQ:
			d = append(d, fmt.Sprintf("--%s %s, now not given", k, a))
		case !inP:
			d = append(d, fmt.Sprintf("--%s not given, now %s", k, b))
		case a != b:
			d = append(d, fmt.Sprintf("--%s %s, now %s", k, a, b))
		}
	}
	if p.VaryDataSeed != q.VaryDataSeed {
		d = append(d, fmt.Sprintf("vary-data-seed %v, now %v", p.VaryDataSeed, q.VaryDataSeed))
	}
	return d
}

// ReadPlan reads dir/sweep.json, refusing fields it does not know (a plan read in part would
// compare as another plan); a missing file gives an error satisfying errors.Is(err,
// fs.ErrNotExist). It checks the syntax only: Check says whether the plan can be run or
// reported.
func ReadPlan(dir string) (Plan, error) {
	path := filepath.Join(dir, PlanFile)
	b, err := boundedio.ReadFile(path, MaxJSONFile)
	if err != nil {
		return Plan{}, fmt.Errorf("reading the sweep plan: %w", err)
	}
	var p Plan
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Plan{}, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Check refuses a plan without arms or seeds, an arm name that is not a folder name, and an arm
// or seed listed twice.
func (p *Plan) Check() error {
	if len(p.Arms) == 0 || len(p.Seeds) == 0 {
		return fmt.Errorf("want at least one arm and one seed, have %d arms and %d seeds", len(p.Arms), len(p.Seeds))
	}
	seenArm := map[string]bool{}
	for i, a := range p.Arms {
		if a.Name == "" || a.Name != filepath.Base(a.Name) || a.Name == "." || a.Name == ".." {
			return fmt.Errorf("arm %d: name %q is not a folder name", i+1, a.Name)
		}
		if seenArm[a.Name] {
			return fmt.Errorf("arm %q listed twice", a.Name)
		}
		seenArm[a.Name] = true
	}
	seenSeed := map[uint64]bool{}
	for _, s := range p.Seeds {
		if seenSeed[s] {
			return fmt.Errorf("seed %d listed twice", s)
		}
		seenSeed[s] = true
	}
	return nil
}

// FormatSeeds writes seeds compactly, runs of consecutive seeds as ranges: 1-8,20,31-32 (the
// inverse of sweep.ParseSeeds).
func FormatSeeds(seeds []uint64) string {
	var parts []string
	for i := 0; i < len(seeds); {
		j := i
		for j+1 < len(seeds) && seeds[j+1] == seeds[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", seeds[i], seeds[j]))
		} else {
			parts = append(parts, strconv.FormatUint(seeds[i], 10))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
