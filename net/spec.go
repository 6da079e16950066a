package net

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"rout/internal/boundedio"
	"rout/internal/tomldepth"
)

// Spec is a network described declaratively: a sequence of layers read from TOML. The built-in
// models are specs too (net/models/*.toml, embedded), so a researcher's own network is a file in
// exactly the form of the ones rout ships. docs/models.md documents the format.
type Spec struct {
	Name        string
	Description string
	// Input is the C, H, W the network is described for (what `rout model summary` assumes);
	// Build takes the real input shape.
	Input [3]int
	// Init is the default initialiser of every conv and dense weight: "uniform:A", "glorot", "he".
	Init      string
	BatchNorm BatchNormSpec
	Layers    []LayerSpec
	// Source is where the spec came from ("builtin" or a file path), for error messages.
	Source string
	// Width is the width multiplier already applied to the conv filter counts (1 for none).
	Width float64
}

// BatchNormSpec are the batch-norm settings shared by every bn layer.
type BatchNormSpec struct {
	Momentum float64 // weight of a batch's statistics in the running averages
	Eps      float64
}

// LayerSpec is one layer. Which fields apply depends on Type (see docs/models.md).
type LayerSpec struct {
	Type    string // conv, maxpool, avgpool, dense, relu, concat
	Name    string // unique within its block; generated when empty
	Filters int    // conv: output channels
	Kernel  Pair   // conv, pools: window height and width
	Stride  Pair   // conv (default 1), pools (default: the kernel)
	Pad     Pair   // conv, pools: zero padding on each side
	Act     string // conv, dense: "relu" or "none" ("" = relu for conv, none for dense)
	BN      bool   // conv: batch norm between the convolution and the activation
	Bias    *bool  // conv, dense: nil = true (the paper's units all have a bias)
	Init    string // conv, dense: overrides Spec.Init for this layer
	Ceil    bool   // pools: MXNet's old "ceil" output rule (PoolParams.Ceil)
	Global  bool   // pools: one window covering the whole input map
	Units   Units  // dense: outputs; 0 = the dataset's class count
	// Branches (concat): each branch is a sequence of layers reading the block's input; their
	// outputs are concatenated on channels. An empty branch passes the input through.
	Branches [][]LayerSpec
}

// Pair is a height and width given in TOML as one integer (both) or as [height, width].
type Pair [2]int

// UnmarshalTOML accepts 3 or [3, 1].
func (p *Pair) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		if x < 0 || x > 1<<20 {
			return fmt.Errorf("%d is out of range", x)
		}
		*p = Pair{int(x), int(x)}
		return nil
	case []any:
		if len(x) == 2 {
			a, aok := x[0].(int64)
			b, bok := x[1].(int64)
			if aok && bok && a >= 0 && b >= 0 && a <= 1<<20 && b <= 1<<20 {
				*p = Pair{int(a), int(b)}
				return nil
			}
		}
	}
	return fmt.Errorf("expected a non-negative integer or [height, width], got %v", v)
}

func (p Pair) set() bool { return p != Pair{} }

// Units is a dense layer's output count: an integer, or "classes" (stored as 0) for the
// dataset's class count.
type Units int

// UnmarshalTOML accepts a positive integer or "classes" (0 is more likely a slip than a request
// for the class count).
func (u *Units) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		if x >= 1 && x <= 1<<30 {
			*u = Units(x)
			return nil
		}
	case string:
		if x == "classes" {
			*u = 0
			return nil
		}
	}
	return fmt.Errorf(`expected an integer from 1 to 1073741824 or "classes", got %v`, v)
}

// Layer types.
const (
	TypeConv    = "conv"
	TypeMaxPool = "maxpool"
	TypeAvgPool = "avgpool"
	TypeDense   = "dense"
	TypeReLU    = "relu"
	TypeConcat  = "concat"
)

//go:embed models/*.toml
var builtinFS embed.FS

// BuiltinModels lists the names of the models rout ships, sorted.
func BuiltinModels() []string {
	entries, err := fs.ReadDir(builtinFS, "models")
	if err != nil {
		panic(err) // the embedded directory is part of the binary
	}
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".toml"))
	}
	sort.Strings(names)
	return names
}

