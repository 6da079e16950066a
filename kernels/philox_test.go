//go:build !nocuda

package kernels

import (
	"math"
	"testing"

	"rout/rng"
)

// TestPhiloxTwin compares philox.cuh, compiled as host C, with package rng: the same blocks for
// keys and counters across the whole 32-bit range, and the same Symmetric values.
func TestPhiloxTwin(t *testing.T) {
	s := rng.NewStream(rng.KeyFromSeed(7), rng.StreamData, 5, 0)
	for i := 0; i < 2000; i++ {
		key := rng.Key{s.Uint32(), s.Uint32()}
		ctr := rng.Counter{s.Uint32(), s.Uint32(), s.Uint32(), s.Uint32()}
		if i == 0 {
			key, ctr = rng.Key{}, rng.Counter{}
		}
		want := rng.Block(key, ctr)
		if got := hostPhilox(key, ctr); got != want {
			t.Fatalf("key %x counter %x: philox.cuh gives %x, rng.Block %x", key, ctr, got, want)
		}
		for _, x := range want {
			if got, w := hostSymmetric(x), rng.Symmetric(x); math.Float32bits(got) != math.Float32bits(w) {
				t.Fatalf("symmetric(%#x): philox.cuh gives %v, rng %v", x, got, w)
			}
		}
	}
	for _, x := range []uint32{0, 0xff, 0x100, 0x7fffffff, 0x80000000, 0xffffffff} {
		if got, w := hostSymmetric(x), rng.Symmetric(x); got != w {
			t.Fatalf("symmetric(%#x): philox.cuh gives %v, rng %v", x, got, w)
		}
	}
}
