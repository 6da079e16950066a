// Command rout trains convolutional networks across many seeds, with and without RandomOut,
// and reports how often a design fails to train and what rescues it.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes, documented in the README.
const (
	exitOK       = 0
	exitError    = 1 // bad input, I/O failure, unusable device
	exitUsage    = 2 // unknown command or flag
	exitCanceled = 130
)

func newApp() *cli.App {
	return &cli.App{
		Name:    "rout",
		Usage:   "win the filter lottery: train CNNs across seeds, with and without RandomOut",
		Version: version,
		Commands: []*cli.Command{
			// Each command lives in its own file; keep this list in the order of the README.
			modelCommand(),
			dataCommand(),
			trainCommand(),
			evalCommand(),
			sweepCommand(),
			reportCommand(),
			benchCommand(),
			infoCommand(),
		},
		Action: unknownCommand,
		OnUsageError: func(c *cli.Context, err error, isSubcommand bool) error {
			return usageError{err}
		},
	}
}

// usageError marks an error in the command line itself.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func main() {
	err := newApp().Run(os.Args)
	if err == nil || errors.Is(err, errHelpShown) {
		os.Exit(exitOK)
	}
	fmt.Fprintln(os.Stderr, "rout:", err)
	var ue usageError
	if errors.As(err, &ue) {
		os.Exit(exitUsage)
	}
	os.Exit(exitError)
}
