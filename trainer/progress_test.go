package trainer

import (
	"path/filepath"
	"testing"
)

// evalCounter is an EvalObserver that keeps every Evaluating call.
type evalCounter struct{ calls [][2]int }

func (e *evalCounter) Start(Plan)          {}
func (e *evalCounter) Step(int)            {}
func (e *evalCounter) Record(Record)       {}
func (e *evalCounter) Evaluating(d, t int) { e.calls = append(e.calls, [2]int{d, t}) }

// TestEvalProgress: every evaluation, in a run and in Evaluate, reports from 0 to its total in
// batch steps.
func TestEvalProgress(t *testing.T) {
	cfg := tinyConfig()
	cfg.Epochs = 1
	dir := t.TempDir()
	var run evalCounter
	mustRun(t, cfg, dir, WithObserver(&run))
	n := tinyData.Test.N // 100 test examples in batches of 16: 0, 16, ..., 96, then 100
	check := func(name string, calls [][2]int, batch int) {
		t.Helper()
		want := (n+batch-1)/batch + 1
		if len(calls) != want || calls[0] != [2]int{0, n} || calls[len(calls)-1] != [2]int{n, n} {
			t.Fatalf("%s: %d calls %v, want %d from 0 to %d", name, len(calls), calls, want, n)
		}
		for i := 1; i < len(calls)-1; i++ {
			if calls[i][0] != i*batch {
				t.Errorf("%s: call %d at %d, want %d", name, i, calls[i][0], i*batch)
			}
		}
	}
	check("run", run.calls, cfg.Batch)
	var ev evalCounter
	if _, err := Evaluate(filepath.Join(dir, CheckpointFile), EvalSettings{Device: "cpu", Threads: 1, Batch: 30}, WithDataset(tinyData), WithObserver(&ev)); err != nil {
		t.Fatal(err)
	}
	check("Evaluate", ev.calls, 30)
}
