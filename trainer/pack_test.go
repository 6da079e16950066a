package trainer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// packArms are runs that differ in what a pack's members may: a baseline, RandomOut (a relative
// tau, so that filters are re-drawn), RandomOut that also zeroes the bias, He's initialiser,
// and another learning rate. 25 steps: an epoch end at step 20, then a last evaluation.
func packArms() map[string]Config {
	base := tinyConfig()
	base.MaxSteps = 25
	base.Init = "glorot"
	arms := map[string]Config{"baseline": base}
	ro := base
	ro.Arm, ro.Seed = "randomout", 11
	ro.RandomOut, ro.Tau, ro.TauMode = true, 0.6, "relative"
	arms["randomout"] = ro
	wb := ro
	wb.Arm, wb.Seed = "randomout-wb", 12
	wb.RandomOutScope, wb.Tau = "weights+bias", 0.3
	arms["randomout-wb"] = wb
	he := base
	he.Arm, he.Seed, he.Init = "he", 13, "he"
	arms["he"] = he
	lr := base
	lr.Arm, lr.Seed, lr.LR = "lr", 14, base.LR*3
	arms["lr"] = lr
	return arms
}

// aloneRuns trains each named arm alone, each into a folder of its own.
func aloneRuns(t *testing.T, arms map[string]Config, names ...string) map[string]string {
	t.Helper()
	dirs := map[string]string{}
	for _, n := range names {
		dirs[n] = t.TempDir()
		mustRun(t, arms[n], dirs[n])
	}
	return dirs
}

