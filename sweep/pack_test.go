package sweep

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"rout/trainer"
)

// TestPackedSweepEqualsUnpacked runs one plan twice, run by run and in packs of 3, and checks
// that every run folder holds the same metrics and summary but for the timings, and that claims
// are released. With the data seed varying by seed, a group holding both seeds splits into one
// pack per data order.
func TestPackedSweepEqualsUnpacked(t *testing.T) {
	arms := mustArms(t, "baseline,ro:randomout=true,tau=0.5,tau-mode=relative,lr2:lr=0.003")
	p, err := NewPlan("quick", arms, []uint64{1, 2}, map[string]string{"model": "convnet-small@0.25", "crop": "16",
		"batch": "16", "max-steps": "5", "log-every": "2", "init": "he"}, false)
	if err != nil {
		t.Fatal(err)
	}
	sweepWith := func(pack int, plan Plan) (string, Result, map[int]int) {
		dir := filepath.Join(t.TempDir(), "sw")
		if plan, _, err = Ensure(dir, plan); err != nil {
			t.Fatal(err)
		}
		packs := map[int]int{} // members -> packs of that size
		rp := TrainPackFunc(nil)
		r := &Runner{Dir: dir, Plan: plan, Worker: map[string]string{"device": "cpu", "threads": "1"}, Shard: All, Parallel: 1,
			Claimer: testClaimer(t, "h", time.Minute, time.Second), Run: TrainFunc(nil), Pack: pack,
			RunPack: func(ctx context.Context, jobs []Job) []trainer.PackResult {
				packs[len(jobs)]++
				return rp(ctx, jobs)
			}}
		res, err := r.Execute(context.Background())
		if err != nil || res.Ran != 6 || len(res.Errors) != 0 {
			t.Fatalf("pack %d: %+v %v", pack, res, err)
		}
		return dir, res, packs
	}
	alone, _, _ := sweepWith(1, p)
	packed, _, packs := sweepWith(3, p)
	if packs[3] != 2 || len(packs) != 1 {
		t.Errorf("6 runs in packs of 3 made packs %v (size: count)", packs)
	}
	for _, pr := range p.Pairs() {
		a, b := pr.Dir(alone), pr.Dir(packed)
		if ma, mb := stripTimings(t, filepath.Join(a, trainer.MetricsFile)), stripTimings(t, filepath.Join(b, trainer.MetricsFile)); !bytes.Equal(ma, mb) {
			t.Errorf("%s: metrics differ:\n%s\n%s", pr, ma, mb)
		}
		if sa, sb := stripTimings(t, filepath.Join(a, trainer.SummaryFile)), stripTimings(t, filepath.Join(b, trainer.SummaryFile)); !bytes.Equal(sa, sb) {
			t.Errorf("%s: summaries differ:\n%s\n%s", pr, sa, sb)
		}
		if _, err := os.Stat(filepath.Join(b, ClaimFile)); !os.IsNotExist(err) {
			t.Errorf("%s: claim left behind (%v)", pr, err)
		}
	}
	p.VaryDataSeed = true
	if _, _, packs := sweepWith(6, p); packs[3] != 2 || len(packs) != 1 {
		t.Errorf("6 runs of 2 data orders in a group of 6 made packs %v (size: count), want 2 of 3", packs)
	}
}

// stripTimings reads a JSON or JSON-lines file and blanks the fields that time the run.
func stripTimings(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if json.Valid(b) {
		lines = [][]byte{b} // one JSON document (summary.json)
	}
	var out bytes.Buffer
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, k := range []string{"images_per_sec", "elapsed", "wall_seconds"} {
			delete(m, k)
		}
		s, _ := json.Marshal(m)
		out.Write(append(s, '\n'))
	}
	return out.Bytes()
}

// TestPartition: a group's claimed runs share a pack only at the same checkpoint step and with
// settings a pack allows (seed, lr and RandomOut may differ; batch and data seed may not).
func TestPartition(t *testing.T) {
	base, _ := trainer.Preset("quick")
	job := func(name string, step int, change func(c *trainer.Config)) packJob {
		c := base
		change(&c)
		return packJob{Job: Job{Dir: name, Config: c}, step: step}
	}
	jobs := []packJob{
		job("a", 0, func(c *trainer.Config) { c.Seed = 1 }),
		job("b", 0, func(c *trainer.Config) { c.Seed = 2; c.RandomOut = true; c.LR = 0.01 }),
		job("c", 20, func(c *trainer.Config) { c.Seed = 3 }),
		job("d", 0, func(c *trainer.Config) { c.Seed = 4; c.Batch = 8 }),
		job("e", 0, func(c *trainer.Config) { c.Seed = 5; c.DataSeed = 9 }),
		job("f", 20, func(c *trainer.Config) { c.Seed = 6; c.Init = "he" }),
		job("g", 0, func(c *trainer.Config) { c.Seed = 7; c.Tau = 0.5 }),
	}
	var got []string
	for _, pk := range partition(jobs) {
		var names []string
		for _, j := range pk {
			names = append(names, j.Dir)
		}
		got = append(got, strings.Join(names, ""))
	}
	if want := []string{"abg", "cf", "d", "e"}; !slices.Equal(got, want) {
		t.Errorf("packs %v, want %v", got, want)
	}
}
