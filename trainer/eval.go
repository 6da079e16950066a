package trainer

import (
	"fmt"
	"slices"
	"strings"

	"rout/data"
	"rout/net"
)

// EvalSettings say what Evaluate measures and where.
type EvalSettings struct {
	// Data is the dataset spec; empty: the one the run trained on.
	Data string
	// Split is "test", "train" (the training split as the run used it: without the validation
	// part when the run carved one) or "val" (the run's validation split).
	Split string
	// Batch is the evaluation batch size (0: the run's).
	Batch int
	// Device and Threads choose the backend as in Config (empty device: auto).
	Device  string
	Threads int
	// Logits, when set, is a safetensors file to write the first batch's input (as prepared for
	// the network) and logits into, for checking another framework's copy of the network.
	Logits string
}

// Check refuses settings Evaluate cannot take, before anything is read, so that a command line
// can report them as its own mistakes.
func (s EvalSettings) Check() error {
	switch s.Split {
	case "", "test", "train", "val":
	default:
		return fmt.Errorf("split %q: want test, train or val", s.Split)
	}
	switch s.Device {
	case "", "auto", "cpu", "gpu":
	default:
		return fmt.Errorf("device %q: want auto, cpu or gpu", s.Device)
	}
	if s.Batch < 0 {
		return fmt.Errorf("batch %d: want 0 or more", s.Batch)
	}
	if s.Threads < 0 {
		return fmt.Errorf("threads %d: want 0 or more", s.Threads)
	}
	return nil
}

// EvalResult is a model's loss and accuracy on a split.
type EvalResult struct {
	Checkpoint string  `json:"checkpoint"`
	Data       string  `json:"data"`
	Split      string  `json:"split"`
	Examples   int     `json:"examples"`
	Step       int     `json:"step"` // the training step the checkpoint was saved at
	Loss       Number  `json:"loss"` // mean per example; null in JSON when not finite (a diverged network)
	Acc        float64 `json:"acc"`  // fraction correct
}

