package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"rout/sweep"
	"rout/trainer"
)

// trainCommand is `rout train`: one run of one seed. Its flags are settingFlags (one per
// setting of trainer.Config, plus --preset) and the run folder's --out and --resume.
func trainCommand() *cli.Command {
	flags := append(settingFlags(),
		&cli.StringFlag{Name: "out", Category: "run", Usage: "run folder for config.json, metrics.jsonl, summary.json and the checkpoint (default runs/train-DATE-TIME)"},
		&cli.BoolFlag{Name: "resume", Category: "run", Usage: "continue the run in --out from its checkpoint, with its settings (only run-control flags may be given)"},
	)
	return &cli.Command{
		Name:  "train",
		Usage: "train one network with one seed, with or without RandomOut",
		Description: "Trains the network a preset describes (quick: half a minute on two CPU cores on the built-in shapes data;\n" +
			"paper: the RandomOut paper's CIFAR-10 protocol), any flag overriding the preset. A run that completes\n" +
			"exits 0 whatever its status (ok, failed, diverged); see summary.json. Ctrl-C checkpoints and exits 130;\n" +
			"--resume continues to the same final weights.",
		Flags:        flags,
		Action:       runTrain,
		OnUsageError: commandUsageError,
	}
}

func runTrain(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError{fmt.Errorf("train: unexpected argument %q (settings are flags: --name value)", c.Args().First())}
	}
	out := c.String("out")
	var cfg trainer.Config
	if c.Bool("resume") {
		if out == "" {
			return usageError{errors.New("train: --resume needs --out, the folder of the run to continue")}
		}
		if c.IsSet("preset") {
			return usageError{errors.New("train: --preset cannot be used with --resume (the run keeps its settings)")}
		}
		var err error
		if cfg, err = trainer.ResumeConfig(out); err != nil {
			if !trainer.HasCheckpoint(out) {
				return fmt.Errorf("train --resume: %s holds no checkpoint yet (a run still before its first checkpoint, or stopped before it: such a run starts again without --resume): %w", out, err)
			}
			return fmt.Errorf("train --resume: %w", err)
		}
		if err := applyFlags(c, &cfg); err != nil {
			return usageError{fmt.Errorf("train: %w", err)}
		}
		if err := cfg.Validate(); err != nil {
			return usageError{fmt.Errorf("train: %w", err)}
		}
	} else {
		var err error
		if cfg, err = configFromCLI(c); err != nil {
			return usageError{fmt.Errorf("train: %w", err)}
		}
		if out == "" {
			out = "runs/train-" + time.Now().Format("20060102-150405")
		}
	}
	sigCtx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The run folder is claimed as a sweep worker claims a run, so that two processes (two
	// `rout train`, or one and a sweep worker) never train into one folder.
	claimer, err := sweep.NewClaimer("rout train", sweep.DefaultClaimTimeout, sweep.DefaultHeartbeat)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	_, statErr := os.Stat(out)
	created := errors.Is(statErr, fs.ErrNotExist)
	cl, holder, err := claimer.Acquire(out)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if cl == nil {
		return fmt.Errorf("train: %s is in use by %s: wait for that run to end, or choose another --out", out, holder)
	}
	defer func() {
		cl.Release()
		if created {
			os.Remove(out) // only if empty: a run that failed before writing leaves no folder
		}
	}()
	ctx, cancel := cl.Watch(sigCtx)
	defer cancel()
	if cleared, err := trainer.ClearLeftovers(out); err != nil {
		return fmt.Errorf("train: %s: %w", out, err)
	} else if cleared {
		fmt.Fprintf(c.App.ErrWriter, "%s held a run stopped before its first checkpoint: starting it afresh\n", out)
	}
	prog := newProgress(c.App.ErrWriter)
	opts := []trainer.Option{trainer.WithVersion(version), trainer.WithObserver(prog), trainer.WithGuard(cl.Check)}
	if c.Bool("resume") {
		opts = append(opts, trainer.Resume())
	}
	s, err := trainer.Run(ctx, cfg, out, opts...)
	prog.finish()
	if errors.Is(err, trainer.ErrInterrupted) {
		return cli.Exit("rout: train: "+err.Error()+". Resume with:\n  rout train --resume --out="+shellQuote(out), exitCanceled)
	}
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	printSummary(c.App.Writer, s, out)
	return nil
}

