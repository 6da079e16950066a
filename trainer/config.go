package trainer

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"rout/net"
)

// Config is every setting of a training run. It is the one place where a setting is declared:
// each field's `json` tag is its name everywhere — the `rout train` flag, the key of Set (what a
// sweep's arm overrides use), and the key in config.json — and its `usage` tag is its help text.
// A `choices` tag lists the values a string setting accepts; `cat` groups flags in the help;
// `resume:"ok"` marks the run-control settings that may differ when a run is resumed because they
// do not change its result (on one device).
type Config struct {
	// Preset is the preset the run started from (informational; --preset picks it).
	Preset string `json:"preset" flag:"-"`
	Arm    string `json:"arm" cat:"run" usage:"label of the run's arm, copied into summary.json (sweeps set it)"`

	Model string `json:"model" cat:"model and data" usage:"network: a built-in spec (inception28, inception28-bn, convnet-small, NAME@WIDTH such as inception28@0.25) or a .toml spec file"`
	Init  string `json:"init" cat:"model and data" usage:"initialiser of every conv and dense weight, replacing the model's: uniform:A (U(-A, A)), glorot or he; empty keeps the model's own"`
	Data  string `json:"data" cat:"model and data" usage:"dataset spec: shapes[:SEED], cifar10[:PATH], cifar100[:PATH], mnist[:PATH], folder:PATH, ..."`

	Crop        int     `json:"crop" cat:"preprocessing" usage:"side of the square window fed to the network (0: the whole image); centred, or random with --random-crop"`
	Pad         int     `json:"pad" cat:"preprocessing" usage:"zero padding added on every side of an image before cropping"`
	RandomCrop  bool    `json:"random-crop" cat:"preprocessing" usage:"training batches take the crop window at a random offset (drawn from the data seed); evaluation stays centred"`
	Flip        bool    `json:"flip" cat:"preprocessing" usage:"training batches mirror half of the examples at random (drawn from the data seed)"`
	Scale       float64 `json:"scale" cat:"preprocessing" usage:"multiply raw pixel values (0..255) by this before any subtraction"`
	MeanImage   bool    `json:"mean-image" cat:"preprocessing" usage:"subtract the training split's per-pixel mean image of the centre crop (the paper)"`
	Standardize bool    `json:"standardize" cat:"preprocessing" usage:"subtract the training split's per-channel mean and divide by its standard deviation"`
	ValFraction float64 `json:"val-fraction" cat:"preprocessing" usage:"set aside this fraction of the training split (drawn from the data seed) as a validation split, evaluated after every epoch"`

	Epochs   int    `json:"epochs" cat:"training" usage:"passes over the training split"`
	Batch    int    `json:"batch" cat:"training" usage:"examples per step; an epoch is floor(N/batch) steps (the last partial batch is dropped)"`
	Seed     uint64 `json:"seed" cat:"training" usage:"seed of the initialisation and of every RandomOut re-draw"`
	DataSeed uint64 `json:"data-seed" cat:"training" usage:"seed of the batch order, random crops, flips and validation split (independent of --seed)"`
	Loss     string `json:"loss-reduction" cat:"training" choices:"sum,mean" usage:"the loss a step minimises: summed over the batch (the paper) or averaged"`

	Optimizer   string  `json:"optimizer" cat:"optimiser" choices:"adam,sgd" usage:"update rule"`
	LR          float64 `json:"lr" cat:"optimiser" usage:"learning rate (the schedule's starting value)"`
	Beta1       float64 `json:"beta1" cat:"optimiser" usage:"Adam's first-moment decay"`
	Beta2       float64 `json:"beta2" cat:"optimiser" usage:"Adam's second-moment decay"`
	Eps         float64 `json:"eps" cat:"optimiser" usage:"Adam's epsilon"`
	MXNetEps    bool    `json:"adam-mxnet-eps" cat:"optimiser" usage:"Adam adds eps to the uncorrected sqrt(v), as MXNet's Adam in the authors' code does, not to the bias-corrected one as PyTorch's: eps acts 1/sqrt(1-beta2^t) times larger early on (31.6x at step 1)"`
	Momentum    float64 `json:"momentum" cat:"optimiser" usage:"SGD's momentum"`
	Nesterov    bool    `json:"nesterov" cat:"optimiser" usage:"SGD uses Nesterov momentum"`
	WeightDecay float64 `json:"weight-decay" cat:"optimiser" usage:"L2 penalty added to every parameter's gradient (biases included)"`
	Schedule    string  `json:"schedule" cat:"optimiser" choices:"constant,step,cosine" usage:"learning-rate schedule over the steps of --epochs"`
	LRStep      int     `json:"lr-step-epochs" cat:"optimiser" usage:"step schedule: epochs between decays"`
	LRGamma     float64 `json:"lr-gamma" cat:"optimiser" usage:"step schedule: factor applied at each decay"`
	LRMin       float64 `json:"lr-min" cat:"optimiser" usage:"cosine schedule: the learning rate reached at the last step"`

	RandomOut       bool    `json:"randomout" cat:"randomout" usage:"re-draw the filters whose gradient norm falls below --tau (dead filters are measured either way)"`
	Tau             float64 `json:"tau" cat:"randomout" usage:"threshold on a filter's gradient norm"`
	TauMode         string  `json:"tau-mode" cat:"randomout" choices:"absolute,relative" usage:"tau is absolute, or a fraction of the mean norm of the filter's layer"`
	RandomOutEvery  int     `json:"revive-every" cat:"randomout" usage:"RandomOut and ReDo check the filters after every Nth update (formerly randomout-every)"`
	RandomOutNorm   string  `json:"randomout-norm" cat:"randomout" choices:"l1,l2" usage:"per-filter gradient norm: l1 (the paper's CGN) or l2"`
	RandomOutScope  string  `json:"randomout-scope" cat:"randomout" choices:"weights,weights+bias,weights+bias+optimizer" usage:"what a re-draw resets: the weights (the paper), also zero the bias, also zero the optimiser's moments"`
	RandomOutLayers string  `json:"randomout-layers" cat:"randomout" usage:"comma-separated conv layers watched (empty: every conv layer)"`

	Revive      string  `json:"revive" cat:"revival rules" choices:"none,randomout,redo,cbp" usage:"filter-revival rule: none (dead filters are only measured), randomout (gradient-based; --randomout is its shorthand), redo (dormant activations, Sokar et al. 2023) or cbp (continual backprop's utility, Dohare et al. 2024)"`
	ReviveInit  string  `json:"revive-init" cat:"revival rules" choices:",layer,glorot,he,fan-in" usage:"what a revived filter's incoming weights are drawn from: the layer's own initialiser, glorot, he, or fan-in (U(-1/sqrt(fan_in), 1/sqrt(fan_in))); empty: the rule's reference (randomout layer, redo glorot, cbp fan-in)"`
	RedoTau     float64 `json:"redo-tau" cat:"revival rules" usage:"ReDo: a filter is dormant when its mean |activation| over its layer's mean is at most this"`
	CBPRate     float64 `json:"cbp-rate" cat:"revival rules" usage:"continual backprop: filters replaced per mature filter per step"`
	CBPDecay    float64 `json:"cbp-decay" cat:"revival rules" usage:"continual backprop: decay of the running utility"`
	CBPMaturity int     `json:"cbp-maturity" cat:"revival rules" usage:"continual backprop: steps a filter lives before it may be replaced"`

	FailMargin      float64 `json:"fail-margin" cat:"run" usage:"status failed when the final test accuracy is within this of chance (the test split's most common class's share: 1/classes when balanced)"`
	LogEvery        int     `json:"log-every" cat:"run" resume:"ok" usage:"steps between log lines (loss, accuracy and counters are read back only then)"`
	CheckpointEvery int     `json:"checkpoint-every" cat:"run" resume:"ok" usage:"steps between extra checkpoints (0: none; one is always written after every epoch and where the run stops)"`
	MaxSteps        int     `json:"max-steps" cat:"run" resume:"ok" usage:"stop after this many steps in all, evaluating once more (0: run every epoch)"`
	Device          string  `json:"device" cat:"run" resume:"ok" choices:"auto,cpu,gpu" usage:"backend: the GPU when one is usable (auto), or force one"`
	Threads         int     `json:"threads" cat:"run" resume:"ok" usage:"CPU backend worker threads (0: every core)"`
	Deterministic   bool    `json:"gpu-deterministic" cat:"run" resume:"ok" usage:"GPU: deterministic cuDNN algorithms (chosen by cuDNN's heuristics, not by timing, so that reruns agree) and no TF32"`
	TF32            bool    `json:"tf32" cat:"run" resume:"ok" usage:"GPU: allow TF32 tensor cores (ignored with --gpu-deterministic)"`
	CuDNNGraph      bool    `json:"cudnn-graph" cat:"run" resume:"ok" usage:"GPU: run the convolutions through cuDNN's graph API instead of its legacy calls (unscaled calls only; with --cuda-graph the fastest setting measured, see docs/gpu-notes.md, Benchmark)"`
	CUDAGraph       bool    `json:"cuda-graph" cat:"run" resume:"ok" usage:"GPU: capture each training step into a CUDA graph once and replay it (on an H200: steps 3% faster; see docs/gpu-notes.md, Benchmark)"`
	CuDNNPacked     bool    `json:"cudnn-packed" cat:"run" resume:"ok" usage:"GPU: give cuDNN's convolutions packed tensors only, copying an inception branch's output and gradient (channel slices of its block's concat) through buffers, as PyTorch's cat does (faster algorithms for inception28 on an H200)"`
}