// Evaluate measures a checkpoint's network on a split of a dataset, preparing images exactly as
// its training did (crop and the training split's statistics, read from the checkpoint).
// WithBackend, WithDataset and WithObserver (when it is an EvalObserver, for progress) apply;
// other options are ignored.
func Evaluate(path string, s EvalSettings, opts ...Option) (_ EvalResult, err error) {
	if err := s.Check(); err != nil {
		return EvalResult{}, err
	}
	var o runOptions
	for _, opt := range opts {
		opt(&o)
	}
	ck, err := readCheckpoint(path)
	if err != nil {
		return EvalResult{}, err
	}
	cfg := ck.config
	if s.Data != "" {
		cfg.Data = s.Data
	}
	if s.Batch > 0 {
		cfg.Batch = s.Batch
	}
	cfg.Device, cfg.Threads = s.Device, s.Threads
	if cfg.Device == "" {
		cfg.Device = "auto"
	}
	if err := cfg.Validate(); err != nil {
		return EvalResult{}, err
	}
	ds := o.dataset
	if ds == nil {
		if ds, err = data.Open(cfg.Data); err != nil {
			return EvalResult{}, fmt.Errorf("data: %w", err)
		}
	}
	if len(ds.Classes) != len(ck.classes) {
		return EvalResult{}, fmt.Errorf("data %s has %d classes, the checkpoint's network %d", cfg.Data, len(ds.Classes), len(ck.classes))
	}
	if !slices.Equal(ds.Classes, ck.classes) {
		return EvalResult{}, fmt.Errorf("data %s has the classes %s, the checkpoint's network was trained on %s: labels would be compared with the wrong classes",
			cfg.Data, strings.Join(ds.Classes, ", "), strings.Join(ck.classes, ", "))
	}
	var split data.Split
	switch s.Split {
	case "", "test":
		s.Split, split = "test", ds.Test
	default: // train or val (Check)
		split = ds.Train
		if cfg.ValFraction > 0 {
			train, val, err := ds.CarveValidation(cfg.ValFraction, cfg.DataSeed)
			if err != nil {
				return EvalResult{}, err
			}
			split = train
			if s.Split == "val" {
				split = val
			}
		} else if s.Split == "val" {
			return EvalResult{}, fmt.Errorf("split val: the run carved no validation split (its val-fraction is 0)")
		}
	}
	if split.N == 0 {
		return EvalResult{}, fmt.Errorf("data %s: the %s split is empty", cfg.Data, s.Split)
	}
	if split.C != ck.image[0] {
		return EvalResult{}, fmt.Errorf("data %s has %d-channel images, the network was trained on %d channels", cfg.Data, split.C, ck.image[0])
	}
	if cfg.Crop == 0 && (split.H < ck.image[1] || split.W < ck.image[2]) {
		return EvalResult{}, fmt.Errorf("data %s: %dx%d images are smaller than the %dx%d images the network was trained on whole (crop 0)",
			cfg.Data, split.H, split.W, ck.image[1], ck.image[2])
	}
	prep, err := restorePreprocessing(&cfg, ck.tensors, ck.image)
	if err != nil {
		return EvalResult{}, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if prep.cropH > split.H+2*cfg.Pad || prep.cropW > split.W+2*cfg.Pad {
		return EvalResult{}, fmt.Errorf("data %s: %dx%d images cannot give the %dx%d crop the network takes", cfg.Data, split.H, split.W, prep.cropH, prep.cropW)
	}
	spec, err := net.ParseSpec(ck.spec, path+" (model_toml)")
	if err != nil {
		return EvalResult{}, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	b := o.backend
	if b == nil {
		if b, err = OpenBackend(&cfg); err != nil {
			return EvalResult{}, err
		}
		defer func() {
			if cerr := b.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("device %s: %w", b.Name(), cerr)
			}
		}()
	}
	if err := checkMemory(b, spec, cfg.Batch, [3]int{split.C, prep.cropH, prep.cropW}, len(ck.classes), 0, cfg.Threads, 1, int64(len(split.Pixels))); err != nil {
		return EvalResult{}, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	ev, err := newEvaluator(b, spec, &cfg, &prep, split.C, len(ck.classes), "checkpoint "+path)
	if err != nil {
		return EvalResult{}, err
	}
	ts := map[string]*net.Tensor{"params": ev.n.Params}
	if ev.n.State != nil {
		ts["state"] = ev.n.State
	}
	if err := ck.load(b, ts); err != nil {
		return EvalResult{}, err
	}
	set, err := newEvalSet(b, &split)
	if err != nil {
		return EvalResult{}, err
	}
	ev.progress = evalProgress(o.observer)
	loss, acc, err := ev.evaluate(set, split.N)
	if err != nil {
		return EvalResult{}, err
	}
	if s.Logits != "" {
		if err := dumpBatch(b, ev.n, set, split.N, ev.aug, s.Logits); err != nil {
			return EvalResult{}, err
		}
	}
	return EvalResult{Checkpoint: path, Data: cfg.Data, Split: s.Split, Examples: split.N, Step: ck.state.Step,
		Loss: Number(loss), Acc: acc}, nil
}

// evaluator is a network on a device with what measuring it needs: the preprocessing's device
// part, the evaluation batches' augment (centred, never flipped) and the tensor of the sums. A
// run and Evaluate build it alike (newEvaluator), so that `rout eval` measures a checkpoint as
// its training's evaluations did.
type evaluator struct {
	b   net.Backend
	n   *net.Net
	aug net.Augment
	st  *net.Tensor // [loss, correct, count] of the evaluation in progress
	// progress, when set, hears how far each evaluation has got (an EvalObserver's Evaluating).
	progress func(done, total int)
}

// newEvaluator builds spec's network on b for batches of cfg.Batch images of c channels, cropped
// as prep says, and uploads prep's statistics. what names the network in a build error.
func newEvaluator(b net.Backend, spec *net.Spec, cfg *Config, prep *preprocessing, c, classes int, what string) (*evaluator, error) {
	n, err := net.Build(b, spec, cfg.Batch, [3]int{c, prep.cropH, prep.cropW}, classes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := prep.upload(b); err != nil {
		return nil, err
	}
	st, err := b.Alloc(1, 3, 1, 1)
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", b.Name(), err)
	}
	return &evaluator{b: b, n: n, aug: prep.augment(cfg, false), st: st}, nil
}

// evaluate returns the mean loss and the accuracy of the network on a held image set of count
// images, in batches whose last one is padded (label -1, ignored).
func (e *evaluator) evaluate(set net.ImageSet, count int) (loss, acc float64, err error) {
	b, n, st := e.b, e.n, e.st
	b.Fill(st, 0)
	for start := 0; start < count; start += n.Batch {
		if e.progress != nil {
			e.progress(start, count)
		}
		b.GatherBatch(set, start, n.Input, n.Labels, e.aug)
		n.Forward(false)
		b.SoftmaxCrossEntropy(n.Logits, n.Labels, nil, st, net.ReduceSum)
	}
	if e.progress != nil {
		e.progress(count, count)
	}
	s := make([]float32, 3)
	b.Download(st, s)
	if err := b.Err(); err != nil {
		return 0, 0, fmt.Errorf("device %s: evaluation: %w", b.Name(), err)
	}
	if s[2] != float32(count) {
		return 0, 0, fmt.Errorf("evaluation counted %v examples, want %d", s[2], count)
	}
	return float64(s[0]) / float64(s[2]), float64(s[1]) / float64(s[2]), nil
}

// newEvalSet puts a split on a device in its stored order.
func newEvalSet(b net.Backend, s *data.Split) (net.ImageSet, error) {
	set, err := b.NewImageSet(s.Pixels, s.Labels, s.N, s.C, s.H, s.W)
	if err != nil {
		return nil, fmt.Errorf("device %s: evaluation images: %w", b.Name(), err)
	}
	order := make([]int32, s.N)
	for i := range order {
		order[i] = int32(i)
	}
	b.SetOrder(set, order)
	return set, nil
}
