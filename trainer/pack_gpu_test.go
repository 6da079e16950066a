//go:build !nocuda

package trainer

import (
	"os"
	"strings"
	"testing"

	"rout/net/gpu"
)

// TestGPUPackMatchesCPU trains four runs of the paper preset as one pack on the GPU
// (deterministic algorithms, TF32 off) and each alone on the CPU, in lockstep for paritySteps
// steps: each member's losses, filter norms and re-draw decisions against its run alone (see
// lockstepPack). The members differ as a sweep's arms do: RandomOut, RandomOut with the bias,
// He's initialiser, another learning rate.
func TestGPUPackMatchesCPU(t *testing.T) {
	if err := gpu.Available(); err != nil {
		if os.Getenv("ROUT_REQUIRE_GPU") == "1" {
			t.Fatalf("ROUT_REQUIRE_GPU=1 but no GPU is usable: %v", err)
		}
		t.Skipf("no usable GPU (set ROUT_REQUIRE_GPU=1 to fail instead): %s", strings.SplitN(err.Error(), "\n", 2)[0])
	}
	spec, ds := parityData(t)
	g, err := gpu.New(gpu.Options{Deterministic: true})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	lockstepPack(t, packLockstepConfigs(parityConfig(spec)), ds, g, paritySteps)
}
