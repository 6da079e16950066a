package report

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestAnswerFixture(t *testing.T) {
	r := loadFixture(t)
	got := r.Answer()
	ro, bias := r.Comparisons[0], r.Comparisons[1]
	want := []string{
		"baseline failed 2 of 4 (seeds 2, 4); its median final test accuracy is 35.06%.",
		"randomout failed 1 of 4 (seed 3 diverged); median +34.5 points against baseline (bootstrap 95% " +
			interval(ro.CI, 1, "signed") + ", Wilcoxon p 0.375, failures Fisher p 1, 4 paired seeds).",
		"ro-bias failed 1 of 3 finished (seed 2 diverged; 1 still to run); median +9.7 points against baseline (bootstrap 95% " +
			interval(bias.CI, 1, "signed") + ", Wilcoxon p 0.5, failures Fisher p 1, 3 paired seeds).",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("answer\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), want[0]+"\n"+want[1]) {
		t.Errorf("the printed report does not open with the answer:\n%.400s", b.String())
	}
	if !strings.Contains(b.String(), "Fisher p: ") || !strings.Contains(b.String(), "it can be 1 while the rank tests") {
		t.Error("the printed report's key does not say why Fisher's p can be 1")
	}
}

func TestSeedTableFixture(t *testing.T) {
	tab := loadFixture(t).SeedTable()
	if len(tab.Header) != 10 || tab.Header[4] != "randomout %" {
		t.Fatalf("header %q", tab.Header)
	}
	want := [][]string{
		{"1", "60.12", "ok", "0", "70.11", "ok", "279", "70.50", "ok", "401"},
		{"2", "10.00", "failed", "0", "69.05", "ok", "304", "-", "diverged", "91"},
		{"3", "62.40", "ok", "0", "-", "diverged", "191", "69.80", "ok", "474"},
		{"4", "10.00", "failed", "0", "71.02", "ok", "354", "", "running", ""},
	}
	for i, row := range want {
		if strings.Join(tab.Rows[i], "|") != strings.Join(row, "|") {
			t.Errorf("row %d = %q, want %q", i, tab.Rows[i], row)
		}
	}
}

func TestEscapeTableFixture(t *testing.T) {
	tab := loadFixture(t).EscapeTable()
	want := []string{
		"baseline|2|2|20|22|25|28|30", // seeds 1 and 3 at 30 and 20; 2 and 4 failed
		"randomout|4|0|20|20|20|22|30",
		"ro-bias|3|0|20|20|20|25|30", // the unfinished seed 4 is left out
	}
	for i, w := range want {
		if got := strings.Join(tab.Rows[i], "|"); got != w {
			t.Errorf("escape row %d = %s, want %s", i, got, w)
		}
	}
}

// TestEscapeStepNeedsClasses: without config.json a run's class count comes from its chance
// accuracy; with neither there is no escape step.
func TestEscapeStepNeedsClasses(t *testing.T) {
	r := loadFixture(t)
	run := r.Sweep.Runs[0]
	run.Classes = 0
	if s, ok := run.EscapeStep(); !ok || s != 30 {
		t.Errorf("escape step from chance accuracy: %d %v, want 30", s, ok)
	}
	run.Summary = nil
	if _, ok := run.EscapeStep(); ok {
		t.Error("an escape step without a class count")
	}
}

// TestDeadGridFractions: dead counts over config.json's filter counts, per layer and step.
func TestDeadGridFractions(t *testing.T) {
	r := loadFixture(t)
	ok := r.deadGridFor(&r.Sweep.Runs[0]) // baseline/1: dead 0, 1, 2, 3, 4 of 8, 8, 8, 8, 16
	failed := r.deadGridFor(&r.Sweep.Runs[1])
	if ok == nil || failed == nil {
		t.Fatal("no dead grid for a finished baseline run")
	}
	if len(ok.steps) != 12 || ok.steps[0] != 10 || ok.steps[11] != 120 {
		t.Errorf("steps %v, want the 12 log steps 10..120", ok.steps)
	}
	for l, want := range []float64{0, 1.0 / 8, 2.0 / 8, 3.0 / 8, 4.0 / 16} {
		if got := ok.z[l][5]; math.Abs(got-want) > 1e-12 {
			t.Errorf("baseline/1 layer %d: %g dead, want %g", l, got, want)
		}
		if got := failed.z[l][5]; got != 1 {
			t.Errorf("failed baseline/2 layer %d: %g dead, want every filter", l, got)
		}
	}
	run := r.Sweep.Runs[0]
	run.Filters.Layers, run.Filters.Counts = nil, nil
	if r.deadGridFor(&run) != nil {
		t.Error("a dead grid without filter counts")
	}
}
