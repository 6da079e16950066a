package main

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"rout/trainer"
)

// TestEverySettingHasAFlag: each setting of trainer's table is a flag of the same name, and
// --preset is one.
func TestEverySettingHasAFlag(t *testing.T) {
	flagNames := map[string]bool{}
	for _, f := range settingFlags() {
		flagNames[f.Names()[0]] = true
	}
	for _, k := range trainer.Keys() {
		if !flagNames[k] {
			t.Errorf("setting %s has no flag", k)
		}
	}
	if !flagNames["preset"] {
		t.Error("no --preset flag")
	}
}

// TestFlags: flags override the preset, the flags not given keep the preset's values.
func TestFlags(t *testing.T) {
	var got trainer.Config
	app := &cli.App{Flags: settingFlags(), Action: func(c *cli.Context) error {
		var err error
		got, err = configFromCLI(c)
		return err
	}}
	if err := app.Run([]string{"x", "--preset", "paper", "--randomout", "--tau", "1e-6", "--seed", "5", "--randomout-scope", "weights+bias+optimizer"}); err != nil {
		t.Fatal(err)
	}
	want, _ := trainer.Preset("paper")
	want.RandomOut, want.Tau, want.Seed, want.RandomOutScope = true, 1e-6, 5, "weights+bias+optimizer"
	if d := got.Diff(&want); len(d) > 0 {
		t.Errorf("flags gave a config differing in %v", d)
	}
	if err := app.Run([]string{"x", "--optimizer", "rmsprop"}); err == nil || !strings.Contains(err.Error(), "--optimizer") {
		t.Errorf("bad choice: %v", err)
	}
	if err := app.Run([]string{"x", "--preset", "nope"}); err == nil || !strings.Contains(err.Error(), "preset") {
		t.Errorf("bad preset: %v", err)
	}
	if err := app.Run([]string{"x", "--epochs", "0"}); err == nil || !strings.Contains(err.Error(), "epochs") {
		t.Errorf("bad value: %v", err)
	}
}
