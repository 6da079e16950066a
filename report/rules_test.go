package report

import (
	"testing"

	"rout/runlog"
)

// TestArmRule: each arm's rule and re-draw initialiser from the plan's flags and its overrides,
// --randomout as the shorthand of --revive randomout, each rule's reference initialiser.
func TestArmRule(t *testing.T) {
	p := &runlog.Plan{Flags: map[string]string{"revive-every": "50"}}
	for _, tc := range []struct {
		over       map[string]string
		rule, init string
	}{
		{nil, "none", "-"},
		{map[string]string{"randomout": "true"}, "randomout", "layer"},
		{map[string]string{"randomout": "true", "revive-init": "he"}, "randomout", "he"},
		{map[string]string{"revive": "redo"}, "redo", "glorot"},
		{map[string]string{"revive": "cbp"}, "cbp", "fan-in"},
		{map[string]string{"revive": "cbp", "revive-init": "layer"}, "cbp", "layer"},
		{map[string]string{"init": "he"}, "none", "-"},
	} {
		rule, init := ArmRule(p, runlog.Arm{Name: "a", Overrides: tc.over})
		if rule != tc.rule || init != tc.init {
			t.Errorf("%v: rule %s init %s, want %s and %s", tc.over, rule, init, tc.rule, tc.init)
		}
	}
	p.Flags["revive"] = "redo"
	if rule, _ := ArmRule(p, runlog.Arm{Name: "a"}); rule != "redo" {
		t.Errorf("--revive redo for the whole sweep: rule %s", rule)
	}
}
