package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

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
		isBool, ok := known[name]
		if !ok {
			return nil, fmt.Errorf("flag provided but not defined: %s", a)
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
