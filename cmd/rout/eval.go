package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/urfave/cli/v2"

	"rout/trainer"
)

// evalCommand is `rout eval CHECKPOINT`: a saved model's loss and accuracy on a split.
func evalCommand() *cli.Command {
	return &cli.Command{
		Name:      "eval",
		Usage:     "measure a checkpoint's test (or train, val) accuracy and loss",
		ArgsUsage: "CHECKPOINT (a run's checkpoint.safetensors, or its run folder)",
		Description: "Images are prepared exactly as in training (the crop and the training split's statistics are read\n" +
			"from the checkpoint), so --data may name another copy of the same data.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Usage: "dataset spec (default: the one the run trained on)"},
			&cli.StringFlag{Name: "split", Value: "test", Usage: "test, train (without the run's validation part) or val (the run's --val-fraction split)"},
			&cli.IntFlag{Name: "batch", Usage: "examples per forward pass", DefaultText: "the run's batch"},
			&cli.StringFlag{Name: "device", Value: "auto", Usage: "auto, cpu or gpu"},
			&cli.IntFlag{Name: "threads", Usage: "CPU threads (0: every core)"},
			&cli.BoolFlag{Name: "json", Usage: "print the result as one JSON object"},
			&cli.StringFlag{Name: "logits", Usage: "also write the first batch's input (as the network sees it), labels and logits to this safetensors file"},
		},
		Action:       runEval,
		OnUsageError: commandUsageError,
	}
}

func runEval(c *cli.Context) error {
	args, err := interspersedFlags(c)
	if err != nil {
		return usageError{fmt.Errorf("eval: %w", err)}
	}
	if len(args) != 1 {
		return usageError{fmt.Errorf("eval: want one checkpoint, got %d arguments", len(args))}
	}
	set := trainer.EvalSettings{Data: c.String("data"), Split: c.String("split"),
		Batch: c.Int("batch"), Device: c.String("device"), Threads: c.Int("threads"), Logits: c.String("logits")}
	if err := set.Check(); err != nil {
		return usageError{fmt.Errorf("eval: %w", err)}
	}
	path := trainer.CheckpointPath(args[0])
	bar := newEvalBar(c.App.ErrWriter)
	res, err := trainer.Evaluate(path, set, trainer.WithObserver(bar))
	bar.finish()
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	if c.Bool("json") {
		b, err := json.Marshal(res)
		if err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		fmt.Fprintln(c.App.Writer, string(b))
		return nil
	}
	fmt.Fprintf(c.App.Writer, "%s split of %s: accuracy %.2f%% (%d examples), loss %.4f; checkpoint at step %d\n",
		res.Split, res.Data, 100*res.Acc, res.Examples, float64(res.Loss), res.Step)
	return nil
}

// evalBar shows an evaluation's progress on a terminal (and nothing elsewhere). It is a
// trainer.EvalObserver.
type evalBar struct{ bar *progressbar.ProgressBar }

func newEvalBar(w io.Writer) *evalBar {
	e := &evalBar{}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		e.bar = progressbar.NewOptions(1, progressbar.OptionSetWriter(w), progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetDescription("evaluating"))
	}
	return e
}

func (e *evalBar) Start(trainer.Plan)    {}
func (e *evalBar) Step(int)              {}
func (e *evalBar) Record(trainer.Record) {}
func (e *evalBar) Evaluating(done, total int) {
	if e.bar != nil {
		e.bar.ChangeMax(total)
		e.bar.Set(done)
	}
}

func (e *evalBar) finish() {
	if e.bar != nil {
		e.bar.Clear()
	}
}
