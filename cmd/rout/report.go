package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"rout/report"
)

// reportCommand is `rout report DIR`: the statistics and pictures of a sweep folder, finished or
// still running.
func reportCommand() *cli.Command {
	return &cli.Command{
		Name:         "report",
		Usage:        "failure rates, accuracy statistics, paired tests and pictures of a sweep",
		ArgsUsage:    "DIR",
		OnUsageError: commandUsageError,
		Description: "Reads DIR/sweep.json and DIR/runs/ARM/SEED/{summary.json,metrics.jsonl}, prints the tables, and\n" +
			"writes report.md, report.html (self-contained), runs.csv and the pictures (PNG and SVG) into --out.\n" +
			"`rout sweep` writes the same files when its runs are done; this rebuilds them, and reports a sweep\n" +
			"still running at any time: the report says how many runs are done.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "folder for the report files (default DIR, where `rout sweep` writes them)"},
			&cli.IntFlag{Name: "resamples", Value: report.DefaultResamples, Usage: "bootstrap resamples per interval"},
		},
		Action: func(c *cli.Context) error {
			args, err := interspersedFlags(c) // `rout report DIR --out D` reads as documented
			if err != nil {
				return usageError{fmt.Errorf("report: %w", err)}
			}
			if len(args) != 1 {
				return usageError{fmt.Errorf("report: want one sweep folder, got %d arguments", len(args))}
			}
			if c.Int("resamples") < 1 {
				return usageError{fmt.Errorf("report: --resamples %d: want at least 1", c.Int("resamples"))}
			}
			dir := args[0]
			out := c.String("out")
			if out == "" {
				out = dir
			}
			r, err := writeReport(c.App.Writer, dir, out, c.Int("resamples"))
			if err != nil {
				return err
			}
			return damagedRuns(c.App.ErrWriter, r)
		},
	}
}
