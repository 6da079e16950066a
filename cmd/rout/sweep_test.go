package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"rout/data"
	"rout/internal/membudget"
	"rout/net"
	"rout/sweep"
	"rout/trainer"
)

// TestMain lets a test run this test binary as the rout command (ROUT_TEST_AS_CLI=1), so that
// a test can kill a real sweep process without building a binary.
func TestMain(m *testing.M) {
	if os.Getenv("ROUT_TEST_AS_CLI") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// tinySweep are flags for a sweep of runs of about a second each.
func tinySweep(out string, maxSteps int) []string {
	return []string{"sweep", "--model", "convnet-small@0.25", "--crop", "16", "--batch", "16", "--init", "he",
		"--max-steps", strconv.Itoa(maxSteps), "--log-every", "4", "--device", "cpu", "--threads-per-run", "1", "--out", out}
}

func TestSweepCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sw")
	args := append(tinySweep(dir, 8), "--seeds", "1-2", "--arms", "baseline,ro:randomout=true,tau=1e-3", "--parallel", "2")
	stdout, stderr, _, err := runCtx(context.Background(), args...)
	if err != nil {
		t.Fatalf("sweep: %v\n%s", err, stderr)
	}
	for _, want := range []string{"baseline seed 1: ", "baseline seed 2: ", "ro seed 1: ", "ro seed 2: ", "[4/4] ",
		"4 of 4 runs done; this worker (shard 0/1, 4 runs) ran 4 (", "0 finished before",
		"Runs and failures", "Differences against baseline", "wrote " + filepath.Join(dir, "report.html"),
		"wrote " + filepath.Join(dir, "dead.png")} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "ro seed 2: start") || !strings.Contains(stderr, "ro/2 epoch 1 (step 8/8)") ||
		!regexp.MustCompile(`\n  about \d+(\.\d+)?(ms|s|m\d+s) left\n`).MatchString(stderr) {
		t.Errorf("stderr:\n%s", stderr)
	}
	// One line per finished run: status, accuracy, re-inits, wall.
	var lines int
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, "[") && strings.Contains(l, "final test acc") && strings.Contains(l, "re-inits") && strings.HasSuffix(l, "s") {
			lines++
		}
	}
	if lines != 4 {
		t.Errorf("%d run lines, want 4:\n%s", lines, stdout)
	}
	var plan sweep.Plan
	readJSONFile(t, filepath.Join(dir, "sweep.json"), &plan)
	if plan.Preset != "quick" || len(plan.Arms) != 2 || plan.Arms[1].Overrides["tau"] != "0.001" || plan.Flags["max-steps"] != "8" || plan.Flags["device"] != "" {
		t.Errorf("sweep.json %+v", plan)
	}
	var sum trainer.Summary
	readJSONFile(t, filepath.Join(dir, "runs", "ro", "2", "summary.json"), &sum)
	if sum.Arm != "ro" || sum.Seed != 2 || sum.Steps != 8 {
		t.Errorf("summary %+v", sum)
	}

	// The same command again runs nothing; another plan in the folder is an error.
	stdout, stderr, _, err = runCtx(context.Background(), args...)
	if err != nil || !strings.Contains(stdout, "ran 0 (") || !strings.Contains(stdout, "4 finished before") || !strings.Contains(stderr, "baseline seed 1: finished before, kept") {
		t.Errorf("rerun: %v\n%s\n%s", err, stdout, stderr)
	}
	_, _, _, err = runCtx(context.Background(), append(tinySweep(dir, 9), "--seeds", "1-2", "--arms", "baseline,ro:randomout=true,tau=1e-3")...)
	if err == nil || !strings.Contains(err.Error(), "--max-steps 8, now 9") {
		t.Errorf("other plan: %v", err)
	}

	// More seeds grow the sweep: only the new pairs run, and the report covers all of them.
	grown := append(tinySweep(dir, 8), "--seeds", "1-3", "--arms", "baseline,ro:randomout=true,tau=1e-3")
	stdout, stderr, _, err = runCtx(context.Background(), grown...)
	if err != nil || !strings.Contains(stdout, "6 of 6 runs done") || !strings.Contains(stdout, "ran 2 (") ||
		!strings.Contains(stdout, "4 finished before") || !strings.Contains(stderr, "seeds 1-3: 6 runs") {
		t.Errorf("adding seed 3: %v\n%s\n%s", err, stdout, stderr)
	}
	readJSONFile(t, filepath.Join(dir, "sweep.json"), &plan)
	if !slices.Equal(plan.Seeds, []uint64{1, 2, 3}) {
		t.Errorf("sweep.json seeds %v after adding seed 3", plan.Seeds)
	}
}