// Setting is one row of the table of settings (Settings): what a command line that gives
// settings as flags, or a file that names them, needs to know of each.
type Setting struct {
	Name       string       // the flag name, Set's key and config.json's key
	Usage      string       // help text
	Category   string       // help group
	Choices    []string     // the values a string setting accepts (nil: any)
	Kind       reflect.Kind // Bool, Int, Uint64, Float64 or String
	RunControl bool         // may differ when a run is resumed
	Aliases    []string     // former names, still accepted
}

// field is one Config setting as the table built from the struct tags sees it.
type field struct {
	Setting
	index int
}

// configFields is the table of settings, read once from Config's tags.
var configFields = sync.OnceValue(func() []field {
	t := reflect.TypeFor[Config]()
	var fs []field
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Tag.Get("flag") == "-" {
			continue
		}
		f := field{Setting: Setting{Name: sf.Tag.Get("json"), Usage: sf.Tag.Get("usage"), Category: sf.Tag.Get("cat"),
			RunControl: sf.Tag.Get("resume") == "ok", Kind: sf.Type.Kind()}, index: i}
		if c := sf.Tag.Get("choices"); c != "" {
			f.Choices = strings.Split(c, ",")
		}
		f.Aliases = formerNames(f.Name)
		fs = append(fs, f)
	}
	return fs
})

