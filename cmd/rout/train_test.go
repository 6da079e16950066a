package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"rout/sweep"
	"rout/trainer"
)

// runCtx runs rout with args under ctx; exit is the code a cli.Exit error asked for (-1: none).
func runCtx(ctx context.Context, args ...string) (stdout, stderr string, exit int, err error) {
	app := newApp()
	var o, e bytes.Buffer
	app.Writer, app.ErrWriter = &o, &e
	exit = -1
	app.ExitErrHandler = func(_ *cli.Context, err error) {
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			exit = ec.ExitCode()
		}
	}
	err = app.RunContext(ctx, append([]string{"rout"}, args...))
	return o.String(), e.String(), exit, err
}

// tinyTrain are flags for a run of a few seconds.
var tinyTrain = []string{"train", "--model", "convnet-small@0.25", "--crop", "16", "--batch", "16",
	"--max-steps", "6", "--log-every", "3", "--device", "cpu", "--threads", "1", "--seed", "4"}

// TestTrainEndToEnd runs `rout train` and `rout eval` and checks the files and fields the README
// documents.
func TestTrainEndToEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	stdout, stderr, _, err := runCtx(context.Background(), append(tinyTrain, "--out", dir, "--randomout", "--arm", "ro")...)
	if err != nil {
		t.Fatalf("train: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "status ") || !strings.Contains(stdout, dir) {
		t.Errorf("train printed %q", stdout)
	}
	if !strings.Contains(stderr, "log step 3/6") || !strings.Contains(stderr, "epoch step 6/6") {
		t.Errorf("progress lines: %q", stderr)
	}
	var sum map[string]any
	readJSONFile(t, filepath.Join(dir, "summary.json"), &sum)
	if sum["steps"] != 6.0 || sum["arm"] != "ro" || sum["seed"] != 4.0 || sum["epochs"] != 1.0 {
		t.Errorf("summary.json %v", sum)
	}
	for _, k := range []string{"status", "final_test_acc", "best_test_acc", "final_test_loss", "final_train_loss",
		"chance_acc", "failed_margin", "wall_seconds", "reinits_total", "reinits_per_layer", "dead_final_per_layer", "message"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("summary.json has no %s", k)
		}
	}
	var cf struct {
		Config map[string]any `json:"config"`
	}
	readJSONFile(t, filepath.Join(dir, "config.json"), &cf)
	if cf.Config["randomout"] != true || cf.Config["model"] != "convnet-small@0.25" || cf.Config["preset"] != "quick" || cf.Config["lr"] != 1e-3 {
		t.Errorf("config.json %v", cf.Config)
	}
	lines := strings.Split(strings.TrimSpace(readFile(t, filepath.Join(dir, "metrics.jsonl"))), "\n")
	if len(lines) != 3 { // log 3, log 6, epoch 6
		t.Fatalf("metrics.jsonl has %d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	var last map[string]any
	json.Unmarshal([]byte(lines[2]), &last)
	if last["kind"] != "epoch" || last["test_acc"] == nil || last["reinits"] == nil || last["dead"] == nil {
		t.Errorf("epoch line %v", last)
	}

	out, stderr, _, err := runCtx(context.Background(), "eval", dir, "--split", "test", "--device", "cpu", "--json")
	if err != nil {
		t.Fatalf("eval: %v\n%s", err, stderr)
	}
	var res trainer.EvalResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("eval --json printed %q", out)
	}
	if res.Examples != 2000 || res.Step != 6 || res.Acc != last["test_acc"].(float64) {
		t.Errorf("eval %+v, the run's last test acc %v", res, last["test_acc"])
	}

	// The same --out again without --resume is refused; --resume with a changed setting too.
	if _, _, _, err := runCtx(context.Background(), append(tinyTrain, "--out", dir)...); err == nil || !strings.Contains(err.Error(), "already holds a run") {
		t.Errorf("train over a run: %v", err)
	}
	if _, _, _, err := runCtx(context.Background(), "train", "--out", dir, "--resume", "--lr", "0.1"); err == nil || !strings.Contains(err.Error(), "lr") {
		t.Errorf("resume with another lr: %v", err)
	}
	// Resuming with a larger --max-steps continues the run.
	if _, stderr, _, err := runCtx(context.Background(), "train", "--out", dir, "--resume", "--max-steps", "9"); err != nil {
		t.Fatalf("resume: %v\n%s", err, stderr)
	}
	readJSONFile(t, filepath.Join(dir, "summary.json"), &sum)
	if sum["steps"] != 9.0 {
		t.Errorf("resumed run ended at step %v, want 9", sum["steps"])
	}
}

// TestTrainInterrupted: a cancelled run (as Ctrl-C does) checkpoints and exits 130.
func TestTrainInterrupted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, exit, err := runCtx(ctx, append(tinyTrain, "--out", dir)...)
	if exit != exitCanceled || err == nil || !strings.Contains(err.Error(), "interrupted") || !strings.HasSuffix(err.Error(), ". Resume with:\n  rout train --resume --out="+dir) {
		t.Fatalf("exit %d err %v, want %d and an interruption", exit, err, exitCanceled)
	}
	if _, err := os.Stat(filepath.Join(dir, trainer.CheckpointFile)); err != nil {
		t.Error(err)
	}
}

