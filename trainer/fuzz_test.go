package trainer

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzCheckpoint feeds arbitrary bytes as a checkpoint file to the reader that resume and eval
// use: an error, never a panic, and what it accepts passes the checks of a checkpoint.
func FuzzCheckpoint(f *testing.F) {
	// A real checkpoint of a small network, one step into its run.
	dir := f.TempDir()
	cfg := tinyConfig()
	cfg.Model = filepath.Join(dir, "m.toml")
	cfg.Init, cfg.Crop, cfg.MaxSteps = "he", 8, 1
	if err := os.WriteFile(cfg.Model, []byte("[[layer]]\ntype = \"conv\"\nfilters = 2\nkernel = 3\n[[layer]]\ntype = \"avgpool\"\nglobal = true\n[[layer]]\ntype = \"dense\"\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	if _, err := Run(context.Background(), cfg, filepath.Join(dir, "run"), WithDataset(tinyData)); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "run", CheckpointFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), CheckpointFile)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		ck, err := readCheckpoint(path)
		if err != nil {
			return
		}
		if err := ck.check(); err != nil {
			t.Fatalf("accepted a checkpoint that fails its checks: %v", err)
		}
		if ck.state.Step < 0 || ck.state.Epoch > ck.config.Epochs || len(ck.tensors["params"].Data) == 0 {
			t.Fatalf("accepted %+v", ck.state)
		}
	})
}
