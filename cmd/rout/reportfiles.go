package main

import (
	"fmt"
	"io"

	"rout/report"
)

// writeReport prints the report of the sweep in dir and writes its files (report.md,
// report.html, runs.csv, the pictures) into out, naming every file written, and returns the
// report, whose damaged runs the caller lists: what `rout sweep` does when its runs are done
// and `rout report` does to rebuild it.
func writeReport(w io.Writer, dir, out string, resamples int) (*report.Report, error) {
	sw, err := report.Load(dir)
	if err != nil {
		return nil, err
	}
	r := report.Compute(sw, resamples)
	if err := r.WriteText(w); err != nil {
		return nil, fmt.Errorf("report: printing: %w", err)
	}
	files, err := r.Write(out)
	if len(files) > 0 {
		fmt.Fprintln(w)
	}
	for _, f := range files {
		fmt.Fprintf(w, "wrote %s\n", f)
	}
	return r, err
}
