package trainer

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestSafetensorsFormat checks the bytes written against the safetensors spec: an 8-byte
// little-endian header length, a JSON header of dtype/shape/data_offsets per tensor plus
// __metadata__, then the raw little-endian data; and reads a file built by hand from the spec.
func TestSafetensorsFormat(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.safetensors")
	err := writeSafetensors(path, map[string]tensorData{
		"w": {Shape: []uint64{2}, Data: []float32{1.5, -2}},
		"b": {Shape: []uint64{1, 1}, Data: []float32{0.25}},
	}, map[string]string{"step": "12"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(raw)
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+n], &hdr); err != nil {
		t.Fatalf("header: %v", err)
	}
	var meta map[string]string
	json.Unmarshal(hdr["__metadata__"], &meta)
	if meta["step"] != "12" {
		t.Errorf("metadata %v", meta)
	}
	body := raw[8+n:]
	for name, want := range map[string][]float32{"w": {1.5, -2}, "b": {0.25}} {
		var info struct {
			DType   string   `json:"dtype"`
			Shape   []uint64 `json:"shape"`
			Offsets [2]int   `json:"data_offsets"`
		}
		if err := json.Unmarshal(hdr[name], &info); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if info.DType != "F32" || info.Offsets[1]-info.Offsets[0] != 4*len(want) {
			t.Fatalf("%s: %+v", name, info)
		}
		for i, w := range want {
			if got := math.Float32frombits(binary.LittleEndian.Uint32(body[info.Offsets[0]+4*i:])); got != w {
				t.Errorf("%s[%d] = %v, want %v", name, i, got, w)
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the atomic write left %d files", len(entries))
	}

	// A file made by hand from the spec.
	header := `{"x":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"__metadata__":{"format":"hand"}}`
	hand := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	hand = append(hand, header...)
	hand = binary.LittleEndian.AppendUint32(hand, math.Float32bits(3))
	hand = binary.LittleEndian.AppendUint32(hand, math.Float32bits(-0.5))
	hp := filepath.Join(dir, "hand.safetensors")
	os.WriteFile(hp, hand, 0o644)
	ts, md, err := readSafetensors(hp)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ts["x"].Data, []float32{3, -0.5}) || !slices.Equal(ts["x"].Shape, []uint64{1, 2}) || md["format"] != "hand" {
		t.Errorf("read %v %v", ts, md)
	}
	// Truncated, or not a rout checkpoint: errors naming the file.
	os.WriteFile(hp, hand[:len(hand)-3], 0o644)
	if _, _, err := readSafetensors(hp); err == nil {
		t.Error("a truncated file was read")
	}
	if _, err := readCheckpoint(path); err == nil {
		t.Error("a safetensors file without rout metadata was taken for a checkpoint")
	}
}
