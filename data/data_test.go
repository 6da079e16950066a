package data

import (
	"bytes"
	"path/filepath"
	"testing"
)

func TestOpenSpecs(t *testing.T) {
	d, err := Open("shapes")
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.N != DefaultShapesTrain || d.Test.N != DefaultShapesTest || d.Source != "shapes:1" {
		t.Fatalf("shapes: %d + %d examples from %s", d.Train.N, d.Test.N, d.Source)
	}
	d2, err := Open("shapes:1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.Train.Pixels, d2.Train.Pixels) {
		t.Fatal("shapes and shapes:1 differ")
	}

	empty := t.TempDir()
	t.Setenv("ROUT_DATA", empty)
	for _, c := range []struct {
		spec string
		want []string
	}{
		{"shapes:x", []string{`spec "shapes:x"`, `seed "x" is not a non-negative integer`}},
		{"shapes:-1", []string{"not a non-negative integer"}},
		{"imagenet:/x", []string{`unknown dataset "imagenet"`, "cifar10", "folder"}},
		{"folder", []string{"folder needs a path (folder:PATH)"}},
		{"cifar10:", []string{"empty path"}},
		{"cifar10", []string{filepath.Join(empty, "cifar10"), "no data in the cache folder", "rout data get cifar10", "cifar10:PATH"}},
		{"cifar100-coarse", []string{filepath.Join(empty, "cifar100"), "rout data get cifar100"}},
		{"mnist", []string{filepath.Join(empty, "mnist"), "rout data get mnist"}},
		{"fashion-mnist", []string{"rout data get fashion-mnist"}},
	} {
		_, err := Open(c.spec)
		wantErr(t, err, c.want...)
	}
	dir, err := CacheDir("mnist")
	if err != nil || dir != filepath.Join(empty, "mnist") {
		t.Fatalf("CacheDir(mnist) = %q, %v; want %s", dir, err, filepath.Join(empty, "mnist"))
	}
}
