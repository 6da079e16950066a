package net

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Format writes the summary as a table, one line per layer (a block's branch layers indented
// under it), then the totals.
func (s *Summary) Format(w io.Writer) error {
	rows := [][]string{{"layer", "type", "", "output", "params", "FLOPs"}}
	for _, l := range s.Layers {
		rows = append(rows, []string{strings.Repeat("  ", l.Depth) + l.Name, l.Type, l.Detail, shapeString(l.Out),
			Thousands(int64(l.Params)), Thousands(l.FLOPs)})
	}
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len(c))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: input %s, %d classes\n\n", s.Spec.Name, shapeString(s.In), s.Classes)
	for _, r := range rows {
		var line strings.Builder
		for i, c := range r {
			if i < 3 { // text columns left, numbers right
				fmt.Fprintf(&line, "%-*s  ", width[i], c)
			} else {
				fmt.Fprintf(&line, "%*s  ", width[i], c)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "\nparameters:            %s\nforward FLOPs/example: %s (%.3f GFLOP; 2 per multiply-add of conv and dense weights)\n",
		Thousands(int64(s.Params)), Thousands(s.FLOPs), float64(s.FLOPs)/1e9)
	_, err := io.WriteString(w, b.String())
	return err
}

// Thousands formats n with commas between groups of three digits (1,649,402).
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
