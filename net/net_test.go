package net_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rout/net"
	"rout/net/cpu"
	"rout/rng"
)

// tinySpec has every path the builder wires: an S block (1x1 and 3x3 conv), a D block (stride-2
// conv beside a ceil-mode max pool), a block with an identity branch, a standalone relu and a
// nested block, a padded average pool, a global pool and a hidden dense layer with relu.
const tinySpec = `
name = "tiny"
input = [3, 12, 12]
init = "he"

[[layer]]
type = "conv"
name = "conv1"
filters = 5
kernel = 3
pad = 1

[[layer]]
type = "concat"
name = "s1"
branches = [
  [{ type = "conv", name = "1x1", filters = 3, kernel = 1 }],
  [{ type = "conv", name = "3x3", filters = 4, kernel = 3, pad = 1 }],
]

[[layer]]
type = "concat"
name = "d1"
branches = [
  [{ type = "conv", name = "3x3", filters = 4, kernel = 3, stride = 2, pad = 1 }],
  [{ type = "maxpool", name = "pool", kernel = 3, stride = 2, ceil = true }],
]

[[layer]]
type = "concat"
name = "x1"
branches = [
  [{ type = "conv", filters = 3, kernel = [1, 3], pad = [0, 1], act = "none" }, { type = "relu" }],
  [],
  [{ type = "concat", branches = [[{ type = "avgpool", kernel = 3, stride = 1, pad = 1 }], [{ type = "conv", filters = 2, kernel = 3, pad = 1, bias = false }]] }],
]

[[layer]]
type = "maxpool"
kernel = 3
stride = 2
ceil = true

[[layer]]
type = "avgpool"
global = true

[[layer]]
type = "dense"
units = 6
act = "relu"

[[layer]]
type = "dense"
units = "classes"
`

func loadTiny(t testing.TB, bn bool) *net.Spec {
	text := tinySpec
	if bn {
		text = strings.ReplaceAll(text, `type = "conv",`, `type = "conv", bn = true,`)
		text = strings.ReplaceAll(text, "type = \"conv\"\nname = \"conv1\"", "type = \"conv\"\nbn = true\nname = \"conv1\"")
	}
	s, err := net.ParseSpec([]byte(text), "tiny.toml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newCPU(t testing.TB) net.Backend {
	b := cpu.New(cpu.Options{Threads: 2})
	t.Cleanup(func() { b.Close() })
	return b
}

// uniform fills n values from U(-a, a) with draws from the counter-based generator.
func uniform(seed uint64, item uint32, n int, a float64) []float32 {
	s := rng.NewStream(rng.KeyFromSeed(seed), 7, 0, item)
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(a * (2*float64(s.Float32()) - 1))
	}
	return v
}

func download(b net.Backend, t *net.Tensor) []float32 {
	v := make([]float32, t.Len())
	b.Download(t, v)
	return v
}

