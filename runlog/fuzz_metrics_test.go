package runlog

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzMetrics feeds arbitrary bytes as a metrics.jsonl, of a finished run and of a live one: an
// error naming the file and line, or records in step order.
func FuzzMetrics(f *testing.F) {
	if b, err := os.ReadFile("../report/testdata/sweep/runs/baseline/1/metrics.jsonl"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("{\"kind\": \"log\", \"step\": 10}\n{\"kind\": \"epoch\", \"step\": 20, \"test_acc\": null}\n{\"kind\": \"lo"))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), MetricsFile)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, live := range []bool{false, true} {
			ms, err := ReadMetrics(path, live)
			if err != nil {
				continue
			}
			for i := 1; i < len(ms); i++ {
				if ms[i].Step < ms[i-1].Step {
					t.Fatalf("records out of order accepted: step %d after %d", ms[i].Step, ms[i-1].Step)
				}
			}
		}
	})
}
