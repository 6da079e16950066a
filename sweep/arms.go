package sweep

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"rout/trainer"
)

// The built-in arms: the preset with RandomOut off, and with it on. Either can take more
// overrides ("randomout:tau=1e-6").
var builtinArms = map[string]map[string]string{
	"baseline":  {"randomout": "false"},
	"randomout": {"randomout": "true"},
}

// sweepKeys are settings a sweep sets for each run itself, so neither an arm nor a flag may.
var sweepKeys = map[string]string{
	"seed": "the sweep sets each run's seed from its seed list",
	"arm":  "the sweep sets each run's arm from its arm list",
}

var armName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)

// NewArm makes an arm from a name and overrides (key to text value), checking the name and
// each override against trainer.Config (an unknown key is an error listing the valid ones) and
// writing values in the canonical form Config.Get gives, so "1e-6" and "0.000001" are one
// plan. A built-in name (baseline, randomout) brings its own override first; any other name
// needs at least one override, so that a misspelt built-in name is not silently the preset.
func NewArm(name string, overrides map[string]string) (Arm, error) {
	if !armName.MatchString(name) {
		return Arm{}, fmt.Errorf("arm %q: a name is letters, digits, '.', '_', '+' and '-' (it names the arm's folder)", name)
	}
	builtin, isBuiltin := builtinArms[name]
	if !isBuiltin && len(overrides) == 0 {
		return Arm{}, fmt.Errorf("arm %q: not a built-in arm (%s) and no overrides; write %s:key=value,... (keys are `rout train` flag names)",
			name, strings.Join(slices.Sorted(maps.Keys(builtinArms)), ", "), name)
	}
	all := maps.Clone(builtin)
	if all == nil {
		all = map[string]string{}
	}
	maps.Copy(all, overrides)
	norm, err := normalizeSettings(all)
	if err != nil {
		return Arm{}, fmt.Errorf("arm %q: %w", name, err)
	}
	return Arm{Name: name, Overrides: norm}, nil
}

// normalizeSettings checks settings against trainer.Config and returns them in canonical text.
func normalizeSettings(kv map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(kv))
	var c trainer.Config
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		if why, ok := sweepKeys[k]; ok {
			return nil, fmt.Errorf("setting %s cannot be given: %s", k, why)
		}
		if err := c.Set(k, kv[k]); err != nil {
			return nil, err
		}
		v, err := c.Get(k)
		if err != nil {
			return nil, err
		}
		out[trainer.CanonicalKey(k)] = v
	}
	return out, nil
}

// ParseArms reads the --arms list: comma-separated arms, each a name (baseline, randomout) or
// NAME:key=value,key=value,... . An item with '=' and no ':' before it continues the previous
// arm's overrides, so "ro-bias:randomout=true,tau=1e-6,baseline" is two arms. A value cannot
// hold a comma (write such arms in a sweep file).
func ParseArms(s string) ([]Arm, error) {
	type raw struct {
		name string
		kv   map[string]string
	}
	var raws []raw
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("arms %q: empty item between commas", s)
		}
		key, _, hasEq := strings.Cut(item, "=")
		if hasEq && !strings.Contains(key, ":") {
			if len(raws) == 0 {
				return nil, fmt.Errorf("arms %q: override %q comes before any arm name (write NAME:%s)", s, item, item)
			}
			if err := addOverride(raws[len(raws)-1].kv, raws[len(raws)-1].name, item); err != nil {
				return nil, err
			}
			continue
		}
		name, first, hasColon := strings.Cut(item, ":")
		r := raw{name: strings.TrimSpace(name), kv: map[string]string{}}
		if hasColon && strings.TrimSpace(first) != "" {
			if err := addOverride(r.kv, r.name, first); err != nil {
				return nil, err
			}
		}
		raws = append(raws, r)
	}
	var arms []Arm
	for _, r := range raws {
		a, err := NewArm(r.name, r.kv)
		if err != nil {
			return nil, err
		}
		arms = append(arms, a)
	}
	return arms, checkArms(arms)
}

// addOverride adds one key=value to an arm's overrides, refusing a key given twice.
func addOverride(kv map[string]string, arm, item string) error {
	k, v, ok := strings.Cut(item, "=")
	k, v = strings.TrimSpace(k), strings.TrimSpace(v)
	if !ok || k == "" {
		return fmt.Errorf("arm %q: override %q: want key=value", arm, item)
	}
	if _, dup := kv[k]; dup {
		return fmt.Errorf("arm %q: setting %s given twice", arm, k)
	}
	kv[k] = v
	return nil
}

// checkArms refuses an empty list and a name used twice.
func checkArms(arms []Arm) error {
	if len(arms) == 0 {
		return fmt.Errorf("arms: none given")
	}
	seen := map[string]bool{}
	for _, a := range arms {
		if seen[a.Name] {
			return fmt.Errorf("arms: %q listed twice (every arm needs its own name: it names its folder)", a.Name)
		}
		seen[a.Name] = true
	}
	return nil
}
