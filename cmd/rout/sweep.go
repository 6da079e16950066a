package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"runtime"

	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"rout/internal/membudget"
	"rout/net/gpu"
	"rout/report"
	"rout/runlog"
	"rout/sweep"
	"rout/trainer"
)

// sweepCommand is `rout sweep`: every (arm, seed) pair of a plan as its own run folder,
// resumable, several at once, sharded across machines, then the report's table.
func sweepCommand() *cli.Command {
	var flags []cli.Flag
	for _, f := range settingFlags() {
		if f.Names()[0] != "threads" { // per run in a sweep: --threads-per-run
			flags = append(flags, f)
		}
	}
	flags = append(flags,
		&cli.StringFlag{Name: "out", Category: "sweep", Usage: "sweep folder: sweep.json and runs/ARM/SEED/ (required; rerun the same command to resume)"},
		&cli.StringFlag{Name: "seeds", Category: "sweep", Usage: "seeds every arm runs: numbers and ranges, such as 1-8,20,31-32"},
		&cli.StringFlag{Name: "arms", Category: "sweep", Usage: "arms, comma-separated: baseline (RandomOut off), randomout (on), or NAME:key=value,... with the train flag names as keys (default baseline,randomout)"},
		&cli.StringFlag{Name: "file", Category: "sweep", Usage: "TOML sweep file with preset, seeds, arms, flags and vary-data-seed (flags given here win)"},
		&cli.BoolFlag{Name: "vary-data-seed", Category: "sweep", Usage: "give each seed its own data order (data seed = seed); by default every run shares one, so the seed moves only the initialisation"},
		&cli.IntFlag{Name: "parallel", Category: "sweep", Usage: "runs at once (on a GPU they share the device; 0: one per CPU core, each on one thread, when the runs train on the CPU, else 1)"},
		&cli.IntFlag{Name: "pack", Category: "sweep", Value: 1, Usage: "train up to this many runs as one network (a pack; each still writes its own run folder): runs that share the batches and every setting but seed, init, the optimiser's scalars and RandomOut's; --parallel counts packs (1: every run alone, until packing is measured faster on a GPU; 0: the largest pack that fits the GPU's free memory or, on the CPU, the memory budget)"},
		&cli.IntFlag{Name: "threads-per-run", Category: "sweep", Usage: "CPU worker threads of each run (0: the cores divided by --parallel)"},
		&cli.StringFlag{Name: "shard", Category: "sweep", Usage: "run share I/N of the pairs (I from 0); default from Slurm (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX of --shard-count)"},
		&cli.IntFlag{Name: "shard-count", Category: "sweep", Usage: "number of shards when JOB_COMPLETION_INDEX gives the index (the Indexed Job's completions)"},
		&cli.BoolFlag{Name: "adopt", Category: "sweep", Value: true, Usage: "after this shard's runs, take over other shards' runs whose worker died (stale claims)"},
		&cli.DurationFlag{Name: "claim-timeout", Category: "sweep", Value: sweep.DefaultClaimTimeout, Usage: "a claim whose heartbeat is this old belongs to a dead worker and is taken over"},
		&cli.DurationFlag{Name: "heartbeat", Category: "sweep", Value: sweep.DefaultHeartbeat, Usage: "how often a worker touches the claims of its running runs"},
	)
	return &cli.Command{
		Name:  "sweep",
		Usage: "train every (arm, seed) pair of a plan, resumably, in parallel or sharded, and write the report",
		Description: "Runs each pair as `rout train` would into DIR/runs/ARM/SEED/ (any `rout train` flag applies to every run;\n" +
			"an arm's overrides beat the flags, which beat the preset) and records the plan in DIR/sweep.json. Killed\n" +
			"or interrupted (Ctrl-C checkpoints and exits 130), the same command resumes: finished runs are kept,\n" +
			"interrupted ones continue from their checkpoints; the same command with more --seeds grows the sweep.\n" +
			"Workers on several machines share DIR with --shard (or Slurm / Kubernetes variables); a claim file in\n" +
			"each run folder keeps two from running one pair.\n" +
			"At the end it prints the report and writes it into DIR (report.html, report.md, runs.csv, the pictures);\n" +
			"`rout report DIR` rebuilds it, also while a sweep runs.",
		Flags:        flags,
		Action:       runSweep,
		OnUsageError: commandUsageError,
	}
}

