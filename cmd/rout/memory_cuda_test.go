//go:build !nocuda

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"rout/internal/standin"
)

// TestTrainChecksDeviceMemoryOnStandIn runs `rout train --device gpu` against the CPU stand-in of
// the CUDA libraries, whose device reports 70 GiB free: a network whose estimate is far above it
// is refused before anything is allocated, naming the device's free memory.
func TestTrainChecksDeviceMemoryOnStandIn(t *testing.T) {
	dir := t.TempDir()
	if err := standin.Build(dir); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(t.TempDir(), "wide.toml")
	spec := "[[layer]]\ntype = \"conv\"\nfilters = 1000000\nkernel = 3\npad = 1\n[[layer]]\ntype = \"avgpool\"\nglobal = true\n[[layer]]\ntype = \"dense\"\n"
	if err := os.WriteFile(model, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(os.Args[0], "train", "--device", "gpu", "--model", model, "--crop", "16", "--batch", "64",
		"--max-steps", "1", "--out", out)
	cmd.Env = append(standin.Env(dir), "ROUT_TEST_AS_CLI=1", "ROUT_MOCK_ANY_KERNEL=1", "XDG_CACHE_HOME="+t.TempDir())
	b, err := cmd.CombinedOutput()
	text := string(b)
	if err == nil {
		t.Fatalf("rout train of a network too large for the device succeeded:\n%s", text)
	}
	for _, want := range []string{"setting model: model wide with batch 64 needs about", "of device memory", "more than the 70.0 GiB free on gpu"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "checkpoint.safetensors")); err == nil {
		t.Errorf("the refused run wrote a checkpoint")
	}
}