// commandUsageError marks a command's flag-parsing errors as usage errors (exit 2), an unknown
// flag named with two dashes and the nearest flag suggested.
func commandUsageError(c *cli.Context, err error, _ bool) error {
	return usageError{unknownFlagError(c, err)}
}

// printSummary is the run's one-paragraph result on standard output.
func printSummary(w io.Writer, s trainer.Summary, out string) {
	pct := func(x *trainer.Number) string {
		if x == nil {
			return "n/a"
		}
		return fmt.Sprintf("%.2f%%", 100*float64(*x))
	}
	fmt.Fprintf(w, "status %s: final test accuracy %s (best %s, chance %.2f%%), %s in %s, %s, %.1fs\n",
		s.Status, pct(s.FinalTestAcc), pct(s.BestTestAcc), 100*s.ChanceAcc, count(s.Steps, "step"), count(s.Epochs, "epoch"), count(int(s.ReinitsTotal), "re-init"), s.WallSeconds)
	if s.Message != "" {
		fmt.Fprintln(w, s.Message)
	}
	fmt.Fprintf(w, "run folder: %s\n", out)
}

// progress shows a run's progress: a bar on a terminal, plain log lines otherwise (a file, a
// pipe, CI). It is a trainer.Observer.
type progress struct {
	w   io.Writer
	bar *progressbar.ProgressBar // nil when not a terminal
	end int
}

// newProgress draws a bar when w is a terminal.
func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(1, progressbar.OptionSetWriter(w), progressbar.OptionShowCount(),
			progressbar.OptionSetElapsedTime(true), progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetDescription("starting"))
	}
	return p
}

func (p *progress) Start(pl trainer.Plan) {
	p.end = pl.TotalSteps
	c := pl.Config
	p.println(fmt.Sprintf("train: preset %s, model %s (%d params), data %s (%d training examples), %s on %s, seed %d, data seed %d; revival rule %s; steps %d..%d (%d per epoch)",
		c.Preset, c.Model, pl.Params, c.Data, pl.TrainExamples, c.Optimizer, pl.Backend, c.Seed, c.DataSeed, c.RuleSummary(),
		pl.StartStep, pl.TotalSteps, pl.StepsPerEpoch))
	if p.bar != nil {
		p.bar.ChangeMax(pl.TotalSteps)
		p.bar.Set(pl.StartStep)
	}
}

func (p *progress) Step(step int) {
	if p.bar != nil {
		p.bar.Set(step)
	}
}

func (p *progress) Record(r trainer.Record) {
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("epoch %d loss %.4f acc %.1f%% re-inits %d %.0f img/s",
			r.Epoch, float64(r.Loss), 100*float64(r.TrainAcc), r.Reinits.Total(), r.ImagesPerSec))
		if r.Kind == "log" {
			return
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s step %d/%d epoch %d: loss %.4f, train acc %.2f%%", r.Kind, r.Step, p.end, r.Epoch, float64(r.Loss), 100*float64(r.TrainAcc))
	if r.TestAcc != nil {
		fmt.Fprintf(&b, ", test acc %.2f%%, test loss %.4f", 100*float64(*r.TestAcc), float64(*r.TestLoss))
	}
	if r.ValAcc != nil {
		fmt.Fprintf(&b, ", val acc %.2f%%", 100*float64(*r.ValAcc))
	}
	fmt.Fprintf(&b, ", re-inits %d, dead %d, %.0f img/s, %.1fs", r.Reinits.Total(), r.Dead.Total(), r.ImagesPerSec, r.Elapsed)
	p.println(b.String())
}

// Evaluating shows an evaluation's progress on the bar (off a terminal the epoch's line follows).
func (p *progress) Evaluating(done, total int) {
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("evaluating: %d of %d examples", done, total))
		p.bar.RenderBlank()
	}
}

// finish takes the bar off the screen.
func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Clear()
		fmt.Fprintln(p.w)
	}
}

// println writes a line, above the bar when there is one.
func (p *progress) println(s string) {
	if p.bar != nil {
		p.bar.Clear()
	}
	fmt.Fprintln(p.w, s)
}