// TestSweepPack: with --pack the runs train in packs, each still in its own folder with its
// own live lines, and config.json names the pack.
func TestSweepPack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sw")
	args := append(tinySweep(dir, 8), "--seeds", "1-2", "--arms", "baseline,ro:randomout=true,tau=1e-3", "--pack", "4", "--parallel", "1")
	stdout, stderr, _, err := runCtx(context.Background(), args...)
	if err != nil {
		t.Fatalf("sweep: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "1 pack of up to 4 runs at once") || !strings.Contains(stdout, "4 of 4 runs done") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	for _, run := range []string{"baseline/1", "baseline/2", "ro/1", "ro/2"} {
		if !strings.Contains(stderr, run+" epoch 1 (step 8/8)") {
			t.Errorf("stderr lacks run %s's epoch line:\n%s", run, stderr)
		}
		var cf struct {
			Provenance struct {
				Pack *trainer.PackProvenance `json:"pack"`
			} `json:"provenance"`
		}
		readJSONFile(t, filepath.Join(dir, "runs", run, "config.json"), &cf)
		if cf.Provenance.Pack == nil || len(cf.Provenance.Pack.Members) != 4 {
			t.Errorf("%s: config.json's pack %+v, want 4 members", run, cf.Provenance.Pack)
		}
	}
}

// tinyRunMemory is the memory estimate of one run of tinySweep on the CPU: what the memory check
// of each run, and --pack 0, count.
func tinyRunMemory(t *testing.T) int64 {
	t.Helper()
	spec, err := net.LoadSpec("convnet-small@0.25")
	if err != nil {
		t.Fatal(err)
	}
	ds, err := data.Open("shapes")
	if err != nil {
		t.Fatal(err)
	}
	m, err := net.EstimateMemory(spec, 16, [3]int{ds.Train.C, 16, 16}, len(ds.Classes), 2, 1) // Adam: two moments; one thread
	if err != nil {
		t.Fatal(err)
	}
	return m.Total()
}

// TestSweepPackZero: --pack 0 picks the largest pack that fits the memory budget, counting each
// member of a pack twice (its own network and its share of the pack's), and the runs it packs
// write the records of the same runs trained alone.
func TestSweepPackZero(t *testing.T) {
	tmp := t.TempDir()
	run := tinyRunMemory(t)
	flags := []string{"--seeds", "1-2", "--arms", "baseline,ro:randomout=true,tau=1e-3"}
	// 7 runs' worth: a pack of 3 takes 6 (twice 3), one of 4 would take 8.
	budget := 7 * run
	dir := filepath.Join(tmp, "packed")
	args := append(append(tinySweep(dir, 8), flags...), "--pack", "0", "--parallel", "1", "--memory-budget", strconv.FormatInt(budget, 10))
	stdout, stderr, _, err := runCtx(context.Background(), args...)
	if err != nil {
		t.Fatalf("sweep --pack 0: %v\n%s", err, stderr)
	}
	want := fmt.Sprintf("pack: 3 runs per pack, the largest that fits the memory budget of %s (--memory-budget): --parallel 1 of them take about %s, at %s a run alone",
		membudget.Format(budget), membudget.Format(6*run), membudget.Format(run))
	if !strings.Contains(stderr, want) || !strings.Contains(stderr, "1 pack of up to 3 runs at once") || !strings.Contains(stdout, "4 of 4 runs done") {
		t.Errorf("stderr lacks %q:\n%s\nstdout:\n%s", want, stderr, stdout)
	}
	for run, members := range map[string]int{"baseline/1": 3, "ro/1": 3, "baseline/2": 3, "ro/2": 0} {
		var cf struct {
			Provenance struct {
				Pack *trainer.PackProvenance `json:"pack"`
			} `json:"provenance"`
		}
		readJSONFile(t, filepath.Join(dir, "runs", run, "config.json"), &cf)
		if got := cf.Provenance.Pack; members == 0 && got != nil || members > 0 && (got == nil || len(got.Members) != members) {
			t.Errorf("%s: config.json's pack %+v, want %d members", run, got, members)
		}
	}
	ref := filepath.Join(tmp, "alone")
	if _, stderr, _, err := runCtx(context.Background(), append(append(tinySweep(ref, 8), flags...), "--pack", "1")...); err != nil {
		t.Fatalf("sweep --pack 1: %v\n%s", err, stderr)
	}
	for _, run := range []string{"baseline/1", "ro/1", "baseline/2", "ro/2"} {
		for _, f := range []string{trainer.MetricsFile, trainer.SummaryFile} {
			if got, want := untimed(t, filepath.Join(dir, "runs", run, f)), untimed(t, filepath.Join(ref, "runs", run, f)); got != want {
				t.Errorf("%s %s with --pack 0:\n%s\nwith --pack 1:\n%s", run, f, got, want)
			}
		}
	}

	// A budget larger than every run needs packs all of the worker's unfinished runs.
	dir = filepath.Join(tmp, "all")
	args = append(append(tinySweep(dir, 2), flags...), "--pack", "0", "--memory-budget", strconv.FormatInt(100*run, 10))
	if _, stderr, _, err := runCtx(context.Background(), args...); err != nil || !strings.Contains(stderr, "pack: 4 runs per pack, all of this worker's 4 unfinished runs, the largest that fits") {
		t.Errorf("sweep --pack 0 with room for more than its runs: %v\n%s", err, stderr)
	}

	// A budget too small for two runs alone at once is refused with the sizes, before any run.
	dir = filepath.Join(tmp, "small")
	args = append(append(tinySweep(dir, 2), flags...), "--pack", "0", "--parallel", "2", "--memory-budget", strconv.FormatInt(2*run-1, 10))
	_, _, _, err = runCtx(context.Background(), args...)
	for _, want := range []string{"--pack 0: model convnet-small@0.25 with batch 16 needs about " + membudget.Format(run) + " of memory for each run",
		"--parallel 2 runs alone take " + membudget.Format(2*run) + ", more than the memory budget of " + membudget.Format(2*run-1) + " (--memory-budget)",
		"not even a pack of one run fits", "raise the budget with --memory-budget"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("sweep --pack 0 over the budget: %v, want %q", err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "runs")); !os.IsNotExist(err) {
		t.Errorf("sweep --pack 0 over the budget started runs (%v)", err)
	}
}

