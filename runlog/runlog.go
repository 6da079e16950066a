// Package runlog defines the files that training runs and sweeps leave, as the trainer and the
// sweep write them and the report reads them, each declared once with its reader: a run
// folder's summary.json (Summary, ReadSummary) and metrics.jsonl (one Record a line,
// ReadMetrics), the JSON encodings they share (Number, LayerCounts), and a sweep folder's
// sweep.json (Plan, ReadPlan) with its layout (Pair.Dir). It depends on nothing of rout's but
// the bounded file reader (internal/boundedio), so readers of run folders need not pull in the
// trainer or the sweep.
package runlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path/filepath"
	"strconv"

	"rout/internal/boundedio"
)

// Run statuses in summary.json. A run that completes has one of them, whatever it is: a failed
// or diverged run is a result, not an error.
const (
	StatusOK       = "ok"       // trained: final test accuracy more than fail-margin above chance
	StatusFailed   = "failed"   // final test accuracy within fail-margin of chance (1/classes)
	StatusDiverged = "diverged" // the loss became NaN or infinite
)

// The files a run leaves in its folder, besides its checkpoint.
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

// UnmarshalJSON reads the object keeping its key order; null gives no layers.
func (lc *LayerCounts) UnmarshalJSON(data []byte) error {
	*lc = LayerCounts{}
	if string(bytes.TrimSpace(data)) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("per-layer counts: want a JSON object of layer names to integers")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("per-layer counts: %w", err)
		}
		name := t.(string) // object keys are always strings
		var n int64
		if err := dec.Decode(&n); err != nil {
			return fmt.Errorf("per-layer counts: layer %q: %w", name, err)
		}
		lc.Layers = append(lc.Layers, name)
		lc.Counts = append(lc.Counts, n)
	}
	_, err := dec.Token() // the closing brace
	return err
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
	// ConvLayers are all the network's conv layers in network order, watched or not: the
	// order a report lists layers in when arms watch different subsets.
	ConvLayers []string `json:"conv_layers,omitempty"`
	// ReinitsPerLayer and DeadFinalPerLayer cover the watched layers, in network order.
	ReinitsPerLayer   LayerCounts `json:"reinits_per_layer"`
	DeadFinalPerLayer LayerCounts `json:"dead_final_per_layer"`
	Message           string      `json:"message"`
	// StepGraphs says what the GPU's CUDA graphs did (--cuda-graph), or is empty.
	StepGraphs string `json:"step_graphs,omitempty"`
}

// Failed reports whether the run counts as a failure (failed or diverged).
func (s *Summary) Failed() bool { return s.Status == StatusFailed || s.Status == StatusDiverged }

// ReadSummary reads the summary.json of run folder dir; a missing file gives an error
// satisfying errors.Is(err, fs.ErrNotExist).
func ReadSummary(dir string) (Summary, error) {
	path := filepath.Join(dir, SummaryFile)
	b, err := boundedio.ReadFile(path, MaxJSONFile)
	if err != nil {
		return Summary{}, err
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return Summary{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ParseRecord reads one line of metrics.jsonl: a JSON record of kind log or epoch.
func ParseRecord(line []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		return Record{}, err
	}
	if r.Kind != "log" && r.Kind != "epoch" {
		return Record{}, fmt.Errorf("kind %q, want log or epoch", r.Kind)
	}
	return r, nil
}

// ReadMetrics reads a metrics.jsonl file; a missing file gives no records. While a run is still
// going (live), its last line may be half written: a final line without its newline that does not
// parse is ignored. Any other bad line is an error naming the file and line.
func ReadMetrics(path string, live bool) ([]Record, error) {
	f, err := boundedio.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ms []Record
	rd := bufio.NewReaderSize(boundedio.Reader(f, MaxMetricsFile, path), 1<<16)
	prev := 0 // line of the previous record
	for line := 1; ; line++ {
		text, err := readLine(rd, MaxMetricsLine)
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("%s: line %d: %w", path, line, err)
		}
		complete := err == nil
		if len(bytes.TrimSpace(text)) > 0 {
			m, perr := ParseRecord(text)
			if perr != nil {
				if live && !complete {
					break
				}
				return nil, fmt.Errorf("%s: line %d: %w", path, line, perr)
			}
			if n := len(ms); n > 0 && m.Step < ms[n-1].Step {
				return nil, fmt.Errorf("%s: line %d: step %d after step %d on line %d: the lines are out of order", path, line, m.Step, ms[n-1].Step, prev)
			}
			ms, prev = append(ms, m), line
		}
		if !complete {
			break
		}
	}
	return ms, nil
}

// readLine reads up to and including the next newline (or to the end), refusing a line longer
// than limit bytes before it is all in memory.
func readLine(rd *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		part, err := rd.ReadSlice('\n')
		if len(line)+len(part) > limit {
			return nil, fmt.Errorf("a line of more than %d bytes (not a metrics line)", limit)
		}
		line = append(line, part...)
		if err != bufio.ErrBufferFull {
			return line, err
		}
	}
}
