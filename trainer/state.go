package trainer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"rout/net"
)

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
// parameters that are not finite: it returns a divergence message instead, so the last
// checkpoint stays the last finite state.
func (r *run) checkpoint() (diverged string, err error) {
	if r.lastCkpt == r.st.Step {
		return "", nil
	}
	ts := r.prep.tensors()
	for name, t := range r.deviceTensors() {
		d := make([]float32, t.Len())
		r.b.Download(t, d)
		ts[name] = tensorData{Shape: []uint64{uint64(t.N), uint64(t.C), uint64(t.H), uint64(t.W)}, Data: d}
	}
	if err := r.b.Err(); err != nil {
		return "", fmt.Errorf("checkpoint: device %s: %w", r.b.Name(), err)
	}
	for _, v := range ts["params"].Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Sprintf("a parameter became %v by step %d", v, r.st.Step), nil
		}
	}
	st := r.st
	st.Elapsed = r.elapsed()
	cfgJSON, err := json.Marshal(r.cfg)
	if err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	stJSON, err := json.Marshal(st)
	if err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	classes, err := json.Marshal(r.ds.Classes)
	if err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	meta := map[string]string{
		metaFormat: checkpointFormat, metaConfig: string(cfgJSON), metaTrainer: string(stJSON),
		metaModel: string(r.spec.TOML()), metaClasses: string(classes),
		metaImage: fmt.Sprintf("%d,%d,%d", r.train.C, r.train.H, r.train.W),
		metaStep:  strconv.Itoa(st.Step), metaEpoch: strconv.Itoa(st.Epoch), metaEpochStep: strconv.Itoa(st.EpochStep),
		metaSeed: strconv.FormatUint(r.cfg.Seed, 10), metaDataSeed: strconv.FormatUint(r.cfg.DataSeed, 10),
	}
	if err := r.guarded(); err != nil {
		return "", err
	}
	if err := r.metrics.sync(); err != nil { // a checkpoint must not outlive the lines before it
		return "", err
	}
	if err := writeSafetensors(filepath.Join(r.out, CheckpointFile), ts, meta); err != nil {
		return "", err
	}
	r.lastCkpt = st.Step
	return "", nil
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
	if err := ck.load(r.b, r.deviceTensors()); err != nil {
		return err
	}
	r.st = ck.state
	r.lastCkpt = r.st.Step
	return nil
}

// configFile is config.json: the resolved config and where the run came from.
type configFile struct {
	Config     Config     `json:"config"`
	Provenance provenance `json:"provenance"`
}

// provenance records what produced a run, for config.json.
type provenance struct {
	Version   string            `json:"rout_version"`
	Commit    string            `json:"commit,omitempty"` // VCS revision stamped in the binary, "+dirty" when modified
	GoVersion string            `json:"go_version"`
	Hostname  string            `json:"hostname"`
	StartTime string            `json:"start_time"`
	Resumed   *int              `json:"resumed_from_step,omitempty"`
	Backend   map[string]string `json:"backend"`
	Data      struct {
		Name    string   `json:"name"`
		Source  string   `json:"source"`
		Classes []string `json:"classes"`
		Image   [3]int   `json:"image"` // C, H, W before cropping
		Train   int      `json:"train"`
		Val     int      `json:"val"`
		Test    int      `json:"test"`
	} `json:"data"`
	Model struct {
		Name          string `json:"name"`
		Source        string `json:"source"`
		Init          string `json:"init"`
		Params        int    `json:"params"`
		Input         [3]int `json:"input"`
		WatchedLayers int    `json:"watched_layers"`
		// ConvFilters is every conv layer's filter count, in network order: what a report
		// divides the dead counts of metrics.jsonl by.
		ConvFilters LayerCounts `json:"conv_filters"`
	} `json:"model"`
	StepsPerEpoch int `json:"steps_per_epoch"`
	// Earlier are the run's earlier segments, oldest first: each resume replaces config.json,
	// and a run that moved between machines or devices would otherwise seem to have run on its
	// last one alone.
	Earlier []segment `json:"earlier_segments,omitempty"`
}

// segment is where and with what one stretch of a run (a start, or a resume) ran.
type segment struct {
	FromStep  int               `json:"from_step"`
	StartTime string            `json:"start_time"`
	Hostname  string            `json:"hostname"`
	Version   string            `json:"rout_version"`
	Commit    string            `json:"commit,omitempty"`
	Backend   map[string]string `json:"backend"`
}

// segment is this provenance's own stretch of the run.
func (p provenance) segment() segment {
	from := 0
	if p.Resumed != nil {
		from = *p.Resumed
	}
	return segment{FromStep: from, StartTime: p.StartTime, Hostname: p.Hostname, Version: p.Version, Commit: p.Commit, Backend: p.Backend}
}

// earlierSegments reads the segments a resumed run's config.json records (its own included), so
// that the new config.json keeps them: those that began before step from, where this resume
// begins (a resume that failed or was killed before its first checkpoint left nothing). A
// config.json that does not read (edited by hand) loses that history, not the run.
func earlierSegments(out string, from int) []segment {
	b, err := os.ReadFile(filepath.Join(out, ConfigFile))
	if err != nil {
		return nil
	}
	var old struct {
		Provenance provenance `json:"provenance"`
	}
	if json.Unmarshal(b, &old) != nil || old.Provenance.StartTime == "" {
		return nil
	}
	var kept []segment
	for _, sg := range append(old.Provenance.Earlier, old.Provenance.segment()) {
		if sg.FromStep < from {
			kept = append(kept, sg)
		}
	}
	return kept
}

func newProvenance(r *run, ck *checkpoint) provenance {
	var p provenance
	p.Version = r.o.version
	if bi, ok := debug.ReadBuildInfo(); ok {
		if p.Version == "" {
			p.Version = bi.Main.Version
		}
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+dirty"
				}
			}
		}
		if rev != "" {
			p.Commit = rev + dirty
		}
	}
	p.GoVersion = runtime.Version()
	p.Hostname, _ = os.Hostname()
	p.StartTime = time.Now().UTC().Format(time.RFC3339)
	if ck != nil {
		s := ck.state.Step
		p.Resumed = &s
		p.Earlier = earlierSegments(r.out, s)
	}
	p.Backend = r.b.Provenance()
	p.Data.Name, p.Data.Source, p.Data.Classes = r.ds.Name, r.ds.Source, r.ds.Classes
	p.Data.Image = [3]int{r.train.C, r.train.H, r.train.W}
	p.Data.Train, p.Data.Test = r.train.N, r.ds.Test.N
	if r.val != nil {
		p.Data.Val = r.val.N
	}
	p.Model.Name, p.Model.Source, p.Model.Init = r.spec.Name, r.spec.Source, r.spec.Init
	p.Model.Params = r.n.ParamCount()
	p.Model.Input = [3]int{r.train.C, r.prep.cropH, r.prep.cropW}
	p.Model.WatchedLayers = len(r.rev.Layers())
	if ft, err := r.n.ConvTable(nil); err == nil { // nil asks for every conv layer, which cannot fail
		for _, g := range ft.Groups {
			p.Model.ConvFilters.Layers = append(p.Model.ConvFilters.Layers, g.Name)
			p.Model.ConvFilters.Counts = append(p.Model.ConvFilters.Counts, int64(g.Filters))
		}
	}
	p.StepsPerEpoch = r.perEpoch
	return p
}
