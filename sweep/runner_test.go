package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"rout/report"
	"rout/trainer"
)

// fakeRuns is a RunFunc that records its calls and writes a summary.json as the trainer does,
// so runner tests are fast.
type fakeRuns struct {
	mu      sync.Mutex
	calls   map[string]int
	resumed map[string]bool
	delay   time.Duration
	block   bool // wait for the context, then return ErrInterrupted
	started chan string
}

func newFake() *fakeRuns { return &fakeRuns{calls: map[string]int{}, resumed: map[string]bool{}} }

func (f *fakeRuns) run(ctx context.Context, j Job) (trainer.Summary, error) {
	f.mu.Lock()
	f.calls[j.Pair.String()]++
	f.resumed[j.Pair.String()] = j.Resume
	f.mu.Unlock()
	if j.Config.Seed != j.Seed || j.Config.Arm != j.Arm {
		return trainer.Summary{}, fmt.Errorf("job %s has config seed %d arm %q", j.Pair, j.Config.Seed, j.Config.Arm)
	}
	if f.started != nil {
		f.started <- j.Pair.String()
	}
	if f.block {
		<-ctx.Done()
		os.WriteFile(filepath.Join(j.Dir, trainer.CheckpointFile), []byte("ck"), 0o644)
		return trainer.Summary{}, fmt.Errorf("%w at step 3", trainer.ErrInterrupted)
	}
	time.Sleep(f.delay)
	acc := trainer.Number(0.5)
	s := trainer.Summary{Arm: j.Arm, Seed: j.Seed, Status: trainer.StatusOK, FinalTestAcc: &acc, BestTestAcc: &acc, ChanceAcc: 0.1}
	b, _ := json.Marshal(s)
	tmp := filepath.Join(j.Dir, ".summary.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return trainer.Summary{}, err
	}
	return s, os.Rename(tmp, filepath.Join(j.Dir, trainer.SummaryFile))
}

func (f *fakeRuns) count(pair string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[pair]
}

