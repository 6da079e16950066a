package runlog

import (
	"encoding/json"
	"math"
	"slices"
	"testing"
)

// TestNumberJSON checks that a Number is written as the shortest decimal that reads back to the
// same float64, NaN and infinities as null, and that null reads back as NaN.
func TestNumberJSON(t *testing.T) {
	for _, c := range []struct {
		x    float64
		json string
	}{{0.1, "0.1"}, {2.302585092994046, "2.302585092994046"}, {1e-30, "1e-30"}, {-3, "-3"},
		{math.NaN(), "null"}, {math.Inf(1), "null"}, {math.Inf(-1), "null"}} {
		b, err := json.Marshal(Number(c.x))
		if err != nil || string(b) != c.json {
			t.Errorf("Marshal(%v) = %s, %v; want %s", c.x, b, err, c.json)
			continue
		}
		var back Number
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("Unmarshal(%s): %v", b, err)
		}
		if want := c.x; !(float64(back) == want || math.IsNaN(float64(back)) && (math.IsNaN(want) || math.IsInf(want, 0))) {
			t.Errorf("%s read back as %v, want %v", b, float64(back), want)
		}
	}
	var n Number
	if err := json.Unmarshal([]byte(`"1"`), &n); err == nil {
		t.Error(`Unmarshal("1") gave no error for a string`)
	}
}

// TestLayerCountsJSON checks that per-layer counts keep the network's layer order both ways
// (a Go map would sort them), that null reads as no layers, and that a malformed object is an
// error naming the layer.
func TestLayerCountsJSON(t *testing.T) {
	lc := LayerCounts{Layers: []string{"conv1", "s1.3x3", "s1.1x1", "d1.3x3"}, Counts: []int64{0, 17, 3, 1 << 40}}
	b, err := json.Marshal(lc)
	if want := `{"conv1":0,"s1.3x3":17,"s1.1x1":3,"d1.3x3":1099511627776}`; err != nil || string(b) != want {
		t.Fatalf("Marshal = %s, %v; want %s", b, err, want)
	}
	var back LayerCounts
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Layers, lc.Layers) || !slices.Equal(back.Counts, lc.Counts) || back.Total() != 20+1<<40 {
		t.Errorf("read back %+v (total %d), want %+v", back, back.Total(), lc)
	}
	if err := json.Unmarshal([]byte("null"), &back); err != nil || len(back.Layers) != 0 {
		t.Errorf("null read as %+v, %v; want no layers", back, err)
	}
	for _, bad := range []string{`[1, 2]`, `{"conv1": "x"}`, `{"conv1": 1.5}`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("Unmarshal(%s) gave no error", bad)
		}
	}
}

// TestSummaryRoundTrip writes a summary the way the trainer does and reads it back: unmeasured
// accuracies stay null, counts keep their order, and Failed follows the status.
func TestSummaryRoundTrip(t *testing.T) {
	acc := Number(0.1)
	s := Summary{Arm: "randomout", Seed: 7, Status: StatusFailed, FinalTestAcc: &acc, ChanceAcc: 0.1, Steps: 468,
		ReinitsPerLayer: LayerCounts{Layers: []string{"conv2", "conv1"}, Counts: []int64{5, 0}}}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Summary
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.FinalTestAcc == nil || *back.FinalTestAcc != acc || back.BestTestAcc != nil || back.Steps != 468 ||
		!slices.Equal(back.ReinitsPerLayer.Layers, []string{"conv2", "conv1"}) {
		t.Errorf("read back %+v from %s", back, b)
	}
	for status, failed := range map[string]bool{StatusOK: false, StatusFailed: true, StatusDiverged: true} {
		if s := (Summary{Status: status}); s.Failed() != failed {
			t.Errorf("status %s: Failed() = %v, want %v", status, s.Failed(), failed)
		}
	}
}
