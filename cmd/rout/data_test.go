package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// runDataCmd runs the command line with args and returns its standard output.
func runDataCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	app := newApp()
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errOut
	err := app.Run(append([]string{"rout"}, args...))
	return out.String(), err
}

func TestDataInspect(t *testing.T) {
	// Three CIFAR-10 records, labels 0, 1, 1; every R pixel 10, G 20, B 30 (the test record 100, 0, 50).
	rec := func(label byte, r, g, b byte) []byte {
		out := []byte{label}
		for _, v := range []byte{r, g, b} {
			out = append(out, bytes.Repeat([]byte{v}, 1024)...)
		}
		return out
	}
	dir := t.TempDir()
	train := filepath.Join(dir, "data_batch_1.bin")
	test := filepath.Join(dir, "test_batch.bin")
	if err := os.WriteFile(train, slices.Concat(rec(0, 10, 20, 30), rec(1, 10, 20, 30), rec(1, 10, 20, 30)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(test, rec(9, 100, 0, 50), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runDataCmd(t, "data", "inspect", "cifar10:"+train+","+test)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"dataset    cifar10\n",
		"shape      3x32x32 (C x H x W, uint8; 0.0 MB in memory)",
		"classes    10: airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck\n",
		"train  3         10.00 20.00 30.00       0.00 0.00 0.00",
		"test   1         100.00 0.00 50.00       0.00 0.00 0.00",
		"0      airplane    1      0\n",
		"1      automobile  2      0\n",
		"9      truck       0      1\n",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("inspect output lacks %q:\n%s", want, out)
		}
	}

	_, err = runDataCmd(t, "data", "inspect", "cifar10:"+filepath.Join(dir, "none.bin"))
	if err == nil || !strings.Contains(err.Error(), "none.bin") {
		t.Fatalf("inspect of a missing file: %v", err)
	}
	_, err = runDataCmd(t, "data", "inspect")
	var ue usageError
	if !errors.As(err, &ue) {
		t.Fatalf("inspect without a spec: %v, want a usage error", err)
	}
}

func TestDataGetArguments(t *testing.T) {
	var ue usageError
	for _, args := range [][]string{
		{"data", "get"},
		{"data", "get", "imagenet"},
		{"data", "get", "cifar10", "mnist"},
		{"data", "get", "cifar10", "--dir"},
	} {
		if _, err := runDataCmd(t, args...); !errors.As(err, &ue) {
			t.Fatalf("%q: %v, want a usage error", args, err)
		}
	}
}
