package runlog

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadPlan: sweep.json reads back as written, a field it does not know is refused (a plan
// read in part would compare as another), and a missing file is fs.ErrNotExist.
func TestReadPlan(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadPlan(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing plan: %v, want fs.ErrNotExist", err)
	}
	plan := `{"preset": "quick", "arms": [{"name": "baseline", "overrides": {"randomout": "false"}},
		{"name": "ro", "overrides": {"randomout": "true", "tau": "1e-06"}}],
		"seeds": [1, 2, 3, 7], "flags": {"epochs": "3"}, "vary_data_seed": true, "created": "2026-12-07T10:00:00Z"}`
	os.WriteFile(filepath.Join(dir, PlanFile), []byte(plan), 0o644)
	p, err := ReadPlan(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.Preset != "quick" || len(p.Arms) != 2 || p.Arms[1].String() != "ro:randomout=true,tau=1e-06" ||
		FormatSeeds(p.Seeds) != "1-3,7" || p.Flags["epochs"] != "3" || !p.VaryDataSeed || p.Check() != nil {
		t.Errorf("read %+v", p)
	}
	q := p
	q.Seeds = []uint64{1, 2}
	q.Flags = map[string]string{"epochs": "4", "lr": "0.01"}
	want := []string{"seeds 1-3,7, now 1-2", "--epochs 3, now 4", "--lr not given, now 0.01"}
	if d := p.Diff(&q); strings.Join(d, "; ") != strings.Join(want, "; ") {
		t.Errorf("Diff = %q, want %q", d, want)
	}
	os.WriteFile(filepath.Join(dir, PlanFile), []byte(`{"preset": "quick", "arms": [], "seeds": [], "sharding": 3}`), 0o644)
	if _, err := ReadPlan(dir); err == nil || !strings.Contains(err.Error(), "sharding") {
		t.Errorf("unknown field: %v, want an error naming it", err)
	}
	for _, c := range []struct {
		p    Plan
		want string
	}{
		{Plan{Seeds: []uint64{1}}, "at least one arm"},
		{Plan{Arms: []Arm{{Name: ".."}}, Seeds: []uint64{1}}, "not a folder name"},
		{Plan{Arms: []Arm{{Name: "a"}, {Name: "a"}}, Seeds: []uint64{1}}, `"a" listed twice`},
		{Plan{Arms: []Arm{{Name: "a"}}, Seeds: []uint64{4, 4}}, "seed 4 listed twice"},
	} {
		if err := c.p.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Check(%+v) = %v, want an error containing %q", c.p, err, c.want)
		}
	}
}

// TestReadMetrics: a metrics line is a record of kind log or epoch; a torn last line is
// ignored only while the run is live.
func TestReadMetrics(t *testing.T) {
	path := filepath.Join(t.TempDir(), MetricsFile)
	if ms, err := ReadMetrics(path, false); ms != nil || err != nil {
		t.Errorf("missing file: %v, %v; want no records", ms, err)
	}
	good := `{"kind":"log","step":5,"epoch":1,"loss":2.1}` + "\n" + `{"kind":"epoch","step":10,"epoch":1,"loss":1.5,"test_acc":0.4}` + "\n"
	os.WriteFile(path, []byte(good+`{"kind":"log","st`), 0o644)
	ms, err := ReadMetrics(path, true)
	if err != nil || len(ms) != 2 || ms[1].Kind != "epoch" || *ms[1].TestAcc != 0.4 {
		t.Errorf("live run with a torn line: %+v, %v", ms, err)
	}
	if _, err := ReadMetrics(path, false); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("finished run with a torn line: %v, want an error naming line 3", err)
	}
	os.WriteFile(path, []byte(good+`{"kind":"note","step":11}`+"\n"), 0o644)
	if _, err := ReadMetrics(path, true); err == nil || !strings.Contains(err.Error(), `kind "note"`) {
		t.Errorf("a line of another kind: %v, want an error naming it", err)
	}
}