// TestSweepPackKillAndResume kills (SIGKILL) a sweep training a pack of two runs once both have
// checkpointed, reruns it, and checks that both resume in a pack from their checkpoints and end
// with the records of the same sweep run unpacked and uninterrupted (timings aside).
func TestSweepPackKillAndResume(t *testing.T) {
	tmp := t.TempDir()
	dir, ref := filepath.Join(tmp, "sw"), filepath.Join(tmp, "ref")
	args := append(tinySweep(dir, 200), "--seeds", "1", "--arms", "baseline,randomout", "--checkpoint-every", "20", "--log-every", "50", "--pack", "2")
	run := func(d, arm string) string { return filepath.Join(d, "runs", arm, "1") }
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	start := func() (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "ROUT_TEST_AS_CLI=1")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &out
	}
	cmd, out := start()
	deadline := time.Now().Add(40 * time.Second)
	for !(exists(filepath.Join(run(dir, "baseline"), trainer.CheckpointFile)) && exists(filepath.Join(run(dir, "randomout"), trainer.CheckpointFile))) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the pack did not checkpoint in time:\n%s", out)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	for _, arm := range []string{"baseline", "randomout"} {
		if exists(filepath.Join(run(dir, arm), "summary.json")) {
			t.Fatalf("%s/1 finished before the kill; the test needs it interrupted:\n%s", arm, out)
		}
	}
	cmd, out = start()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("restart: %v\n%s", err, out)
	}
	for _, want := range []string{"baseline seed 1: resume from checkpoint", "randomout seed 1: resume from checkpoint", "2 of 2 runs done"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("restart output lacks %q:\n%s", want, out)
		}
	}
	refArgs := append(tinySweep(ref, 200), "--seeds", "1", "--arms", "baseline,randomout", "--checkpoint-every", "20", "--log-every", "50")
	if _, stderr, _, err := runCtx(context.Background(), refArgs...); err != nil {
		t.Fatalf("unpacked sweep: %v\n%s", err, stderr)
	}
	for _, arm := range []string{"baseline", "randomout"} {
		for _, f := range []string{"metrics.jsonl", "summary.json"} {
			if got, want := untimed(t, filepath.Join(run(dir, arm), f)), untimed(t, filepath.Join(run(ref, arm), f)); got != want {
				t.Errorf("%s/1 %s after the kill and resume of its pack:\n%s\nunpacked, uninterrupted:\n%s", arm, f, got, want)
			}
		}
	}
}

// untimed is a JSON or JSON-lines file with the fields that time a run removed.
func untimed(t *testing.T, path string) string {
	t.Helper()
	b := []byte(readFile(t, path))
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if json.Valid(b) {
		lines = [][]byte{b}
	}
	var out strings.Builder
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, k := range []string{"images_per_sec", "elapsed", "wall_seconds"} {
			delete(m, k)
		}
		j, _ := json.Marshal(m)
		out.Write(append(j, '\n'))
	}
	return out.String()
}

