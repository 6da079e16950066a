package net

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func mustSummary(t *testing.T, name string, in [3]int, classes int) *Summary {
	t.Helper()
	s, err := LoadSpec(name)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Summarize(s, in, classes)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func layerByName(t *testing.T, sum *Summary, name string) LayerInfo {
	t.Helper()
	for _, l := range sum.Layers {
		if l.Name == name {
			return l
		}
	}
	t.Fatalf("%s: no layer %q", sum.Spec.Name, name)
	return LayerInfo{}
}

// The paper's numbers (DESIGN.md): 19 conv layers, 1,712 filters, 1,649,402 parameters,
// 408,439,360 FLOPs per image.
func TestInception28Totals(t *testing.T) {
	sum := mustSummary(t, "inception28", [3]int{3, 28, 28}, 10)
	if sum.Params != 1649402 {
		t.Errorf("params = %d, want 1649402", sum.Params)
	}
	if sum.FLOPs != 408439360 {
		t.Errorf("FLOPs = %d, want 408439360", sum.FLOPs)
	}
	convs, filters := 0, 0
	for _, l := range sum.Layers {
		if l.Type == TypeConv {
			convs++
			filters += l.Out[0]
		}
	}
	if convs != 19 || filters != 1712 {
		t.Errorf("%d conv layers with %d filters, want 19 and 1712", convs, filters)
	}
	// Independent count of the FLOPs rule: conv1 = 2*96*27*784, fc = 2*336*10.
	if got := layerByName(t, sum, "conv1").FLOPs; got != 2*96*27*784 {
		t.Errorf("conv1 FLOPs %d", got)
	}
	if got := layerByName(t, sum, "fc").FLOPs; got != 2*336*10 {
		t.Errorf("fc FLOPs %d", got)
	}
	if got := layerByName(t, sum, "pool").FLOPs; got != 0 {
		t.Errorf("pool FLOPs %d, want 0 by the counting rule", got)
	}
}

func TestInception28Shapes(t *testing.T) {
	sum := mustSummary(t, "inception28", [3]int{3, 28, 28}, 10)
	want := map[string][3]int{
		"conv1": {96, 28, 28}, "s1": {64, 28, 28}, "s1.1x1": {32, 28, 28}, "s1.3x3": {32, 28, 28},
		"s2": {80, 28, 28}, "d1.3x3": {80, 14, 14}, "d1.pool": {80, 14, 14}, "d1": {160, 14, 14},
		"s6": {144, 14, 14}, "d2.3x3": {96, 7, 7}, "d2.pool": {144, 7, 7}, "d2": {240, 7, 7},
		"s7": {336, 7, 7}, "s8": {336, 7, 7}, "pool": {336, 1, 1}, "fc": {10, 1, 1},
	}
	for name, shape := range want {
		if got := layerByName(t, sum, name).Out; got != shape {
			t.Errorf("%s: output %v, want %v", name, got, shape)
		}
	}
	names := map[string]bool{}
	for _, l := range sum.Layers {
		if names[l.Name] {
			t.Errorf("layer name %q twice", l.Name)
		}
		names[l.Name] = true
	}
	if len(sum.Layers) != 1+10*3+2 {
		t.Errorf("%d layers, want 33", len(sum.Layers))
	}
}

// The BN control is inception28 with bn on every conv and nothing else changed; each conv gains
// a scale and a shift per filter.
func TestInception28BNMatchesInception28(t *testing.T) {
	plain, err := LoadSpec("inception28")
	if err != nil {
		t.Fatal(err)
	}
	bn, err := LoadSpec("inception28-bn")
	if err != nil {
		t.Fatal(err)
	}
	var strip func(ls []LayerSpec) int
	strip = func(ls []LayerSpec) int {
		n := 0
		for i := range ls {
			if ls[i].Type == TypeConv {
				if !ls[i].BN {
					t.Errorf("inception28-bn: %s has no bn", ls[i].Name)
				}
				ls[i].BN = false
				n++
			}
			for _, br := range ls[i].Branches {
				n += strip(br)
			}
		}
		return n
	}
	if n := strip(bn.Layers); n != 19 {
		t.Errorf("%d convs", n)
	}
	if !reflect.DeepEqual(plain.Layers, bn.Layers) {
		t.Error("inception28-bn differs from inception28 in more than bn")
	}
	sum := mustSummary(t, "inception28-bn", [3]int{3, 28, 28}, 10)
	if sum.Params != 1649402+2*1712 || sum.FLOPs != 408439360 {
		t.Errorf("inception28-bn: %d params, %d FLOPs", sum.Params, sum.FLOPs)
	}
}

func TestConvnetSmallAdapts(t *testing.T) {
	for _, c := range []struct {
		in     [3]int
		params int
	}{
		{[3]int{1, 28, 28}, (32*9 + 32) + (64*32*9 + 64) + (128*64*9 + 128) + (128*10 + 10)},
		{[3]int{3, 32, 32}, (32*27 + 32) + (64*32*9 + 64) + (128*64*9 + 128) + (128*10 + 10)},
	} {
		sum := mustSummary(t, "convnet-small", c.in, 10)
		if sum.Params != c.params {
			t.Errorf("%v: %d params, want %d", c.in, sum.Params, c.params)
		}
		if got, want := layerByName(t, sum, "conv3").Out, [3]int{128, c.in[1] / 4, c.in[2] / 4}; got != want {
			t.Errorf("%v: conv3 output %v, want %v", c.in, got, want)
		}
	}
}

func TestWidthMultiplier(t *testing.T) {
	s, err := LoadSpec("inception28@0.25")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "inception28@0.25" || s.Width != 0.25 {
		t.Errorf("name %q width %v", s.Name, s.Width)
	}
	sum, err := Summarize(s, [3]int{3, 28, 28}, 10)
	if err != nil {
		t.Fatal(err)
	}
	// conv1 96 -> 24, s1 32+32 -> 8+8, s2 (32,48) -> (8,12), d1 80 -> 20, ...; fc keeps 10 units.
	for name, c := range map[string]int{"conv1": 24, "s1.1x1": 8, "s2.3x3": 12, "d1.3x3": 20, "s8": 44 + 40, "fc": 10} {
		if got := layerByName(t, sum, name).Out[0]; got != c {
			t.Errorf("%s: %d channels, want %d", name, got, c)
		}
	}
	tiny := mustSummary(t, "inception28@0.001", [3]int{3, 28, 28}, 10)
	for _, l := range tiny.Layers {
		if l.Type == TypeConv && l.Out[0] != 1 {
			t.Errorf("%s: %d filters at @0.001, want the minimum 1", l.Name, l.Out[0])
		}
	}
	// Rounding is to the nearest: 48*0.3 = 14.4 -> 14, 80*0.3 = 24 -> 24, 176*0.3 = 52.8 -> 53.
	r := mustSummary(t, "inception28@0.3", [3]int{3, 28, 28}, 10)
	if a, b := layerByName(t, r, "s2.3x3").Out[0], layerByName(t, r, "s7.1x1").Out[0]; a != 14 || b != 53 {
		t.Errorf("@0.3: s2.3x3 %d (want 14), s7.1x1 %d (want 53)", a, b)
	}
	for _, bad := range []string{"inception28@0", "inception28@-1", "inception28@x", "inception28@", "inception28@1e300", "inception28@1e10"} {
		if _, err := LoadSpec(bad); err == nil || !strings.Contains(err.Error(), "width multiplier") {
			t.Errorf("%s: error %v", bad, err)
		}
	}
	// Within the filter bound but beyond what one flat tensor holds: an error, not an overflow.
	wide, err := LoadSpec("convnet-small@1000")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Summarize(wide, [3]int{3, 32, 32}, 10); err == nil || !strings.Contains(err.Error(), "at most 2147483647 parameters") {
		t.Errorf("convnet-small@1000: %v, want the parameter bound", err)
	}
}

const userSpec = `# a user's network, exercising every layer type
name = "mine"
description = "tiny \"test\" net"
input = [1, 12, 12]
init = "glorot"

[batchnorm]
momentum = 0.2

[[layer]]
type = "conv"
filters = 6
kernel = [3, 1]
pad = [1, 0]
bn = true

[[layer]]
type = "concat"
name = "mix"
branches = [
  [{ type = "conv", filters = 4, kernel = 1, act = "none", bias = false }, { type = "relu" }],
  [{ type = "maxpool", kernel = 3, stride = 1, pad = 1 }],
  [],
  [{ type = "concat", branches = [[{ type = "conv", filters = 2, kernel = 3, pad = 1, init = "he" }], [{ type = "avgpool", kernel = 3, stride = 1, pad = 1 }]] }],
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
units = 7
act = "relu"
init = "uniform:0.5"

[[layer]]
type = "dense"
units = "classes"
`

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBranchNamesShareTheBlock: an unnamed layer in one branch does not take the name given to
// a layer of another branch (the example block of docs/models.md: an explicit "1x1" in the first branch
// and an unnamed 1x1 conv after the pool), nor one generated in an earlier branch.
func TestBranchNamesShareTheBlock(t *testing.T) {
	s, err := ParseSpec([]byte(`input = [3, 8, 8]
[[layer]]
type = "concat"
name = "s1"
branches = [
  [{ type = "maxpool", kernel = 3, stride = 1, pad = 1 }, { type = "conv", filters = 2, kernel = 1 }],
  [{ type = "conv", name = "1x1", filters = 2, kernel = 1 }],
  [{ type = "conv", filters = 2, kernel = 1 }],
  [{ type = "maxpool", kernel = 3, stride = 1, pad = 1 }],
]
[[layer]]
type = "dense"
`), "names.toml")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Summarize(s, s.Input, 10)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range sum.Layers {
		names = append(names, l.Name)
	}
	want := "s1 s1.maxpool s1.1x1_2 s1.1x1 s1.1x1_3 s1.maxpool_2 dense1"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("names %s, want %s", got, want)
	}
}

