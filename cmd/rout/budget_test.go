package main

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --memory-budget sets the budget data is checked against, given before or after the
// command's arguments; a value that is not a size is a usage error.
func TestMemoryBudgetFlag(t *testing.T) {
	root := t.TempDir()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 32, 32))); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"train/a/1.png", "train/b/2.png"} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec := "folder:" + root
	t.Setenv("ROUT_MEMORY_BUDGET", "")
	for _, args := range [][]string{
		{"data", "inspect", "--memory-budget", "2K", spec},
		{"data", "inspect", spec, "--memory-budget=2K"},
	} {
		out, err := runApp(t, args...)
		if code, _ := exitStatus(err); code != exitError || !strings.Contains(err.Error(), "more than the memory budget of 2.0 KiB (--memory-budget)") {
			t.Errorf("rout %s: exit %d, %v\n%s", strings.Join(args, " "), code, err, out)
		}
	}
	if out, err := runApp(t, "data", "inspect", spec, "--memory-budget", "1G"); err != nil || !strings.Contains(out, "train  2") {
		t.Errorf("within the budget: %v\n%s", err, out)
	}
	t.Setenv("ROUT_MEMORY_BUDGET", "2K")
	if _, err := runApp(t, "data", "inspect", spec); err == nil || !strings.Contains(err.Error(), "memory budget of 2.0 KiB ($ROUT_MEMORY_BUDGET)") {
		t.Errorf("from the environment: %v", err)
	}
	for _, v := range []string{"lots", "0", "-1G"} {
		_, err := runApp(t, "data", "inspect", spec, "--memory-budget", v)
		if code, _ := exitStatus(err); code != exitUsage {
			t.Errorf("--memory-budget %s: exit %d (%v), want %d", v, code, err, exitUsage)
		}
	}
}