// LoadSpec reads a built-in model by name ("inception28") or a TOML file by path, optionally
// followed by "@mult", a width multiplier applied to every conv filter count
// ("inception28@0.25"; rounded, at least 1). A name that is not built in is read as a path.
func LoadSpec(nameOrPath string) (*Spec, error) {
	base, mult := nameOrPath, 1.0
	_, statErr := os.Stat(nameOrPath) // a file whose name holds an @ is that file
	if i := strings.LastIndexByte(nameOrPath, '@'); i >= 0 && !strings.ContainsAny(nameOrPath[i:], `/\`) && statErr != nil {
		m, err := strconv.ParseFloat(nameOrPath[i+1:], 64)
		if err != nil || !(m > 0) || math.IsInf(m, 0) {
			return nil, fmt.Errorf("model %q: width multiplier %q: want a positive number (as in inception28@0.25)", nameOrPath, nameOrPath[i+1:])
		}
		base, mult = nameOrPath[:i], m
	}
	var (
		data   []byte
		source string
	)
	if b, err := builtinFS.ReadFile("models/" + base + ".toml"); err == nil && !strings.ContainsAny(base, `/\.`) {
		data, source = b, "builtin:"+base
	} else {
		b, err := boundedio.ReadFile(base, MaxSpecFile)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("model %q: not a built-in model (%s) nor a readable file: %w", base, strings.Join(BuiltinModels(), ", "), err)
			}
			return nil, fmt.Errorf("model %q: %w", base, err)
		}
		data, source = b, base
	}
	s, err := ParseSpec(data, source)
	if err != nil {
		return nil, err
	}
	if mult != 1 {
		s = s.Scaled(mult)
		if err := s.Check(); err != nil {
			return nil, fmt.Errorf("model %q: width multiplier %g: %w", nameOrPath, mult, err)
		}
	}
	return s, nil
}

// tomlSpec and tomlLayer are the file's form; Spec and LayerSpec the checked one.
type tomlSpec struct {
	Name        string      `toml:"name"`
	Description string      `toml:"description"`
	Input       []int       `toml:"input"`
	Init        string      `toml:"init"`
	BatchNorm   *tomlBN     `toml:"batchnorm"`
	Layers      []tomlLayer `toml:"layer"`
}

type tomlBN struct {
	Momentum *float64 `toml:"momentum"`
	Eps      *float64 `toml:"eps"`
}

type tomlLayer struct {
	Type     string        `toml:"type"`
	Name     string        `toml:"name"`
	Filters  *int          `toml:"filters"`
	Kernel   *Pair         `toml:"kernel"`
	Stride   *Pair         `toml:"stride"`
	Pad      *Pair         `toml:"pad"`
	Act      string        `toml:"act"`
	BN       *bool         `toml:"bn"`
	Bias     *bool         `toml:"bias"`
	Init     string        `toml:"init"`
	Ceil     *bool         `toml:"ceil"`
	Global   *bool         `toml:"global"`
	Units    *Units        `toml:"units"`
	Branches [][]tomlLayer `toml:"branches"`
}

// Defaults of a spec that does not say otherwise.
const (
	DefaultInit       = "uniform:0.01" // the paper's
	DefaultBNMomentum = 0.1
	DefaultBNEps      = 1e-5
)

// ParseSpec decodes and checks a TOML spec; source names it in errors.
func ParseSpec(data []byte, source string) (*Spec, error) {
	if len(data) > MaxSpecFile {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d a model file may have", source, len(data), MaxSpecFile)
	}
	if err := tomldepth.Check(data, maxTOMLNesting); err != nil {
		return nil, fmt.Errorf("%s: %w (blocks may nest at most %d deep)", source, err, MaxBlockDepth)
	}
	var ts tomlSpec
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&ts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("%s: unknown key %s (see docs/models.md)", source, strings.Join(keys, ", "))
	}
	s := &Spec{Name: ts.Name, Description: ts.Description, Init: ts.Init, Source: source, Width: 1,
		BatchNorm: BatchNormSpec{Momentum: DefaultBNMomentum, Eps: DefaultBNEps}}
	if s.Name == "" {
		s.Name = strings.TrimSuffix(filepath.Base(strings.TrimPrefix(source, "builtin:")), ".toml")
	}
	switch {
	case ts.Input == nil:
		s.Input = [3]int{3, 28, 28}
	case len(ts.Input) != 3 || ts.Input[0] < 1 || ts.Input[1] < 1 || ts.Input[2] < 1:
		return nil, fmt.Errorf("%s: input = %v: want [channels, height, width], each at least 1", source, ts.Input)
	default:
		copy(s.Input[:], ts.Input)
	}
	if s.Init == "" {
		s.Init = DefaultInit
	}
	if _, err := ParseInit(s.Init); err != nil {
		return nil, fmt.Errorf("%s: init: %w", source, err)
	}
	if bn := ts.BatchNorm; bn != nil {
		if bn.Momentum != nil {
			s.BatchNorm.Momentum = *bn.Momentum
		}
		if bn.Eps != nil {
			s.BatchNorm.Eps = *bn.Eps
		}
	}
	if m := s.BatchNorm.Momentum; !(m > 0 && m <= 1) {
		return nil, fmt.Errorf("%s: batchnorm.momentum = %v: want a number in (0, 1]", source, m)
	}
	if e := s.BatchNorm.Eps; !(e > 0 && e < 1) {
		return nil, fmt.Errorf("%s: batchnorm.eps = %v: want a small positive number", source, e)
	}
	if len(ts.Layers) == 0 {
		return nil, fmt.Errorf("%s: no layers (add [[layer]] tables)", source)
	}
	s.Layers, err = convertLayers(ts.Layers, "", 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if err := s.Check(); err != nil {
		return nil, err
	}
	return s, nil
}

// convertLayers turns the file's layers into LayerSpecs, checking which fields each type takes;
// depth is the number of blocks they are inside.
func convertLayers(tl []tomlLayer, where string, depth int) ([]LayerSpec, error) {
	out := make([]LayerSpec, len(tl))
	for i, t := range tl {
		loc := fmt.Sprintf("%slayer %d", where, i+1)
		if t.Name != "" {
			loc += fmt.Sprintf(" (%s)", t.Name)
		}
		l := LayerSpec{Type: t.Type, Name: t.Name, Act: t.Act, Bias: t.Bias, Init: t.Init}
		// Fields present in the file, checked against the type below.
		var given []string
		take(&l.Filters, t.Filters, "filters", &given)
		take(&l.Kernel, t.Kernel, "kernel", &given)
		take(&l.Stride, t.Stride, "stride", &given)
		take(&l.Pad, t.Pad, "pad", &given)
		if t.Act != "" {
			given = append(given, "act")
		}
		take(&l.BN, t.BN, "bn", &given)
		if t.Bias != nil {
			given = append(given, "bias")
		}
		if t.Init != "" {
			given = append(given, "init")
		}
		take(&l.Ceil, t.Ceil, "ceil", &given)
		take(&l.Global, t.Global, "global", &given)
		take(&l.Units, t.Units, "units", &given)
		if t.Branches != nil {
			given = append(given, "branches")
		}
		allowed, ok := layerFields[t.Type]
		if !ok {
			if t.Type == "" {
				return nil, fmt.Errorf("%s: missing type (one of %s)", loc, typeList())
			}
			return nil, fmt.Errorf("%s: unknown type %q (want one of %s)", loc, t.Type, typeList())
		}
		for _, f := range given {
			if !strings.Contains(" "+allowed+" ", " "+f+" ") {
				return nil, fmt.Errorf("%s: %s does not apply to a %s layer (it takes: %s)", loc, f, t.Type, allowed)
			}
		}
		if t.Type == TypeConv && t.Filters == nil {
			return nil, fmt.Errorf("%s: conv without filters", loc)
		}
		if t.Type == TypeConv && t.Kernel == nil {
			return nil, fmt.Errorf("%s: conv without kernel", loc)
		}
		if t.Stride != nil && (t.Stride[0] < 1 || t.Stride[1] < 1) {
			return nil, fmt.Errorf("%s: stride %s: must be at least 1 (leave it out for the default)", loc, pairString(t.Stride[0], t.Stride[1]))
		}
		if t.Type == TypeConcat && depth >= MaxBlockDepth {
			return nil, fmt.Errorf("%s: a block nested more than %d deep in other blocks", loc, MaxBlockDepth)
		}
		if t.Type == TypeConcat && len(t.Branches) == 0 {
			return nil, fmt.Errorf("%s: concat without branches (branches = [[...], [...]])", loc)
		}
		for b, br := range t.Branches {
			sub, err := convertLayers(br, fmt.Sprintf("%s branch %d ", loc, b+1), depth+1)
			if err != nil {
				return nil, err
			}
			l.Branches = append(l.Branches, sub)
		}
		out[i] = l
	}
	return out, nil
}

// layerFields lists the keys each layer type takes (besides type and name).
var layerFields = map[string]string{
	TypeConv:    "filters kernel stride pad act bn bias init",
	TypeMaxPool: "kernel stride pad ceil global",
	TypeAvgPool: "kernel stride pad ceil global",
	TypeDense:   "units act bias init",
	TypeReLU:    "",
	TypeConcat:  "branches",
}

func typeList() string {
	return strings.Join([]string{TypeConv, TypeMaxPool, TypeAvgPool, TypeDense, TypeReLU, TypeConcat}, ", ")
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Check validates the shape-independent parts of a spec (Build checks the shapes): field
// values, initialisers, and names (letters, digits, '_' and '-', unique within their block).
func (s *Spec) Check() error {
	if len(s.Layers) == 0 {
		return fmt.Errorf("%s: no layers", s.Source)
	}
	if _, err := ParseInit(s.Init); err != nil {
		return fmt.Errorf("%s: init: %w", s.Source, err)
	}
	if err := checkLayers(s.Layers, ""); err != nil {
		return fmt.Errorf("%s: %w", s.Source, err)
	}
	return nil
}

func checkLayers(ls []LayerSpec, where string) error {
	names := map[string]bool{}
	for i := range ls {
		l := &ls[i]
		loc := fmt.Sprintf("%slayer %d", where, i+1)
		if l.Name != "" {
			loc += fmt.Sprintf(" (%s)", l.Name)
			if !namePattern.MatchString(l.Name) {
				return fmt.Errorf("%s: name %q: use letters, digits, '_' and '-' (blocks join names with '.')", loc, l.Name)
			}
			if names[l.Name] {
				return fmt.Errorf("%s: name %q is used twice in the same block", loc, l.Name)
			}
			names[l.Name] = true
		}
		if _, ok := layerFields[l.Type]; !ok {
			return fmt.Errorf("%s: unknown type %q (want one of %s)", loc, l.Type, typeList())
		}
		if l.Stride[0] < 0 || l.Stride[1] < 0 || l.Pad[0] < 0 || l.Pad[1] < 0 || l.Kernel[0] < 0 || l.Kernel[1] < 0 {
			return fmt.Errorf("%s: kernel, stride and pad must not be negative", loc)
		}
		if l.Stride.set() && (l.Stride[0] < 1 || l.Stride[1] < 1) {
			return fmt.Errorf("%s: stride %v: must be at least 1", loc, l.Stride)
		}
		if l.Act != "" && l.Act != "relu" && l.Act != "none" {
			return fmt.Errorf(`%s: act = %q: want "relu" or "none"`, loc, l.Act)
		}
		if l.Init != "" {
			if _, err := ParseInit(l.Init); err != nil {
				return fmt.Errorf("%s: init: %w", loc, err)
			}
		}
		switch l.Type {
		case TypeConv:
			if l.Filters < 1 || l.Filters > MaxFilters {
				return fmt.Errorf("%s: filters = %d: want 1 to %d", loc, l.Filters, MaxFilters)
			}
			if l.Kernel[0] < 1 || l.Kernel[1] < 1 {
				return fmt.Errorf("%s: kernel %v: want at least 1", loc, l.Kernel)
			}
		case TypeMaxPool, TypeAvgPool:
			if l.Global {
				if l.Kernel.set() || l.Stride.set() || l.Pad.set() || l.Ceil {
					return fmt.Errorf("%s: a global pool takes no kernel, stride, pad or ceil", loc)
				}
				break
			}
			if l.Kernel[0] < 1 || l.Kernel[1] < 1 {
				return fmt.Errorf("%s: %s without kernel (or global = true)", loc, l.Type)
			}
			if l.Pad[0] >= l.Kernel[0] || l.Pad[1] >= l.Kernel[1] {
				return fmt.Errorf("%s: pad %s must be smaller than the kernel %s", loc, pairString(l.Pad[0], l.Pad[1]), pairString(l.Kernel[0], l.Kernel[1]))
			}
		case TypeConcat:
			if len(l.Branches) == 0 {
				return fmt.Errorf("%s: concat without branches", loc)
			}
			// A block's branches share one namespace: their layers are all named BLOCK.NAME.
			first := map[string]int{}
			for b, br := range l.Branches {
				if err := checkLayers(br, fmt.Sprintf("%s branch %d ", loc, b+1)); err != nil {
					return err
				}
				for _, bl := range br {
					if bl.Name == "" {
						continue
					}
					if a, ok := first[bl.Name]; ok && a != b {
						return fmt.Errorf("%s: name %q is used in branches %d and %d (a block's layers share one namespace)", loc, bl.Name, a+1, b+1)
					}
					first[bl.Name] = b
				}
			}
		}
	}
	return nil
}

// MaxFilters bounds a conv layer's filter count, so that a typo or a huge width multiplier is an
// error rather than an absurd network.
const MaxFilters = 1 << 20

// Scaled returns a copy of s with every conv filter count multiplied by mult, rounded to the
// nearest integer and at least 1 (dense layers keep their units). Its name gets "@mult".
func (s *Spec) Scaled(mult float64) *Spec {
	c := *s
	c.Layers = scaleLayers(s.Layers, mult)
	c.Width = s.Width * mult
	c.Name = s.Name + "@" + strconv.FormatFloat(mult, 'g', -1, 64)
	return &c
}

func scaleLayers(ls []LayerSpec, mult float64) []LayerSpec {
	out := make([]LayerSpec, len(ls))
	for i, l := range ls {
		if l.Type == TypeConv {
			// Beyond MaxFilters the count stays one past it (a float too large for an int would
			// convert to nonsense), for Check to refuse.
			l.Filters = int(max(1, min(math.Round(float64(l.Filters)*mult), MaxFilters+1)))
		}
		if l.Branches != nil {
			br := make([][]LayerSpec, len(l.Branches))
			for b := range l.Branches {
				br[b] = scaleLayers(l.Branches[b], mult)
			}
			l.Branches = br
		}
		out[i] = l
	}
	return out
}

// Initialiser is a resolved weight initialiser: uniform with a fixed bound, or a bound that
// depends on the layer's fan-in and fan-out.
type Initialiser struct {
	Kind  string  // "uniform", "glorot", "he"
	Bound float64 // for "uniform"
}

// ParseInit reads "uniform:A" (U(-A, A)), "glorot" (bound sqrt(6/(fan_in+fan_out))) or "he"
// (bound sqrt(6/fan_in)).
func ParseInit(s string) (Initialiser, error) {
	switch {
	case s == "glorot" || s == "he":
		return Initialiser{Kind: s}, nil
	case strings.HasPrefix(s, "uniform:"):
		a, err := strconv.ParseFloat(strings.TrimPrefix(s, "uniform:"), 64)
		if err != nil || !(a > 0) || math.IsInf(a, 0) {
			return Initialiser{}, fmt.Errorf("%q: want uniform:A with a positive bound A (e.g. uniform:0.01)", s)
		}
		return Initialiser{Kind: "uniform", Bound: a}, nil
	}
	return Initialiser{}, fmt.Errorf(`%q: want "uniform:A", "glorot" or "he"`, s)
}

// BoundFor is the half-width of the uniform distribution for a layer with the given fans
// (for a conv layer: fan_in = C*KH*KW, fan_out = K*KH*KW).
func (in Initialiser) BoundFor(fanIn, fanOut int) float32 {
	switch in.Kind {
	case "glorot":
		return float32(math.Sqrt(6 / float64(fanIn+fanOut)))
	case "he":
		return float32(math.Sqrt(6 / float64(fanIn)))
	}
	return float32(in.Bound)
}

// take copies a field present in a layer's TOML (src not nil) into dst and notes its name in
// given, for the check that it applies to the layer's type.
func take[T any](dst *T, src *T, name string, given *[]string) {
	if src != nil {
		*dst = *src
		*given = append(*given, name)
	}
}
