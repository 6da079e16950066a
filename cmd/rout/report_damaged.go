package main

import (
	"fmt"
	"io"

	"rout/report"
)

// damagedRuns lists the runs whose files could not be read, which the report left out, and
// makes `rout report` fail (exit 1) when there are any: the report was written, but it does
// not cover every run that has files.
func damagedRuns(w io.Writer, r *report.Report) error {
	if len(r.Damaged) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\n%d damaged run(s), left out of the report:\n", len(r.Damaged))
	for _, run := range r.Damaged {
		fmt.Fprintf(w, "  %s/%d: %v\n", run.Arm, run.Seed, run.Err)
	}
	return fmt.Errorf("report: %d damaged run(s) left out (listed above); the report covers the others", len(r.Damaged))
}
