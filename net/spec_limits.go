package net

import "fmt"

// Limits on a model file, so that no file can make rout parse or plan without end: real
// networks are a few kilobytes and nest blocks one or two deep.
const (
	// MaxSpecFile bounds a model file's size.
	MaxSpecFile = 1 << 20
	// MaxBlockDepth bounds how deep concat blocks nest inside each other's branches.
	MaxBlockDepth = 16
	// maxTOMLNesting bounds the nesting of arrays and inline tables the TOML parser sees
	// (a block takes two levels and a branch's layer one more).
	maxTOMLNesting = 4*MaxBlockDepth + 8
)

// checkTOMLNesting refuses TOML text whose arrays and inline tables nest deeper than
// maxTOMLNesting, before the (recursive) parser sees it. It follows TOML's strings and
// comments, so brackets inside them do not count.
func checkTOMLNesting(b []byte) error {
	depth, line := 0, 1
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '\n':
			line++
		case '#':
			for i < len(b) && b[i] != '\n' {
				i++
			}
			i-- // the newline is counted by the loop
		case '"', '\'':
			quote := string([]byte{c, c, c})
			multi := i+3 <= len(b) && string(b[i:i+3]) == quote
			if multi {
				i += 3
			} else {
				i++
			}
			for ; i < len(b); i++ {
				if b[i] == '\n' {
					line++
				}
				if c == '"' && b[i] == '\\' {
					i++
					continue
				}
				if multi {
					if i+3 <= len(b) && string(b[i:i+3]) == quote {
						i += 2
						// A multi-line string may end with up to two more quotes.
						for i+1 < len(b) && b[i+1] == c {
							i++
						}
						break
					}
				} else if b[i] == c || b[i] == '\n' {
					break
				}
			}
		case '[', '{':
			if depth++; depth > maxTOMLNesting {
				return fmt.Errorf("line %d: arrays and tables nested more than %d deep (blocks may nest at most %d deep)", line, maxTOMLNesting, MaxBlockDepth)
			}
		case ']', '}':
			depth = max(depth-1, 0)
		}
	}
	return nil
}