func lookupField(key string) (field, error) {
	key = CanonicalKey(key)
	for _, f := range configFields() {
		if f.Name == key {
			return f, nil
		}
	}
	return field{}, fmt.Errorf("unknown setting %q (valid: %s)", key, strings.Join(Keys(), ", "))
}

// Settings is the table of settings, in declaration order.
func Settings() []Setting {
	var ss []Setting
	for _, f := range configFields() {
		s := f.Setting
		s.Choices = slices.Clone(s.Choices)
		s.Aliases = slices.Clone(s.Aliases)
		ss = append(ss, s)
	}
	return ss
}

// Keys lists every setting's name in declaration order.
func Keys() []string {
	var ks []string
	for _, f := range configFields() {
		ks = append(ks, f.Name)
	}
	return ks
}

// Set sets the setting named key (a flag name, such as "tau" or "randomout-scope") from its text
// form, as a flag would. It checks the value's syntax and choices, not its consistency with
// other settings (see Validate).
func (c *Config) Set(key, value string) error {
	f, err := lookupField(key)
	if err != nil {
		return err
	}
	v := reflect.ValueOf(c).Elem().Field(f.index)
	bad := func(want string) error {
		return fmt.Errorf("setting %s: %q is not %s", key, value, want)
	}
	switch f.Kind {
	case reflect.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return bad("true or false")
		}
		v.SetBool(b)
	case reflect.Int:
		n, err := strconv.Atoi(value)
		if err != nil {
			return bad("an integer")
		}
		v.SetInt(int64(n))
	case reflect.Uint64:
		n, err := strconv.ParseUint(value, 10, 64)
		if err != nil {
			return bad("a non-negative integer")
		}
		v.SetUint(n)
	case reflect.Float64:
		x, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return bad("a number")
		}
		v.SetFloat(x)
	case reflect.String:
		if f.Choices != nil && !slices.Contains(f.Choices, value) {
			return bad("one of " + strings.Join(f.Choices, ", "))
		}
		v.SetString(value)
	}
	return nil
}

