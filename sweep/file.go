package sweep

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"rout/internal/boundedio"
	"rout/internal/tomldepth"
	"rout/runlog"
)

// File is a sweep file: what the command line of `rout sweep` says, in TOML. Fields the file
// leaves out are zero (nil Seeds and Arms: not given).
//
//	preset = "paper"
//	seeds = "1-32"                  # or a list: [1, 2, 3]
//	vary-data-seed = false
//	arms = ["baseline", "randomout"] # as on the command line, or tables:
//
//	[[arms]]
//	name = "ro-bias"
//	overrides = { randomout = true, tau = 1e-6, randomout-scope = "weights+bias" }
//
//	[flags]                         # `rout train` flags given to every run
//	epochs = 6
//	device = "gpu"
//
// (One file uses either the arms = [...] list or [[arms]] tables; a list may also hold inline
// tables.)
type File struct {
	Preset       string
	Seeds        []uint64
	Arms         []Arm
	Flags        map[string]string
	VaryDataSeed bool
}

// maxFileNesting bounds the nesting of a sweep file's arrays and tables (arms hold tables of
// overrides: three or four levels).
const maxFileNesting = 16

// ReadFile reads and checks a sweep file.
func ReadFile(path string) (File, error) {
	b, err := boundedio.ReadFile(path, runlog.MaxJSONFile)
	if err != nil {
		return File{}, fmt.Errorf("sweep file: %w", err)
	}
	f, err := ParseFile(string(b))
	if err != nil {
		return File{}, fmt.Errorf("sweep file %s: %w", path, err)
	}
	return f, nil
}

// ParseFile reads a sweep file's text.
func ParseFile(text string) (File, error) {
	if err := tomldepth.Check([]byte(text), maxFileNesting); err != nil {
		return File{}, err
	}
	var m map[string]any
	if _, err := toml.Decode(text, &m); err != nil {
		return File{}, err
	}
	var f File
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		var err error
		switch k {
		case "preset":
			s, ok := v.(string)
			if !ok {
				return File{}, fmt.Errorf("preset: want a string, have %v", v)
			}
			f.Preset = s
		case "seeds":
			f.Seeds, err = fileSeeds(v)
		case "vary-data-seed":
			b, ok := v.(bool)
			if !ok {
				return File{}, fmt.Errorf("vary-data-seed: want true or false, have %v", v)
			}
			f.VaryDataSeed = b
		case "arms":
			f.Arms, err = fileArms(v)
		case "flags":
			t, ok := v.(map[string]any)
			if !ok {
				return File{}, fmt.Errorf("flags: want a table of `rout train` flag names to values")
			}
			var kv map[string]string
			if kv, err = textValues(t); err == nil {
				f.Flags, err = normalizeSettings(kv)
			}
			if err != nil {
				err = fmt.Errorf("flags: %w", err)
			}
		default:
			return File{}, fmt.Errorf("unknown key %q (want preset, seeds, arms, flags, vary-data-seed)", k)
		}
		if err != nil {
			return File{}, err
		}
	}
	return f, nil
}

// fileSeeds reads seeds as a list string ("1-8,20") or an array of integers.
func fileSeeds(v any) ([]uint64, error) {
	switch s := v.(type) {
	case string:
		return ParseSeeds(s)
	case []any:
		var parts []string
		for _, x := range s {
			n, ok := x.(int64)
			if !ok || n < 0 {
				return nil, fmt.Errorf("seeds: %v is not a non-negative integer", x)
			}
			parts = append(parts, strconv.FormatInt(n, 10))
		}
		return ParseSeeds(strings.Join(parts, ","))
	}
	return nil, fmt.Errorf("seeds: want a string such as \"1-8,20\" or a list of integers, have %v", v)
}

// fileArms reads arms: strings as on the command line, or tables {name, overrides}.
func fileArms(v any) ([]Arm, error) {
	var items []any
	switch s := v.(type) {
	case []any:
		items = s
	case []map[string]any:
		for _, t := range s {
			items = append(items, t)
		}
	default:
		return nil, fmt.Errorf("arms: want a list of arms")
	}
	var arms []Arm
	for i, it := range items {
		switch a := it.(type) {
		case string:
			as, err := ParseArms(a)
			if err != nil {
				return nil, err
			}
			arms = append(arms, as...)
		case map[string]any:
			name, ok := a["name"].(string)
			if !ok {
				return nil, fmt.Errorf("arms: arm %d has no name (want name = \"...\")", i+1)
			}
			var kv map[string]string
			for k, x := range a {
				switch k {
				case "name":
				case "overrides":
					t, ok := x.(map[string]any)
					if !ok {
						return nil, fmt.Errorf("arm %q: overrides: want a table of `rout train` flag names to values", name)
					}
					var err error
					if kv, err = textValues(t); err != nil {
						return nil, fmt.Errorf("arm %q: %w", name, err)
					}
				default:
					return nil, fmt.Errorf("arm %q: unknown key %q (want name, overrides)", name, k)
				}
			}
			arm, err := NewArm(name, kv)
			if err != nil {
				return nil, err
			}
			arms = append(arms, arm)
		default:
			return nil, fmt.Errorf("arms: item %d: want a string or a table, have %v", i+1, it)
		}
	}
	return arms, checkArms(arms)
}

// textValues turns TOML scalars into the text form trainer.Config.Set reads.
func textValues(t map[string]any) (map[string]string, error) {
	kv := map[string]string{}
	for k, v := range t {
		switch x := v.(type) {
		case string:
			kv[k] = x
		case bool:
			kv[k] = strconv.FormatBool(x)
		case int64:
			kv[k] = strconv.FormatInt(x, 10)
		case float64:
			kv[k] = strconv.FormatFloat(x, 'g', -1, 64)
		default:
			return nil, fmt.Errorf("setting %s: want a string, number or boolean, have %v", k, v)
		}
	}
	return kv, nil
}
