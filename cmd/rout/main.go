// Command rout trains convolutional networks across many seeds, with and without RandomOut,
// and reports how often a design fails to train and what rescues it.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes, documented in docs/settings.md.
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
			// Each command lives in its own file; keep this list in the order of the README's guide.
			budgetedSub(modelCommand(), "summary"),
			budgetedSub(dataCommand(), "inspect"),
			budgeted(trainCommand()),
			budgeted(evalCommand()),
			exportCommand(),
			budgeted(sweepCommand()),
			reportCommand(),
			benchCommand(),
			infoCommand(),
		},
		Action:       unknownCommand,
		OnUsageError: commandUsageError,
	}
}

// usageError marks an error in the command line itself.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func main() {
	app := newApp()
	app.ExitErrHandler = func(*cli.Context, error) {} // main reports every error (exitStatus)
	code, msg := exitStatus(app.Run(os.Args))
	if msg != "" {
		fmt.Fprintln(os.Stderr, msg)
	}
	os.Exit(code)
}

// exitStatus is the exit code for the error a run of rout returned, and the line to print.
// urfave/cli's help command answers a topic that names no command with exit 3 ("No help
// topic"), which rout reports as the usage error it is.
func exitStatus(err error) (int, string) {
	var exit cli.ExitCoder
	var ue usageError
	switch {
	case err == nil || errors.Is(err, errHelpShown):
		return exitOK, ""
	case errors.As(err, &exit) && exit.ExitCode() == 3 && strings.HasPrefix(err.Error(), "No help topic for "):
		return exitUsage, "rout: help: " + strings.TrimPrefix(err.Error(), "No help topic for ") + " names no command (the command's --help lists them)"
	case errors.As(err, &exit):
		return exit.ExitCode(), err.Error() // cli.Exit messages carry their own "rout: " prefix
	case errors.As(err, &ue):
		return exitUsage, "rout: " + err.Error()
	}
	return exitError, "rout: " + err.Error()
}
