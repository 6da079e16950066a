//go:build !nocuda

package cudnn

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlumbingWithCPUMock runs this package's GPU tests in a child process against
// testdata/mockcuda.c, a CPU stand-in for the four libraries, so that the Go side of every
// binding is exercised on every machine, GPU or not. LD_LIBRARY_PATH puts the stand-in ahead of
// any real library. It needs a C compiler ($CC, else cc, gcc or clang), as cgo does.
func TestPlumbingWithCPUMock(t *testing.T) {
	cc := os.Getenv("CC")
	for _, c := range []string{"cc", "gcc", "clang"} {
		if cc != "" {
			break
		}
		if _, err := exec.LookPath(c); err == nil {
			cc = c
		}
	}
	if cc == "" {
		t.Fatal("no C compiler ($CC, cc, gcc or clang) to build the CPU stand-in")
	}
	dir := t.TempDir()
	lib := filepath.Join(dir, "libmockcuda.so")
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", lib, "testdata/mockcuda.c", "-lm").CombinedOutput(); err != nil {
		t.Fatalf("building the CPU stand-in with %s: %v\n%s", cc, err, out)
	}
	for _, n := range []string{"libcuda.so.1", "libcudnn.so.9", "libcublas.so.13", "libnvrtc.so.13"} {
		if err := os.Symlink(lib, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.v", "-test.count=1", "-test.skip", "^TestPlumbingWithCPUMock$|^TestLookup|^TestCandidates")
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+dir, "ROUT_REQUIRE_GPU=1", "ROUT_CUDA_LIBS=")
	out, err := cmd.CombinedOutput()
	log := string(out)
	if err != nil {
		t.Fatalf("GPU tests against the CPU stand-in: %v\n%s", err, log)
	}
	if !strings.Contains(log, "cudnn 9.14.0 from "+dir) {
		t.Fatalf("the child did not load the stand-in from %s:\n%s", dir, log)
	}
	passed := strings.Count(log, "--- PASS: Test")
	if passed < 9 || strings.Contains(log, "--- SKIP") || strings.Contains(log, "--- FAIL") {
		t.Fatalf("want every GPU test to pass against the stand-in (%d passed):\n%s", passed, log)
	}
	t.Logf("%d GPU tests passed against the CPU stand-in", passed)
}
