package sweep

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"rout/trainer"
)

func mustArms(t *testing.T, s string) []Arm {
	t.Helper()
	a, err := ParseArms(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestPlanConfig(t *testing.T) {
	arms := mustArms(t, "baseline,ro:randomout=true,lr=0.003")
	p, err := NewPlan("quick", arms, []uint64{4, 9}, map[string]string{"lr": "0.002", "epochs": "2", "data-seed": "11", "randomout": "true"}, false)
	if err != nil {
		t.Fatal(err)
	}
	worker := map[string]string{"device": "gpu", "threads": "3"}
	base, err := RunConfig(&p, "baseline", 9, worker)
	if err != nil {
		t.Fatal(err)
	}
	// Preset, then flags, then worker settings, then the arm's overrides, then seed and arm.
	if base.Preset != "quick" || base.Model != "convnet-small" || base.Epochs != 2 || base.LR != 0.002 ||
		base.RandomOut || base.Seed != 9 || base.Arm != "baseline" || base.DataSeed != 11 || base.Device != "gpu" || base.Threads != 3 {
		t.Errorf("baseline config %+v", base)
	}
	ro, _ := RunConfig(&p, "ro", 4, worker)
	if !ro.RandomOut || ro.LR != 0.003 || ro.Device != "gpu" || ro.Seed != 4 || ro.DataSeed != 11 {
		t.Errorf("ro config %+v", ro)
	}
	if _, err := RunConfig(&p, "nope", 4, nil); err == nil {
		t.Error("unknown arm: no error")
	}
	// Pairs in plan order: seeds, then arms, numbered in that order.
	var got []string
	for i, pr := range p.Pairs() {
		got = append(got, pr.String())
		if pr.Index != i {
			t.Errorf("pair %s has index %d, want %d", pr, pr.Index, i)
		}
	}
	if strings.Join(got, " ") != "baseline/4 ro/4 baseline/9 ro/9" {
		t.Errorf("pairs %v", got)
	}
	// Growing the seeds keeps every planned pair's number.
	grown := p
	grown.Seeds = append(slices.Clone(p.Seeds), 2)
	for i, pr := range grown.Pairs()[:4] {
		if old := p.Pairs()[i]; pr != old {
			t.Errorf("after growing, pair %d is %+v, was %+v", i, pr, old)
		}
	}

	v, err := NewPlan("quick", arms, []uint64{4, 9}, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := RunConfig(&v, "ro", 9, nil); c.DataSeed != 9 || c.Seed != 9 {
		t.Errorf("vary-data-seed: data seed %d seed %d", c.DataSeed, c.Seed)
	}

	for _, c := range []struct {
		preset string
		arms   string
		seeds  []uint64
		flags  map[string]string
		vary   bool
		msg    string
	}{
		{"fast", "baseline", []uint64{1}, nil, false, `unknown preset "fast"`},
		{"quick", "baseline", nil, nil, false, "seeds: none given"},
		{"quick", "baseline", []uint64{1, 1}, nil, false, "seed 1 listed twice"},
		{"quick", "baseline", []uint64{1}, map[string]string{"device": "cpu"}, false, "device is a worker setting"},
		{"quick", "baseline", []uint64{1}, map[string]string{"epochs": "0"}, false, `flags: setting epochs: 0, want 1 or more`},
		{"quick", "baseline", []uint64{1}, map[string]string{"data-seed": "3"}, true, "data-seed and vary-data-seed"},
		{"quick", "ds:data-seed=3", []uint64{1}, nil, true, `arm "ds": overrides data-seed`},
		{"quick", "baseline,cpu:randomout=true,device=cpu", []uint64{1}, nil, false, `arm "cpu": overrides device, a worker setting`},
		{"quick", "t:tf32=true", []uint64{1}, nil, false, `arm "t": overrides tf32, a worker setting`},
		{"quick", "hot:lr=-1", []uint64{1}, nil, false, `arm "hot": setting lr: -1, want a positive number`},
		{"quick", "baseline,hot:lr=0.1", []uint64{1}, map[string]string{"lr-min": "0.01"}, false, `flags: setting lr-min: 0.01`}, // baseline keeps the preset's lr
	} {
		_, err := NewPlan(c.preset, mustArms(t, c.arms), c.seeds, c.flags, c.vary)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("NewPlan(%s, %s, %v, %v, %v) = %v, want an error with %q", c.preset, c.arms, c.seeds, c.flags, c.vary, err, c.msg)
		}
	}
	// A flag valid only with every arm's overrides (the preset's lr is 1e-3) makes a valid plan.
	if _, err := NewPlan("quick", mustArms(t, "a:lr=0.1,b:lr=0.05"), []uint64{1}, map[string]string{"lr-min": "0.01"}, false); err != nil {
		t.Errorf("lr-min 0.01 under arms with lr 0.1 and 0.05: %v", err)
	}
}

func TestEnsurePlan(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sw")
	p, err := NewPlan("quick", mustArms(t, "baseline,randomout"), []uint64{1, 2, 3}, map[string]string{"epochs": "2"}, false)
	if err != nil {
		t.Fatal(err)
	}
	// Workers starting together: one writes, every one agrees on the recorded plan.
	var wg sync.WaitGroup
	created := make([]string, 8)
	errs := make([]error, 8)
	for i := range created {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, _, err := Ensure(dir, p)
			created[i], errs[i] = got.Created, err
		}()
	}
	wg.Wait()
	for i := range created {
		if errs[i] != nil || created[i] == "" || created[i] != created[0] {
			t.Fatalf("worker %d: created %q, err %v (worker 0: %q)", i, created[i], errs[i], created[0])
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != PlanFile {
		t.Errorf("folder holds %v, want only %s (no temporary files)", entries, PlanFile)
	}
	st, _ := os.Stat(filepath.Join(dir, PlanFile))
	if st.Mode().Perm() != 0o644 {
		t.Errorf("sweep.json mode %v, want 0644 (other workers read it)", st.Mode())
	}
	back, err := ReadPlan(dir)
	if err != nil || len(back.Diff(&p)) != 0 || back.Created != created[0] {
		t.Errorf("read back %+v, %v", back, err)
	}
	// Before any run has trained, another plan replaces the recorded one (a typo fixed).
	typo, _ := NewPlan("quick", mustArms(t, "baseline,randomout"), []uint64{1, 2, 3}, map[string]string{"epochs": "2", "data": "shapez"}, false)
	if _, note, err := Ensure(dir, typo); err != nil || !strings.Contains(note, "none of whose runs had trained: replaced") || !strings.Contains(note, "--data not given, now shapez") {
		t.Fatalf("another plan before any run trained: note %q, err %v; want it replaced", note, err)
	}
	if _, note, err := Ensure(dir, p); err != nil || note == "" {
		t.Fatalf("the fixed plan: note %q, err %v", note, err)
	}
	back, _ = ReadPlan(dir)
	created[0] = back.Created
	// From the first trained run on (a summary, a checkpoint or a live claim), the plan stays.
	ck := filepath.Join(p.Pairs()[4].Dir(dir), trainer.CheckpointFile)
	os.MkdirAll(filepath.Dir(ck), 0o755)
	if err := os.WriteFile(ck, []byte("ck"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The same plan written differently (1e-30 is the preset's tau) is still the same plan...
	same, _ := NewPlan("quick", mustArms(t, "baseline,randomout"), []uint64{1, 2, 3}, map[string]string{"epochs": "02"}, false)
	if _, _, err := Ensure(dir, same); err != nil {
		t.Errorf("same plan: %v", err)
	}
	// ...and another plan is an error naming every difference (its added seed 4 is not one: a
	// sweep may grow).
	other, _ := NewPlan("quick", mustArms(t, "baseline,randomout:tau=1e-6"), []uint64{1, 2, 3, 4}, map[string]string{"lr": "0.01"}, true)
	_, _, err = Ensure(dir, other)
	for _, want := range []string{"records another plan", "arm randomout:randomout=true, now randomout:randomout=true,tau=1e-06",
		"--epochs 2, now not given", "--lr not given, now 0.01", "vary-data-seed false, now true", "choose another --out"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("other plan: %v, want %q", err, want)
		}
	}
	renamed, _ := NewPlan("paper", mustArms(t, "baseline"), []uint64{1, 2, 3}, map[string]string{"epochs": "2"}, false)
	_, _, err = Ensure(dir, renamed)
	if err == nil || !strings.Contains(err.Error(), "preset quick, now paper") || !strings.Contains(err.Error(), "arms baseline,randomout, now baseline") {
		t.Errorf("renamed arms: %v", err)
	}
	// More seeds grow the recorded plan, recorded seeds first; fewer, or more seeds with another
	// change, are errors.
	more, _ := NewPlan("quick", mustArms(t, "baseline,randomout"), []uint64{7, 1, 2, 3, 5}, map[string]string{"epochs": "2"}, false)
	grown, _, err := Ensure(dir, more)
	if err != nil || !slices.Equal(grown.Seeds, []uint64{1, 2, 3, 7, 5}) || grown.Created != created[0] {
		t.Fatalf("adding seeds 7 and 5: %+v, %v; want seeds 1,2,3,7,5 and the original creation time", grown, err)
	}
	if back, err := ReadPlan(dir); err != nil || !slices.Equal(back.Seeds, grown.Seeds) || len(back.Diff(&grown)) != 0 {
		t.Errorf("after growing, sweep.json holds %+v, %v", back, err)
	}
	// The command that grew it resumes it (its seeds in its own order).
	if again, _, err := Ensure(dir, more); err != nil || !slices.Equal(again.Seeds, grown.Seeds) {
		t.Errorf("the growing command again: %+v, %v; want the grown plan", again.Seeds, err)
	}
	if _, _, err := Ensure(dir, p); err == nil || !strings.Contains(err.Error(), "seeds 1-3,7,5, now 1-3") {
		t.Errorf("fewer seeds than recorded: %v", err)
	}
	moreAndOther, _ := NewPlan("quick", mustArms(t, "baseline,randomout"), []uint64{1, 2, 3, 5, 7, 8}, map[string]string{"epochs": "3"}, false)
	if _, _, err := Ensure(dir, moreAndOther); err == nil || !strings.Contains(err.Error(), "--epochs 2, now 3") {
		t.Errorf("more seeds and another epoch count: %v", err)
	}
	if back, _ := ReadPlan(dir); !slices.Equal(back.Seeds, grown.Seeds) {
		t.Errorf("a refused plan changed sweep.json's seeds to %v", back.Seeds)
	}
	os.WriteFile(filepath.Join(dir, PlanFile), []byte(`{"preset": "quick", "arms": 3}`), 0o644)
	if _, _, err := Ensure(dir, p); err == nil || !strings.Contains(err.Error(), PlanFile) {
		t.Errorf("damaged plan: %v", err)
	}
}
