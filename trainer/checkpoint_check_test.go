package trainer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rout/internal/memtest"
)

// damageCheckpoint rewrites the checkpoint in dir through edit (its trainer state, metadata and
// tensors), as a damaged or hand-made file would have them.
func damageCheckpoint(t *testing.T, dir string, edit func(st *runState, meta map[string]string, ts map[string]tensorData)) {
	t.Helper()
	path := filepath.Join(dir, CheckpointFile)
	ts, meta, err := readSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	var st runState
	if err := json.Unmarshal([]byte(meta[metaTrainer]), &st); err != nil {
		t.Fatal(err)
	}
	edit(&st, meta, ts)
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	meta[metaTrainer] = string(b)
	if err := writeSafetensors(path, ts, meta); err != nil {
		t.Fatal(err)
	}
}

// snapshot is the run folder's files and their bytes.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = b
	}
	return m
}

// A damaged checkpoint is refused, naming what is wrong, before the run folder is rewritten:
// metrics.jsonl and config.json keep their bytes, and nothing panics.
func TestResumeRefusesDamagedCheckpoints(t *testing.T) {
	cfg := tinyConfig() // 20 steps an epoch, 2 epochs
	base := t.TempDir()
	killAt(t, cfg, base, 27)
	hugeDense := "input = [3, 16, 16]\n[[layer]]\ntype = \"dense\"\nunits = 2730000\nact = \"relu\"\n[[layer]]\ntype = \"dense\"\n"
	for _, c := range []struct {
		name string
		edit func(st *runState, meta map[string]string, ts map[string]tensorData)
		want string
	}{
		{"negative step", func(st *runState, _ map[string]string, _ map[string]tensorData) { st.Step = -5 }, "trainer state step = -5: must not be negative"},
		{"epoch beyond the run", func(st *runState, _ map[string]string, _ map[string]tensorData) {
			st.Epoch, st.EpochsRun, st.Step = 500, 500, 500*20+7
		}, "trainer state epoch = 500, beyond the run's 2 epochs"},
		{"step off its epoch", func(st *runState, _ map[string]string, _ map[string]tensorData) { st.Step = 30 }, "step = 30, but epoch 1 and epoch_step 7 make it 27"},
		{"epoch step past the epoch", func(st *runState, _ map[string]string, _ map[string]tensorData) {
			st.Epoch, st.EpochStep, st.EpochsRun = 0, 27, 0
		}, "epoch_step = 27, but an epoch has 20 steps"},
		{"evaluated in the future", func(st *runState, _ map[string]string, _ map[string]tensorData) { st.EvalStep = 99 }, "eval_step = 99"},
		{"epoch sums", func(st *runState, _ map[string]string, _ map[string]tensorData) { st.EpochCount = 1e9 }, "epoch sums"},
		{"accuracy", func(st *runState, _ map[string]string, _ map[string]tensorData) { st.BestTest = 12 }, "best_test_acc = 12"},
		{"parameter not finite", func(_ *runState, _ map[string]string, ts map[string]tensorData) {
			ts["params"].Data[3] = float32(math.Inf(1))
		}, "parameter 3 is +Inf"},
		{"params of another network", func(_ *runState, meta map[string]string, _ map[string]tensorData) { meta[metaModel] = hugeDense },
			"tensor params has 6362 values, but its network (model_toml) has 2126670010 parameters"},
		{"image", func(_ *runState, meta map[string]string, _ map[string]tensorData) { meta[metaImage] = "3,0,32" }, "metadata image [3 0 32]"},
		{"classes", func(_ *runState, meta map[string]string, _ map[string]tensorData) { meta[metaClasses] = `["one"]` }, "1 classes, want 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, b := range snapshot(t, base) {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			damageCheckpoint(t, dir, c.edit)
			before := snapshot(t, dir)
			_, err := Run(context.Background(), cfg, dir, WithDataset(tinyData), Resume())
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), CheckpointFile) {
				t.Fatalf("resume: %v, want an error naming the checkpoint and saying %q", err, c.want)
			}
			after := snapshot(t, dir)
			for name, b := range before {
				if !bytes.Equal(after[name], b) {
					t.Errorf("%s was rewritten by the refused resume", name)
				}
			}
			if len(after) != len(before) {
				t.Errorf("the refused resume left %d files, there were %d", len(after), len(before))
			}
			if c.name == "step off its epoch" || c.name == "epoch step past the epoch" {
				return // checked against the run resumed (its steps an epoch): eval has none
			}
			if _, err := Evaluate(filepath.Join(dir, CheckpointFile), EvalSettings{}, WithDataset(tinyData)); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("eval: %v, want %q", err, c.want)
			}
		})
	}
}