// sweepSetup is what the command line asks for, checked.
type sweepSetup struct {
	out      string
	plan     sweep.Plan
	worker   map[string]string
	shard    sweep.Shard
	parallel int
	pack     int
	threads  int
}

func parseSweep(c *cli.Context, getenv func(string) string) (sweepSetup, error) {
	var s sweepSetup
	if c.NArg() > 0 {
		return s, fmt.Errorf("unexpected argument %q (settings are flags: --name value)", c.Args().First())
	}
	if s.out = c.String("out"); s.out == "" {
		return s, errors.New("--out is required: the sweep folder (the same --out resumes the sweep)")
	}
	var file sweep.File
	if path := c.String("file"); path != "" {
		var err error
		if file, err = sweep.ReadFile(path); err != nil {
			return s, err
		}
		if _, ok := file.Flags["threads"]; ok { // a sweep sets each run's threads itself
			return s, fmt.Errorf("sweep file %s: flags: threads cannot be set in a sweep: use --threads-per-run", path)
		}
	}
	preset := c.String("preset")
	if !c.IsSet("preset") && file.Preset != "" {
		preset = file.Preset
	}
	seeds := file.Seeds
	if c.IsSet("seeds") {
		var err error
		if seeds, err = sweep.ParseSeeds(c.String("seeds")); err != nil {
			return s, fmt.Errorf("--seeds: %w", err)
		}
	}
	if len(seeds) == 0 {
		return s, errors.New("--seeds is required (or seeds in --file): numbers and ranges such as 1-8,20")
	}
	arms := file.Arms
	if c.IsSet("arms") || arms == nil {
		text := "baseline,randomout"
		if c.IsSet("arms") {
			text = c.String("arms")
		}
		var err error
		if arms, err = sweep.ParseArms(text); err != nil {
			return s, fmt.Errorf("--arms: %w", err)
		}
	}
	// Flags: the file's, then the command line's; worker settings are set apart.
	flags := maps.Clone(file.Flags)
	if flags == nil {
		flags = map[string]string{}
	}
	var given trainer.Config
	if err := applyFlags(c, &given); err != nil {
		return s, err
	}
	for _, k := range givenSettings(c) {
		switch k {
		case "seed":
			return s, errors.New("--seed: a sweep sets each run's seed from --seeds")
		case "arm":
			return s, errors.New("--arm: a sweep names each run's arm from --arms")
		}
		v, err := given.Get(k)
		if err != nil {
			return s, err
		}
		flags[k] = v
	}
	s.worker = map[string]string{}
	for _, k := range sweep.WorkerKeys {
		if v, ok := flags[k]; ok {
			s.worker[k] = v
			delete(flags, k)
		}
	}
	vary := file.VaryDataSeed
	if c.IsSet("vary-data-seed") {
		vary = c.Bool("vary-data-seed")
	}
	var err error
	if s.plan, err = sweep.NewPlan(preset, arms, seeds, flags, vary); err != nil {
		return s, err
	}

	if s.parallel = c.Int("parallel"); s.parallel < 0 {
		return s, fmt.Errorf("--parallel %d: want 1 or more, or 0 (one run per CPU core on the CPU, 1 on a GPU)", s.parallel)
	}
	if s.parallel > 1 && s.worker["cuda-graph"] == "true" {
		// The runs of one process share the device's context, and a capture fails when another
		// thread synchronises it (a cuBLAS handle destroyed when a run ends, say).
		return s, fmt.Errorf("--cuda-graph with --parallel %d: a run's CUDA graph capture can be broken by another run in the same process; use --parallel 1, or shards (--shard) in separate processes", s.parallel)
	}
	if s.pack = c.Int("pack"); s.pack < 0 {
		return s, fmt.Errorf("--pack %d: want 1 (every run alone) or more, or 0 (the largest pack that fits the memory)", s.pack)
	}
	count := c.Int("shard-count")
	if count < 0 {
		return s, fmt.Errorf("--shard-count %d: want 1 or more", count)
	}
	if c.IsSet("shard") {
		if s.shard, err = sweep.ParseShard(c.String("shard")); err != nil {
			return s, fmt.Errorf("--shard: %w", err)
		}
		if count != 0 && count != s.shard.Count {
			return s, fmt.Errorf("--shard %s but --shard-count %d", s.shard, count)
		}
	} else {
		var found bool
		if s.shard, found, err = sweep.ShardFromEnv(getenv, count); err != nil {
			return s, err
		}
		if !found && count != 0 {
			return s, fmt.Errorf("--shard-count %d without a shard index: give --shard I/N, or run as a Kubernetes Indexed Job (JOB_COMPLETION_INDEX)", count)
		}
	}
	if s.parallel == 0 {
		s.parallel = autoParallel(s.worker["device"], s.plan, s.shard)
	}
	if s.threads = c.Int("threads-per-run"); s.threads < 0 {
		return s, fmt.Errorf("--threads-per-run %d: want 0 (the cores divided by --parallel) or more", s.threads)
	}
	if s.threads == 0 {
		s.threads = max(1, runtime.GOMAXPROCS(0)/s.parallel)
	}
	s.worker["threads"] = strconv.Itoa(s.threads)
	if c.Duration("heartbeat") <= 0 || c.Duration("claim-timeout") < 2*c.Duration("heartbeat") {
		return s, fmt.Errorf("--claim-timeout %v must be at least twice --heartbeat %v (which must be positive): a live worker's claim is up to one heartbeat old", c.Duration("claim-timeout"), c.Duration("heartbeat"))
	}
	return s, nil
}

