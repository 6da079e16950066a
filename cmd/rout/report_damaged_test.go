package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// One damaged run does not sink a report: the others are reported and written, the damaged
// ones listed with their errors, and the exit status is 1.
func TestReportListsDamagedRuns(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sweep")
	if err := os.CopyFS(dir, os.DirFS(reportFixture)); err != nil {
		t.Fatal(err)
	}
	// A summary.json that is /dev/zero (read until memory ran out, once), and metrics lines out
	// of order.
	sum := filepath.Join(dir, "runs/baseline/2/summary.json")
	os.Remove(sum)
	if _, err := os.Stat("/dev/zero"); err == nil {
		if err := os.Symlink("/dev/zero", sum); err != nil {
			t.Fatal(err)
		}
	} else if err := os.Mkdir(sum, 0o755); err != nil {
		t.Fatal(err)
	}
	metrics := filepath.Join(dir, "runs/randomout/3/metrics.jsonl")
	if err := os.WriteFile(metrics, []byte("{\"kind\": \"log\", \"step\": 50}\n{\"kind\": \"log\", \"step\": 40}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	app := newApp()
	var stdout, stderr bytes.Buffer
	app.Writer, app.ErrWriter = &stdout, &stderr
	err := app.Run([]string{"rout", "report", dir, "--resamples=200"})
	if code, _ := exitStatus(err); code != exitError {
		t.Fatalf("exit status %d (%v), want %d", code, err, exitError)
	}
	if !strings.Contains(err.Error(), "2 damaged run(s) left out") {
		t.Errorf("error %v", err)
	}
	for _, want := range []string{
		"2 damaged run(s), left out of the report:",
		"baseline/2: report: open " + sum + ": not a regular file",
		"randomout/3: report: " + metrics + ": line 2: step 40 after step 50 on line 1: the lines are out of order",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if text := strings.Join(strings.Fields(stdout.String()), " "); !strings.Contains(text, "9 of 12 runs done") {
		t.Errorf("the report of the other runs:\n%s", stdout.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "report.html")); err != nil {
		t.Errorf("report not written: %v", err)
	}
}
