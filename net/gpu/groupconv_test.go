//go:build !nocuda

package gpu

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"rout/internal/standin"
)

// TestConvOnStandIn runs TestConv's legacy and graph-API cases, grouped convolutions among them,
// in a child process against the CPU stand-in of the CUDA libraries (cudnn/testdata/mockcuda.c),
// so that every machine checks how a group count reaches cuDNN: set on the legacy descriptor, read
// from the channels of x and w by the graph API. (The packed cases stage through a copy kernel,
// which the stand-in does not run.)
func TestConvOnStandIn(t *testing.T) {
	if os.Getenv("ROUT_STANDIN_CHILD") == "1" {
		t.Skip("already the child")
	}
	dir := t.TempDir()
	if err := standin.Build(dir); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.v", "-test.count=1", "-test.run", "^TestConv$/^(legacy|graph)$/")
	cmd.Env = append(standin.Env(dir), "ROUT_MOCK_ANY_KERNEL=1", "ROUT_STANDIN_CHILD=1", "XDG_CACHE_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	log := string(out)
	if err != nil {
		t.Fatalf("TestConv against the stand-in: %v\n%s", err, log)
	}
	for _, api := range []string{"legacy", "graph"} {
		for _, c := range []string{"3_groups,_3x3_pad_1,_strided_views,_accumulate", "4_groups,_1x1", "3x3_stride_2_pad_1"} {
			if want := "--- PASS: TestConv/" + api + "/" + c + " "; !strings.Contains(log, want) {
				t.Errorf("missing %q in the child's output", strings.TrimSpace(want))
			}
		}
	}
	if strings.Contains(log, "--- SKIP") || strings.Contains(log, "--- FAIL") {
		t.Fatalf("a case skipped or failed against the stand-in:\n%s", log)
	}
}
