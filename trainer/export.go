package trainer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"rout/net"
)

// ExportFormat is the "format" metadata of a file Export writes.
const ExportFormat = "rout-export/1"

// ExportResult says what Export wrote.
type ExportResult struct {
	Path    string
	Tensors int
	Params  int
}

// CheckpointPath is the checkpoint a path names: a run folder's checkpoint, or the file itself.
func CheckpointPath(path string) string {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return filepath.Join(path, CheckpointFile)
	}
	return path
}

// Export writes the network of a checkpoint (or a run folder's) to out as a safetensors file a
// PyTorch user can load: one tensor per layer parameter, named and shaped as PyTorch's modules
// name and shape them (see net.ParamView), the preprocessing tensors under prep.*, and in the
// metadata the model's TOML (model_toml), the resolved layers (graph, JSON: what
// scripts/torch_model.py builds the network from), the class names, the input shape and the
// preprocessing settings.
func Export(path, out string) (ExportResult, error) {
	path = CheckpointPath(path)
	ck, err := readCheckpoint(path)
	if err != nil {
		return ExportResult{}, err
	}
	cfg := ck.config
	prep, err := restorePreprocessing(&cfg, ck.tensors, ck.image)
	if err != nil {
		return ExportResult{}, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	spec, err := net.ParseSpec(ck.spec, path+" (model_toml)")
	if err != nil {
		return ExportResult{}, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	in := [3]int{ck.image[0], prep.cropH, prep.cropW}
	graph, views, err := net.Graph(spec, in, len(ck.classes))
	if err != nil {
		return ExportResult{}, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	tensors := map[string]tensorData{}
	res := ExportResult{Path: out}
	for _, v := range views {
		src := ck.tensors["params"]
		if v.State {
			src = ck.tensors["state"]
		}
		if v.Offset+v.Len() > len(src.Data) {
			return ExportResult{}, fmt.Errorf("checkpoint %s: tensor %s ends at %d, past the %d values the checkpoint holds", path, v.Name, v.Offset+v.Len(), len(src.Data))
		}
		shape := make([]uint64, len(v.Shape))
		for i, d := range v.Shape {
			shape[i] = uint64(d)
		}
		tensors[v.Name] = tensorData{Shape: shape, Data: src.Data[v.Offset : v.Offset+v.Len()]}
		if !v.State {
			res.Params += v.Len()
		}
	}
	for name, t := range prep.tensors() {
		tensors[name] = t
	}
	graphJSON, err := json.Marshal(graph)
	if err != nil {
		return ExportResult{}, err
	}
	classes, err := json.Marshal(ck.classes)
	if err != nil {
		return ExportResult{}, err
	}
	prepJSON, err := json.Marshal(map[string]any{
		"crop": cfg.Crop, "pad": cfg.Pad, "scale": cfg.Scale, "mean_image": cfg.MeanImage, "standardize": cfg.Standardize,
		"rule": "input = (pixel * scale - prep.mean_image - prep.channel_mean) * prep.channel_inv_std, on the centre crop; absent tensors are 0 (or 1)",
	})
	if err != nil {
		return ExportResult{}, err
	}
	meta := map[string]string{
		metaFormat: ExportFormat, metaModel: string(ck.spec), "graph": string(graphJSON), metaClasses: string(classes),
		"input": fmt.Sprintf("%d,%d,%d", in[0], in[1], in[2]), "step": strconv.Itoa(ck.state.Step),
		"preprocessing": string(prepJSON),
	}
	if err := writeSafetensors(out, tensors, meta); err != nil {
		return ExportResult{}, err
	}
	res.Tensors = len(tensors)
	return res, nil
}

// dumpBatch writes the first batch of an evaluation, as the network saw it, and its logits to
// path: tensors input [N, C, H, W], logits [N, classes] and labels [N].
func dumpBatch(b net.Backend, n *net.Net, set net.ImageSet, count int, aug net.Augment, path string) error {
	b.GatherBatch(set, 0, n.Input, n.Labels, aug)
	n.Forward(false)
	in := make([]float32, n.Input.Len())
	logits := make([]float32, n.Logits.Len())
	labels := make([]float32, n.Labels.Len())
	b.Download(n.Input, in)
	b.Download(n.Logits, logits)
	b.Download(n.Labels, labels)
	if err := b.Err(); err != nil {
		return fmt.Errorf("device %s: %w", b.Name(), err)
	}
	k := min(n.Batch, count)
	c, h, w := n.In[0], n.In[1], n.In[2]
	return writeSafetensors(path, map[string]tensorData{
		"input":  {Shape: []uint64{uint64(k), uint64(c), uint64(h), uint64(w)}, Data: in[:k*c*h*w]},
		"logits": {Shape: []uint64{uint64(k), uint64(n.Classes)}, Data: logits[:k*n.Classes]},
		"labels": {Shape: []uint64{uint64(k)}, Data: labels[:k]},
	}, map[string]string{metaFormat: "rout-logits/1"})
}