// tinyModel writes a model file for the tests below.
func tinyModel(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Networks too large for the memory are refused before anything is allocated: a conv layer of a
// million filters (33 GB of activations for a batch of 16 on 16x16 crops) and a dense layer of 2.1 billion
// parameters, in a subprocess whose peak memory stays far below.
func TestHugeModelsRefused(t *testing.T) {
	for _, c := range []struct {
		name, model string
		want        []string
	}{
		{"million filters", "[[layer]]\ntype = \"conv\"\nfilters = 1000000\nkernel = 3\npad = 1\n[[layer]]\ntype = \"avgpool\"\nglobal = true\n[[layer]]\ntype = \"dense\"\n",
			[]string{"setting model: model m with batch 16 needs about 32.0 GiB of memory", "activations 30.6 GiB", "more than the memory budget of 2.0 GiB ($ROUT_MEMORY_BUDGET)"}},
		{"2.1 billion parameters", "[[layer]]\ntype = \"dense\"\nunits = 2730000\nact = \"relu\"\n[[layer]]\ntype = \"dense\"\n",
			[]string{"setting model: model m with batch 16 needs about 32.0 GiB of memory", "parameters 7.9 GiB, gradients, optimiser 15.8 GiB", "more than the memory budget of 2.0 GiB"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if memtest.Child(t) {
				cfg := tinyConfig()
				cfg.Model, cfg.Init = os.Getenv("MODEL"), ""
				_, err := Run(context.Background(), cfg, filepath.Join(os.Getenv("OUT"), "run"), WithDataset(tinyData))
				fmt.Printf("error: %v\n", err)
				return
			}
			out, peak := memtest.Run(t, "MODEL="+tinyModel(t, c.model), "OUT="+t.TempDir(), "ROUT_MEMORY_BUDGET=2G")
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if peak > 128<<20 {
				t.Errorf("peak memory %d MiB, want under 128 MiB", peak>>20)
			}
		})
	}
}

// A network without a conv layer trains as a baseline (nothing watched); with RandomOut, which
// re-draws conv filters, it is an error that says so.
func TestNetworkWithoutConv(t *testing.T) {
	cfg := tinyConfig()
	cfg.Model = tinyModel(t, "[[layer]]\ntype = \"dense\"\nunits = 8\nact = \"relu\"\n[[layer]]\ntype = \"dense\"\n")
	cfg.Epochs = 1
	s := mustRun(t, cfg, t.TempDir())
	if s.Steps != 20 || s.FinalTestAcc == nil || len(s.ReinitsPerLayer.Layers) != 0 || s.ReinitsTotal != 0 {
		t.Errorf("baseline without conv layers: %+v", s)
	}
	cfg.RandomOut = true
	_, err := Run(context.Background(), cfg, t.TempDir(), WithDataset(tinyData))
	if err == nil || !strings.Contains(err.Error(), "the network has no conv layer, and RandomOut re-draws conv filters") {
		t.Errorf("randomout without conv layers: %v", err)
	}
}

// A checkpoint that is not a regular file (here /dev/zero) is refused by resume and eval at
// once, not read until memory runs out.
func TestRunFilesNotRegular(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero here")
	}
	dir := t.TempDir()
	if err := os.Symlink("/dev/zero", filepath.Join(dir, CheckpointFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := ResumeConfig(dir); err == nil || !strings.Contains(err.Error(), "not a regular file (a character device)") {
		t.Errorf("ResumeConfig with /dev/zero as the checkpoint: %v", err)
	}
	if _, err := Evaluate(filepath.Join(dir, CheckpointFile), EvalSettings{}, WithDataset(tinyData)); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Evaluate of /dev/zero: %v", err)
	}
	_, err := Run(context.Background(), tinyConfig(), dir, WithDataset(tinyData), Resume())
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("resume with /dev/zero as the checkpoint: %v", err)
	}
}