// sameRecord checks that the run in dir left the record of the run alone in want: the same
// metrics lines and summary but for the timings, and bit-identical checkpoint tensors.
func sameRecord(t *testing.T, what, dir, want string) {
	t.Helper()
	sameMetrics(t, what, dir, readMetrics(t, want))
	var gs, ws Summary
	readJSON(t, filepath.Join(dir, SummaryFile), &gs)
	readJSON(t, filepath.Join(want, SummaryFile), &ws)
	gs.WallSeconds, ws.WallSeconds = 0, 0
	gb, _ := json.Marshal(gs)
	wb, _ := json.Marshal(ws)
	if string(gb) != string(wb) {
		t.Errorf("%s: summary.json\n got %s\nwant %s", what, gb, wb)
	}
	if !HasCheckpoint(want) {
		if HasCheckpoint(dir) {
			t.Errorf("%s: wrote a checkpoint, alone it wrote none", what)
		}
		return
	}
	gt, _, err := readSafetensors(filepath.Join(dir, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	wt, _, err := readSafetensors(filepath.Join(want, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(gt) != len(wt) {
		t.Errorf("%s: checkpoint holds %d tensors, alone %d", what, len(gt), len(wt))
	}
	for name, w := range wt {
		g, ok := gt[name]
		if !ok {
			t.Errorf("%s: checkpoint lacks %s", what, name)
			continue
		}
		if !slices.Equal(g.Shape, w.Shape) || len(g.Data) != len(w.Data) {
			t.Errorf("%s: checkpoint tensor %s has shape %v, alone %v", what, name, g.Shape, w.Shape)
			continue
		}
		for i := range g.Data {
			if math.Float32bits(g.Data[i]) != math.Float32bits(w.Data[i]) {
				t.Errorf("%s: checkpoint tensor %s value %d is %v, alone %v", what, name, i, g.Data[i], w.Data[i])
				break
			}
		}
	}
}

// runPack trains the named arms as one pack into fresh folders and returns the folders.
func runPack(t *testing.T, ctx context.Context, arms map[string]Config, names []string, dirs []string, opts ...Option) []PackResult {
	t.Helper()
	var ms []PackMember
	for i, n := range names {
		ms = append(ms, PackMember{Config: arms[n], Out: dirs[i]})
	}
	return RunPack(ctx, ms, append([]Option{WithDataset(tinyData)}, opts...)...)
}

func freshDirs(t *testing.T, n int) []string {
	d := make([]string, n)
	for i := range d {
		d[i] = t.TempDir()
	}
	return d
}

// TestPackRecordsEqualRunsAlone trains packs of 1, 2 and 5 members and checks that every
// member's metrics.jsonl, summary.json and checkpoint tensors are those of the run trained
// alone, and that config.json names the pack.
func TestPackRecordsEqualRunsAlone(t *testing.T) {
	arms := packArms()
	want := aloneRuns(t, arms, "baseline", "randomout", "randomout-wb", "he", "lr")
	for _, names := range [][]string{
		{"randomout"},
		{"baseline", "randomout-wb"},
		{"baseline", "randomout", "randomout-wb", "he", "lr"},
	} {
		t.Run(fmt.Sprintf("K=%d", len(names)), func(t *testing.T) {
			dirs := freshDirs(t, len(names))
			for i, r := range runPack(t, context.Background(), arms, names, dirs) {
				if r.Err != nil {
					t.Fatalf("member %s: %v", names[i], r.Err)
				}
				if names[i] == "randomout" && r.Summary.ReinitsTotal == 0 {
					t.Errorf("member randomout re-drew no filter: the test misses the re-draws")
				}
				sameRecord(t, names[i], dirs[i], want[names[i]])
				var cf configFile
				readJSON(t, filepath.Join(dirs[i], ConfigFile), &cf)
				if cf.Provenance.Pack == nil || cf.Provenance.Pack.Index != i || !slices.Equal(cf.Provenance.Pack.Members, dirs) {
					t.Errorf("member %s: config.json's pack is %+v, want index %d of %v", names[i], cf.Provenance.Pack, i, dirs)
				}
			}
		})
	}
}

// TestPackMemberDiverges packs a run whose learning rate makes it diverge with two that train:
// it ends as diverged where it does alone, and the others' records are untouched by its NaNs.
func TestPackMemberDiverges(t *testing.T) {
	arms := packArms()
	bad := arms["baseline"]
	bad.Arm, bad.Seed, bad.LR = "diverges", 21, 1e30
	arms["diverges"] = bad
	names := []string{"randomout", "diverges", "lr"}
	want := aloneRuns(t, arms, names...)
	dirs := freshDirs(t, len(names))
	res := runPack(t, context.Background(), arms, names, dirs)
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("member %s: %v", names[i], r.Err)
		}
		sameRecord(t, names[i], dirs[i], want[names[i]])
	}
	if s := res[1].Summary; s.Status != StatusDiverged || s.Steps >= res[0].Summary.Steps {
		t.Fatalf("the diverging member: status %s at step %d (the others ran to %d)", s.Status, s.Steps, res[0].Summary.Steps)
	}
}

// TestPackKillAndResume interrupts a pack mid-epoch and resumes it: every member ends with the
// record of its uninterrupted run alone.
func TestPackKillAndResume(t *testing.T) {
	arms := packArms()
	names := []string{"randomout-wb", "he"}
	want := aloneRuns(t, arms, names...)
	dirs := freshDirs(t, len(names))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i, r := range runPack(t, ctx, arms, names, dirs, WithObserver(&cancelAt{7, cancel})) {
		if !errors.Is(r.Err, ErrInterrupted) {
			t.Fatalf("member %s: %v, want ErrInterrupted", names[i], r.Err)
		}
	}
	for i, r := range runPack(t, context.Background(), arms, names, dirs, Resume()) {
		if r.Err != nil {
			t.Fatalf("member %s resumed: %v", names[i], r.Err)
		}
		sameRecord(t, names[i], dirs[i], want[names[i]])
	}
}

// TestPackRefuses checks the runs that cannot share a pack: other batch sizes, other steps.
func TestPackRefuses(t *testing.T) {
	arms := packArms()
	other := arms["baseline"]
	other.Batch = 8
	arms["other-batch"] = other
	res := runPack(t, context.Background(), arms, []string{"baseline", "other-batch"}, freshDirs(t, 2))
	if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "batch") {
		t.Fatalf("a pack of runs with other batch sizes: %v, want an error naming batch", res[0].Err)
	}
	// Runs interrupted at steps 3 and 5 resume in packs of their own, not together.
	dirs := freshDirs(t, 2)
	killAt(t, arms["baseline"], dirs[0], 3)
	killAt(t, arms["lr"], dirs[1], 5)
	res = runPack(t, context.Background(), arms, []string{"baseline", "lr"}, dirs, Resume())
	for i, r := range res {
		if r.Err == nil || !strings.Contains(r.Err.Error(), "only runs at the same step") {
			t.Errorf("member %d of runs at steps 3 and 5: %v, want an error saying only runs at the same step share a pack", i, r.Err)
		}
	}
	base, lr := arms["baseline"], arms["lr"]
	if c := PackConflict(&base, &lr); c != "" {
		t.Errorf("runs differing in lr and seed conflict in %q", c)
	}
	// ReDo and continual backprop train alone: two runs of one such rule conflict, and a pack
	// of them is refused before anything trains.
	for _, rule := range []string{RuleReDo, RuleCBP} {
		a, b := base, lr
		a.Revive, b.Revive = rule, rule
		if c := PackConflict(&a, &b); !strings.Contains(c, "revive") {
			t.Errorf("two %s runs conflict in %q, want revive", rule, c)
		}
		arms[rule] = a
		res := runPack(t, context.Background(), arms, []string{rule}, freshDirs(t, 1))
		if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "trains alone") {
			t.Errorf("a pack of one %s run: %v, want an error saying it trains alone", rule, res[0].Err)
		}
	}
}
