package trainer

import (
	"context"
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

// shrinkingDevice is the CPU backend reporting free device memory as a GPU does: what it was
// given less what it has allocated since.
type shrinkingDevice struct {
	net.Backend
	free int64
}

func (d *shrinkingDevice) Alloc(n, c, h, w int) (*net.Tensor, error) {
	d.free -= 4 * int64(n) * int64(c) * int64(h) * int64(w)
	return d.Backend.Alloc(n, c, h, w)
}

func (d *shrinkingDevice) DeviceMemory() (free, total int64, err error) { return d.free, d.free, nil }

// A pack that fits the device's free memory when it starts trains, although each member's own
// network, set up before the next member's check, takes some of that memory: the members are
// checked against the memory free when the pack started, which the check's count already
// shares among them.
func TestPackChecksTheDeviceMemoryFreeAtItsStart(t *testing.T) {
	cfg := tinyConfig()
	cfg.MaxSteps = 2
	spec, err := net.LoadSpec(cfg.Model)
	if err != nil {
		t.Fatal(err)
	}
	m, err := net.EstimateMemory(spec, cfg.Batch, [3]int{tinyData.Train.C, 16, 16}, len(tinyData.Classes), 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	run := m.Total() + int64(len(tinyData.Train.Pixels)+len(tinyData.Test.Pixels))
	const k = 3
	dev := &shrinkingDevice{Backend: newCPU(&cfg), free: int64(PackShare(1, k))*run + run/2}
	defer dev.Close()
	var ms []PackMember
	for i := range k {
		c := cfg
		c.Seed = uint64(i + 1)
		ms = append(ms, PackMember{Config: c, Out: t.TempDir()})
	}
	for i, r := range RunPack(context.Background(), ms, WithDataset(tinyData), WithBackend(dev), SharedBy(PackShare(1, k))) {
		if r.Err != nil {
			t.Errorf("member %d of a pack of %d runs of %d bytes on a device with %d free: %v", i, k, run, int64(PackShare(1, k))*run+run/2, r.Err)
		}
	}
	// One byte less than the check counts is refused, naming the device's free memory.
	dev = &shrinkingDevice{Backend: newCPU(&cfg), free: int64(PackShare(1, k))*run - 1}
	defer dev.Close()
	for i := range ms {
		ms[i].Out = t.TempDir()
	}
	for i, r := range RunPack(context.Background(), ms, WithDataset(tinyData), WithBackend(dev), SharedBy(PackShare(1, k))) {
		if r.Err == nil || !strings.Contains(r.Err.Error(), "of device memory for each of the 6 runs sharing it") {
			t.Errorf("member %d on a device one byte short: %v", i, r.Err)
		}
	}
}
