package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"
)

// invalidValue matches the flag package's message for a value that does not parse.
var invalidValue = regexp.MustCompile(`^invalid value (".*") for flag -+([A-Za-z0-9-]+): (.*)$`)

// unknownFlagError rewrites the flag package's "flag provided but not defined: -epoch" as rout
// spells flags, with two dashes, and names the nearest flag of the command when one is close
// ("--epoch: unknown flag; did you mean --epochs?"); "invalid value "x" for flag -seed: ..."
// becomes "--seed: invalid value "x": ...". Other errors pass through.
func unknownFlagError(c *cli.Context, err error) error {
	const prefix = "flag provided but not defined: "
	msg := err.Error()
	if m := invalidValue.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("--%s: invalid value %s: %s", m[2], m[1], m[3])
	}
	if !strings.HasPrefix(msg, prefix) {
		return err
	}
	name, _, _ := strings.Cut(strings.TrimLeft(strings.TrimPrefix(msg, prefix), "-"), "=")
	out := fmt.Sprintf("--%s: unknown flag", name)
	if near := nearestFlag(c, name); near != "" {
		out += fmt.Sprintf("; did you mean --%s?", near)
	} else if c != nil && c.Command != nil && c.Command.Name != "" {
		out += fmt.Sprintf(" (`rout %s --help` lists the flags)", c.Command.Name)
	}
	return fmt.Errorf("%s", out)
}

// nearestFlag is the command's flag name closest to name: within a third of its length in edit
// distance (at least 1, at most 3), or one that name is the start of; "" when none is.
func nearestFlag(c *cli.Context, name string) string {
	if c == nil || c.Command == nil {
		return ""
	}
	best, bestD := "", 1<<30
	for _, f := range c.Command.Flags {
		for _, n := range f.Names() {
			if len(n) < 2 {
				continue
			}
			d := editDistance(name, n)
			if strings.HasPrefix(n, name) && len(name) >= 3 {
				d = min(d, 1)
			}
			if d < bestD {
				best, bestD = n, d
			}
		}
	}
	if bestD <= max(1, min(3, len(name)/3)) {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