// autoParallel is --parallel 0's number of runs at once: on the CPU one per core (at most this
// shard's runs), each on one thread, since a run on one thread spends no time waiting for its
// others at the end of each operation (the quick preset's 16 runs: 1.2x faster than one run at a
// time on two threads, docs/cpu.md); on a GPU one, which has the device to itself.
func autoParallel(device string, plan sweep.Plan, shard sweep.Shard) int {
	if device == "gpu" || device != "cpu" && gpu.Available() == nil {
		return 1
	}
	mine := 0
	for i := range len(plan.Arms) * len(plan.Seeds) {
		if shard.Has(i) {
			mine++
		}
	}
	return max(1, min(runtime.GOMAXPROCS(0), mine))
}

func runSweep(c *cli.Context) error {
	s, err := parseSweep(c, os.Getenv)
	if err != nil {
		return usageError{fmt.Errorf("sweep: %w", err)}
	}
	claimer, err := sweep.NewClaimer(s.shard.String(), c.Duration("claim-timeout"), c.Duration("heartbeat"))
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	plan, note, err := sweep.Ensure(s.out, s.plan)
	if err != nil {
		return err
	}
	if note != "" {
		fmt.Fprintln(c.App.ErrWriter, note)
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()

	total := len(plan.Arms) * len(plan.Seeds)
	screen := newSweepScreen(c.App.ErrWriter, total, countDone(s.out, &plan))
	defer screen.close()
	out, errw := screen.writer(c.App.Writer), screen.writer(c.App.ErrWriter)
	var armNames []string
	for _, a := range plan.Arms {
		armNames = append(armNames, a.String())
	}
	packLine := ""
	if s.pack == 0 {
		if packLine, err = largestPack(&s, &plan); err != nil {
			return err
		}
	}
	at := fmt.Sprintf("%d at once", s.parallel)
	if s.pack > 1 {
		at = fmt.Sprintf("%s of up to %d runs at once", count(s.parallel, "pack"), s.pack)
	}
	fmt.Fprintf(errw, "sweep %s: preset %s, arms %s, seeds %s: %s; this worker: shard %s, %s, %s per run\n",
		s.out, plan.Preset, strings.Join(armNames, " "), runlog.FormatSeeds(plan.Seeds), count(total, "run"), s.shard, at, count(s.threads, "CPU thread"))
	if packLine != "" {
		fmt.Fprintln(errw, packLine)
	}

	t0 := time.Now()
	failures := map[string]string{} // error message -> the first run that stopped with it
	observe := func(j sweep.Job) trainer.Observer {
		return screen.observer(j.Pair.String(), &epochLines{w: errw, pair: j.Pair.String()})
	}
	// The memory check counts every run that may be on the device at once: --parallel packs of
	// up to --pack runs, and in a pack each member's own network beside its share of the pack's.
	shared := trainer.SharedBy(trainer.PackShare(s.parallel, s.pack))
	r := &sweep.Runner{Dir: s.out, Plan: plan, Worker: s.worker, Shard: s.shard, Parallel: s.parallel,
		Claimer: claimer, Adopt: c.Bool("adopt"),
		Run:  sweep.TrainFunc(observe, trainer.WithVersion(version), shared),
		Pack: s.pack, RunPack: sweep.TrainPackFunc(observe, trainer.WithVersion(version), shared),
		OnEvent: func(e sweep.Event) {
			screen.event(e)
			printEvent(out, errw, s.out, &plan, failures, e)
			if left := screen.left(); left != "" && e.Kind == sweep.Finished {
				fmt.Fprintf(errw, "  %s\n", left)
			}
		}}
	res, err := r.Execute(ctx)
	screen.close()
	if err != nil {
		return err
	}
	wall := time.Since(t0).Round(time.Second)
	fmt.Fprintf(out, "sweep %s: %d of %s done; this worker (shard %s, %s) ran %d (%d ok, %d failed, %d diverged",
		s.out, countDone(s.out, &plan), count(total, "run"), s.shard, count(res.Mine, "run"), res.Ran, res.OK, res.Failed, res.Diverged)
	if res.Adopted > 0 {
		fmt.Fprintf(out, "; %d taken over from dead workers of other shards", res.Adopted)
	}
	fmt.Fprintf(out, "), %d finished before, %d held by other workers, %d interrupted, %s, in %s\n",
		res.Skipped, res.Held, res.Interrupted, count(len(res.Errors), "error"), wall)
	if ctx.Err() != nil {
		return cli.Exit(fmt.Sprintf("rout: sweep: interrupted; %s checkpointed. Resume with:\n  %s", count(res.Interrupted, "run"), commandLine(c)), exitCanceled)
	}
	for _, line := range groupErrors(res.Errors) {
		fmt.Fprintln(errw, "error:", line)
	}
	fmt.Fprintln(out)
	rep, rerr := writeReport(out, s.out, s.out, report.DefaultResamples)
	if rerr == nil {
		rerr = damagedRuns(errw, rep)
	}
	if len(res.Errors) > 0 {
		if rerr != nil {
			fmt.Fprintf(errw, "error: %v\n", rerr)
		}
		return fmt.Errorf("sweep: %s stopped with errors (listed above: fix what they name, then rerun the same command:\n  %s)", count(len(res.Errors), "run"), commandLine(c))
	}
	return rerr
}

// largestPack sets s.pack for --pack 0: the largest pack of this worker's unfinished runs
// (one config per arm, the largest sizing it) that --parallel packs of fit the memory
// (trainer.LargestPack). It returns the line that says so.
func largestPack(s *sweepSetup, plan *sweep.Plan) (string, error) {
	var cfgs []trainer.Config
	arms := map[string]bool{}
	runs := 0
	for _, p := range plan.Pairs() {
		if !s.shard.Has(p.Index) {
			continue
		}
		if _, err := runlog.ReadSummary(p.Dir(s.out)); err == nil {
			continue
		}
		runs++
		if arms[p.Arm] {
			continue
		}
		arms[p.Arm] = true
		cfg, err := sweep.RunConfig(plan, p.Arm, p.Seed, s.worker)
		if err != nil {
			return "", err
		}
		cfgs = append(cfgs, cfg)
	}
	if runs == 0 {
		s.pack = 1
		return "pack: no unfinished runs to pack", nil
	}
	fit, err := trainer.LargestPack(cfgs, s.parallel, runs)
	if err != nil {
		return "", fmt.Errorf("sweep: %w", err)
	}
	s.pack = fit.K
	capped := ""
	if fit.K == runs {
		capped = fmt.Sprintf(", all of this worker's %s", count(runs, "unfinished run"))
	}
	return fmt.Sprintf("pack: %s per pack%s, the largest that fits %s: --parallel %d of them take about %s, at %s a run alone and twice that a member of a pack",
		count(fit.K, "run"), capped, fit.Of, s.parallel, membudget.Format(fit.Need), membudget.Format(fit.Run)), nil
}

// groupErrors lists the runs' errors with the runs that failed with the same message on one
// line ("ARM/SEED, ...: message"), so that a sweep whose data cannot be read says so once.
func groupErrors(errs []sweep.RunError) []string {
	type group struct {
		msg  string
		runs []string
	}
	var groups []*group
	byMsg := map[string]*group{}
	for _, e := range errs {
		msg := e.Err.Error()
		g, ok := byMsg[msg]
		if !ok {
			g = &group{msg: msg}
			groups = append(groups, g)
			byMsg[msg] = g
		}
		g.runs = append(g.runs, e.Pair.String())
	}
	lines := make([]string, len(groups))
	for i, g := range groups {
		switch n := len(g.runs); {
		case n == 1:
			lines[i] = g.runs[0] + ": " + g.msg
		case n <= 4:
			lines[i] = fmt.Sprintf("%s (%d runs): %s", strings.Join(g.runs, ", "), n, g.msg)
		default:
			lines[i] = fmt.Sprintf("%s and %d more (%d runs): %s", strings.Join(g.runs[:3], ", "), n-3, n, g.msg)
		}
	}
	return lines
}

// printEvent writes a runner event: finished runs to standard output (one line each: arm,
// seed, status, final accuracy, re-inits, wall time), the rest to standard error. An error
// already shown for another run (failures: message -> that run) is named, not repeated. The
// runner calls it from one goroutine at a time.
func printEvent(out, errw io.Writer, dir string, plan *sweep.Plan, failures map[string]string, e sweep.Event) {
	name := fmt.Sprintf("%s seed %d", e.Pair.Arm, e.Pair.Seed)
	switch e.Kind {
	case sweep.Started:
		how := "start"
		if e.Resume {
			how = "resume from checkpoint"
		}
		if e.Adopted {
			how += ", taken over from another shard"
		}
		if e.Previous != nil {
			how += ", claim taken over from " + e.Previous.String()
		}
		fmt.Fprintf(errw, "%s: %s\n", name, how)
	case sweep.Finished:
		s := e.Summary
		acc := "n/a"
		if s.FinalTestAcc != nil {
			acc = fmt.Sprintf("%.2f%%", 100*float64(*s.FinalTestAcc))
		}
		fmt.Fprintf(out, "[%d/%d] %s: %s, final test acc %s, %d re-inits, %.1fs\n",
			countDone(dir, plan), len(plan.Arms)*len(plan.Seeds), name, s.Status, acc, s.ReinitsTotal, s.WallSeconds)
	case sweep.Skipped:
		fmt.Fprintf(errw, "%s: finished before, kept\n", name)
	case sweep.Held:
		if e.Holder == nil { // this worker's claim was taken over, and the run since finished
			fmt.Fprintf(errw, "%s: taken over by another worker, left to it\n", name)
		} else {
			fmt.Fprintf(errw, "%s: held by %s, left to it\n", name, e.Holder)
		}
	case sweep.Interrupted:
		fmt.Fprintf(errw, "%s: interrupted, checkpointed\n", name)
	case sweep.Failed:
		msg := e.Err.Error()
		if first, ok := failures[msg]; ok {
			fmt.Fprintf(errw, "%s: error: the same as %s's\n", name, first)
			return
		}
		failures[msg] = name
		fmt.Fprintf(errw, "%s: error: %v\n", name, e.Err)
	}
}

// countDone counts the plan's runs with a readable summary.json.
func countDone(dir string, plan *sweep.Plan) int {
	n := 0
	for _, p := range plan.Pairs() {
		if _, err := runlog.ReadSummary(p.Dir(dir)); err == nil {
			n++
		}
	}
	return n
}

// epochLines prints a line per epoch of one run of a sweep (runs at once share the writer).
type epochLines struct {
	w    io.Writer
	pair string
	end  int
}

func (p *epochLines) Start(pl trainer.Plan) { p.end = pl.TotalSteps }
func (p *epochLines) Step(int)              {}
func (p *epochLines) Record(r trainer.Record) {
	if r.Kind != "epoch" || r.TestAcc == nil {
		return
	}
	fmt.Fprintf(p.w, "  %s epoch %d (step %d/%d): loss %.4f, test acc %.2f%%, re-inits %d, %.0f img/s\n",
		p.pair, r.Epoch, r.Step, p.end, float64(r.Loss), 100*float64(*r.TestAcc), r.Reinits.Total(), r.ImagesPerSec)
}
