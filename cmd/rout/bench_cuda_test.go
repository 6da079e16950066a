//go:build !nocuda

package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"rout/internal/standin"
)

// TestBenchCUDAGraphsOnStandIn runs `rout bench --device gpu --cuda-graph` end to end against the
// CPU stand-in of the CUDA libraries, with the legacy cuDNN API on channel slices
// (--cudnn-packed=false), with the graph API on packed convolution tensors (the default,
// whose plans must then list no channel-slice shape), and for a pack of two runs (--pack 2:
// grouped convolutions, per-member losses and updates) at a smaller width. The stand-in runs
// rout's kernels as kernels that do nothing (ROUT_MOCK_ANY_KERNEL=1), so the numbers mean
// nothing; what is checked is the plumbing of CUDA graphs through a whole training step: every
// call of the backend in a dry run, the captures and the replays with updated arguments. Each
// mode's shape runs directly twice in the warm-up (its first step searches algorithms or
// uploads RandomOut's table, its second is a first sighting), is captured at its third step, and
// every later step replays its graph.
func TestBenchCUDAGraphsOnStandIn(t *testing.T) {
	dir := t.TempDir()
	if err := standin.Build(dir); err != nil {
		t.Fatal(err)
	}
	for _, api := range [][]string{{"--cudnn-packed=false"}, {"--cudnn-graph"}, {"--cudnn-packed=false", "--pack", "2", "--model", "inception28@0.0625"}} {
		args := append([]string{"bench", "--device", "gpu", "--cuda-graph", "--model", "inception28@0.125", "--batch", "4",
			"--optimizer", "adam", "--steps", "3", "--warmup", "3", "--repeats", "2", "--plans"}, api...)
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(standin.Env(dir), "ROUT_TEST_AS_CLI=1", "ROUT_MOCK_ANY_KERNEL=1", "XDG_CACHE_HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		text := string(out)
		if err != nil {
			t.Fatalf("rout %s against the stand-in: %v\n%s", strings.Join(args, " "), err, text)
		}
		tool, modes := "rout, CUDA graphs", 4
		if len(api) > 1 { // a pack of two runs: grouped convolutions, RandomOut the only rule
			tool, modes = "rout, pack of 2, CUDA graphs", 2
		}
		if api[0] == "--cudnn-graph" { // packed by default
			tool = "rout, cuDNN graph, packed, CUDA graphs"
			if strings.Contains(text, "(strided)") {
				t.Errorf("rout %s: a convolution got a channel slice:\n%s", strings.Join(args, " "), text)
			}
		}
		rows := regexp.MustCompile(`(?m)^\| `+regexp.QuoteMeta(tool)+` \| (plain|randomout|redo|cbp) \|`).FindAllString(text, -1)
		if len(rows) != modes || !strings.Contains(text, "device: gpu Mock GPU") {
			t.Fatalf("rout %s: want %d rows (plain, randomout, and redo and cbp without a pack) of %q on the stand-in:\n%s", strings.Join(args, " "), modes, tool, text)
		}
		// A mode x 1 replay in the warm-up, 2 repeats x the modes x 3 steps timed, 2 plain steps
		// queued on an idle stream.
		if want := fmt.Sprintf("CUDA graphs: %d captured, %d steps replayed", modes, modes+2*modes*3+2); !strings.Contains(text, want) || strings.Contains(text, "turned off") {
			t.Fatalf("rout %s: want %q and graphs on:\n%s", strings.Join(args, " "), want, text)
		}
		t.Logf("rout %s:\n%s", strings.Join(args, " "), text)
	}
}
