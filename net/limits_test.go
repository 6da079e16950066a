package net_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rout/internal/memtest"
	"rout/net"
)

// allocCounter counts the bytes of every tensor allocated through it.
type allocCounter struct {
	net.Backend
	bytes int64
}

func (c *allocCounter) Alloc(n, ch, h, w int) (*net.Tensor, error) {
	c.bytes += 4 * int64(n) * int64(ch) * int64(h) * int64(w)
	return c.Backend.Alloc(n, ch, h, w)
}

// The estimate counts exactly what Build allocates (the workspace and optimiser come later).
func TestMemoryEstimateMatchesBuild(t *testing.T) {
	for _, c := range []struct {
		spec    *net.Spec
		in      [3]int
		classes int
	}{
		{loadTiny(t, false), [3]int{3, 12, 12}, 4},
		{loadTiny(t, true), [3]int{3, 12, 12}, 4},
		{loadScaled(t, "inception28-bn@0.125", "he"), [3]int{3, 28, 28}, 10},
		{loadScaled(t, "convnet-small", "he"), [3]int{1, 20, 16}, 4},
	} {
		cb := &allocCounter{Backend: newCPU(t)}
		const batch = 5
		if _, err := net.Build(cb, c.spec, batch, c.in, c.classes); err != nil {
			t.Fatal(err)
		}
		m, err := net.EstimateMemory(c.spec, batch, c.in, c.classes, 2, 2)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Params + m.Grads + m.State + m.Activations; got != cb.bytes {
			t.Errorf("%s: estimate %d bytes (%+v), Build allocated %d", c.spec.Name, got, m, cb.bytes)
		}
		if m.Optimizer != 2*m.Params || m.Workspace <= 0 {
			t.Errorf("%s: optimiser %d for parameters %d, workspace %d", c.spec.Name, m.Optimizer, m.Params, m.Workspace)
		}
	}
}

// nestedBlocks is a network whose one block nests depth blocks (the innermost holds a relu).
func nestedBlocks(depth int) string {
	inner := `{ type = "relu" }`
	for range depth - 1 {
		inner = `{ type = "concat", branches = [[` + inner + `]] }`
	}
	return "[[layer]]\ntype = \"concat\"\nbranches = [[" + inner + "]]\n[[layer]]\ntype = \"dense\"\n"
}

func TestSpecLimits(t *testing.T) {
	if _, err := net.ParseSpec([]byte(nestedBlocks(net.MaxBlockDepth)), "ok.toml"); err != nil {
		t.Fatalf("blocks nested %d deep: %v", net.MaxBlockDepth, err)
	}
	for _, c := range []struct{ name, text, want string }{
		{"blocks too deep", nestedBlocks(net.MaxBlockDepth + 1), "a block nested more than 16 deep in other blocks"},
		{"blocks far too deep", nestedBlocks(1000), "line 3: arrays and tables nested more than 72 deep"},
		{"brackets", "x = " + strings.Repeat("[", 1<<20-8), "line 1: arrays and tables nested more than 72 deep"},
		{"brackets in strings count not", "description = \"" + strings.Repeat("[", 200) + "\"\n" + `# [[[[` + "\n" + nestedBlocks(2), ""},
		{"too large", strings.Repeat("# comment\n", 110000), "1100000 bytes, more than the 1048576 a model file may have"},
		{"stride 0", "[[layer]]\ntype = \"conv\"\nfilters = 2\nkernel = 3\nstride = 0\n[[layer]]\ntype = \"dense\"\n", "layer 1: stride 0: must be at least 1"},
		{"pool stride [0, 0]", "[[layer]]\ntype = \"maxpool\"\nkernel = 2\nstride = [0, 0]\n[[layer]]\ntype = \"dense\"\n", "layer 1: stride 0: must be at least 1"},
	} {
		_, err := net.ParseSpec([]byte(c.text), "m.toml")
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "m.toml: ")):
			t.Errorf("%s: error %v, want one naming m.toml and saying %q", c.name, err, c.want)
		}
	}
}

// A model file nested 1,000 deep (which once took 4.5 GB) is refused in a few megabytes.
func TestSpecNestingMemory(t *testing.T) {
	if memtest.Child(t) {
		_, err := net.LoadSpec(os.Getenv("MODEL"))
		fmt.Printf("error: %v\n", err)
		return
	}
	path := filepath.Join(t.TempDir(), "deep.toml")
	if err := os.WriteFile(path, []byte(nestedBlocks(1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, peak := memtest.Run(t, "MODEL="+path)
	if !strings.Contains(out, "deep.toml: line 3: arrays and tables nested more than 72 deep") {
		t.Errorf("output lacks the error:\n%s", out)
	}
	if peak > 64<<20 {
		t.Errorf("peak memory %d MiB, want under 64", peak>>20)
	}
}

func TestLoadSpecNotRegular(t *testing.T) {
	dir := t.TempDir()
	for path, want := range map[string]string{
		"/dev/zero": "not a regular file (a character device)",
		dir:         "not a regular file (a directory)",
	} {
		if _, err := os.Stat(path); err != nil {
			continue // no /dev/zero here
		}
		_, err := net.LoadSpec(path)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadSpec(%s): %v, want %q", path, err, want)
		}
	}
}