// TestSweepFileAndShard: a sweep file gives the plan; a Kubernetes Indexed Job's index picks
// the shard.
func TestSweepFileAndShard(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "sweep.toml")
	os.WriteFile(file, []byte(`
seeds = [5, 6]
vary-data-seed = true
[flags]
max-steps = 6
epochs = 1
[[arms]]
name = "baseline"
[[arms]]
name = "ro-bias"
overrides = { randomout = true, randomout-scope = "weights+bias" }
`), 0o644)
	dir := filepath.Join(tmp, "sw")
	t.Setenv("JOB_COMPLETION_INDEX", "1")
	args := []string{"sweep", "--file", file, "--model", "convnet-small@0.25", "--crop", "16", "--batch", "16", "--max-steps", "4",
		"--device", "cpu", "--out", dir, "--shard-count", "2"}
	stdout, stderr, _, err := runCtx(context.Background(), args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	// Plan order baseline/5, ro-bias/5, baseline/6, ro-bias/6: shard 1/2 has indices 1 and 3.
	if !strings.Contains(stdout, "this worker (shard 1/2, 2 runs) ran 2") || !strings.Contains(stdout, "2 of 4 runs done") {
		t.Errorf("stdout:\n%s", stdout)
	}
	for _, run := range []struct {
		dir  string
		seed uint64
	}{{"ro-bias/5", 5}, {"ro-bias/6", 6}} {
		cfg, err := trainer.ResumeConfig(filepath.Join(dir, "runs", run.dir))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.MaxSteps != 4 || cfg.DataSeed != run.seed || cfg.Seed != run.seed || !cfg.RandomOut || cfg.RandomOutScope != "weights+bias" {
			t.Errorf("%s: config %+v (command line beats the file; vary-data-seed; the arm's overrides)", run.dir, cfg)
		}
	}
	for _, run := range []string{"baseline/5", "baseline/6"} {
		if _, err := os.Stat(filepath.Join(dir, "runs", run)); err == nil {
			t.Errorf("%s belongs to shard 0 but was run", run)
		}
	}
	// The report of the half-done sweep says so.
	if !strings.Contains(stdout, "2 of 4 runs done (2 arms x 2 seeds); unfinished:") {
		t.Errorf("report progress:\n%s", stdout)
	}
}

func TestSweepBadFlags(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--seeds", "1-3"}, "--out is required"},
		{[]string{"--out", dir}, "--seeds is required"},
		{[]string{"--out", dir, "--seeds", "3-1"}, "goes backwards"},
		{[]string{"--out", dir, "--seeds", "1", "--arms", "ro:tauu=1"}, `unknown setting "tauu" (valid: `},
		{[]string{"--out", dir, "--seeds", "1", "--seed", "4"}, "--seed: a sweep sets each run's seed"},
		{[]string{"--out", dir, "--seeds", "1", "--arm", "x"}, "--arm: a sweep names"},
		{[]string{"--out", dir, "--seeds", "1", "--data-seed", "4", "--vary-data-seed"}, "data-seed and vary-data-seed"},
		{[]string{"--out", dir, "--seeds", "1", "--epochs", "0"}, "setting epochs"},
		{[]string{"--out", dir, "--seeds", "1", "--parallel", "-1"}, "--parallel -1: want 1 or more, or 0"},
		{[]string{"--out", dir, "--seeds", "1", "--pack", "-1"}, "--pack -1: want 1 (every run alone) or more, or 0"},
		{[]string{"--out", dir, "--seeds", "1", "--parallel", "2", "--cuda-graph"}, "--cuda-graph with --parallel 2"},
		{[]string{"--out", dir, "--seeds", "1", "--shard", "2/2"}, "index 2 of 2"},
		{[]string{"--out", dir, "--seeds", "1", "--shard", "0/2", "--shard-count", "3"}, "--shard 0/2 but --shard-count 3"},
		{[]string{"--out", dir, "--seeds", "1", "--shard-count", "3"}, "without a shard index"},
		{[]string{"--out", dir, "--seeds", "1", "--claim-timeout", "10s", "--heartbeat", "30s"}, "must be at least twice --heartbeat"},
		{[]string{"--out", dir, "--seeds", "1", "--claim-timeout", "50s", "--heartbeat", "30s"}, "must be at least twice --heartbeat"},
		{[]string{"--out", dir, "--seeds", "1", "--file", filepath.Join(dir, "none.toml")}, "sweep file"},
		{[]string{"--out", dir, "--seeds", "1", "--threads", "2"}, "--threads: unknown flag; did you mean --threads-per-run?"},
		{[]string{"--out", dir, "--seeds", "1", "extra"}, `unexpected argument "extra"`},
	} {
		_, _, _, err := runCtx(context.Background(), append([]string{"sweep"}, tc.args...)...)
		var ue usageError
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &ue) {
			t.Errorf("sweep %v: %v, want a usage error with %q", tc.args, err, tc.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("bad command lines wrote %v", entries)
	}
}