func to64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// gradCheck builds spec for a batch of 2 and compares, on the second of two steps (so that a
// gradient that adds into a stale buffer instead of replacing it shows up), the logits with the
// float64 reference and every sampled gradient with central finite differences of the
// reference's loss.
//
// Tolerances: the reference runs in float64 with h = 1e-6, so its derivative is exact to ~1e-9
// unless a ReLU or max-pool switch lies within h (rare at that h). The network runs in float32:
// each gradient is a sum of products whose relative rounding grows like sqrt(terms) * 6e-8,
// a few 1e-5 at worst here. A gradient passes when |g - fd| <= 2e-3 |fd| + 1e-3 * max|fd| over
// its layer's range + 1e-6 * max|g| over the network (the last term for gradients that are 0 in
// exact arithmetic, like a conv bias before batch norm, which float32 leaves at rounding noise):
// a miswired gradient (a wrong slice, a lost or doubled branch) is off by O(1) and fails by
// orders of magnitude.
func gradCheck(t *testing.T, spec *net.Spec, in [3]int, classes, perRange int) {
	b := newCPU(t)
	n, err := net.Build(b, spec, 2, in, classes)
	if err != nil {
		t.Fatal(err)
	}
	n.Init(11)
	// Perturb every parameter a little so that biases, batch-norm shifts and scales are not at
	// their special initial values.
	params := download(b, n.Params)
	for i, d := range uniform(3, 1, len(params), 0.05) {
		params[i] += d
	}
	b.Upload(n.Params, params)
	labels := []float32{1, float32(classes - 1)}
	b.Upload(n.Labels, labels)
	stats, err := b.Alloc(1, 3, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	var input []float32
	for step := 0; step < 2; step++ {
		input = uniform(5, uint32(step), n.Input.Len(), 1)
		b.Upload(n.Input, input)
		b.Fill(n.Grads, float32(math.NaN())) // every entry must be overwritten
		n.Forward(true)
		b.SoftmaxCrossEntropy(n.Logits, n.Labels, n.DLogits, stats, net.ReduceSum)
		n.Backward()
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	grads := download(b, n.Grads)
	logits := download(b, n.Logits)

	p64, in64 := to64(params), to64(input)
	lab := []int{int(labels[0]), int(labels[1])}
	_, refLogits := net.RefLoss(n, p64, in64, lab)
	scale := 0.0
	for _, v := range refLogits {
		scale = math.Max(scale, math.Abs(v))
	}
	for i, v := range refLogits {
		if d := math.Abs(float64(logits[i]) - v); d > 1e-4*(scale+1) {
			t.Fatalf("logit %d: %g, reference %g", i, logits[i], v)
		}
	}
	for i, g := range grads {
		if math.IsNaN(float64(g)) {
			t.Fatalf("gradient %d not written by Backward", i)
		}
	}

	gmax := 0.0
	for _, g := range grads {
		gmax = math.Max(gmax, math.Abs(float64(g)))
	}
	const h = 1e-6
	layout := net.ParamLayout(n)
	covered := 0
	for ri, r := range layout {
		covered += r.N
		idx := make([]int, 0, perRange)
		s := rng.NewStream(rng.KeyFromSeed(9), 8, 0, uint32(ri))
		for k := 0; k < perRange && k < r.N; k++ {
			if r.N <= perRange {
				idx = append(idx, r.Off+k)
			} else {
				idx = append(idx, r.Off+s.Intn(r.N))
			}
		}
		fds := make([]float64, len(idx))
		maxFD := 0.0
		for k, i := range idx {
			old := p64[i]
			p64[i] = old + h
			lp, _ := net.RefLoss(n, p64, in64, lab)
			p64[i] = old - h
			lm, _ := net.RefLoss(n, p64, in64, lab)
			p64[i] = old
			fds[k] = (lp - lm) / (2 * h)
			maxFD = math.Max(maxFD, math.Abs(fds[k]))
		}
		for k, i := range idx {
			g, fd := float64(grads[i]), fds[k]
			if math.Abs(g-fd) > 2e-3*math.Abs(fd)+1e-3*maxFD+1e-6*gmax {
				t.Errorf("%s[%d]: backward %.7g, finite difference %.7g", r.Name, i-r.Off, g, fd)
			}
		}
	}
	if covered != n.ParamCount() {
		t.Errorf("parameter ranges cover %d of %d parameters", covered, n.ParamCount())
	}
}

func TestGradientTiny(t *testing.T) {
	gradCheck(t, loadTiny(t, false), [3]int{3, 12, 12}, 4, 12)
}

func TestGradientTinyBN(t *testing.T) {
	gradCheck(t, loadTiny(t, true), [3]int{3, 12, 12}, 4, 12)
}

func loadScaled(t testing.TB, name, init string) *net.Spec {
	s, err := net.LoadSpec(name)
	if err != nil {
		t.Fatal(err)
	}
	// The paper's U(-0.01, 0.01) makes a deep net's gradients tiny; He keeps every layer's
	// gradient well above float32 rounding, which is what the check needs.
	s.Init = init
	return s
}

func TestGradientInception28Narrow(t *testing.T) {
	gradCheck(t, loadScaled(t, "inception28@0.0625", "he"), [3]int{3, 28, 28}, 10, 4)
}

func TestGradientInception28BNNarrow(t *testing.T) {
	gradCheck(t, loadScaled(t, "inception28-bn@0.0625", "he"), [3]int{3, 28, 28}, 10, 4)
}

func TestGradientConvnetSmall(t *testing.T) {
	gradCheck(t, loadScaled(t, "convnet-small@0.125", "he"), [3]int{1, 12, 12}, 3, 8)
}

// Init draws weight j of filter k of group g as Bound * Symmetric(Uint32(key, 0, g.Layer, k, j)).
func TestInit(t *testing.T) {
	b := newCPU(t)
	spec, err := net.LoadSpec("inception28-bn@0.125")
	if err != nil {
		t.Fatal(err)
	}
	n, err := net.Build(b, spec, 1, [3]int{3, 28, 28}, 10)
	if err != nil {
		t.Fatal(err)
	}
	b.Fill(n.Params, 5)
	n.Init(42)
	p := download(b, n.Params)
	key := rng.KeyFromSeed(42)
	for _, g := range n.Weights.Groups {
		if g.Bound != 0.01 {
			t.Errorf("%s: bound %v, want the spec's uniform:0.01", g.Name, g.Bound)
		}
		for k := 0; k < g.Filters; k++ {
			for j := 0; j < g.FilterLen; j++ {
				want := g.Bound * rng.Symmetric(rng.Uint32(key, 0, g.Layer, uint32(k), j))
				if got := p[g.Weight+k*g.FilterLen+j]; got != want {
					t.Fatalf("%s filter %d weight %d: %v, want %v", g.Name, k, j, got, want)
				}
			}
			if g.Bias >= 0 && p[g.Bias+k] != 0 {
				t.Fatalf("%s bias %d: %v", g.Name, k, p[g.Bias+k])
			}
		}
	}
	for _, r := range net.ParamLayout(n) {
		want := map[string]float32{"/gamma": 1, "/beta": 0, "/bias": 0}
		for suffix, v := range want {
			if strings.HasSuffix(r.Name, suffix) {
				for i := r.Off; i < r.Off+r.N; i++ {
					if p[i] != v {
						t.Fatalf("%s: %v, want %v", r.Name, p[i], v)
					}
				}
			}
		}
	}
	state := download(b, n.State)
	ones := 0
	for _, v := range state {
		if v != 0 && v != 1 {
			t.Fatalf("state value %v", v)
		}
		if v == 1 {
			ones++
		}
	}
	if ones*2 != len(state) {
		t.Errorf("%d of %d state values are 1, want the variances (half)", ones, len(state))
	}

	n.Init(42)
	again := download(b, n.Params)
	n.Init(43)
	other := download(b, n.Params)
	same, differ := true, 0
	for i := range p {
		same = same && again[i] == p[i]
		if other[i] != p[i] {
			differ++
		}
	}
	if !same {
		t.Error("Init with the same seed gave other weights")
	}
	if differ < len(p)/2 {
		t.Errorf("seeds 42 and 43 share %d of %d parameters", len(p)-differ, len(p))
	}
}

func TestInitBounds(t *testing.T) {
	s, err := net.ParseSpec([]byte(`
input = [2, 5, 5]
init = "glorot"
[[layer]]
type = "conv"
filters = 4
kernel = 3
[[layer]]
type = "conv"
filters = 3
kernel = 1
init = "he"
[[layer]]
type = "dense"
init = "uniform:0.25"
`), "bounds.toml")
	if err != nil {
		t.Fatal(err)
	}
	n, err := net.Build(newCPU(t), s, 1, s.Input, 7)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{float32(math.Sqrt(6.0 / (2*9 + 4*9))), float32(math.Sqrt(6.0 / 4)), 0.25}
	for i, g := range n.Weights.Groups {
		if g.Bound != want[i] {
			t.Errorf("%s: bound %v, want %v", g.Name, g.Bound, want[i])
		}
	}
}

// Layer words are the pre-order position in the spec: fixed by the spec, not by widths or shapes.
func TestLayerWordsAndConvTable(t *testing.T) {
	b := newCPU(t)
	words := func(name string, in [3]int) map[string]uint32 {
		s, err := net.LoadSpec(name)
		if err != nil {
			t.Fatal(err)
		}
		n, err := net.Build(b, s, 1, in, 10)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]uint32{}
		for _, g := range n.Weights.Groups {
			m[g.Name] = g.Layer
		}
		return m
	}
	full := words("inception28", [3]int{3, 28, 28})
	narrow := words("inception28@0.125", [3]int{3, 28, 28})
	if fmt.Sprint(full) != fmt.Sprint(narrow) {
		t.Error("layer words depend on the width")
	}
	if full["conv1"] != 0 || full["s1.1x1"] != 2 || full["s1.3x3"] != 3 || full["d1.3x3"] != 8 || full["fc"] != 32 {
		t.Errorf("layer words: %v", full)
	}

	s, _ := net.LoadSpec("inception28@0.125")
	n, err := net.Build(b, s, 1, [3]int{3, 28, 28}, 10)
	if err != nil {
		t.Fatal(err)
	}
	all, err := n.ConvTable(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Groups) != 19 || len(n.Weights.Groups) != 20 {
		t.Errorf("%d conv groups of %d weight groups, want 19 of 20", len(all.Groups), len(n.Weights.Groups))
	}
	some, err := n.ConvTable([]string{"s2.3x3", "conv1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(some.Groups) != 2 || some.Groups[0] != n.Weights.Groups[0] || some.Groups[1].Name != "s2.3x3" ||
		some.Filters != some.Groups[0].Filters+some.Groups[1].Filters {
		t.Errorf("ConvTable(s2.3x3, conv1): %+v", some)
	}
	if _, err := n.ConvTable([]string{"fc"}); err == nil || !strings.Contains(err.Error(), "conv1, s1.1x1") {
		t.Errorf("ConvTable(fc): %v", err)
	}
	if n.ParamCount() != n.Params.Len() || n.Grads.Len() != n.Params.Len() || n.State != nil {
		t.Errorf("params %d, tensor %d, grads %d, state %v", n.ParamCount(), n.Params.Len(), n.Grads.Len(), n.State)
	}
}

func TestBuildShapesAndErrors(t *testing.T) {
	b := newCPU(t)
	s, err := net.LoadSpec("inception28")
	if err != nil {
		t.Fatal(err)
	}
	n, err := net.Build(b, s, 3, [3]int{3, 28, 28}, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		t    *net.Tensor
		want [4]int
	}{{n.Input, [4]int{3, 3, 28, 28}}, {n.Labels, [4]int{3, 1, 1, 1}}, {n.Logits, [4]int{3, 10, 1, 1}},
		{n.DLogits, [4]int{3, 10, 1, 1}}, {n.Params, [4]int{1649402, 1, 1, 1}}} {
		if c.t.Shape() != c.want {
			t.Errorf("%v, want %v", c.t.Shape(), c.want)
		}
	}
	if n.FLOPs() != 408439360 || n.ParamCount() != 1649402 {
		t.Errorf("FLOPs %d params %d", n.FLOPs(), n.ParamCount())
	}
	if _, err := net.Build(b, s, 2, [3]int{3, 10, 10}, 10); err == nil || !strings.Contains(err.Error(), "layer 9 (d2): branch 2 gives 144x2x2") {
		t.Errorf("10x10 input: %v", err)
	}
	if _, err := net.Build(b, s, 0, [3]int{3, 28, 28}, 10); err == nil {
		t.Error("batch 0 accepted")
	}
	// Two branches whose input gradients cannot be summed are refused with a clear error.
	bad, err := net.ParseSpec([]byte(`
[[layer]]
type = "conv"
filters = 2
kernel = 1
[[layer]]
type = "concat"
name = "b"
branches = [[], [{ type = "relu" }]]
[[layer]]
type = "dense"
`), "two.toml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := net.Build(b, bad, 1, [3]int{1, 4, 4}, 2); err == nil || !strings.Contains(err.Error(), "block b: branches [1 2]") {
		t.Errorf("two non-summing branches: %v", err)
	}
	// The summary (rout model summary) refuses it too, naming the file.
	if _, err := net.Summarize(bad, [3]int{1, 4, 4}, 2); err == nil || !strings.Contains(err.Error(), "two.toml: block b: branches [1 2]") {
		t.Errorf("summary of two non-summing branches: %v", err)
	}
	// The same block reading the network input needs no input gradient: fine.
	first, _ := net.ParseSpec([]byte("[[layer]]\ntype = \"concat\"\nbranches = [[], [{ type = \"relu\" }]]\n[[layer]]\ntype = \"dense\"\n"), "first.toml")
	if _, err := net.Build(b, first, 1, [3]int{1, 4, 4}, 2); err != nil {
		t.Errorf("block on the input: %v", err)
	}
}

// A user's file path works wherever a model name does, with a width multiplier.
func TestLoadSpecFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.toml")
	if err := os.WriteFile(path, []byte(tinySpec), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := net.LoadSpec(path + "@2")
	if err != nil {
		t.Fatal(err)
	}
	n, err := net.Build(newCPU(t), s, 1, s.Input, 4)
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Layers[0]; got.Name != "conv1" || got.Out != [3]int{10, 12, 12} {
		t.Errorf("conv1 at @2: %+v", got)
	}
}

// An '@' in a directory name is part of the path, not a width multiplier.
func TestLoadSpecAtInPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run@2")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tiny.toml")
	if err := os.WriteFile(path, []byte(tinySpec), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := net.LoadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Width != 1 || s.Layers[0].Filters != 5 {
		t.Errorf("width %v, conv1 %d filters", s.Width, s.Layers[0].Filters)
	}
	if s, err = net.LoadSpec(path + "@0.5"); err != nil || s.Layers[0].Filters != 3 {
		t.Errorf("@0.5: %v", err)
	}
	// A file whose own name holds an '@' is that file, and takes a multiplier after it.
	named := filepath.Join(dir, "tiny@v2.toml")
	if err := os.WriteFile(named, []byte(tinySpec), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err = net.LoadSpec(named); err != nil || s.Width != 1 {
		t.Errorf("%s: %v", named, err)
	}
	if s, err = net.LoadSpec(named + "@0.5"); err != nil || s.Layers[0].Filters != 3 {
		t.Errorf("%s@0.5: %v", named, err)
	}
}
