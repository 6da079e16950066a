package trainer

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestPaperPreset pins the paper preset to DESIGN.md's protocol, setting by setting.
func TestPaperPreset(t *testing.T) {
	c, err := Preset("paper")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Preset: "paper", Model: "inception28", Init: "uniform:0.01", Data: "cifar10",
		Crop: 28, Pad: 0, RandomCrop: false, Flip: false, Scale: 1, MeanImage: true, Standardize: false,
		Epochs: 20, Batch: 128, Loss: "sum",
		Optimizer: "adam", LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0, Momentum: 0.9,
		Schedule: "constant", LRStep: 1, LRGamma: 0.1,
		RandomOut: false, Tau: 1e-30, TauMode: "absolute", RandomOutEvery: 1, RandomOutNorm: "l1",
		RandomOutScope: "weights", RandomOutLayers: "",
		Revive: "none", RedoTau: 0.1, CBPRate: 1e-4, CBPDecay: 0.99, CBPMaturity: 100,
		FailMargin: 0.02, LogEvery: 50, Device: "auto", CuDNNPacked: true} // packed: GPU speed only, same operations
	if d := c.Diff(&want); len(d) > 0 {
		t.Errorf("paper preset differs from the protocol in %v", d)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	q, err := Preset("quick")
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Validate(); err != nil {
		t.Error(err)
	}
	// quick scales the paper's recipe down; the recipe itself stays.
	for _, k := range []string{"init", "loss-reduction", "optimizer", "lr", "beta1", "beta2", "eps", "mean-image",
		"tau", "tau-mode", "revive-every", "randomout-norm", "randomout-scope", "fail-margin"} {
		a, _ := c.Get(k)
		b, _ := q.Get(k)
		if a != b {
			t.Errorf("quick changes the recipe's %s: %s, paper %s", k, b, a)
		}
	}
	if _, err := Preset("fast"); err == nil || !strings.Contains(err.Error(), "quick, paper") {
		t.Errorf("unknown preset: %v", err)
	}
}

// TestSettingsTable: every setting has one name used by Set, Get and config.json (cmd/rout
// checks that the flags use it too).
func TestSettingsTable(t *testing.T) {
	c, _ := Preset("quick")
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	var jsonKeys []string
	for k := range m {
		if k != "preset" {
			jsonKeys = append(jsonKeys, k)
		}
	}
	keys := Keys()
	slices.Sort(jsonKeys)
	sorted := slices.Sorted(slices.Values(keys))
	if !slices.Equal(jsonKeys, sorted) {
		t.Errorf("config.json keys %v, settings %v", jsonKeys, sorted)
	}
	for _, k := range keys {
		v, err := c.Get(k)
		if err != nil {
			t.Fatal(err)
		}
		d := c
		if err := d.Set(k, v); err != nil {
			t.Errorf("Set(%s, Get(%s) = %q): %v", k, k, v, err)
		}
		if !reflect.DeepEqual(c, d) {
			t.Errorf("Set(%s, %q) did not round-trip", k, v)
		}
	}
}

func TestSetAndApply(t *testing.T) {
	c, _ := Preset("quick")
	if err := c.Apply("randomout=true, tau=1e-6,randomout-scope=weights+bias,seed=12,epochs=4"); err != nil {
		t.Fatal(err)
	}
	if !c.RandomOut || c.Tau != 1e-6 || c.RandomOutScope != "weights+bias" || c.Seed != 12 || c.Epochs != 4 {
		t.Errorf("Apply: %+v", c)
	}
	for _, tc := range []struct{ k, v, want string }{
		{"nosuch", "1", "valid: arm, model"},
		{"tau", "small", "tau"},
		{"randomout-scope", "bias", "weights, weights+bias, weights+bias+optimizer"},
		{"seed", "-1", "non-negative"},
		{"randomout", "maybe", "true or false"},
		{"epochs", "1.5", "integer"},
	} {
		if err := c.Set(tc.k, tc.v); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Set(%s, %s): %v, want an error containing %q", tc.k, tc.v, err, tc.want)
		}
	}
	if err := c.Apply("tau"); err == nil {
		t.Error("Apply accepted an override without =")
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		k, v string
	}{
		{"epochs", "0"}, {"batch", "0"}, {"lr", "0"}, {"lr", "NaN"}, {"beta2", "1"}, {"eps", "0"},
		{"tau", "-1"}, {"tau", "1e-46"}, {"tau", "1e39"}, {"revive-every", "0"}, {"fail-margin", "2"}, {"log-every", "0"},
		{"val-fraction", "1"}, {"init", "normal:0.1"}, {"model", ""}, {"data", ""}, {"scale", "0"},
		{"lr-min", "1"}, {"threads", "-1"}, {"crop", "-1"},
	} {
		c, _ := Preset("quick")
		if err := c.Set(tc.k, tc.v); err != nil {
			t.Fatalf("Set(%s, %s): %v", tc.k, tc.v, err)
		}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.k) {
			t.Errorf("%s=%s: %v, want an error naming %s", tc.k, tc.v, err, tc.k)
		}
	}
	c, _ := Preset("quick")
	c.Standardize = true
	if err := c.Validate(); err == nil {
		t.Error("mean-image with standardize was accepted")
	}
}

// TestREADMEDocumentsEverySetting keeps the settings table of docs/settings.md in step with
// Config.
func TestREADMEDocumentsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../docs/settings.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, k := range append(Keys(), "preset") {
		if !strings.Contains(readme, "| `--"+k+"`") {
			t.Errorf("docs/settings.md's table has no row for --%s", k)
		}
	}
}
