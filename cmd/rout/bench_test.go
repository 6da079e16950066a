package main

import (
	"bytes"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestBenchCPU runs `rout bench` end to end on the CPU backend with a tiny network and checks
// the table: every mode (no rule, then each rule checking every step), positive times, images/s consistent with ms/step and the batch, and a
// host time (queueing the steps) within the step time.
func TestBenchCPU(t *testing.T) {
	app := newApp()
	var out bytes.Buffer
	app.Writer = &out
	args := []string{"rout", "bench", "--device", "cpu", "--model", "convnet-small@0.125", "--batch", "4",
		"--optimizer", "sgd", "--steps", "2", "--warmup", "1", "--repeats", "3", "--plans"}
	if err := app.Run(args); err != nil {
		t.Fatalf("rout bench: %v\n%s", err, out.String())
	}
	text := out.String()
	row := regexp.MustCompile(`(?m)^\| rout \| (plain|randomout|redo|cbp) \| ([0-9.]+) \| ([0-9]+) \| ([0-9.]+) \|$`)
	rows := row.FindAllStringSubmatch(text, -1)
	var modes []string
	for _, r := range rows {
		modes = append(modes, r[1])
	}
	if strings.Join(modes, ",") != "plain,randomout,redo,cbp" {
		t.Fatalf("want plain, randomout, redo and cbp rows, got:\n%s", text)
	}
	for _, r := range rows {
		ms, _ := strconv.ParseFloat(r[2], 64)
		ips, _ := strconv.ParseFloat(r[3], 64)
		host, _ := strconv.ParseFloat(r[4], 64)
		if ms <= 0 {
			t.Fatalf("%s: %v ms/step", r[1], ms)
		}
		if host <= 0 || host > ms+0.001 { // the printed values are rounded to 1 us
			t.Fatalf("%s: host %v ms/step for a step of %v ms: want it positive and within the step", r[1], host, ms)
		}
		if want := 4 / (ms / 1e3); ips < want*0.99-1 || ips > want*1.01+1 {
			t.Fatalf("%s: %v images/s for %v ms/step at batch 4 (want about %.0f)", r[1], ips, ms, want)
		}
	}
	if !strings.Contains(text, "--plans: the cpu backend has no convolution algorithms to list") {
		t.Errorf("--plans on the CPU says nothing:\n%s", text)
	}
	for _, rule := range []string{"RandomOut", "ReDo", "Continual backprop"} {
		if !strings.Contains(text, "\n"+rule+" overhead: ") {
			t.Errorf("no %s overhead line:\n%s", rule, text)
		}
	}
	if !strings.Contains(text, "batch 4, sgd, fp32 (TF32 off)") {
		t.Fatalf("missing header or overhead line:\n%s", text)
	}
}

// TestBenchRejectsBadFlags checks that bad values are usage errors naming the flag.
// TestBenchPack: --pack 3 trains three members on each batch; images/s counts all of them, and
// the memory line reports the tensors the pack allocated (more than one network's).
func TestBenchPack(t *testing.T) {
	run := func(pack string) (ms, ips, mib float64) {
		app := newApp()
		var out bytes.Buffer
		app.Writer = &out
		if err := app.Run([]string{"rout", "bench", "--device", "cpu", "--model", "convnet-small@0.125", "--batch", "4",
			"--steps", "2", "--warmup", "1", "--repeats", "1", "--pack", pack}); err != nil {
			t.Fatalf("rout bench --pack %s: %v\n%s", pack, err, out.String())
		}
		text := out.String()
		m := regexp.MustCompile(`(?m)^\| rout[^|]* \| plain \| ([0-9.]+) \| ([0-9]+) \|`).FindStringSubmatch(text)
		mem := regexp.MustCompile(`tensors allocated: ([0-9.]+) MiB`).FindStringSubmatch(text)
		if m == nil || mem == nil || pack != "1" && !strings.Contains(text, "| rout, pack of "+pack+" |") {
			t.Fatalf("rout bench --pack %s:\n%s", pack, text)
		}
		ms, _ = strconv.ParseFloat(m[1], 64)
		ips, _ = strconv.ParseFloat(m[2], 64)
		mib, _ = strconv.ParseFloat(mem[1], 64)
		return ms, ips, mib
	}
	_, _, one := run("1")
	ms, ips, three := run("3")
	if want := 3 * 4 / (ms / 1e3); ips < want*0.99-1 || ips > want*1.01+1 {
		t.Errorf("pack of 3: %v images/s for %v ms steps of 3x4 images", ips, ms)
	}
	if three <= one {
		t.Errorf("a pack of 3 allocated %v MiB, one network %v MiB", three, one)
	}
}

func TestBenchRejectsBadFlags(t *testing.T) {
	for _, bad := range [][]string{{"--batch", "0"}, {"--optimizer", "rmsprop"}, {"--device", "tpu"}, {"--repeats", "0"},
		{"--cudnn-graph", "--device", "cpu"}, {"--tf32", "--device", "cpu"}, {"--cuda-graph", "--device", "cpu"}, {"--cudnn-packed", "--device", "cpu"},
		{"--warmup", "2", "--cuda-graph", "--device", "gpu"}, {"--pack", "0"}} {
		app := newApp()
		app.Writer = &bytes.Buffer{}
		err := app.Run(append([]string{"rout", "bench"}, bad...))
		var ue usageError
		if err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%v: got %v, want an error naming %s", bad, err, bad[0])
		} else if !errors.As(err, &ue) {
			t.Errorf("%v: %v is not a usage error", bad, err)
		}
	}
}
