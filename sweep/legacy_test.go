package sweep

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOldPlanStillResumes: a sweep.json recorded when revive-every was randomout-every (in the
// flags and an arm's overrides) is the same plan as the one the resuming command gives, whether
// it names the setting the old way or the new.
func TestOldPlanStillResumes(t *testing.T) {
	dir := t.TempDir()
	old := `{"preset": "quick", "arms": [{"name": "baseline", "overrides": {"randomout": "false"}},
  {"name": "ro", "overrides": {"randomout": "true", "randomout-every": "3"}}],
  "seeds": [1, 2], "flags": {"randomout-every": "2"}, "vary_data_seed": false, "created": "2026-12-01T00:00:00Z"}`
	if err := os.WriteFile(filepath.Join(dir, PlanFile), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"randomout-every", "revive-every"} {
		p, err := NewPlan("quick", []Arm{{Name: "baseline", Overrides: map[string]string{"randomout": "false"}},
			{Name: "ro", Overrides: map[string]string{"randomout": "true", key: "3"}}}, []uint64{1, 2},
			map[string]string{key: "2"}, false)
		if err != nil {
			t.Fatal(err)
		}
		got, note, err := Ensure(dir, p)
		if err != nil || note != "" {
			t.Fatalf("%s: the recorded plan is refused: %v %s", key, err, note)
		}
		cfg, err := RunConfig(&got, "ro", 1, nil)
		if err != nil || cfg.RandomOutEvery != 3 || cfg.Rule() != "randomout" {
			t.Errorf("%s: arm ro's config: every %d, rule %s, %v", key, cfg.RandomOutEvery, cfg.Rule(), err)
		}
	}
}