func TestUserSpecRoundTrip(t *testing.T) {
	path := writeFile(t, "mine.toml", userSpec)
	s, err := LoadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Input != [3]int{1, 12, 12} || s.Init != "glorot" || s.BatchNorm.Momentum != 0.2 || s.BatchNorm.Eps != DefaultBNEps {
		t.Errorf("header: %+v", s)
	}
	if got := s.Layers[0].Kernel; got != (Pair{3, 1}) {
		t.Errorf("kernel %v", got)
	}
	if b := s.Layers[1].Branches[0][0].Bias; b == nil || *b {
		t.Errorf("bias = false lost: %v", b)
	}
	sum, err := Summarize(s, s.Input, 5)
	if err != nil {
		t.Fatal(err)
	}
	// Names: generated at the top level by type count, in branches by kernel or type.
	var names []string
	for _, l := range sum.Layers {
		names = append(names, l.Name)
	}
	want := "conv1 mix mix.1x1 mix.relu mix.maxpool mix.concat mix.concat.3x3 mix.concat.avgpool maxpool1 avgpool1 dense1 dense2"
	if strings.Join(names, " ") != want {
		t.Errorf("names:\n%s\nwant\n%s", strings.Join(names, " "), want)
	}
	// 4 + 6 + 6 + (2+6) channels at 12x12, ceil pool to 6x6, global to 1x1.
	if got := layerByName(t, sum, "mix").Out; got != [3]int{24, 12, 12} {
		t.Errorf("mix: %v", got)
	}
	if got := layerByName(t, sum, "maxpool1").Out; got != [3]int{24, 6, 6} {
		t.Errorf("maxpool1: %v", got)
	}
	wantParams := (6*3 + 6 + 12) + 4*6 + (2*6*9 + 2) + (7*24 + 7) + (5*7 + 5)
	if sum.Params != wantParams {
		t.Errorf("params %d, want %d", sum.Params, wantParams)
	}

	// Write, read back: the same spec.
	again, err := ParseSpec(s.TOML(), "roundtrip.toml")
	if err != nil {
		t.Fatalf("%v\n%s", err, s.TOML())
	}
	s.Source, again.Source = "", ""
	if !reflect.DeepEqual(s, again) {
		t.Errorf("round trip changed the spec:\n%+v\n%+v\n%s", s, again, s.TOML())
	}
	// The built-ins survive the round trip too, with a width multiplier applied.
	for _, name := range BuiltinModels() {
		s, err := LoadSpec(name + "@0.5")
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseSpec(s.TOML(), name)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(s.Layers, again.Layers) {
			t.Errorf("%s: round trip changed the layers", name)
		}
	}
}