// Get returns a setting's value in the text form Set accepts.
func (c *Config) Get(key string) (string, error) {
	f, err := lookupField(key)
	if err != nil {
		return "", err
	}
	v := reflect.ValueOf(c).Elem().Field(f.index)
	switch f.Kind {
	case reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64), nil
	default:
		return fmt.Sprint(v.Interface()), nil
	}
}

// Apply sets comma-separated key=value pairs in order ("randomout=true,tau=1e-6"), the form of a
// sweep arm's overrides. A value cannot contain a comma.
func (c *Config) Apply(overrides string) error {
	if strings.TrimSpace(overrides) == "" {
		return nil
	}
	for _, kv := range strings.Split(overrides, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return fmt.Errorf("override %q: want key=value", kv)
		}
		if err := c.Set(strings.TrimSpace(k), strings.TrimSpace(v)); err != nil {
			return err
		}
	}
	return nil
}

// Diff lists the settings (by name) whose values differ between c and o.
func (c *Config) Diff(o *Config) []string {
	var d []string
	a, b := reflect.ValueOf(c).Elem(), reflect.ValueOf(o).Elem()
	for _, f := range configFields() {
		if !a.Field(f.index).Equal(b.Field(f.index)) {
			d = append(d, f.Name)
		}
	}
	return d
}

// Validate checks every setting and their combinations, naming the setting at fault.
func (c *Config) Validate() error {
	for _, f := range configFields() {
		if f.Choices == nil {
			continue
		}
		v := reflect.ValueOf(c).Elem().Field(f.index).String()
		if !slices.Contains(f.Choices, v) {
			return fmt.Errorf("setting %s: %q is not one of %s", f.Name, v, strings.Join(f.Choices, ", "))
		}
	}
	for _, f := range configFields() {
		if f.Kind != reflect.Float64 {
			continue
		}
		if x := reflect.ValueOf(c).Elem().Field(f.index).Float(); math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("setting %s: %v is not a finite number", f.Name, x)
		}
	}
	type check struct {
		ok   bool
		name string
		want string
		val  any
	}
	checks := []check{
		{c.Model != "", "model", "a model name or spec file", c.Model},
		{c.Data != "", "data", "a dataset spec", c.Data},
		{c.Crop >= 0, "crop", "0 or a positive size", c.Crop},
		{c.Pad >= 0, "pad", "0 or more", c.Pad},
		{c.Scale > 0, "scale", "a positive number", c.Scale},
		{!(c.MeanImage && c.Standardize), "standardize", "off when mean-image is on (they are alternatives)", c.Standardize},
		{c.ValFraction >= 0 && c.ValFraction < 1, "val-fraction", "a number in [0, 1)", c.ValFraction},
		{c.Epochs >= 1, "epochs", "1 or more", c.Epochs},
		{c.Batch >= 1, "batch", "1 or more", c.Batch},
		{c.LR > 0, "lr", "a positive number", c.LR},
		{c.Beta1 >= 0 && c.Beta1 < 1, "beta1", "a number in [0, 1)", c.Beta1},
		{c.Beta2 >= 0 && c.Beta2 < 1, "beta2", "a number in [0, 1)", c.Beta2},
		{c.Eps > 0, "eps", "a positive number", c.Eps},
		{c.Momentum >= 0 && c.Momentum < 1, "momentum", "a number in [0, 1)", c.Momentum},
		{c.WeightDecay >= 0, "weight-decay", "0 or more", c.WeightDecay},
		{c.LRStep >= 1, "lr-step-epochs", "1 or more", c.LRStep},
		{c.LRGamma > 0, "lr-gamma", "a positive number", c.LRGamma},
		{c.LRMin >= 0 && c.LRMin <= c.LR, "lr-min", "a number in [0, lr]", c.LRMin},
		{c.Tau == 0 || c.Tau > 0 && float32(c.Tau) > 0 && !math.IsInf(float64(float32(c.Tau)), 0), "tau", "0, or a positive number a float32 holds (1.4e-45 to 3.4e38: the norms are float32)", c.Tau},
		{c.RandomOutEvery >= 1, "revive-every", "1 or more", c.RandomOutEvery},
		{c.FailMargin >= 0 && c.FailMargin <= 1, "fail-margin", "a number in [0, 1]", c.FailMargin},
		{c.LogEvery >= 1, "log-every", "1 or more", c.LogEvery},
		{c.CheckpointEvery >= 0, "checkpoint-every", "0 or more", c.CheckpointEvery},
		{c.MaxSteps >= 0, "max-steps", "0 or more", c.MaxSteps},
		{c.Threads >= 0, "threads", "0 or more", c.Threads},
	}
	for _, k := range checks {
		if !k.ok {
			return fmt.Errorf("setting %s: %v, want %s", k.name, k.val, k.want)
		}
	}
	if err := c.checkRevive(); err != nil {
		return err
	}
	return c.checkInit()
}

