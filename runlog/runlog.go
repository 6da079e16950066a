// Package runlog defines the files a training run leaves in its folder, as the trainer writes
// them and the report reads them: summary.json (Summary), metrics.jsonl (one Record a line) and
// the JSON encodings they share (Number, LayerCounts). It depends on nothing of rout's, so
// readers of run folders need not pull in the trainer.
package runlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
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
