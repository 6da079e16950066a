package trainer

import (
	"strconv"
	"strings"
	"testing"

	"rout/net"
)

func TestPackShare(t *testing.T) {
	for _, tc := range []struct{ parallel, k, want int }{{1, 1, 1}, {3, 1, 3}, {1, 2, 4}, {1, 5, 10}, {2, 3, 12}, {0, 0, 1}} {
		if got := PackShare(tc.parallel, tc.k); got != tc.want {
			t.Errorf("PackShare(%d, %d) = %d, want %d", tc.parallel, tc.k, got, tc.want)
		}
	}
}

// LargestPack sizes the pack by the largest of the runs' estimates against the memory budget,
// counting PackShare runs, and never packs more runs than it is given.
func TestLargestPack(t *testing.T) {
	small, wide := tinyConfig(), tinyConfig()
	wide.Model = "convnet-small@0.5"
	ds := tinyData
	est := func(model string) int64 {
		spec, err := net.LoadSpec(model)
		if err != nil {
			t.Fatal(err)
		}
		m, err := net.EstimateMemory(spec, 16, [3]int{ds.Train.C, 16, 16}, len(ds.Classes), 2, 1)
		if err != nil {
			t.Fatal(err)
		}
		return m.Total()
	}
	run := est(wide.Model)
	if est(small.Model) >= run {
		t.Fatalf("convnet-small@0.25 needs %d bytes, @0.5 %d: the test wants the wider larger", est(small.Model), run)
	}
	t.Setenv("ROUT_MEMORY_BUDGET", strconv.FormatInt(10*run+run/2, 10))
	for _, tc := range []struct{ parallel, most, want int }{{1, 8, 5}, {1, 3, 3}, {2, 8, 2}, {3, 8, 1}, {10, 8, 1}} {
		fit, err := LargestPack([]Config{small, wide}, tc.parallel, tc.most, WithDataset(tinyData))
		if err != nil || fit.K != tc.want || fit.Run != run || fit.Need != int64(PackShare(tc.parallel, tc.want))*run ||
			fit.Avail != 10*run+run/2 || !strings.Contains(fit.Of, "($ROUT_MEMORY_BUDGET)") {
			t.Errorf("parallel %d, at most %d runs: %+v, %v; want a pack of %d runs of %d bytes", tc.parallel, tc.most, fit, err, tc.want, run)
		}
	}
	if fit, err := LargestPack([]Config{small, wide}, 11, 8, WithDataset(tinyData)); err == nil || !strings.Contains(err.Error(), "--parallel 11 runs alone take") {
		t.Errorf("11 runs alone over a budget of 10.5: %+v, %v", fit, err)
	}
}
