//go:build !nocuda

package cudnn

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestCandidatesOrder(t *testing.T) {
	got := candidates([]string{"liba.so.1", "liba.so.0"}, "/env1::/env2", []string{"/std"})
	want := []string{"liba.so.1", "liba.so.0",
		"/env1/liba.so.1", "/env1/liba.so.0",
		"/env2/liba.so.1", "/env2/liba.so.0",
		"/std/liba.so.1", "/std/liba.so.0"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("candidates:\n got %q\nwant %q", got, want)
	}
}

// A library that neither the loader nor any folder has: the error names every path tried.
func TestLookupErrorListsEveryPath(t *testing.T) {
	env1, env2, std := t.TempDir(), t.TempDir(), t.TempDir()
	spec := libSpec{key: "fake", what: "a library nobody has", names: []string{"librout-missing.so.7", "librout-missing.so.6"}}
	_, _, err := openLibrary(spec, env1+":"+env2, []string{std})
	if err == nil {
		t.Fatal("openLibrary found a library that does not exist")
	}
	msg := err.Error()
	for _, want := range []string{
		"cannot load librout-missing.so.7 (a library nobody has)",
		"librout-missing.so.7 (dynamic loader path: ",
		"librout-missing.so.6 (dynamic loader path: ",
		filepath.Join(env1, "librout-missing.so.7") + " (no such file)",
		filepath.Join(env1, "librout-missing.so.6") + " (no such file)",
		filepath.Join(env2, "librout-missing.so.7") + " (no such file)",
		filepath.Join(std, "librout-missing.so.6") + " (no such file)",
		EnvLibs,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

// A library found only through ROUT_CUDA_LIBS-style folders is opened from there. The stand-in
// is this process's own libc under another name.
func TestLookupFindsLibraryInEnvDir(t *testing.T) {
	libc := loadedLibc(t)
	dir := t.TempDir()
	if err := os.Symlink(libc, filepath.Join(dir, "librout-standin.so.1")); err != nil {
		t.Fatal(err)
	}
	spec := libSpec{key: "fake", what: "a stand-in", names: []string{"librout-standin.so.1"}}
	h, path, err := openLibrary(spec, t.TempDir()+":"+dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h == nil || path != filepath.Join(dir, "librout-standin.so.1") {
		t.Fatalf("opened %q (handle %v), want the one in %s", path, h, dir)
	}
}

// A file that exists but is not a library: its dlopen error is reported.
func TestLookupReportsLoaderError(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "librout-bad.so.1")
	if err := os.WriteFile(bad, []byte("not an ELF file"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := libSpec{key: "fake", what: "a broken file", names: []string{"librout-bad.so.1"}}
	_, _, err := openLibrary(spec, dir, nil)
	if err == nil || !strings.Contains(err.Error(), bad+" (") || strings.Contains(err.Error(), bad+" (no such file)") {
		t.Fatalf("want the loader's complaint about %s, got %v", bad, err)
	}
}

// loadedLibc is the path of the libc this test binary runs with (from /proc/self/maps).
func loadedLibc(t *testing.T) string {
	t.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if p := fields[len(fields)-1]; strings.HasPrefix(p, "/") && strings.HasPrefix(filepath.Base(p), "libc.so") {
			return p
		}
	}
	t.Fatal("no libc in /proc/self/maps")
	return ""
}
