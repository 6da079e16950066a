package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportCommand: `rout export RUN` writes model.safetensors beside the checkpoint (9 tensors:
// 3 convs and the dense layer, weights and biases, and the mean image) and says so; --out picks
// the file; `rout eval --logits` writes its batch; a folder that is no run is an error naming the
// checkpoint it looked for.
func TestExportCommand(t *testing.T) {
	run := filepath.Join(t.TempDir(), "run")
	if _, stderr, _, err := runCtx(context.Background(), "train", "--model", "convnet-small@0.25", "--crop", "16", "--batch", "16",
		"--max-steps", "2", "--device", "cpu", "--threads", "1", "--out", run); err != nil {
		t.Fatalf("train: %v\n%s", err, stderr)
	}
	stdout, _, _, err := runCtx(context.Background(), "export", run)
	want := "wrote " + filepath.Join(run, "model.safetensors") + ": 9 tensors"
	if err != nil || !strings.HasPrefix(stdout, want) {
		t.Errorf("export: %v, printed %q, want %q...", err, stdout, want)
	}
	out := filepath.Join(t.TempDir(), "m.safetensors")
	if _, _, _, err := runCtx(context.Background(), "export", filepath.Join(run, "checkpoint.safetensors"), "--out", out); err != nil {
		t.Errorf("export --out: %v", err)
	}
	if st, err := os.Stat(out); err != nil || st.Size() < 4*2000 {
		t.Errorf("export --out: %v", err)
	}
	batch := filepath.Join(t.TempDir(), "b.safetensors")
	if _, _, _, err := runCtx(context.Background(), "eval", run, "--device", "cpu", "--logits", batch); err != nil {
		t.Errorf("eval --logits: %v", err)
	}
	if _, err := os.Stat(batch); err != nil {
		t.Errorf("eval --logits: %v", err)
	}
	if _, _, _, err := runCtx(context.Background(), "export", t.TempDir()); err == nil || !strings.Contains(err.Error(), "checkpoint.safetensors") {
		t.Errorf("export of an empty folder: %v", err)
	}
}