func testPlan(t *testing.T, arms string, seeds string) Plan {
	t.Helper()
	ss, err := ParseSeeds(seeds)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan("quick", mustArms(t, arms), ss, map[string]string{"epochs": "1"}, false)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newRunner(t *testing.T, dir string, p Plan, sh Shard, host string, f *fakeRuns) *Runner {
	t.Helper()
	return &Runner{Dir: dir, Plan: p, Shard: sh, Parallel: 2, Claimer: testClaimer(t, host, time.Minute, time.Second), Run: f.run}
}

// checkAllOnce checks that every pair ran exactly once and left a summary and no claim.
func checkAllOnce(t *testing.T, dir string, p Plan, f *fakeRuns) {
	t.Helper()
	for _, pr := range p.Pairs() {
		if n := f.count(pr.String()); n != 1 {
			t.Errorf("%s ran %d times", pr, n)
		}
		if done, err := finished(pr.Dir(dir)); !done || err != nil {
			t.Errorf("%s: no summary (%v)", pr, err)
		}
		if _, err := os.Stat(filepath.Join(pr.Dir(dir), ClaimFile)); !os.IsNotExist(err) {
			t.Errorf("%s: claim left behind (%v)", pr, err)
		}
	}
}

func TestShardCoverage(t *testing.T) {
	p := testPlan(t, "baseline,randomout,ro2:randomout=true,tau=1e-6", "1-7")
	for _, n := range []int{1, 2, 3, 5, 30} {
		dir := t.TempDir()
		f := newFake()
		mine := 0
		for i := range n {
			r := newRunner(t, dir, p, Shard{i, n}, fmt.Sprintf("host-%d", i), f)
			res, err := r.Execute(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if res.Ran != res.Mine || res.OK != res.Mine || res.Held+res.Skipped+len(res.Errors) != 0 {
				t.Errorf("shard %d/%d: %+v", i, n, res)
			}
			mine += res.Mine
		}
		if mine != 21 {
			t.Errorf("%d shards hold %d pairs, want 21", n, mine)
		}
		checkAllOnce(t, dir, p, f)
	}
}

// TestWorkersRacing starts many workers at once on one folder: several per shard of 2, and
// unsharded ones; each claims before running, so every pair still runs exactly once.
func TestWorkersRacing(t *testing.T) {
	p := testPlan(t, "baseline,randomout", "1-12")
	for round := range 3 {
		dir := t.TempDir()
		f := newFake()
		f.delay = 2 * time.Millisecond
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := Result{}
		shards := []Shard{{0, 2}, {0, 2}, {0, 2}, {1, 2}, {1, 2}, {1, 2}, All, All}
		start := make(chan struct{})
		for w, sh := range shards {
			r := newRunner(t, dir, p, sh, fmt.Sprintf("worker-%d", w), f)
			r.Adopt = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res, err := r.Execute(context.Background())
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				total.Ran += res.Ran
				total.Errors = append(total.Errors, res.Errors...)
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		if total.Ran != 24 || len(total.Errors) != 0 {
			t.Errorf("round %d: %d runs completed in all, errors %v", round, total.Ran, total.Errors)
		}
		checkAllOnce(t, dir, p, f)
	}
}

func TestRunnerResumeSkipAndPartial(t *testing.T) {
	p := testPlan(t, "baseline", "1-4")
	dir := t.TempDir()
	pairs := p.Pairs()
	run := func(i int) string { return pairs[i].Dir(dir) }
	for i := range pairs {
		os.MkdirAll(run(i), 0o755)
	}
	// 1: finished; 2: interrupted with a checkpoint; 3: killed before its first checkpoint;
	// 4: a summary that does not read.
	done := `{"arm":"baseline","seed":1,"status":"ok"}`
	os.WriteFile(filepath.Join(run(0), trainer.SummaryFile), []byte(done), 0o644)
	os.WriteFile(filepath.Join(run(1), trainer.CheckpointFile), []byte("ck"), 0o644)
	os.WriteFile(filepath.Join(run(1), trainer.MetricsFile), []byte("{}\n"), 0o644)
	os.WriteFile(filepath.Join(run(2), trainer.MetricsFile), []byte(`{"kind":"log","step":20}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(run(2), trainer.ConfigFile), []byte(`{"config":{},"provenance":{"start_time":"2026-11-27T10:00:00Z"}}`), 0o644)
	os.WriteFile(filepath.Join(run(3), trainer.SummaryFile), []byte("{trunc"), 0o644)

	f := newFake()
	var events []string
	r := newRunner(t, dir, p, All, "h", f)
	r.Parallel = 1
	var partialGone bool
	r.Run = func(ctx context.Context, j Job) (trainer.Summary, error) {
		if j.Seed == 3 {
			_, err := os.Stat(filepath.Join(j.Dir, trainer.MetricsFile))
			partialGone = os.IsNotExist(err)
		}
		return f.run(ctx, j)
	}
	r.OnEvent = func(e Event) { events = append(events, fmt.Sprintf("%d:%s:%v", e.Kind, e.Pair, e.Resume)) }
	res, err := r.Execute(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if f.count("baseline/1") != 0 || f.count("baseline/4") != 0 {
		t.Errorf("finished or unreadable runs were run again: %v", f.calls)
	}
	if f.count("baseline/2") != 1 || !f.resumed["baseline/2"] || f.count("baseline/3") != 1 || f.resumed["baseline/3"] || !partialGone {
		t.Errorf("resume: calls %v resumed %v; partial files cleared %v", f.calls, f.resumed, partialGone)
	}
	if res.Skipped != 1 || res.Ran != 2 || len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "baseline/4") {
		t.Errorf("result %+v", res)
	}
	if b, _ := os.ReadFile(filepath.Join(run(0), trainer.SummaryFile)); string(b) != done {
		t.Errorf("finished summary changed: %s", b)
	}
	if b, _ := os.ReadFile(filepath.Join(run(3), trainer.SummaryFile)); string(b) != "{trunc" {
		t.Errorf("unreadable summary changed: %s", b)
	}
	want := []string{"2:baseline/1:false", "0:baseline/2:true", "1:baseline/2:false", "0:baseline/3:false", "1:baseline/3:false", "5:baseline/4:false"}
	if !slices.Equal(events, want) {
		t.Errorf("events %v, want %v", events, want)
	}
}

func TestRunnerAdoptsStaleClaims(t *testing.T) {
	p := testPlan(t, "baseline", "1-4") // shard 0/2: seeds 1, 3; shard 1/2: seeds 2, 4
	for _, adopt := range []bool{false, true} {
		dir := t.TempDir()
		stale := Pair{Arm: "baseline", Seed: 2}.Dir(dir)
		writeClaim(t, stale, ClaimInfo{Host: "dead-host", PID: 9, Token: "dead"})
		age(t, filepath.Join(stale, ClaimFile), time.Hour)
		live := Pair{Arm: "baseline", Seed: 4}.Dir(dir)
		writeClaim(t, live, ClaimInfo{Host: "live-host", PID: 9, Token: "live"})

		f := newFake()
		r := newRunner(t, dir, p, Shard{0, 2}, "h", f)
		r.Adopt = adopt
		res, err := r.Execute(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"baseline/1": 1, "baseline/3": 1}
		if adopt {
			want["baseline/2"] = 1
		}
		if fmt.Sprint(f.calls) != fmt.Sprint(want) || res.Adopted != len(want)-2 {
			t.Errorf("adopt %v: calls %v, adopted %d", adopt, f.calls, res.Adopted)
		}
	}
	// A run of this shard held by a worker that dies meanwhile is retried once its claim is
	// stale; a live holder's run is left to it.
	dir := t.TempDir()
	held := Pair{Arm: "baseline", Seed: 1}.Dir(dir)
	writeClaim(t, held, ClaimInfo{Host: "live-host", PID: 9, Token: "live"})
	f := newFake()
	r := newRunner(t, dir, p, All, "h", f)
	r.Parallel = 1
	r.OnEvent = func(e Event) {
		if e.Kind == Finished && e.Pair.Seed == 4 {
			age(t, filepath.Join(held, ClaimFile), time.Hour) // its worker died
		}
	}
	res, _ := r.Execute(context.Background())
	if f.count("baseline/1") != 1 || res.Held != 0 || res.Ran != 4 {
		t.Errorf("held then dead: calls %v result %+v", f.calls, res)
	}
}

func TestRunnerInterrupt(t *testing.T) {
	p := testPlan(t, "baseline,randomout", "1-3")
	dir := t.TempDir()
	f := newFake()
	f.block = true
	f.started = make(chan string, 10)
	r := newRunner(t, dir, p, All, "h", f)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-f.started
		<-f.started
		cancel()
	}()
	res, err := r.Execute(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Interrupted != 2 || res.Ran != 0 || len(f.calls) != 2 || len(res.Errors) != 0 {
		t.Errorf("interrupt: %+v, calls %v", res, f.calls)
	}
	for _, pr := range p.Pairs() {
		if _, err := os.Stat(filepath.Join(pr.Dir(dir), ClaimFile)); !os.IsNotExist(err) {
			t.Errorf("%s: claim not released", pr)
		}
	}
	// The same sweep again resumes the two interrupted runs and runs the rest.
	f2 := newFake()
	r = newRunner(t, dir, p, All, "h", f2)
	if res, _ := r.Execute(context.Background()); res.Ran != 6 {
		t.Errorf("rerun: %+v", res)
	}
	resumed := 0
	for _, v := range f2.resumed {
		if v {
			resumed++
		}
	}
	if resumed != 2 {
		t.Errorf("rerun resumed %d runs, want 2: %v", resumed, f2.resumed)
	}
}

func TestRunnerErrorsDoNotStopOthers(t *testing.T) {
	p := testPlan(t, "baseline", "1-3")
	f := newFake()
	r := newRunner(t, t.TempDir(), p, All, "h", f)
	r.Run = func(ctx context.Context, j Job) (trainer.Summary, error) {
		if j.Seed == 2 {
			return trainer.Summary{}, errors.New("disk full")
		}
		return f.run(ctx, j)
	}
	res, err := r.Execute(context.Background())
	if err != nil || res.Ran != 2 || len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "baseline/2: disk full") {
		t.Errorf("%+v %v", res, err)
	}
}

// TestRealSweep runs a tiny sweep with the real trainer, reads it back with the report
// package, and resumes it: nothing is run twice.
func TestRealSweep(t *testing.T) {
	arms := mustArms(t, "baseline,ro-bias:randomout=true,tau=1e-3,randomout-scope=weights+bias")
	p, err := NewPlan("quick", arms, []uint64{1, 2}, map[string]string{"model": "convnet-small@0.25", "crop": "16",
		"batch": "16", "max-steps": "8", "log-every": "4", "init": "he"}, false)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "sw")
	if p, _, err = Ensure(dir, p); err != nil {
		t.Fatal(err)
	}
	r := &Runner{Dir: dir, Plan: p, Worker: map[string]string{"device": "cpu", "threads": "1"}, Shard: All, Parallel: 2,
		Claimer: testClaimer(t, "h", time.Minute, time.Second), Run: TrainFunc(nil)}
	res, err := r.Execute(context.Background())
	if err != nil || res.Ran != 4 || len(res.Errors) != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	sw, err := report.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range sw.Runs {
		if !run.Done() || run.Claimed || run.Summary.Steps != 8 || len(run.Metrics) != 3 {
			t.Errorf("%s/%d: done %v claimed %v summary %+v, %d metrics lines", run.Arm, run.Seed, run.Done(), run.Claimed, run.Summary, len(run.Metrics))
		}
		cfg, err := trainer.ResumeConfig(run.Dir)
		if err != nil {
			t.Fatal(err)
		}
		wantRO := run.Arm == "ro-bias"
		if cfg.Seed != run.Seed || cfg.Arm != run.Arm || cfg.RandomOut != wantRO || cfg.Device != "cpu" || cfg.Threads != 1 || cfg.DataSeed != 0 {
			t.Errorf("%s: config %+v", run.Dir, cfg)
		}
		if wantRO && (cfg.Tau != 1e-3 || cfg.RandomOutScope != "weights+bias") {
			t.Errorf("%s: arm overrides not applied: %+v", run.Dir, cfg)
		}
	}
	// Seed 1 and 2 of one arm differ (the seed moves the initialisation); arms share seeds.
	if a, b := sw.Runs[0].Summary.FinalTrainLoss, sw.Runs[1].Summary.FinalTrainLoss; a == nil || b == nil || *a == *b {
		t.Errorf("seeds 1 and 2 gave the same train loss %v %v", a, b)
	}
	res, err = r.Execute(context.Background())
	if err != nil || res.Ran != 0 || res.Skipped != 4 {
		t.Errorf("second pass: %+v %v", res, err)
	}
}

// lateCancel is a context that, once armed, is cancelled only as Runner.do sees it: it lands a
// cancellation between the pool handing a pair out and do's check, a window too narrow to hit
// with a real context.
type lateCancel struct {
	context.Context
	armed atomic.Bool
}

func (c *lateCancel) Err() error {
	if !c.armed.Load() {
		return nil
	}
	pc, _, _, _ := runtime.Caller(1)
	if f := runtime.FuncForPC(pc); f != nil && strings.HasSuffix(f.Name(), ".(*Runner).do") {
		return context.Canceled
	}
	return nil
}

// TestRunnerHeldCountOnCancel: a run held by a worker that then dies is retried; when the retry
// is cancelled before it starts, it reports nothing, so the run still counts as held (as its
// last event said), not as nothing at all.
func TestRunnerHeldCountOnCancel(t *testing.T) {
	p := testPlan(t, "baseline", "1-2")
	dir := t.TempDir()
	held := Pair{Arm: "baseline", Seed: 1}.Dir(dir)
	writeClaim(t, held, ClaimInfo{Host: "live-host", PID: 9, Token: "live"})
	f := newFake()
	r := newRunner(t, dir, p, All, "h", f)
	r.Parallel = 1
	ctx := &lateCancel{Context: context.Background()}
	var events []string
	r.OnEvent = func(e Event) {
		events = append(events, fmt.Sprintf("%s %d", e.Pair, e.Kind))
		if e.Kind == Finished && e.Pair.Seed == 2 {
			age(t, filepath.Join(held, ClaimFile), time.Hour) // its worker died
			ctx.armed.Store(true)                             // and this one is being stopped
		}
	}
	res, err := r.Execute(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f.count("baseline/1") != 0 || res.Held != 1 || res.Ran != 1 {
		t.Errorf("held, then stale, then cancelled: calls %v result %+v events %v", f.calls, res, events)
	}
}

// takeOverAt replaces the run's claim with another worker's at a step, as a worker that judged
// this one stalled would.
type takeOverAt struct {
	t    *testing.T
	dir  string
	step int
}

func (o *takeOverAt) Start(trainer.Plan)    {}
func (o *takeOverAt) Record(trainer.Record) {}
func (o *takeOverAt) Step(step int) {
	if step == o.step {
		writeClaim(o.t, o.dir, ClaimInfo{Host: "other", PID: 4242, Token: "theirs"})
	}
}

// TestRunnerStopsWritingWhenTakenOver: once its claim is taken over, a worker writes nothing more
// into the run (no checkpoint on the way out, no further metrics line) and leaves the run to the
// new holder.
func TestRunnerStopsWritingWhenTakenOver(t *testing.T) {
	arms := mustArms(t, "baseline")
	p, err := NewPlan("quick", arms, []uint64{1}, map[string]string{"model": "convnet-small@0.25", "crop": "16",
		"batch": "16", "max-steps": "12", "log-every": "2", "checkpoint-every": "4", "init": "he"}, false)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "sw")
	if p, _, err = Ensure(dir, p); err != nil {
		t.Fatal(err)
	}
	runDir := p.Pairs()[0].Dir(dir)
	var events []Event
	r := &Runner{Dir: dir, Plan: p, Worker: map[string]string{"device": "cpu", "threads": "1"}, Shard: All, Parallel: 1,
		Claimer: testClaimer(t, "h", 2*time.Hour, time.Hour), // no heartbeat: the guard alone must notice
		Run:     TrainFunc(func(Job) trainer.Observer { return &takeOverAt{t, runDir, 5} }),
		OnEvent: func(e Event) { events = append(events, e) }}
	res, err := r.Execute(context.Background())
	if err != nil || res.Held != 1 || len(res.Errors) != 0 {
		t.Fatalf("result %+v, errors %v, err %v; want the run held", res, res.Errors, err)
	}
	last := events[len(events)-1]
	if last.Kind != Held || last.Holder == nil || last.Holder.Token != "theirs" {
		t.Errorf("last event %+v, want held by the new holder", last)
	}
	sw, err := report.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m := sw.Runs[0].Metrics; len(m) != 2 || m[1].Step != 4 {
		t.Errorf("metrics lines %+v, want those of steps 2 and 4 only", m)
	}
	if b, _ := os.ReadFile(filepath.Join(runDir, ClaimFile)); !strings.Contains(string(b), "theirs") {
		t.Errorf("the new holder's claim was removed: %s", b)
	}
}
