package gemm

import "math"

// kernelGo is the portable micro-kernel and the definition of both: for every p < k in order,
// c[i*ldc+j] = fma32(a[p*mr+i], b[p*nr+j], c[i*ldc+j]) for the mr x nr tile, starting from C's
// values when load is set and from zero otherwise.
func kernelGo(k int, a, b, c []float32, ldc int, load bool) {
	var acc [mr][nr]float32
	if load {
		for i := range acc {
			copy(acc[i][:], c[i*ldc:i*ldc+nr])
		}
	}
	for p := 0; p < k; p++ {
		ap := a[p*mr : p*mr+mr]
		bp := (*[nr]float32)(b[p*nr : p*nr+nr])
		for i, x := range ap {
			row := &acc[i]
			for j, y := range bp {
				// fma32(x, y, row[j]), its common case written out here since Go
				// does not inline fma32 (it is over the inliner's budget).
				p := float64(x) * float64(y)
				s := p + float64(row[j])
				if b := math.Float64bits(s); b&fmaLow != 1<<28 && b>>52&0x7ff >= 1023-126 {
					row[j] = float32(s)
				} else {
					row[j] = fma32Rare(p, s, row[j])
				}
			}
		}
	}
	for i := range acc {
		copy(c[i*ldc:i*ldc+nr], acc[i][:])
	}
}

// fma32 returns x*y+z rounded once to float32, as the FMA instruction does. The product of two
// float32s is exact in float64, so s = x*y+z rounded to float64 is that instruction's sum
// rounded once; rounding s again to float32 is right unless s fell exactly halfway between two
// float32s (or in float32's subnormal range, where this test does not apply), and there the
// sum's rounding error e decides: s is moved one float64 step towards the exact sum (rounding
// to odd), which float32 then rounds correctly.
func fma32(x, y, z float32) float32 {
	p := float64(x) * float64(y)
	s := p + float64(z)
	// The common case, small enough to inline: s is not halfway between two float32s and not
	// below float32's normal range (a biased float64 exponent of 1023-126 or more).
	if b := math.Float64bits(s); b&fmaLow != 1<<28 && b>>52&0x7ff >= 1023-126 {
		return float32(s)
	}
	return fma32Rare(p, s, z)
}

// fmaLow masks the float64 mantissa bits that float32 drops.
const fmaLow = 1<<29 - 1

// fma32Rare finishes fma32 where rounding s to float32 needs its rounding error.
func fma32Rare(p, s float64, z float32) float32 {
	if s == 0 || math.IsInf(s, 0) || math.IsNaN(s) {
		return float32(s)
	}
	bits := math.Float64bits(s)
	bb := s - p
	e := (p - (s - bb)) + (float64(z) - bb) // s + e == p + z exactly
	if e != 0 && bits&1 == 0 {
		if (e > 0) == (s > 0) {
			bits++
		} else {
			bits--
		}
	}
	return float32(math.Float64frombits(bits))
}