func TestBuiltinModels(t *testing.T) {
	got := strings.Join(BuiltinModels(), " ")
	if got != "convnet-small inception28 inception28-bn" {
		t.Errorf("built-ins: %s", got)
	}
	for _, name := range BuiltinModels() {
		s, err := LoadSpec(name)
		if err != nil {
			t.Fatal(err)
		}
		if s.Name != name {
			t.Errorf("%s: spec name %q", name, s.Name)
		}
		if _, err := Summarize(s, s.Input, 10); err != nil {
			t.Error(err)
		}
	}
	if _, err := LoadSpec("inception29"); err == nil || !strings.Contains(err.Error(), "inception28") {
		t.Errorf("unknown model: %v", err)
	}
}

func TestBadSpecs(t *testing.T) {
	conv := "[[layer]]\ntype = \"conv\"\nfilters = 4\nkernel = 3\n"
	dense := "[[layer]]\ntype = \"dense\"\n"
	for _, c := range []struct{ name, text, want string }{
		{"unknown type", "[[layer]]\ntype = \"convolution\"\n", `layer 1: unknown type "convolution"`},
		{"no type", "[[layer]]\nname = \"a\"\n", "layer 1 (a): missing type"},
		{"missing filters", "[[layer]]\ntype = \"conv\"\nkernel = 3\n" + dense, "layer 1: conv without filters"},
		{"missing kernel", "[[layer]]\ntype = \"conv\"\nfilters = 3\n" + dense, "layer 1: conv without kernel"},
		{"zero filters", "[[layer]]\ntype = \"conv\"\nfilters = 0\nkernel = 3\n" + dense, "filters = 0"},
		{"huge filters", "[[layer]]\ntype = \"conv\"\nfilters = 9223372036854775807\nkernel = 3\n" + dense, "want 1 to 1048576"},
		{"concat without branches", conv + "[[layer]]\ntype = \"concat\"\nname = \"s1\"\n" + dense, "layer 2 (s1): concat without branches"},
		{"field of another type", "[[layer]]\ntype = \"maxpool\"\nkernel = 2\nfilters = 3\n" + dense, "filters does not apply to a maxpool layer"},
		{"unknown key", "[[layer]]\ntype = \"conv\"\nfilter = 3\nkernel = 3\n", "unknown key layer.filter"},
		{"unknown key in branch", conv + "[[layer]]\ntype = \"concat\"\nbranches = [[{ type = \"conv\", filters = 2, kernal = 3 }]]\n", "kernal"},
		{"bad branch layer", conv + "[[layer]]\ntype = \"concat\"\nname = \"s1\"\nbranches = [[], [{ type = \"conv\", kernel = 1 }]]\n" + dense, "layer 2 (s1) branch 2 layer 1: conv without filters"},
		{"bad kernel", "[[layer]]\ntype = \"conv\"\nfilters = 3\nkernel = [1, 2, 3]\n", "[height, width]"},
		{"bad units", conv + "[[layer]]\ntype = \"dense\"\nunits = \"labels\"\n", `"classes"`},
		{"zero units", conv + "[[layer]]\ntype = \"dense\"\nunits = 0\n", `an integer from 1 to 1073741824 or "classes"`},
		{"bad init", "init = \"normal\"\n" + conv + dense, `init: "normal"`},
		{"bad layer init", "[[layer]]\ntype = \"conv\"\nfilters = 3\nkernel = 3\ninit = \"uniform:-1\"\n" + dense, "layer 1: init"},
		{"bad act", "[[layer]]\ntype = \"conv\"\nfilters = 3\nkernel = 3\nact = \"tanh\"\n" + dense, `act = "tanh"`},
		{"duplicate name", "[[layer]]\ntype = \"relu\"\nname = \"a\"\n[[layer]]\ntype = \"relu\"\nname = \"a\"\n" + dense, `name "a" is used twice`},
		{"name in two branches", conv + "[[layer]]\ntype = \"concat\"\nname = \"s1\"\nbranches = [[{ type = \"relu\", name = \"a\" }], [{ type = \"relu\", name = \"a\" }]]\n" + dense, `layer 2 (s1): name "a" is used in branches 1 and 2`},
		{"dotted name", "[[layer]]\ntype = \"relu\"\nname = \"a.b\"\n" + dense, `name "a.b"`},
		{"no layers", "name = \"x\"\n", "no layers"},
		{"bad input", "input = [3, 28]\n" + conv + dense, "input = [3 28]"},
		{"pool pad", "[[layer]]\ntype = \"maxpool\"\nkernel = 2\npad = 2\n" + dense, "pad 2 must be smaller than the kernel 2"},
		{"global with kernel", "[[layer]]\ntype = \"avgpool\"\nglobal = true\nkernel = 2\n" + dense, "global pool takes no kernel"},
		{"syntax", "[[layer]\ntype = \"conv\"\n", "bad.toml"},
	} {
		path := writeFile(t, "bad.toml", c.text)
		_, err := LoadSpec(path)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.toml") {
			t.Errorf("%s: error %q, want it to name bad.toml and contain %q", c.name, err, c.want)
		}
	}
}

