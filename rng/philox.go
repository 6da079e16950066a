// Package rng is rout's one source of randomness: Philox4x32-10, a counter-based generator
// (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011).
//
// A draw is a pure function of (key, counter), so any element of any tensor can be drawn
// independently, in any order, on the CPU or in a CUDA kernel, and come out bit-identical.
// rout keys every draw by the run's seed and addresses it by a Counter whose words say what
// the draw is for (see Counter). kernels/philox.cuh is the CUDA twin of this file.
package rng

import "math/bits"

const (
	mul0 = 0xD2511F53
	mul1 = 0xCD9E8D57
	wey0 = 0x9E3779B9 // golden ratio
	wey1 = 0xBB67AE85 // sqrt(3) - 1
)

// Key is Philox's 64-bit key, the run's seed split into two words.
type Key [2]uint32

// KeyFromSeed splits a 64-bit seed into a Key (low word first).
func KeyFromSeed(seed uint64) Key { return Key{uint32(seed), uint32(seed >> 32)} }

// Counter is Philox's 128-bit counter. rout's convention, shared with the CUDA kernels:
//
//	[0] block index inside the item (each block gives 4 draws)
//	[1] item index (a filter, an example)
//	[2] group (a layer, or a data stream)
//	[3] purpose: 0 for initialisation, step+1 for a RandomOut re-draw at that step,
//	    or one of the Stream constants for data order and augmentation.
type Counter [4]uint32

// Block returns the four 32-bit words that Philox4x32-10 gives for (key, ctr).
func Block(key Key, ctr Counter) [4]uint32 {
	k0, k1 := key[0], key[1]
	c := ctr
	for i := 0; i < 10; i++ {
		hi0, lo0 := bits.Mul32(mul0, c[0])
		hi1, lo1 := bits.Mul32(mul1, c[2])
		c = Counter{hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0}
		k0 += wey0
		k1 += wey1
	}
	return c
}

// Uint32 is draw number i of the item addressed by (group, item, purpose): word i%4 of block i/4.
func Uint32(key Key, purpose, group, item uint32, i int) uint32 {
	b := Block(key, Counter{uint32(i / 4), item, group, purpose})
	return b[i%4]
}

// Symmetric maps a 32-bit draw to a float32 in [-1, 1) using its top 24 bits. The result is
// exact (no rounding), so multiplying by a bound is a single correctly rounded float32
// operation on every device: the CPU and the GPU agree bit for bit.
func Symmetric(x uint32) float32 {
	return float32(int32(x>>8)-(1<<23)) * (1.0 / (1 << 23))
}

// Unit maps a 32-bit draw to a float32 in [0, 1) using its top 24 bits, exactly.
func Unit(x uint32) float32 {
	return float32(x>>8) * (1.0 / (1 << 24))
}

// Streams used in Counter[3] for data-side draws. Initialisation and re-draws use 0 and
// step+1, which stay far below these for any real run.
const (
	StreamShuffle = 0xFFFF0001 // epoch permutations
	StreamAugment = 0xFFFF0002 // random crops and flips
	StreamSplit   = 0xFFFF0003 // validation split
	StreamData    = 0xFFFF0004 // procedurally drawn datasets
)

// Stream is a sequential reader over one (key, purpose, group, item) address, for code that
// wants many draws in order (shuffles, procedural data). Draw n of a Stream equals
// Uint32(key, purpose, group, item, n), whatever the split of the requests.
type Stream struct {
	key Key
	ctr Counter
	buf [4]uint32
	n   int // draws taken so far
}

// NewStream starts a stream at draw 0.
func NewStream(key Key, purpose, group, item uint32) *Stream {
	return &Stream{key: key, ctr: Counter{0, item, group, purpose}}
}

// Uint32 returns the next draw.
func (s *Stream) Uint32() uint32 {
	if s.n%4 == 0 {
		s.ctr[0] = uint32(s.n / 4)
		s.buf = Block(s.key, s.ctr)
	}
	x := s.buf[s.n%4]
	s.n++
	return x
}

// Float32 returns the next draw as a float32 in [0, 1).
func (s *Stream) Float32() float32 { return Unit(s.Uint32()) }

// Intn returns a uniform integer in [0, n) by Lemire's multiply-and-reject method, so there is no
// modulo bias. n must be positive and fit in 32 bits.
func (s *Stream) Intn(n int) int {
	if n <= 0 || n > 1<<32-1 {
		panic("rng: Intn bound out of range")
	}
	bound := uint32(n)
	hi, lo := bits.Mul32(s.Uint32(), bound)
	if lo < bound {
		threshold := -bound % bound
		for lo < threshold {
			hi, lo = bits.Mul32(s.Uint32(), bound)
		}
	}
	return int(hi)
}

// Perm returns a Fisher-Yates permutation of [0, n).
func (s *Stream) Perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := s.Intn(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}
