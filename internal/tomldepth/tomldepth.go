// Package tomldepth bounds the nesting of TOML text before it is parsed: the TOML parser
// recurses into arrays and inline tables, so a small file of brackets could exhaust its stack.
package tomldepth

import "fmt"

// Check refuses TOML text whose arrays and inline tables nest deeper than limit, before the
// (recursive) parser sees it. It follows TOML's strings and comments, so brackets inside them
// do not count.
func Check(b []byte, limit int) error {
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
			if depth++; depth > limit {
				return fmt.Errorf("line %d: arrays and tables nested more than %d deep", line, limit)
			}
		case ']', '}':
			depth = max(depth-1, 0)
		}
	}
	return nil
}