// checkInit checks Init: empty, or an initialiser net.ParseInit accepts.
func (c *Config) checkInit() error {
	if c.Init == "" {
		return nil
	}
	if _, err := net.ParseInit(c.Init); err != nil {
		return fmt.Errorf("setting init: %w", err)
	}
	return nil
}

// layerList is RandomOutLayers split on commas (nil: every conv layer).
func (c *Config) layerList() []string {
	var ls []string
	for _, l := range strings.Split(c.RandomOutLayers, ",") {
		if l = strings.TrimSpace(l); l != "" {
			ls = append(ls, l)
		}
	}
	return ls
}

// PresetNames lists the presets, the default first.
func PresetNames() []string { return []string{"quick", "paper"} }

// Preset returns a named preset's configuration.
//
//   - paper: the protocol of DESIGN.md, from the authors' code: inception28 (no batch norm), every
//     weight U(-0.01, 0.01), CIFAR-10 centre-cropped 32 -> 28 minus the mean image, no scaling
//     and no augmentation, Adam 1e-3 (0.9, 0.999, 1e-8) on the loss summed over batches of 128,
//     20 epochs, a data order fixed by the data seed; with --randomout, tau 1e-30 on the L1
//     gradient norm after every step, re-drawing the weights only.
//   - quick: the same recipe scaled down to about half a minute on two CPU cores:
//     convnet-small (3 conv layers) on the built-in shapes data (10,000 training images, 28x28
//     centre crops), batches of 64, 3 epochs (see docs/protocol.md for what it shows).
func Preset(name string) (Config, error) {
	c := Config{
		Preset: name, Model: "inception28", Init: "uniform:0.01", Data: "cifar10",
		Crop: 28, Scale: 1, MeanImage: true,
		Epochs: 20, Batch: 128, Loss: "sum",
		Optimizer: "adam", LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Momentum: 0.9,
		Schedule: "constant", LRStep: 1, LRGamma: 0.1,
		Tau: 1e-30, TauMode: "absolute", RandomOutEvery: 1, RandomOutNorm: "l1", RandomOutScope: "weights",
		FailMargin: 0.02, LogEvery: 50, Device: "auto", CuDNNPacked: true,
	}
	setReviveDefaults(&c)
	switch name {
	case "paper":
	case "quick":
		c.Model = "convnet-small"
		c.Data = "shapes"
		c.Epochs = 3
		c.Batch = 64
		c.LogEvery = 20
	default:
		return Config{}, fmt.Errorf("unknown preset %q (want one of %s)", name, strings.Join(PresetNames(), ", "))
	}
	return c, nil
}

// runControl reports whether a setting may change when a run is resumed.
func runControl(name string) bool {
	f, err := lookupField(name)
	return err == nil && f.RunControl
}
