package net

import (
	"bytes"
	"testing"
)

// FuzzSpec feeds arbitrary text to the model-file parser. What it accepts must plan (or be
// refused by the planner with an error), write back as TOML that parses to the same file, and
// have a memory estimate.
func FuzzSpec(f *testing.F) {
	for _, name := range BuiltinModels() {
		b, err := builtinFS.ReadFile("models/" + name + ".toml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("[[layer]]\ntype = \"conv\"\nfilters = 2\nkernel = [3, 1]\nstride = 2\n[[layer]]\ntype = \"dense\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSpec(b, "fuzz.toml")
		if err != nil {
			return
		}
		again, err := ParseSpec(s.TOML(), "fuzz.toml")
		if err != nil {
			t.Fatalf("the TOML of an accepted spec does not parse: %v\n%s", err, s.TOML())
		}
		if !bytes.Equal(again.TOML(), s.TOML()) {
			t.Fatalf("TOML does not round-trip:\n%s\n---\n%s", s.TOML(), again.TOML())
		}
		sum, err := Summarize(s, s.Input, 3)
		if err != nil {
			return
		}
		m, err := EstimateMemory(s, 2, s.Input, 3, 2, 2)
		if err != nil {
			t.Fatalf("planned but no estimate: %v", err)
		}
		if m.Params != 4*int64(sum.Params) || m.Total() < m.Params || m.Activations <= 0 {
			t.Fatalf("estimate %+v for %d parameters", m, sum.Params)
		}
	})
}
