package trainer

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/nlpodyssey/safetensors"

	"rout/internal/atomicfile"
)

// tensorData is one named float32 tensor of a checkpoint.
type tensorData struct {
	Shape []uint64
	Data  []float32
}

// writeSafetensors writes tensors (F32, little-endian) and string metadata to path in the
// safetensors format, atomically: a temporary file in the same folder, fsynced, renamed over
// path, and the folder fsynced, so a crash leaves the old file or the new one, never a mix.
func writeSafetensors(path string, tensors map[string]tensorData, meta map[string]string) error {
	views := make(map[string]safetensors.TensorView, len(tensors))
	for name, t := range tensors {
		n := uint64(1)
		for _, d := range t.Shape {
			n *= d
		}
		if n != uint64(len(t.Data)) {
			return fmt.Errorf("checkpoint %s: tensor %s has %d values for shape %v", path, name, len(t.Data), t.Shape)
		}
		buf := make([]byte, 4*len(t.Data))
		for i, v := range t.Data {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		tv, err := safetensors.NewTensorView(safetensors.F32, t.Shape, buf)
		if err != nil {
			return fmt.Errorf("checkpoint %s: tensor %s: %w", path, name, err)
		}
		views[name] = tv
	}
	data, err := safetensors.Serialize(views, meta)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return atomicfile.Write(path, data)
}

// readSafetensors reads a file written by writeSafetensors (or any safetensors file whose
// tensors are all F32).
func readSafetensors(path string) (map[string]tensorData, map[string]string, error) {
	raw, err := readCheckpointFile(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := deserialize(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint %s: not a valid safetensors file: %w", path, err)
	}
	_, md, err := safetensors.ReadMetadata(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	out := map[string]tensorData{}
	for _, nt := range st.Tensors() {
		tv := nt.TensorView
		if tv.DType() != safetensors.F32 {
			return nil, nil, fmt.Errorf("checkpoint %s: tensor %s is %s, want F32", path, nt.Name, tv.DType())
		}
		b := tv.Data()
		d := make([]float32, len(b)/4)
		for i := range d {
			d[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		out[nt.Name] = tensorData{Shape: tv.Shape(), Data: d}
	}
	return out, md.Metadata(), nil
}

// deserialize parses a safetensors file, turning a panic of the parser on damaged bytes into
// an error (rout does not let a file's contents crash it).
func deserialize(raw []byte) (st safetensors.SafeTensors, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("damaged: %v", p)
		}
	}()
	return safetensors.Deserialize(raw)
}
