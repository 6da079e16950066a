package main

import (
	"bytes"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// reportFixture is the fixture sweep of the report package: 3 arms x 4 seeds, 11 runs done.
const reportFixture = "../../report/testdata/sweep"

// TestReportCommand runs `rout report` end to end on the fixture sweep: the printed table and
// the files in --out.
func TestReportCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "rep")
	app := newApp()
	var stdout bytes.Buffer
	app.Writer = &stdout
	// Flags after the folder, as the README writes it.
	if err := app.Run([]string{"rout", "report", reportFixture, "--out", out, "--resamples=500"}); err != nil {
		t.Fatalf("rout report: %v\n%s", err, stdout.String())
	}
	text := strings.Join(strings.Fields(stdout.String()), " ")
	for _, want := range []string{
		"11 of 12 runs done (3 arms x 4 seeds); unfinished: ro-bias/4 (claimed)",
		"baseline 4/4 2 0 50.0% [15.0%, 85.0%]",
		"baseline all 4 35.06 35.63 29.61 50.69 10.00 60.69",
		"randomout 4 +34.52",
		"wrote " + filepath.Join(out, "report.html"),
		"wrote " + filepath.Join(out, "dead.png"),
		"wrote " + filepath.Join(out, "loss.svg"),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, name := range []string{"report.md", "report.html", "runs.csv", "accuracy.svg", "curves.svg", "dead.svg", "loss.svg"} {
		if st, err := os.Stat(filepath.Join(out, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	f, err := os.Open(filepath.Join(out, "accuracy.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("accuracy.png: %v", err)
	}
}

// TestReportCommandDefaultOut writes into DIR, where `rout sweep` writes, when --out is not given.
func TestReportCommandDefaultOut(t *testing.T) {
	dir := t.TempDir()
	plan := `{"preset": "quick", "arms": [{"name": "baseline"}, {"name": "randomout"}], "seeds": [1, 2]}`
	if err := os.WriteFile(filepath.Join(dir, "sweep.json"), []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	app := newApp()
	var stdout bytes.Buffer
	app.Writer = &stdout
	if err := app.Run([]string{"rout", "report", dir}); err != nil {
		t.Fatalf("rout report: %v", err)
	}
	if !strings.Contains(stdout.String(), "0 of 4 runs done") {
		t.Errorf("output of a sweep not started:\n%s", stdout.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "report.html")); err != nil {
		t.Errorf("default output folder: %v", err)
	}
}

func TestReportCommandErrors(t *testing.T) {
	for _, c := range []struct {
		args  []string
		want  string
		usage bool
	}{
		{[]string{}, "want one sweep folder", true},
		{[]string{"a", "b"}, "want one sweep folder", true},
		{[]string{"--resamples", "0", reportFixture}, "--resamples", true},
		{[]string{reportFixture, "--bins", "3"}, "--bins", true},
		{[]string{reportFixture, "--out"}, "--out", true},
		{[]string{filepath.Join(t.TempDir(), "nothing")}, "sweep.json", false},
	} {
		app := newApp()
		app.Writer = &bytes.Buffer{}
		err := app.Run(append([]string{"rout", "report"}, c.args...))
		var ue usageError
		switch {
		case err == nil || !strings.Contains(err.Error(), c.want):
			t.Errorf("%v: got %v, want an error mentioning %q", c.args, err, c.want)
		case errors.As(err, &ue) != c.usage:
			t.Errorf("%v: %v: usage error %v, want %v", c.args, err, !c.usage, c.usage)
		}
	}
}
