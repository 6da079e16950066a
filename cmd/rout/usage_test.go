package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestEveryCommandMarksBadFlags: an unknown flag is a usage error (exit 2) in every command
// and subcommand, not a plain error (exit 1). The commands are walked from newApp, so a new one
// without OnUsageError fails here.
func TestEveryCommandMarksBadFlags(t *testing.T) {
	var paths [][]string
	var walk func(prefix []string, cs []*cli.Command)
	walk = func(prefix []string, cs []*cli.Command) {
		for _, c := range cs {
			p := append(append([]string{}, prefix...), c.Name)
			paths = append(paths, p)
			walk(p, c.Subcommands)
		}
	}
	walk(nil, newApp().Commands)
	for _, want := range [][]string{{"report"}, {"bench"}, {"model", "summary"}, {"model", "list"}, {"data", "inspect"}, {"data", "get"}, {"info"}} {
		found := false
		for _, p := range paths {
			found = found || strings.Join(p, " ") == strings.Join(want, " ")
		}
		if !found {
			t.Errorf("no command %q in newApp", want)
		}
	}
	for _, p := range paths {
		_, _, _, err := runCtx(context.Background(), append(p, "--bogus")...)
		var ue usageError
		if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), "bogus") {
			t.Errorf("rout %s --bogus: %v, want a usage error naming the flag", strings.Join(p, " "), err)
		}
	}
}

// TestCommandLineMistakes: an unknown command or subcommand, a flag after a command's argument
// and an out-of-range eval setting are usage errors (exit 2) that say what is wrong, and --help
// after an argument shows the help instead of running the command.
func TestCommandLineMistakes(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `unknown command "bogus" (commands: model, data, train`},
		{[]string{"data", "bogus"}, `unknown command "bogus" (commands: inspect, get`},
		{[]string{"model", "bogus"}, `unknown command "bogus" (commands: summary, list`},
		{[]string{"data", "inspect", "shapes", "--bogus"}, "--bogus: unknown flag (`rout inspect --help` lists the flags)"},
		{[]string{"train", "--epoch", "2"}, "--epoch: unknown flag; did you mean --epochs?"},
		{[]string{"train", "-epoch", "2"}, "--epoch: unknown flag; did you mean --epochs?"},
		{[]string{"sweep", "--parallell", "2"}, "--parallell: unknown flag; did you mean --parallel?"},
		{[]string{"sweep", "--seed", "1-2"}, `--seed: invalid value "1-2": parse error`},
		{[]string{"eval", "run", "--split", "bogus"}, `eval: split "bogus": want test, train or val`},
		{[]string{"eval", "run", "--batch", "-1"}, "eval: batch -1: want 0 or more"},
		{[]string{"eval", "run", "--device", "tpu"}, `eval: device "tpu": want auto, cpu or gpu`},
		{[]string{"info", "extra"}, `info: unexpected argument "extra"`},
		{[]string{"bench", "inception28"}, `bench: unexpected argument "inception28"`},
	} {
		_, _, _, err := runCtx(context.Background(), c.args...)
		var ue usageError
		if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("rout %s: %v, want a usage error containing %q", strings.Join(c.args, " "), err, c.want)
		}
	}
	for _, args := range [][]string{{"model", "summary", "convnet-small", "--help"}, {"data", "inspect", "shapes", "-h"}} {
		stdout, _, _, err := runCtx(context.Background(), args...)
		if !errors.Is(err, errHelpShown) || !strings.Contains(stdout, "USAGE:") || strings.Contains(stdout, "conv1") || strings.Contains(stdout, "loaded in") {
			t.Errorf("rout %s: err %v, printed %q; want the help only", strings.Join(args, " "), err, stdout)
		}
	}
}

// TestExitStatus: the exit code and message main gives each kind of error, `rout help TOPIC` with
// a topic that names no command (urfave/cli's exit 3) among them.
func TestExitStatus(t *testing.T) {
	_, _, _, helpErr := runCtx(context.Background(), "data", "help", "bogus")
	for _, c := range []struct {
		err  error
		code int
		msg  string
	}{
		{nil, exitOK, ""},
		{errHelpShown, exitOK, ""},
		{helpErr, exitUsage, "rout: help: 'bogus' names no command (the command's --help lists them)"},
		{cli.Exit("rout: train: interrupted", exitCanceled), exitCanceled, "rout: train: interrupted"},
		{usageError{errors.New("flag provided but not defined: -x")}, exitUsage, "rout: flag provided but not defined: -x"},
		{errors.New("reading x: no such file"), exitError, "rout: reading x: no such file"},
	} {
		if code, msg := exitStatus(c.err); code != c.code || msg != c.msg {
			t.Errorf("exitStatus(%v) = %d %q, want %d %q", c.err, code, msg, c.code, c.msg)
		}
	}
}
