package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runApp runs rout with args and returns what it printed.
func runApp(t *testing.T, args ...string) (string, error) {
	t.Helper()
	app := newApp()
	var out bytes.Buffer
	app.Writer, app.ErrWriter = &out, &out
	err := app.Run(append([]string{"rout"}, args...))
	return out.String(), err
}

// TestModelSummary runs `rout model summary` end to end: the paper's totals for inception28.
func TestModelSummary(t *testing.T) {
	out, err := runApp(t, "model", "summary", "inception28")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"inception28: input 3x28x28, 10 classes",
		"parameters:            1,649,402",
		"forward FLOPs/example: 408,439,360 (0.408 GFLOP",
		"  d1.pool",
		"memory to train, batch 128: 424.8 MiB (parameters 6.3 MiB, gradients 6.3 MiB, optimiser 12.6 MiB, batch-norm state 0 bytes, activations 378.9 MiB, workspace ",
		"memory budget on the CPU: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 2+1+33+3+2+2 {
		t.Errorf("%d lines, want a header, 33 layers, the totals, the memory and the input's note:\n%s", n, out)
	}
	if !strings.HasSuffix(out, "\nPlanned at 3x28x28, the input the paper preset trains it on: CIFAR-10 (3x32x32 images), centre-cropped to 28x28; --input C,H,W plans another.\n") {
		t.Errorf("no note of the input:\n%s", out)
	}
	// convnet-small's spec says 3x32x32, but the quick preset trains it on 28x28 crops.
	if out, _ := runApp(t, "model", "summary", "convnet-small@0.5"); !strings.HasPrefix(out, "convnet-small@0.5: input 3x28x28") || !strings.Contains(out, "the quick preset trains it on") {
		t.Errorf("convnet-small is not shown at the quick preset's input:\n%s", out)
	}
}

func TestModelSummaryFlagsAndFiles(t *testing.T) {
	// Flags after the model, a width multiplier and another input: convnet-small on MNIST shapes.
	out, err := runApp(t, "model", "summary", "convnet-small@0.5", "--input", "1,28,28", "--classes=3")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	params := (16*9 + 16) + (32*16*9 + 32) + (64*32*9 + 64) + (64*3 + 3)
	for _, want := range []string{"convnet-small@0.5: input 1x28x28, 3 classes", "64x7x7", "parameters:            23,491"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q (params %d):\n%s", want, params, out)
		}
	}
	if params != 23491 {
		t.Fatalf("test arithmetic: %d", params)
	}

	path := filepath.Join(t.TempDir(), "mine.toml")
	text := "input = [1, 8, 8]\n[[layer]]\ntype = \"conv\"\nfilters = 2\nkernel = 3\n[[layer]]\ntype = \"dense\"\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runApp(t, "model", "summary", path)
	if err != nil || !strings.Contains(out, "parameters:            750") { // 2*9+2 + 10*72+10
		t.Errorf("user file: %v\n%s", err, out)
	}

	for _, c := range []struct {
		args  []string
		want  string
		usage bool
	}{
		{[]string{"model", "summary"}, "want one model name", true},
		{[]string{"model", "summary", "nosuchmodel"}, "not a built-in model", false},
		{[]string{"model", "summary", "inception28", "--input", "3,28"}, "want C,H,W", true},
		{[]string{"model", "summary", "inception28", "--classes", "0"}, "--classes", true},
		{[]string{"model", "summary", "inception28", "--input", "3,12,12"}, "does not fit", false},
	} {
		_, err := runApp(t, c.args...)
		var ue usageError
		if err == nil || !strings.Contains(err.Error(), c.want) || errors.As(err, &ue) != c.usage {
			t.Errorf("%v: error %v (usage error: %v), want %q (usage %v)", c.args, err, errors.As(err, &ue), c.want, c.usage)
		}
	}
}

func TestModelList(t *testing.T) {
	out, err := runApp(t, "model", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"convnet-small", "inception28", "inception28-bn"} {
		if !strings.Contains(out, name+" ") {
			t.Errorf("list lacks %s:\n%s", name, out)
		}
	}
}
