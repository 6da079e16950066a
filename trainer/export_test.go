package trainer

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestExport: the exported tensors are the checkpoint's parameters cut per layer with PyTorch's
// shapes, with the model and the preprocessing in the metadata; and the batch `rout eval
// --logits` writes agrees with the evaluation (every test example in one batch: the logits'
// predictions give the evaluated accuracy).
func TestExport(t *testing.T) {
	cfg := tinyConfig()
	dir := t.TempDir()
	mustRun(t, cfg, dir)
	out := filepath.Join(t.TempDir(), "model.safetensors")
	res, err := Export(dir, out)
	if err != nil {
		t.Fatal(err)
	}
	ts, meta, err := readSafetensors(out)
	if err != nil {
		t.Fatal(err)
	}
	params := finalTensor(t, dir, "params")
	if res.Params != len(params) || res.Tensors != len(ts) {
		t.Errorf("result %+v; the checkpoint has %d parameters, the file %d tensors", res, len(params), len(ts))
	}
	// convnet-small@0.25 on 16x16 crops: conv1 8 filters of 3x3x3 first in the flat tensor,
	// then its bias; the dense layer's weights [10, 32].
	w := ts["conv1.weight"]
	if !slices.Equal(w.Shape, []uint64{8, 3, 3, 3}) || !slices.Equal(w.Data, params[:8*27]) {
		t.Errorf("conv1.weight: shape %v, first values %v; want [8 3 3 3] = params[:216]", w.Shape, w.Data[:3])
	}
	if b := ts["conv1.bias"]; !slices.Equal(b.Shape, []uint64{8}) || !slices.Equal(b.Data, params[216:224]) {
		t.Errorf("conv1.bias: shape %v", b.Shape)
	}
	var dense string
	for name, tv := range ts {
		if strings.HasSuffix(name, ".weight") && len(tv.Shape) == 2 {
			dense = name
			if !slices.Equal(tv.Shape, []uint64{10, 32}) {
				t.Errorf("%s: shape %v, want [10 32]", name, tv.Shape)
			}
		}
	}
	if dense == "" {
		t.Error("no dense weight in the export")
	}
	if _, ok := ts["prep.mean_image"]; !ok {
		t.Error("the export lacks the mean image the quick preset subtracts")
	}
	var graph []map[string]any
	if err := json.Unmarshal([]byte(meta["graph"]), &graph); err != nil || len(graph) == 0 {
		t.Errorf("graph metadata %q: %v", meta["graph"], err)
	}
	if meta["format"] != ExportFormat || meta["input"] != "3,16,16" || !strings.Contains(meta["model_toml"], "convnet-small") {
		t.Errorf("metadata format %q input %q model %q", meta["format"], meta["input"], meta["model_toml"])
	}
	if _, err := Export(filepath.Join(dir, ConfigFile), out); err == nil {
		t.Error("exported a file that is not a checkpoint")
	}

	logits := filepath.Join(t.TempDir(), "batch.safetensors")
	ev, err := Evaluate(filepath.Join(dir, CheckpointFile), EvalSettings{Device: "cpu", Threads: 1, Batch: tinyData.Test.N, Logits: logits}, WithDataset(tinyData))
	if err != nil {
		t.Fatal(err)
	}
	batch, _, err := readSafetensors(logits)
	if err != nil {
		t.Fatal(err)
	}
	n := tinyData.Test.N
	if !slices.Equal(batch["input"].Shape, []uint64{uint64(n), 3, 16, 16}) || !slices.Equal(batch["logits"].Shape, []uint64{uint64(n), 10}) {
		t.Fatalf("batch shapes: input %v, logits %v", batch["input"].Shape, batch["logits"].Shape)
	}
	correct := 0
	for i := range n {
		row := batch["logits"].Data[10*i : 10*i+10]
		if float32(slices.Index(row, slices.Max(row))) == batch["labels"].Data[i] {
			correct++
		}
	}
	if got := float64(correct) / float64(n); got != ev.Acc {
		t.Errorf("the dumped logits predict %.4f of the batch right, the evaluation says %.4f", got, ev.Acc)
	}
}