func TestBadShapes(t *testing.T) {
	for _, c := range []struct {
		name, text string
		in         [3]int
		want       string
	}{
		{"below 1", "[[layer]]\ntype = \"conv\"\nname = \"c\"\nfilters = 2\nkernel = 5\n[[layer]]\ntype = \"dense\"\n",
			[3]int{1, 4, 4}, "layer 1 (c): a 5x5 kernel with pad 0 does not fit the 1x4x4 input"},
		{"pool below 1", "[[layer]]\ntype = \"maxpool\"\nkernel = 2\n[[layer]]\ntype = \"maxpool\"\nkernel = 2\n[[layer]]\ntype = \"dense\"\n",
			[3]int{1, 3, 3}, "layer 2 (maxpool2): a 2x2 window"},
		{"branches disagree", "[[layer]]\ntype = \"concat\"\nname = \"b\"\nbranches = [[{ type = \"conv\", filters = 2, kernel = 3 }], [{ type = \"conv\", filters = 2, kernel = 1 }]]\n[[layer]]\ntype = \"dense\"\n",
			[3]int{1, 8, 8}, "branch 2 gives 2x8x8 but branch 1 gives 6x6 maps"},
		{"output not classes", "[[layer]]\ntype = \"conv\"\nfilters = 2\nkernel = 1\n", [3]int{1, 4, 4}, "the network's output is 2x4x4"},
	} {
		// A name that is not the file's: the error must still name the file.
		s, err := ParseSpec([]byte("name = \"my-net\"\n"+c.text), c.name+".toml")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		_, err = Summarize(s, c.in, 10)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), c.name+".toml: ") {
			t.Errorf("%s: error %v, want %q after the file's name", c.name, err, c.want)
		}
	}
}

