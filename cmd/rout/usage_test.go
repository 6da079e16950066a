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
