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
	"strconv"
)

// Run statuses in summary.json. A run that completes has one of them, whatever it is: a failed
// or diverged run is a result, not an error.
const (
	StatusOK       = "ok"       // trained: final test accuracy more than fail-margin above chance
	StatusFailed   = "failed"   // final test accuracy within fail-margin of chance (1/classes)
	StatusDiverged = "diverged" // the loss became NaN or infinite
)

// The files a run leaves in its folder, besides CheckpointFile.
const (
	ConfigFile  = "config.json"
	MetricsFile = "metrics.jsonl"
	SummaryFile = "summary.json"
)

// Number is a float64 written to JSON as a number, or null when it is NaN or infinite (JSON has
// no such numbers; a diverged loss is written as null).
type Number float64

// MarshalJSON writes the shortest decimal that reads back to the same float64, or null.
func (x Number) MarshalJSON() ([]byte, error) {
	f := float64(x)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// UnmarshalJSON reads a number, or null as NaN.
func (x *Number) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		*x = Number(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*x = Number(f)
	return nil
}

// LayerCounts are per-layer counts written as a JSON object whose keys keep the network's
// layer order ({"conv1": 0, "conv2": 3, ...}).
type LayerCounts struct {
	Layers []string
	Counts []int64
}

// Total is the sum of the counts.
func (lc LayerCounts) Total() int64 {
	var t int64
	for _, c := range lc.Counts {
		t += c
	}
	return t
}

// MarshalJSON writes the object in layer order.
func (lc LayerCounts) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, l := range lc.Layers {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(l)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(lc.Counts[i], 10))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads the object keeping its key order.
func (lc *LayerCounts) UnmarshalJSON(data []byte) error {
	*lc = LayerCounts{}
	if string(bytes.TrimSpace(data)) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("per-layer counts: want a JSON object")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		var n int64
		if err := dec.Decode(&n); err != nil {
			return fmt.Errorf("per-layer counts: layer %v: %w", t, err)
		}
		lc.Layers = append(lc.Layers, t.(string))
		lc.Counts = append(lc.Counts, n)
	}
	return nil
}

// Record is one line of metrics.jsonl: a periodic "log" line, or an "epoch" line written after
// each epoch's evaluation (the only kind with test and validation figures).
type Record struct {
	Kind  string `json:"kind"`  // "log" or "epoch"
	Step  int    `json:"step"`  // steps done so far
	Epoch int    `json:"epoch"` // the epoch the line belongs to, from 1
	// Loss and TrainAcc are the mean loss per example and the accuracy over the training
	// batches since the previous log line (log) or over the whole epoch (epoch).
	Loss     Number  `json:"loss"`
	TrainAcc Number  `json:"train_acc"`
	TestAcc  *Number `json:"test_acc,omitempty"`
	TestLoss *Number `json:"test_loss,omitempty"`
	ValAcc   *Number `json:"val_acc,omitempty"`
	ValLoss  *Number `json:"val_loss,omitempty"`
	LR       Number  `json:"lr"` // the learning rate of the last step
	// Reinits counts the filters re-drawn so far; Dead the filters below tau at the last check.
	Reinits      LayerCounts `json:"reinits"`
	Dead         LayerCounts `json:"dead"`
	ImagesPerSec float64     `json:"images_per_sec"` // training throughput since the previous line (log) or over the epoch (epoch)
	Elapsed      float64     `json:"elapsed"`        // seconds of training and evaluation so far (across resumes)
}

// Summary is summary.json, written when a run completes.
type Summary struct {
	Arm    string `json:"arm"`
	Seed   uint64 `json:"seed"`
	Status string `json:"status"`
	// Accuracies are fractions; losses are means per example. Null when never measured
	// (a run that diverged before its first evaluation).
	FinalTestAcc   *Number `json:"final_test_acc"`
	BestTestAcc    *Number `json:"best_test_acc"`
	FinalTestLoss  *Number `json:"final_test_loss"`
	FinalTrainLoss *Number `json:"final_train_loss"`
	FinalValAcc    *Number `json:"final_val_acc,omitempty"`
	BestValAcc     *Number `json:"best_val_acc,omitempty"`
	ChanceAcc      float64 `json:"chance_acc"`
	FailedMargin   float64 `json:"failed_margin"`
	Epochs         int     `json:"epochs"` // epochs run, a last partial one (--max-steps) included
	Steps          int     `json:"steps"`
	WallSeconds    float64 `json:"wall_seconds"` // training and evaluation time, across resumes
	ReinitsTotal   int64   `json:"reinits_total"`
	// ReinitsPerLayer and DeadFinalPerLayer cover the watched layers, in network order.
	ReinitsPerLayer   LayerCounts `json:"reinits_per_layer"`
	DeadFinalPerLayer LayerCounts `json:"dead_final_per_layer"`
	Message           string      `json:"message"`
}

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
	// lastEval is the step of the last "epoch" line kept on resume (-1: none), so that a resumed
	// run knows whether the checkpoint's step was already evaluated.
	lastEval int
}

// openMetrics creates path, or on resume keeps only its lines up to step keep (the checkpoint's
// position) and appends after them: the lines a killed run wrote after its last checkpoint are
// written again by the resumed run.
func openMetrics(path string, resume bool, keep int) (*metricsLog, error) {
	lastEval := -1
	if resume {
		old, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		var kept bytes.Buffer
		sc := bufio.NewScanner(bytes.NewReader(old))
		sc.Buffer(make([]byte, 1<<20), 1<<26)
		for sc.Scan() {
			var r struct {
				Kind string `json:"kind"`
				Step *int   `json:"step"`
			}
			if json.Unmarshal(sc.Bytes(), &r) != nil || r.Step == nil || *r.Step > keep {
				break // a torn last line, or past the checkpoint
			}
			if r.Kind == "epoch" {
				lastEval = *r.Step
			}
			kept.Write(sc.Bytes())
			kept.WriteByte('\n')
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
	return &metricsLog{f: f, path: path, lastEval: lastEval}, nil
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

// ReadSummary reads a run folder's summary.json.
func ReadSummary(dir string) (Summary, error) {
	var s Summary
	b, err := os.ReadFile(dir + "/" + SummaryFile)
	if err != nil {
		return s, fmt.Errorf("summary: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("summary %s/%s: %w", dir, SummaryFile, err)
	}
	return s, nil
}
