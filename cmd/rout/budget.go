package main

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/urfave/cli/v2"

	"rout/internal/membudget"
	"rout/net"
)

// budgeted adds --memory-budget to a command that loads data or builds a network: the memory
// those may claim before rout refuses them (see internal/membudget).
func budgeted(cmd *cli.Command) *cli.Command {
	cmd.Flags = append(cmd.Flags, &cli.StringFlag{Name: "memory-budget", Category: "memory",
		Usage: "memory that data and the network may take, e.g. 4G (default: $" + membudget.EnvVar +
			", else the smaller of the machine's available memory and its cgroup limit)"})
	action := cmd.Action
	cmd.Action = func(c *cli.Context) error {
		// The value is checked here, before anything is loaded, also when it comes after the
		// command's arguments (which the command parses itself).
		var values []string
		if c.IsSet("memory-budget") {
			values = append(values, c.String("memory-budget"))
		}
		args := c.Args().Slice()
		for i, a := range args {
			name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if name == "memory-budget" && strings.HasPrefix(a, "-") {
				if !hasValue && i+1 < len(args) {
					value = args[i+1]
				}
				values = append(values, value)
			}
		}
		for _, v := range values {
			if _, err := membudget.Parse(v); err != nil {
				return usageError{fmt.Errorf("%s: --memory-budget: %w", cmd.Name, err)}
			}
		}
		membudget.UseFlag("memory-budget", func() string { return c.String("memory-budget") })
		defer membudget.UseFlag("", nil) // the flag is this command's
		return action(c)
	}
	return cmd
}

// budgetedSub adds --memory-budget to cmd's subcommand name.
func budgetedSub(cmd *cli.Command, name string) *cli.Command {
	for i, sub := range cmd.Subcommands {
		if sub.Name == name {
			cmd.Subcommands[i] = budgeted(sub)
		}
	}
	return cmd
}

// memorySummary ends `rout model summary`: the memory training the network takes (the
// estimate rout train checks before it allocates) and the budget it is checked against.
func memorySummary(c *cli.Context, spec *net.Spec, in [3]int, classes int) error {
	batch := c.Int("batch")
	if batch < 1 {
		return usageError{fmt.Errorf("model summary: --batch %d: want a positive integer", batch)}
	}
	m, err := net.EstimateMemory(spec, batch, in, classes, 2, runtime.GOMAXPROCS(0))
	if err != nil {
		return err
	}
	if err := m.Format(c.App.Writer, batch); err != nil {
		return err
	}
	b, err := membudget.Current()
	if err != nil {
		return usageError{err}
	}
	verdict := "fits"
	if m.Total() > b.Bytes {
		verdict = "does not fit"
	}
	_, err = fmt.Fprintf(c.App.Writer, "memory budget on the CPU: %s: %s\n", b, verdict)
	return err
}
