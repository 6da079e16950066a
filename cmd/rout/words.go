package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// count writes n with its noun, singular for 1: count(1, "run") is "1 run", count(2, "run")
// "2 runs" (nouns whose plural is not noun+"s" give it after a slash: "entry/entries").
func count(n int, noun string) string {
	one, many, ok := strings.Cut(noun, "/")
	if !ok {
		many = one + "s"
	}
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// commandLine is the command that reruns c as given: rout, the command's path and every flag
// set, with its value, as --name=value (quoted for a POSIX shell where needed), then the
// arguments. It is what an interrupted sweep prints to be resumed with.
func commandLine(c *cli.Context) string {
	parts := []string{"rout"}
	for _, ctx := range c.Lineage() {
		if ctx.Command != nil && ctx.Command.Name != "" && ctx.Command.Name != c.App.Name {
			parts = append(parts[:1], append([]string{ctx.Command.Name}, parts[1:]...)...)
		}
	}
	for _, f := range c.Command.Flags {
		name := f.Names()[0]
		if !c.IsSet(name) {
			continue
		}
		parts = append(parts, "--"+name+"="+shellQuote(fmt.Sprint(c.Value(name))))
	}
	for _, a := range c.Args().Slice() {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

// shellQuote quotes s for a POSIX shell unless it is made of characters that need none.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=+,.:/@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
