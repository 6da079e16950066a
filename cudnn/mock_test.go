//go:build !nocuda

package cudnn

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"rout/internal/standin"
)

// TestPlumbingWithCPUMock runs this package's GPU tests in a child process against
// testdata/mockcuda.c, a CPU stand-in for the four libraries, so that the Go side of every
// binding is exercised on every machine, GPU or not. LD_LIBRARY_PATH puts the stand-in ahead of
// any real library. It needs a C compiler, as cgo does (package standin).
func TestPlumbingWithCPUMock(t *testing.T) {
	dir := t.TempDir()
	if err := standin.Build(dir); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.v", "-test.count=1", "-test.skip", "^TestPlumbingWithCPUMock$|^TestLookup|^TestCandidates")
	cmd.Env = standin.Env(dir)
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
