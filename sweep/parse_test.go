package sweep

import (
	"maps"
	"rout/runlog"
	"slices"
	"strings"
	"testing"
)

func TestParseSeeds(t *testing.T) {
	got, err := ParseSeeds("1-8,20, 31-32")
	if err != nil {
		t.Fatal(err)
	}
	want := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 20, 31, 32}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if s := runlog.FormatSeeds(got); s != "1-8,20,31-32" {
		t.Errorf("FormatSeeds = %q", s)
	}
	if got, _ := ParseSeeds("5,3,4"); !slices.Equal(got, []uint64{5, 3, 4}) || runlog.FormatSeeds(got) != "5,3-4" {
		t.Errorf("order kept: %v %q", got, runlog.FormatSeeds(got))
	}
	if got, _ := ParseSeeds("18446744073709551614-18446744073709551615"); len(got) != 2 {
		t.Errorf("range at the top of uint64: %v", got)
	}
	for in, msg := range map[string]string{
		"":          "empty list",
		"1,,2":      "empty item",
		"a":         `"a" is not a non-negative integer`,
		"-1":        `"-1": seeds are non-negative integers (a range is LO-HI)`,
		"3-":        `"" is not`,
		"5-3":       "goes backwards",
		"1-3,2":     "seed 2 listed twice",
		"1-1000000": "more than 100000 seeds",
		"1.5":       "not a non-negative integer",
	} {
		_, err := ParseSeeds(in)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseSeeds(%q) = %v, want an error with %q", in, err, msg)
		}
	}
}

func TestParseArms(t *testing.T) {
	_, err := ParseArms("baseline, randomout , ro-bias:randomout=true,tau=0.000001,randomout-scope=weights+bias,wide:init=uniform:0.05,randomout:tau=1e-20")
	if err == nil || !strings.Contains(err.Error(), `"randomout" listed twice`) {
		t.Fatalf("want a duplicate-name error, got %v", err)
	}
	arms, err := ParseArms("baseline, randomout , ro-bias:randomout=true,tau=0.000001,randomout-scope=weights+bias,wide:init=uniform:0.05,lr=2e-3")
	if err != nil {
		t.Fatal(err)
	}
	want := []Arm{
		{Name: "baseline", Overrides: map[string]string{"randomout": "false"}},
		{Name: "randomout", Overrides: map[string]string{"randomout": "true"}},
		{Name: "ro-bias", Overrides: map[string]string{"randomout": "true", "tau": "1e-06", "randomout-scope": "weights+bias"}},
		{Name: "wide", Overrides: map[string]string{"init": "uniform:0.05", "lr": "0.002"}},
	}
	if len(arms) != len(want) {
		t.Fatalf("got %d arms: %v", len(arms), arms)
	}
	for i := range want {
		if arms[i].Name != want[i].Name || !maps.Equal(arms[i].Overrides, want[i].Overrides) {
			t.Errorf("arm %d = %v, want %v", i, arms[i], want[i])
		}
	}
	if s := arms[2].String(); s != "ro-bias:randomout=true,randomout-scope=weights+bias,tau=1e-06" {
		t.Errorf("String = %q", s)
	}
	// A built-in arm takes more overrides, which beat its own.
	arms, err = ParseArms("randomout:tau=1e-20,baseline:randomout=true")
	if err != nil || arms[0].Overrides["tau"] != "1e-20" || arms[0].Overrides["randomout"] != "true" || arms[1].Overrides["randomout"] != "true" {
		t.Errorf("built-ins with overrides: %v %v", arms, err)
	}

	for in, msg := range map[string]string{
		"":                       "empty item",
		"baseline,,randomout":    "empty item",
		"tau=1,baseline":         "comes before any arm name",
		"ro:bogus=1":             `unknown setting "bogus" (valid: arm, model,`,
		"ro:tau=abc":             `setting tau: "abc" is not a number`,
		"ro:randomout-scope=all": "is not one of weights, weights+bias, weights+bias+optimizer",
		"ro:tau=1,tau=2":         "setting tau given twice",
		"radnomout":              `arm "radnomout": not a built-in arm (baseline, randomout) and no overrides`,
		"a/b:tau=1":              "names the arm's folder",
		"..:tau=1":               "names the arm's folder",
		"ro:seed=3":              "setting seed cannot be given",
		"ro:arm=x":               "setting arm cannot be given",
		"ro:tau":                 "want key=value",
		"ro:=3":                  "want key=value",
	} {
		_, err := ParseArms(in)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseArms(%q) = %v, want an error with %q", in, err, msg)
		}
	}
}