// TestSweepInterrupted: a cancelled sweep (Ctrl-C, SIGTERM) checkpoints its runs and exits 130.
func TestSweepInterrupted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sw")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			if _, err := os.Stat(filepath.Join(dir, "runs", "baseline", "1", trainer.CheckpointFile)); err == nil {
				cancel()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	args := append(tinySweep(dir, 100000), "--seeds", "1", "--arms", "baseline", "--checkpoint-every", "10")
	stdout, _, exit, err := runCtx(ctx, args...)
	if exit != exitCanceled || err == nil || !strings.Contains(err.Error(), "interrupted; 1 run checkpointed. Resume with:\n  rout sweep --model=convnet-small@0.25 --init=he --crop=16") ||
		!strings.Contains(err.Error(), " --out="+dir+" --seeds=1 --arms=baseline") {
		t.Fatalf("exit %d, err %v, want %d", exit, err, exitCanceled)
	}
	if !strings.Contains(stdout, "1 interrupted") {
		t.Errorf("stdout: %s", stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "runs", "baseline", "1", sweep.ClaimFile)); !os.IsNotExist(err) {
		t.Errorf("claim not released: %v", err)
	}
}

// TestSweepKillAndResume kills a real sweep process with SIGKILL in the middle of a run,
// restarts the same command, and checks that the finished runs were kept as they were, the
// interrupted one resumed from its checkpoint (to the result an uninterrupted run gives), and
// every pair ends with a summary.
func TestSweepKillAndResume(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "sw")
	args := append(tinySweep(dir, 400), "--seeds", "1-2", "--arms", "baseline,randomout", "--checkpoint-every", "20", "--log-every", "100", "--parallel", "1")
	start := func() (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "ROUT_TEST_AS_CLI=1")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &out
	}
	run := func(arm, seed string) string { return filepath.Join(dir, "runs", arm, seed) }
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }

	// Runs go seed by seed: baseline/1, randomout/1, ... Kill once baseline/1 has finished and
	// randomout/1 has checkpointed.
	cmd, out := start()
	deadline := time.Now().Add(40 * time.Second)
	for !(exists(filepath.Join(run("baseline", "1"), "summary.json")) && exists(filepath.Join(run("randomout", "1"), trainer.CheckpointFile))) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the sweep did not get to its second run in time:\n%s", out)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if exists(filepath.Join(run("randomout", "1"), "summary.json")) {
		t.Fatalf("randomout/1 finished before the kill; the test needs it interrupted:\n%s", out)
	}
	if !exists(filepath.Join(run("randomout", "1"), sweep.ClaimFile)) {
		t.Fatal("the killed worker left no claim: the test would not exercise the takeover")
	}
	finishedSum := readFile(t, filepath.Join(run("baseline", "1"), "summary.json"))
	finishedMetrics := readFile(t, filepath.Join(run("baseline", "1"), "metrics.jsonl"))
	st, _ := os.Stat(filepath.Join(run("baseline", "1"), "summary.json"))
	finishedTime := st.ModTime()

	cmd, out = start()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("restart: %v\n%s", err, out)
	}
	log := out.String()
	for _, want := range []string{"baseline seed 1: finished before, kept", "randomout seed 1: resume from checkpoint, claim taken over from pid",
		"baseline seed 2: start", "randomout seed 2: start", "ran 3 (", "1 finished before", "4 of 4 runs done"} {
		if !strings.Contains(log, want) {
			t.Errorf("restart output lacks %q:\n%s", want, log)
		}
	}
	if got := readFile(t, filepath.Join(run("baseline", "1"), "summary.json")); got != finishedSum {
		t.Error("the finished run's summary.json changed")
	}
	if got := readFile(t, filepath.Join(run("baseline", "1"), "metrics.jsonl")); got != finishedMetrics {
		t.Error("the finished run's metrics.jsonl changed")
	}
	if st, _ := os.Stat(filepath.Join(run("baseline", "1"), "summary.json")); !st.ModTime().Equal(finishedTime) {
		t.Error("the finished run's summary.json was rewritten")
	}
	var cf struct {
		Provenance struct {
			Resumed *int `json:"resumed_from_step"`
		} `json:"provenance"`
	}
	readJSONFile(t, filepath.Join(run("randomout", "1"), "config.json"), &cf)
	if cf.Provenance.Resumed == nil || *cf.Provenance.Resumed <= 0 || *cf.Provenance.Resumed >= 400 {
		t.Errorf("randomout/1 resumed from step %v, want a step inside the run", cf.Provenance.Resumed)
	}
	for _, arm := range []string{"baseline", "randomout"} {
		for _, seed := range []string{"1", "2"} {
			var s trainer.Summary
			readJSONFile(t, filepath.Join(run(arm, seed), "summary.json"), &s)
			if s.Steps != 400 || s.Arm != arm || strconv.FormatUint(s.Seed, 10) != seed {
				t.Errorf("%s/%s: summary %+v", arm, seed, s)
			}
			if exists(filepath.Join(run(arm, seed), sweep.ClaimFile)) {
				t.Errorf("%s/%s: claim left", arm, seed)
			}
		}
	}
	// The resumed run ends where an uninterrupted one does.
	ref := filepath.Join(tmp, "ref")
	trainArgs := []string{"train", "--model", "convnet-small@0.25", "--crop", "16", "--batch", "16", "--init", "he",
		"--max-steps", "400", "--log-every", "100", "--device", "cpu", "--threads", "1", "--seed", "1", "--arm", "randomout",
		"--randomout", "--checkpoint-every", "20", "--out", ref}
	if _, stderr, _, err := runCtx(context.Background(), trainArgs...); err != nil {
		t.Fatalf("reference run: %v\n%s", err, stderr)
	}
	var a, b trainer.Summary
	readJSONFile(t, filepath.Join(run("randomout", "1"), "summary.json"), &a)
	readJSONFile(t, filepath.Join(ref, "summary.json"), &b)
	if fmt.Sprint(*a.FinalTrainLoss, *a.FinalTestAcc, a.ReinitsTotal) != fmt.Sprint(*b.FinalTrainLoss, *b.FinalTestAcc, b.ReinitsTotal) {
		t.Errorf("resumed run: loss %v acc %v re-inits %d; uninterrupted: loss %v acc %v re-inits %d",
			*a.FinalTrainLoss, *a.FinalTestAcc, a.ReinitsTotal, *b.FinalTrainLoss, *b.FinalTestAcc, b.ReinitsTotal)
	}
}