// TestTrainBadFlags: command-line mistakes are usage errors (exit 2) naming the flag; a GPU in a
// build without one is an error (exit 1) saying why.
func TestTrainBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--optimizer", "rmsprop"}, "--optimizer"},
		{[]string{"--randomout-scope", "bias"}, "randomout-scope"},
		{[]string{"--epochs", "0"}, "epochs"},
		{[]string{"--preset", "fast"}, "preset"},
		{[]string{"--tau", "tiny"}, "tau"},
		{[]string{"--nosuchflag"}, "nosuchflag"},
		{[]string{"extra-arg"}, "extra-arg"},
	} {
		_, _, _, err := runCtx(context.Background(), append([]string{"train", "--out", filepath.Join(t.TempDir(), "x")}, tc.args...)...)
		var ue usageError
		if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want a usage error naming %s", tc.args, err, tc.want)
		}
	}
	var ue usageError
	if _, _, _, err := runCtx(context.Background(), "train", "--resume"); err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), "--out") {
		t.Errorf("--resume without --out: %v", err)
	}
	if _, _, _, err := runCtx(context.Background(), "train", "--resume", "--out", t.TempDir()); err == nil || errors.As(err, &ue) || !strings.Contains(err.Error(), "checkpoint") {
		t.Errorf("--resume of a folder without a checkpoint: %v", err)
	}
	_, _, _, err := runCtx(context.Background(), append(tinyTrain, "--out", filepath.Join(t.TempDir(), "g"), "--device", "gpu")...)
	if err == nil || errors.As(err, &ue) || !strings.Contains(err.Error(), "gpu") {
		t.Errorf("--device gpu: %v, want a plain error about the GPU", err)
	}
	if _, _, _, err := runCtx(context.Background(), "eval"); err == nil || !errors.As(err, &ue) {
		t.Errorf("eval without a checkpoint: %v", err)
	}
	if _, _, _, err := runCtx(context.Background(), "eval", filepath.Join(t.TempDir(), "none")); err == nil || errors.As(err, &ue) {
		t.Errorf("eval of a missing checkpoint: %v", err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(readFile(t, path)), v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestTrainFolderInUseAndUnstarted: a folder another live process is training into is refused;
// a run stopped before its first checkpoint cannot be resumed, says so, and starts afresh.
func TestTrainFolderInUseAndUnstarted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	host, _ := os.Hostname()
	ns, _ := os.Readlink("/proc/self/ns/pid")
	live := sweep.ClaimInfo{Host: host, PID: os.Getppid(), PIDNamespace: ns, Worker: "other", Token: "theirs"}
	os.MkdirAll(dir, 0o755)
	b, _ := json.Marshal(live)
	if err := os.WriteFile(filepath.Join(dir, sweep.ClaimFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := runCtx(context.Background(), append(tinyTrain, "--out", dir)...); err == nil || !strings.Contains(err.Error(), "is in use by") {
		t.Fatalf("train into a folder a live process holds: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, trainer.ConfigFile)); err == nil {
		t.Error("the refused run wrote config.json")
	}
	os.Remove(filepath.Join(dir, sweep.ClaimFile))

	// A user's own files of those names are not a run's: refused, and left alone.
	os.WriteFile(filepath.Join(dir, trainer.ConfigFile), []byte(`{"my": "settings"}`+"\n"), 0o644)
	if _, _, _, err := runCtx(context.Background(), append(tinyTrain, "--out", dir)...); err == nil || !strings.Contains(err.Error(), "already holds") {
		t.Errorf("train over a user's config.json: %v, want a refusal", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, trainer.ConfigFile)); !strings.Contains(string(b), "settings") {
		t.Errorf("the user's config.json was replaced: %s", b)
	}

	// What a run killed before its first checkpoint leaves.
	os.WriteFile(filepath.Join(dir, trainer.ConfigFile), []byte(`{"config": {}, "provenance": {"start_time": "2026-11-27T10:00:00Z"}}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, trainer.MetricsFile), []byte(`{"kind":"log","step":3}`+"\n"), 0o644)
	tmp := filepath.Join(dir, "."+trainer.CheckpointFile+".tmp1234") // a write killed half-way
	os.WriteFile(tmp, []byte("half a checkpoint"), 0o644)
	if _, _, _, err := runCtx(context.Background(), "train", "--out", dir, "--resume"); err == nil || !strings.Contains(err.Error(), "holds no checkpoint yet") {
		t.Errorf("resume without a checkpoint: %v", err)
	}
	_, stderr, _, err := runCtx(context.Background(), append(tinyTrain, "--out", dir)...)
	if err != nil || !strings.Contains(stderr, "stopped before its first checkpoint: starting it afresh") {
		t.Fatalf("train over a run stopped before its first checkpoint: %v\n%s", err, stderr)
	}
	if lines := strings.Split(strings.TrimSpace(readFile(t, filepath.Join(dir, trainer.MetricsFile))), "\n"); len(lines) != 3 {
		t.Errorf("metrics.jsonl has %d lines, want the new run's 3", len(lines))
	}
	if _, err := os.Stat(filepath.Join(dir, sweep.ClaimFile)); !os.IsNotExist(err) {
		t.Errorf("the claim was not released: %v", err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("the temporary file of a killed write was left: %v", err)
	}
}

// TestTrainFailureLeavesNoFolder: a run that fails before writing anything (here its crop does
// not fit the images) removes the folder it created, so typos leave no empty run folders.
func TestTrainFailureLeavesNoFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if _, _, _, err := runCtx(context.Background(), append(tinyTrain, "--crop", "40", "--out", dir)...); err == nil || !strings.Contains(err.Error(), "crop") {
		t.Fatalf("train --crop 40: %v, want an error naming the crop", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the failed run left its folder: %v", err)
	}
}
