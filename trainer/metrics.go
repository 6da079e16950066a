package trainer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"rout/internal/atomicfile"
	"rout/internal/boundedio"
	"rout/runlog"
)

// The run folder's formats live in package runlog (the report reads them too); these names
// keep the trainer's API whole.
const (
	StatusOK       = runlog.StatusOK
	StatusFailed   = runlog.StatusFailed
	StatusDiverged = runlog.StatusDiverged
	ConfigFile     = runlog.ConfigFile
	MetricsFile    = runlog.MetricsFile
	SummaryFile    = runlog.SummaryFile
)

type (
	Number      = runlog.Number
	LayerCounts = runlog.LayerCounts
	Record      = runlog.Record
	Summary     = runlog.Summary
)

// num returns a pointer to x as a Number, or nil when x is NaN (never measured).
func num(x float64) *Number {
	if math.IsNaN(x) {
		return nil
	}
	n := Number(x)
	return &n
}

// metricsLog appends records to metrics.jsonl, one write per line, so a killed run keeps every
// line written before.
type metricsLog struct {
	f    *os.File
	path string
}

// openMetrics creates path, or on resume keeps only its lines up to step keep (the checkpoint's
// position) and appends after them: the lines a killed run wrote after its last checkpoint are
// written again by the resumed run. An epoch line at keep itself is kept only if evaluated (the
// checkpoint knows its evaluation); otherwise the resumed run evaluates and writes it again. A
// torn last line (a kill during a write) is dropped; a damaged line before others is an error.
func openMetrics(path string, resume bool, keep int, evaluated bool) (*metricsLog, error) {
	if resume {
		old, err := boundedio.ReadFile(path, runlog.MaxMetricsFile)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		var kept bytes.Buffer
		sc := bufio.NewScanner(bytes.NewReader(old))
		sc.Buffer(make([]byte, 1<<20), 1<<26)
		for line := 1; sc.Scan(); line++ {
			r, err := runlog.ParseRecord(sc.Bytes())
			if err != nil {
				bad := string(sc.Bytes())
				if sc.Scan() {
					return nil, fmt.Errorf("metrics %s: line %d is not a metrics record (%.40q), and lines follow it: the file is damaged; remove the line to resume", path, line, bad)
				}
				break // a torn last line
			}
			if r.Step > keep {
				break
			}
			if r.Kind == "epoch" && r.Step == keep && !evaluated {
				continue
			}
			kept.Write(sc.Bytes())
			kept.WriteByte('\n')
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("metrics %s: %w", path, err)
		}
		if err := atomicfile.Write(path, kept.Bytes()); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if !resume {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return &metricsLog{f: f, path: path}, nil
}

// write appends one record as a line.
func (m *metricsLog) write(r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("metrics %s: %w", m.path, err)
	}
	if _, err := m.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("metrics %s: %w", m.path, err)
	}
	return nil
}

// sync makes the lines written so far durable: before a checkpoint or the summary, which a
// resume or a report trusts to come with every line before them.
func (m *metricsLog) sync() error {
	if err := m.f.Sync(); err != nil {
		return fmt.Errorf("metrics %s: %w", m.path, err)
	}
	return nil
}

// close syncs and closes the file.
func (m *metricsLog) close() error {
	err := m.f.Sync()
	if cerr := m.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("metrics %s: %w", m.path, err)
	}
	return nil
}

// writeJSON writes v, indented, to path atomically.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return atomicfile.Write(path, append(b, '\n'))
}