func TestSummaryFormat(t *testing.T) {
	var buf bytes.Buffer
	if err := mustSummary(t, "inception28", [3]int{3, 28, 28}, 10).Format(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"1,649,402", "408,439,360", "  s1.3x3", "3x3/2, pad 1, relu", "3x3/2, ceil", "336x7x7"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if Thousands(1234567) != "1,234,567" || Thousands(12) != "12" || Thousands(-1000) != "-1,000" {
		t.Error("Thousands")
	}
}

// The examples of the model file, in docs/models.md and in README.md's Models section, are
// valid specs.
func TestReadmeExample(t *testing.T) {
	example := func(file, section string) *Summary {
		t.Helper()
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		_, models, ok := strings.Cut(string(text), section)
		_, block, ok2 := strings.Cut(models, "```toml\n")
		block, _, ok3 := strings.Cut(block, "```")
		if !ok || !ok2 || !ok3 {
			t.Fatalf("%s: no toml example in the section %q", file, section)
		}
		s, err := ParseSpec([]byte(block), file)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := Summarize(s, s.Input, 10)
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	if got := layerByName(t, example("../docs/models.md", "## The model file"), "s1").Out; got != [3]int{32 + 32 + 16 + 96, 28, 28} {
		t.Errorf("docs/models.md: s1: %v", got)
	}
	if got := layerByName(t, example("../README.md", "## Models"), "s1").Out; got != [3]int{16 + 16, 28, 28} {
		t.Errorf("README.md: s1: %v", got)
	}
}