// parseOnly parses a sweep command line as `rout sweep` does, with getenv as the environment.
func parseOnly(t *testing.T, args []string, getenv func(string) string) (sweepSetup, error) {
	t.Helper()
	cmd := sweepCommand()
	var s sweepSetup
	cmd.Action = func(c *cli.Context) error {
		var err error
		s, err = parseSweep(c, getenv)
		return err
	}
	app := &cli.App{Name: "rout", Commands: []*cli.Command{cmd}, Writer: &bytes.Buffer{}, ErrWriter: &bytes.Buffer{}}
	err := app.Run(append([]string{"rout"}, args...))
	return s, err
}

// TestKubernetesManifest parses deploy/k8s-sweep.yaml: an Indexed Job whose completions,
// parallelism and --shard-count agree, with the index wired in and the sweep folder on a shared
// volume; its arguments are a valid `rout sweep` command line whose shard is the pod's index.
func TestKubernetesManifest(t *testing.T) {
	f, err := os.Open("../../deploy/k8s-sweep.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type mount struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	}
	type doc struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Spec       struct {
			CompletionMode string   `yaml:"completionMode"`
			Completions    *int     `yaml:"completions"`
			Parallelism    *int     `yaml:"parallelism"`
			AccessModes    []string `yaml:"accessModes"`
			Template       struct {
				Spec struct {
					RestartPolicy string `yaml:"restartPolicy"`
					Containers    []struct {
						Args []string `yaml:"args"`
						Env  []struct {
							Name      string `yaml:"name"`
							ValueFrom struct {
								FieldRef struct {
									FieldPath string `yaml:"fieldPath"`
								} `yaml:"fieldRef"`
							} `yaml:"valueFrom"`
						} `yaml:"env"`
						VolumeMounts []mount `yaml:"volumeMounts"`
					} `yaml:"containers"`
					Volumes []struct {
						Name string `yaml:"name"`
						PVC  *struct {
							ClaimName string `yaml:"claimName"`
						} `yaml:"persistentVolumeClaim"`
					} `yaml:"volumes"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
	}
	var docs []doc
	dec := yaml.NewDecoder(f)
	for {
		var d doc
		if err := dec.Decode(&d); err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatal(err)
		}
		docs = append(docs, d)
	}
	i := slices.IndexFunc(docs, func(d doc) bool { return d.Kind == "Job" })
	if i < 0 {
		t.Fatalf("no Job in the manifest: %+v", docs)
	}
	job := docs[i]
	if job.APIVersion != "batch/v1" || job.Spec.CompletionMode != "Indexed" || job.Spec.Completions == nil || job.Spec.Parallelism == nil ||
		*job.Spec.Completions != *job.Spec.Parallelism || *job.Spec.Completions < 2 {
		t.Fatalf("job spec %+v", job.Spec)
	}
	n := *job.Spec.Completions
	pod := job.Spec.Template.Spec
	if len(pod.Containers) != 1 || pod.RestartPolicy == "Always" {
		t.Fatalf("pod spec %+v", pod)
	}
	c := pod.Containers[0]
	if !slices.Contains(c.Args, fmt.Sprintf("--shard-count=%d", n)) || c.Args[0] != "sweep" {
		t.Errorf("args %v: want sweep ... --shard-count=%d", c.Args, n)
	}
	if !slices.ContainsFunc(c.Env, func(e struct {
		Name      string `yaml:"name"`
		ValueFrom struct {
			FieldRef struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
		} `yaml:"valueFrom"`
	}) bool {
		return e.Name == "JOB_COMPLETION_INDEX" && strings.Contains(e.ValueFrom.FieldRef.FieldPath, "job-completion-index")
	}) {
		t.Errorf("env %+v: JOB_COMPLETION_INDEX not wired", c.Env)
	}
	// The last pod's index makes a valid command line for the last shard.
	s, err := parseOnly(t, c.Args, func(k string) string {
		if k == "JOB_COMPLETION_INDEX" {
			return strconv.Itoa(n - 1)
		}
		return ""
	})
	if err != nil {
		t.Fatalf("args %v: %v", c.Args, err)
	}
	if s.shard != (sweep.Shard{Index: n - 1, Count: n}) {
		t.Errorf("shard %v, want %d/%d", s.shard, n-1, n)
	}
	// --out is on a mounted volume backed by a claim that many pods can write.
	mi := slices.IndexFunc(c.VolumeMounts, func(m mount) bool { return strings.HasPrefix(s.out, m.MountPath+"/") })
	if mi < 0 {
		t.Fatalf("--out %s is on no mounted volume (%+v)", s.out, c.VolumeMounts)
	}
	vi := slices.IndexFunc(pod.Volumes, func(v struct {
		Name string `yaml:"name"`
		PVC  *struct {
			ClaimName string `yaml:"claimName"`
		} `yaml:"persistentVolumeClaim"`
	}) bool {
		return v.Name == c.VolumeMounts[mi].Name
	})
	if vi < 0 || pod.Volumes[vi].PVC == nil {
		t.Fatalf("volume %s is not a persistent volume claim", c.VolumeMounts[mi].Name)
	}
	pi := slices.IndexFunc(docs, func(d doc) bool {
		return d.Kind == "PersistentVolumeClaim" && d.Metadata.Name == pod.Volumes[vi].PVC.ClaimName
	})
	if pi < 0 || !slices.Contains(docs[pi].Spec.AccessModes, "ReadWriteMany") {
		t.Errorf("the sweep folder's claim %s is not defined ReadWriteMany", pod.Volumes[vi].PVC.ClaimName)
	}
}

// TestSlurmScript checks the job-array script's syntax, then runs it with an echo for rout and
// a job array's variables: the command it would run is a valid sweep of that shard.
func TestSlurmScript(t *testing.T) {
	script := "../../scripts/slurm-sweep.sh"
	if out, err := exec.Command("bash", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	cmd := exec.Command("bash", script, "--epochs", "6")
	env := map[string]string{"ROUT": "echo", "SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "2", "SLURM_ARRAY_TASK_COUNT": "4",
		"ROUT_OUT": "/shared/sw", "HOME": t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	args := strings.Fields(lines[len(lines)-1])
	s, err := parseOnly(t, args, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("the script runs `rout %s`: %v", strings.Join(args, " "), err)
	}
	if s.shard != (sweep.Shard{Index: 3, Count: 4}) || s.out != "/shared/sw" || s.plan.Flags["epochs"] != "6" || s.plan.Preset != "paper" {
		t.Errorf("the script runs `rout %s`: shard %v out %s flags %v", strings.Join(args, " "), s.shard, s.out, s.plan.Flags)
	}
}

// TestSweepFileAgainstFlags: a sweep file's threads is refused (a sweep sets each run's threads
// from --threads-per-run), and --vary-data-seed=false on the command line beats the file's true.
func TestSweepFileAgainstFlags(t *testing.T) {
	tmp := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noenv := func(string) string { return "" }
	threads := write("threads.toml", "seeds = [1]\n[flags]\nthreads = 2\n")
	if _, err := parseOnly(t, []string{"sweep", "--out", filepath.Join(tmp, "a"), "--file", threads}, noenv); err == nil ||
		!strings.Contains(err.Error(), threads+": flags: threads cannot be set in a sweep: use --threads-per-run") {
		t.Errorf("threads in a sweep file: %v, want an error pointing to --threads-per-run", err)
	}
	vary := write("vary.toml", "seeds = [1]\nvary-data-seed = true\n")
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{nil, true},
		{[]string{"--vary-data-seed=false"}, false},
		{[]string{"--vary-data-seed"}, true},
	} {
		s, err := parseOnly(t, append([]string{"sweep", "--out", filepath.Join(tmp, "b"), "--file", vary}, tc.args...), noenv)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if s.plan.VaryDataSeed != tc.want {
			t.Errorf("file vary-data-seed = true, command line %v: plan's vary-data-seed %v, want %v", tc.args, s.plan.VaryDataSeed, tc.want)
		}
	}
}

// TestGroupErrors: runs that failed with the same message are listed on one line, in the order
// first met.
func TestGroupErrors(t *testing.T) {
	data := errors.New("setting data: cifar10: no data in the cache folder")
	var errs []sweep.RunError
	for _, p := range []sweep.Pair{{Arm: "baseline", Seed: 1}, {Arm: "randomout", Seed: 1}, {Arm: "baseline", Seed: 2},
		{Arm: "randomout", Seed: 2}, {Arm: "baseline", Seed: 3}} {
		errs = append(errs, sweep.RunError{Pair: p, Err: data})
	}
	errs = append(errs, sweep.RunError{Pair: sweep.Pair{Arm: "he", Seed: 1}, Err: errors.New("device gpu: out of memory")},
		sweep.RunError{Pair: sweep.Pair{Arm: "he", Seed: 2}, Err: data})
	got := groupErrors(errs)
	want := []string{
		"baseline/1, randomout/1, baseline/2 and 3 more (6 runs): setting data: cifar10: no data in the cache folder",
		"he/1: device gpu: out of memory",
	}
	if !slices.Equal(got, want) {
		t.Errorf("groupErrors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	two := groupErrors(errs[:2])
	if want := "baseline/1, randomout/1 (2 runs): " + data.Error(); len(two) != 1 || two[0] != want {
		t.Errorf("two runs: %q, want %q", two, want)
	}
}

// TestPrintEventNamesARepeatedError: a run that stops with an error already shown for another
// run names that run instead of repeating the message; a different error is shown whole.
func TestPrintEventNamesARepeatedError(t *testing.T) {
	var out, errw bytes.Buffer
	failures := map[string]string{}
	data := errors.New("setting data: no data")
	for _, e := range []sweep.Event{
		{Kind: sweep.Failed, Pair: sweep.Pair{Arm: "baseline", Seed: 1}, Err: data},
		{Kind: sweep.Failed, Pair: sweep.Pair{Arm: "randomout", Seed: 1}, Err: data},
		{Kind: sweep.Failed, Pair: sweep.Pair{Arm: "randomout", Seed: 2}, Err: errors.New("device gpu: out of memory")},
	} {
		printEvent(&out, &errw, t.TempDir(), &sweep.Plan{}, failures, e)
	}
	want := "baseline seed 1: error: setting data: no data\n" +
		"randomout seed 1: error: the same as baseline seed 1's\n" +
		"randomout seed 2: error: device gpu: out of memory\n"
	if errw.String() != want || out.Len() != 0 {
		t.Errorf("printed %q to standard error and %q to standard output, want %q and nothing", errw.String(), out.String(), want)
	}
}

// TestAutoParallel checks --parallel 0: one run per core on the CPU, no more than the shard's
// runs, and one on a GPU.
func TestAutoParallel(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	plan := func(arms, seeds int) sweep.Plan {
		var p sweep.Plan
		p.Arms = make([]sweep.Arm, arms)
		p.Seeds = make([]uint64, seeds)
		return p
	}
	half := sweep.Shard{Index: 1, Count: 2}
	for _, c := range []struct {
		device      string
		arms, seeds int
		shard       sweep.Shard
		want        int
	}{
		{"cpu", 2, 8, sweep.All, 4},
		{"cpu", 1, 3, sweep.All, 3},
		{"cpu", 1, 1, sweep.All, 1},
		{"cpu", 1, 5, half, 2}, // pairs 1 and 3
		{"gpu", 2, 8, sweep.All, 1},
	} {
		if got := autoParallel(c.device, plan(c.arms, c.seeds), c.shard); got != c.want {
			t.Errorf("autoParallel(%s, %d arms x %d seeds, shard %s) = %d, want %d", c.device, c.arms, c.seeds, c.shard, got, c.want)
		}
	}
}
