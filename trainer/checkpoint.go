package trainer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"

	"rout/net"
)

// CheckpointFile is the name of a run's checkpoint inside its folder: the latest one, replaced
// atomically each time.
const CheckpointFile = "checkpoint.safetensors"

// checkpointFormat is the value of the "format" metadata key; readers refuse any other.
const checkpointFormat = "rout-checkpoint/1"

// checkpoint is a checkpoint file read back.
type checkpoint struct {
	path    string
	config  Config
	state   runState
	spec    []byte // the network as TOML (net.Spec.TOML)
	classes []string
	image   [3]int // the dataset's image C, H, W (before cropping)
	tensors map[string]tensorData
}

// runState is the host side of a run that a checkpoint keeps (the device side is tensors).
type runState struct {
	Step      int `json:"step"`       // steps done
	Epoch     int `json:"epoch"`      // the epoch in progress, from 0
	EpochStep int `json:"epoch_step"` // steps done in it
	// The epoch's training sums read back so far: loss, correct predictions, examples.
	EpochLoss    float64 `json:"epoch_loss"`
	EpochCorrect float64 `json:"epoch_correct"`
	EpochCount   float64 `json:"epoch_count"`
	Elapsed      float64 `json:"elapsed"` // training seconds so far
	EpochsRun    int     `json:"epochs_run"`
	// Results of the latest evaluation (NaN, written null, before the first).
	TestAcc   Number `json:"test_acc"`
	TestLoss  Number `json:"test_loss"`
	ValAcc    Number `json:"val_acc"`
	ValLoss   Number `json:"val_loss"`
	TrainLoss Number `json:"train_loss"`
	BestTest  Number `json:"best_test_acc"`
	BestVal   Number `json:"best_val_acc"`
	// EvalStep is the step of the latest evaluation (-1: none; 0 in checkpoints from before
	// it was kept). A resume at the end of a run tells by it whether the checkpoint's step still
	// needs the final evaluation.
	EvalStep int `json:"eval_step"`
}

// Metadata keys of a checkpoint (safetensors "__metadata__", all strings). step, epoch,
// epoch_step, seed and data_seed are the RNG position in plain sight: every draw of the rest of
// the run is addressed by them (package rng), so nothing else about randomness is stored.
const (
	metaFormat    = "format"
	metaConfig    = "config"  // Config as JSON
	metaTrainer   = "trainer" // runState as JSON
	metaModel     = "model_toml"
	metaClasses   = "classes" // JSON list of class names
	metaImage     = "image"   // "C,H,W"
	metaStep      = "step"
	metaEpoch     = "epoch"
	metaEpochStep = "epoch_step"
	metaSeed      = "seed"
	metaDataSeed  = "data_seed"
)

// deviceTensors are the device tensors a checkpoint holds, by name.
func (r *run) deviceTensors() map[string]*net.Tensor {
	m := map[string]*net.Tensor{"params": r.n.Params, "train.stats": r.stats}
	if r.n.State != nil {
		m["state"] = r.n.State
	}
	for i, t := range r.opt.Moments() {
		m[r.opt.MomentNames()[i]] = t
	}
	for k, t := range r.rev.State() {
		m[k] = t
	}
	return m
}