func TestParseFile(t *testing.T) {
	f, err := ParseFile(`
preset = "paper"
seeds = "1-4,9"
vary-data-seed = true

[flags]
epochs = 6
lr = 2e-3
device = "gpu"
flip = true

[[arms]]
name = "baseline"

[[arms]]
name = "ro-bias"
overrides = { randomout = true, tau = 1e-6, randomout-scope = "weights+bias", randomout-layers = "conv1,conv2" }
`)
	if err != nil {
		t.Fatal(err)
	}
	if f.Preset != "paper" || !f.VaryDataSeed || !slices.Equal(f.Seeds, []uint64{1, 2, 3, 4, 9}) {
		t.Errorf("file %+v", f)
	}
	if !maps.Equal(f.Flags, map[string]string{"epochs": "6", "lr": "0.002", "device": "gpu", "flip": "true"}) {
		t.Errorf("flags %v", f.Flags)
	}
	if len(f.Arms) != 2 || f.Arms[0].Overrides["randomout"] != "false" || f.Arms[1].Name != "ro-bias" ||
		!maps.Equal(f.Arms[1].Overrides, map[string]string{"randomout": "true", "tau": "1e-06",
			"randomout-scope": "weights+bias", "randomout-layers": "conv1,conv2"}) {
		t.Errorf("arms %v", f.Arms)
	}

	// The short forms: a list of seeds, arms as on the command line mixed with an inline table.
	f, err = ParseFile(`seeds = [3, 1, 2]
arms = ["baseline,randomout", { name = "slow", overrides = { lr = 1e-4 } }]`)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Seeds, []uint64{3, 1, 2}) || len(f.Arms) != 3 || f.Arms[2].Overrides["lr"] != "0.0001" || f.Preset != "" || f.Flags != nil {
		t.Errorf("short forms: %+v", f)
	}

	for in, msg := range map[string]string{
		`seed = "1-3"`:                      `unknown key "seed"`,
		`seeds = 3`:                         "want a string",
		`seeds = [1, -2]`:                   "-2 is not a non-negative integer",
		`seeds = "1-2,2"`:                   "seed 2 listed twice",
		`preset = 3`:                        "preset: want a string",
		`vary-data-seed = "yes"`:            "want true or false",
		"[flags]\nbogus = 1":                `unknown setting "bogus"`,
		"[flags]\nseed = 1":                 "setting seed cannot be given",
		"[flags]\nepochs = [1]":             "want a string, number or boolean",
		"[flags]\nepochs = 1.5":             `"1.5" is not an integer`,
		"[[arms]]\nname = \"x\"\nover = {}": `unknown key "over"`,
		"[[arms]]\noverrides = {tau = 1}":   "has no name",
		"[[arms]]\nname = \"x\"\noverrides = {tau = \"a\"}":            `"a" is not a number`,
		"[[arms]]\nname = \"baseline\"\n[[arms]]\nname = \"baseline\"": "listed twice",
		`arms = [3]`:        "want a string or a table",
		`arms = "baseline"`: "want a list of arms",
		`seeds = "1`:        "", // TOML syntax error
	} {
		_, err := ParseFile(in)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseFile(%q) = %v, want an error with %q", in, err, msg)
		}
	}
}

func TestShards(t *testing.T) {
	s, err := ParseShard("2/5")
	if err != nil || s != (Shard{2, 5}) || s.String() != "2/5" || !s.Has(7) || s.Has(8) {
		t.Errorf("ParseShard(2/5) = %v, %v", s, err)
	}
	for _, in := range []string{"5/5", "-1/3", "1/0", "1", "a/b", "1/2/3"} {
		if _, err := ParseShard(in); err == nil {
			t.Errorf("ParseShard(%q): no error", in)
		}
	}
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	cases := []struct {
		env   func(string) string
		count int
		want  Shard
		found bool
		err   string
	}{
		{env(), 0, All, false, ""},
		{env("SLURM_ARRAY_TASK_ID", "5", "SLURM_ARRAY_TASK_MIN", "3", "SLURM_ARRAY_TASK_COUNT", "4"), 0, Shard{2, 4}, true, ""},
		{env("SLURM_ARRAY_TASK_ID", "5", "SLURM_ARRAY_TASK_MIN", "3", "SLURM_ARRAY_TASK_COUNT", "4"), 4, Shard{2, 4}, true, ""},
		{env("SLURM_ARRAY_TASK_ID", "5", "SLURM_ARRAY_TASK_MIN", "3", "SLURM_ARRAY_TASK_COUNT", "4"), 3, Shard{}, true, "SLURM_ARRAY_TASK_COUNT=4"},
		{env("SLURM_ARRAY_TASK_ID", "8", "SLURM_ARRAY_TASK_MIN", "0", "SLURM_ARRAY_TASK_COUNT", "5"), 0, Shard{}, true, "stepped"},
		{env("SLURM_ARRAY_TASK_ID", "1", "SLURM_ARRAY_TASK_COUNT", "5"), 0, Shard{}, true, `SLURM_ARRAY_TASK_MIN=""`},
		{env("JOB_COMPLETION_INDEX", "3"), 4, Shard{3, 4}, true, ""},
		{env("JOB_COMPLETION_INDEX", "3"), 0, Shard{}, true, "give --shard-count"},
		{env("JOB_COMPLETION_INDEX", "4"), 4, Shard{}, true, "index 4 of 4"},
		{env("JOB_COMPLETION_INDEX", "x"), 4, Shard{}, true, "not an integer"},
	}
	for i, c := range cases {
		s, found, err := ShardFromEnv(c.env, c.count)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("case %d: err %v, want %q", i, err, c.err)
			}
			continue
		}
		if err != nil || s != c.want || found != c.found {
			t.Errorf("case %d: %v %v %v, want %v %v", i, s, found, err, c.want, c.found)
		}
	}
}
