package report

import "testing"

// TestArmRule: each arm's rule and re-draw initialiser from the plan's flags and its overrides,
// --randomout as the shorthand of --revive randomout, each rule's reference initialiser.
func TestArmRule(t *testing.T) {
	p := &Plan{Flags: map[string]any{"revive-every": "50"}}
	for _, tc := range []struct {
		over       map[string]any
		rule, init string
	}{
		{nil, "none", "-"},
		{map[string]any{"randomout": "true"}, "randomout", "layer"},
		{map[string]any{"randomout": "true", "revive-init": "he"}, "randomout", "he"},
		{map[string]any{"revive": "redo"}, "redo", "glorot"},
		{map[string]any{"revive": "cbp"}, "cbp", "fan-in"},
		{map[string]any{"revive": "cbp", "revive-init": "layer"}, "cbp", "layer"},
		{map[string]any{"init": "he"}, "none", "-"},
	} {
		rule, init := p.ArmRule(Arm{Name: "a", Overrides: tc.over})
		if rule != tc.rule || init != tc.init {
			t.Errorf("%v: rule %s init %s, want %s and %s", tc.over, rule, init, tc.rule, tc.init)
		}
	}
	p.Flags["revive"] = "redo"
	if rule, _ := p.ArmRule(Arm{Name: "a"}); rule != "redo" {
		t.Errorf("--revive redo for the whole sweep: rule %s", rule)
	}
}
