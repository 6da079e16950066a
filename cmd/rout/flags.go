package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// errHelpShown ends a command whose --help came after its arguments: the help is printed and
// the command does nothing else (main exits 0).
var errHelpShown = errors.New("help shown")

// unknownCommand is the action of rout and of its commands that only group others: with no
// argument it shows the help, and an argument that names no command is a usage error (urfave
// would exit 3 with "No help topic").
func unknownCommand(c *cli.Context) error {
	root := c.Command.Name == "" || c.Command.Name == c.App.Name
	if c.NArg() == 0 {
		if root {
			return cli.ShowAppHelp(c)
		}
		return cli.ShowSubcommandHelp(c)
	}
	commands := c.Command.Subcommands
	if root {
		commands = c.App.Commands
	}
	var names []string
	for _, sub := range commands {
		if !sub.Hidden {
			names = append(names, sub.Name)
		}
	}
	return usageError{fmt.Errorf("unknown command %q (commands: %s)", c.Args().First(), strings.Join(names, ", "))}
}

// interspersedFlags reads the command's flags given after its arguments too (urfave/cli stops
// at the first argument; `rout eval CKPT --data SPEC` is the documented order), returning the
// arguments left.
func interspersedFlags(c *cli.Context) ([]string, error) {
	known := map[string]bool{} // name -> is a switch
	for _, f := range c.Command.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			known[n] = isBool
		}
	}
	var rest []string
	args := c.Args().Slice()
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			rest = append(rest, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "help" || name == "h" {
			if err := cli.ShowSubcommandHelp(c); err != nil {
				return nil, err
			}
			return nil, errHelpShown
		}
		isBool, ok := known[name]
		if !ok {
			return nil, unknownFlagError(c, fmt.Errorf("flag provided but not defined: %s", a))
		}
		if !hasValue {
			if isBool {
				value = "true"
			} else {
				if i+1 == len(args) {
					return nil, fmt.Errorf("flag %s needs a value", a)
				}
				value = args[i+1]
				i++
			}
		}
		if err := c.Set(name, value); err != nil {
			return nil, fmt.Errorf("flag %s: %w", a, err)
		}
	}
	return rest, nil
}
