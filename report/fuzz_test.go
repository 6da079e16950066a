package report

import (
	"os"
	"path/filepath"
	"testing"

	"rout/runlog"
)

// FuzzSummary feeds arbitrary bytes as a run's summary.json: an error naming the file, or a
// summary of the run's arm and seed with a known status.
func FuzzSummary(f *testing.F) {
	if b, err := os.ReadFile("testdata/sweep/runs/baseline/1/summary.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"arm": "a", "seed": 1, "status": "diverged", "reinits_per_layer": {"c1": 2}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		run := filepath.Join(dir, "runs", "a", "1")
		if err := os.MkdirAll(run, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(run, runlog.SummaryFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := loadRun(dir, "a", 1)
		if err != nil || r.Summary == nil {
			return
		}
		s := r.Summary
		if s.Arm != "a" || s.Seed != 1 || (s.Status != runlog.StatusOK && s.Status != runlog.StatusFailed && s.Status != runlog.StatusDiverged) ||
			len(s.ReinitsPerLayer.Layers) != len(s.ReinitsPerLayer.Counts) {
			t.Fatalf("accepted %+v", s)
		}
		Score(s)
	})
}