// checkpoint writes the run's position atomically, unless it is already saved. It never saves
// parameters that are not finite: it returns a divergence instead, so the last
// checkpoint stays the last finite state.
func (r *run) checkpoint() error {
	if r.lastCkpt == r.st.Step {
		return nil
	}
	ts := r.prep.tensors()
	for name, t := range r.deviceTensors() {
		d := make([]float32, t.Len())
		r.b.Download(t, d)
		ts[name] = tensorData{Shape: []uint64{uint64(t.N), uint64(t.C), uint64(t.H), uint64(t.W)}, Data: d}
	}
	if err := r.b.Err(); err != nil {
		return fmt.Errorf("checkpoint: device %s: %w", r.b.Name(), err)
	}
	for _, v := range ts["params"].Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return diverged("a parameter became %v by step %d", v, r.st.Step)
		}
	}
	st := r.st
	st.Elapsed = r.elapsed()
	cfgJSON, err := json.Marshal(r.cfg)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	stJSON, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	classes, err := json.Marshal(r.ds.Classes)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	meta := map[string]string{
		metaFormat: checkpointFormat, metaConfig: string(cfgJSON), metaTrainer: string(stJSON),
		metaModel: string(r.spec.TOML()), metaClasses: string(classes),
		metaImage: fmt.Sprintf("%d,%d,%d", r.train.C, r.train.H, r.train.W),
		metaStep:  strconv.Itoa(st.Step), metaEpoch: strconv.Itoa(st.Epoch), metaEpochStep: strconv.Itoa(st.EpochStep),
		metaSeed: strconv.FormatUint(r.cfg.Seed, 10), metaDataSeed: strconv.FormatUint(r.cfg.DataSeed, 10),
	}
	if err := r.guarded(); err != nil {
		return err
	}
	if err := r.metrics.sync(); err != nil { // a checkpoint must not outlive the lines before it
		return err
	}
	if err := writeSafetensors(filepath.Join(r.out, CheckpointFile), ts, meta); err != nil {
		return err
	}
	r.lastCkpt = st.Step
	return nil
}

// readCheckpoint reads and checks a checkpoint file's metadata.
func readCheckpoint(path string) (*checkpoint, error) {
	ts, meta, err := readSafetensors(path)
	if err != nil {
		return nil, err
	}
	if meta[metaFormat] != checkpointFormat {
		return nil, fmt.Errorf("checkpoint %s: format %q, want %q (not a rout checkpoint?)", path, meta[metaFormat], checkpointFormat)
	}
	ck := &checkpoint{path: path, tensors: ts, spec: []byte(meta[metaModel])}
	dec := func(key string, v any) error {
		d := json.NewDecoder(bytes.NewReader([]byte(meta[key])))
		d.DisallowUnknownFields()
		if err := d.Decode(v); err != nil {
			return fmt.Errorf("checkpoint %s: metadata %s: %w", path, key, err)
		}
		return nil
	}
	if err := dec(metaConfig, &ck.config); err != nil {
		return nil, err
	}
	if err := dec(metaTrainer, &ck.state); err != nil {
		return nil, err
	}
	if err := dec(metaClasses, &ck.classes); err != nil {
		return nil, err
	}
	if _, err := fmt.Sscanf(meta[metaImage], "%d,%d,%d", &ck.image[0], &ck.image[1], &ck.image[2]); err != nil {
		return nil, fmt.Errorf("checkpoint %s: metadata image %q: want C,H,W", path, meta[metaImage])
	}
	if err := ck.config.Validate(); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if err := ck.check(); err != nil {
		return nil, err
	}
	return ck, nil
}

// load uploads the named checkpoint tensors into the device tensors, checking their sizes.
func (ck *checkpoint) load(b net.Backend, ts map[string]*net.Tensor) error {
	for _, name := range sortedKeys(ts) {
		t := ts[name]
		d, ok := ck.tensors[name]
		if !ok {
			return fmt.Errorf("checkpoint %s: tensor %s is missing", ck.path, name)
		}
		if len(d.Data) != t.Len() {
			return fmt.Errorf("checkpoint %s: tensor %s has %d values, the network needs %d", ck.path, name, len(d.Data), t.Len())
		}
		b.Upload(t, d.Data)
	}
	return nil
}

// restore puts a checkpoint's network, optimiser, policy and position into the run.
func (r *run) restore(ck *checkpoint) error {
	if !bytes.Equal(ck.spec, r.spec.TOML()) {
		return fmt.Errorf("checkpoint %s: its network differs from the one model %s builds now", ck.path, r.cfg.Model)
	}
	if len(ck.classes) != r.classes {
		return fmt.Errorf("checkpoint %s: %d classes, the data has %d", ck.path, len(ck.classes), r.classes)
	}
	if err := r.checkPosition(ck); err != nil {
		return err
	}
	if err := ck.load(r.b, r.deviceTensors()); err != nil {
		return err
	}
	r.st = ck.state
	r.lastCkpt = r.st.Step
	return nil
}

// sortedKeys returns a map's keys in order, for deterministic output.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
