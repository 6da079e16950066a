package gemm

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// exactFMA is x*y+z rounded once to float32, computed with big.Float.
func exactFMA(x, y, z float32) float32 {
	p := new(big.Float).SetPrec(400).Mul(big.NewFloat(float64(x)).SetPrec(400), big.NewFloat(float64(y)))
	p.Add(p, big.NewFloat(float64(z)))
	f, _ := p.Float32()
	return f
}

func checkFMA32(t *testing.T, x, y, z float32) {
	t.Helper()
	if math.IsNaN(float64(x)) || math.IsNaN(float64(y)) || math.IsNaN(float64(z)) {
		return
	}
	xy := float64(x) * float64(y)
	if math.IsInf(float64(x), 0) || math.IsInf(float64(y), 0) || math.IsInf(float64(z), 0) || math.IsInf(xy, 0) {
		return // big.Float has no NaN for inf-inf; the hardware cases below cover infinities
	}
	got, want := fma32(x, y, z), exactFMA(x, y, z)
	if math.Float32bits(got) != math.Float32bits(want) && !(got == 0 && want == 0) {
		t.Fatalf("fma32(%g, %g, %g) = %g (%#08x), want %g (%#08x)", x, y, z, got, math.Float32bits(got), want, math.Float32bits(want))
	}
}

// TestFMA32 checks fma32 against exact arithmetic on random operands and on sums that fall
// exactly halfway between two float32s once rounded to float64, where rounding twice goes wrong.
func TestFMA32(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 200000 {
		checkFMA32(t, float32(r.NormFloat64()), float32(r.NormFloat64()), float32(r.NormFloat64()))
		// Raw bit patterns: every exponent, subnormals included.
		checkFMA32(t, math.Float32frombits(r.Uint32()), math.Float32frombits(r.Uint32()), math.Float32frombits(r.Uint32()))
	}
	// x*y = 1 + 2^-24 + 2^-48 (just above halfway between 1 and its float32 successor, but
	// 1 + 2^-24 in float64 once z's tiny contribution is lost): the right answer rounds up.
	x := float32(1 + 0x1p-24*2) // 1 + 2^-23
	y := float32(1 - 0x1p-24)   // 1 - 2^-24
	// x*y = 1 + 2^-23 - 2^-24 - 2^-47 = 1 + 2^-24 - 2^-47: below the midpoint; with z = 2^-47
	// + 2^-60 it lands above it by 2^-60, which float64 (53 bits) cannot hold next to 1.
	z := float32(0x1p-47 + 0x1p-60)
	checkFMA32(t, x, y, z)
	if got := fma32(x, y, z); got != 1+0x1p-23 {
		t.Errorf("fma32 halfway case = %.10g, want 1+2^-23", got)
	}
	if got := float32(float64(x)*float64(y) + float64(z)); got == 1+0x1p-23 {
		t.Errorf("the halfway case does not exercise double rounding")
	}
	// Sign and infinities as the instruction gives them.
	inf := float32(math.Inf(1))
	if got := fma32(inf, 2, 1); got != inf {
		t.Errorf("fma32(inf, 2, 1) = %g", got)
	}
	if got := fma32(inf, 0, 1); !math.IsNaN(float64(got)) {
		t.Errorf("fma32(inf, 0, 1) = %g, want NaN", got)
	}
}

// TestFMA32MatchesHardware compares fma32 with the FMA kernel on the same random bits.
func TestFMA32MatchesHardware(t *testing.T) {
	if !haveFMA {
		t.Skip("this CPU has no FMA kernel")
	}
	r := rand.New(rand.NewPCG(9, 10))
	a, b := make([]float32, mr), make([]float32, nr)
	c, want := make([]float32, mr*nr), make([]float32, mr*nr)
	for range 20000 {
		for i := range a {
			a[i] = math.Float32frombits(r.Uint32())
		}
		for i := range b {
			b[i] = math.Float32frombits(r.Uint32())
		}
		for i := range c {
			c[i] = math.Float32frombits(r.Uint32())
			want[i] = c[i]
		}
		kernelFMA(1, &a[0], &b[0], &c[0], nr, true, 1)
		kernelGo(1, a, b, want, nr, true)
		for i := range c {
			g, w := c[i], want[i]
			if math.Float32bits(g) != math.Float32bits(w) && !(math.IsNaN(float64(g)) && math.IsNaN(float64(w))) {
				t.Fatalf("fma(%g, %g, c): hardware %g (%#08x), fma32 %g (%#08x)", a[i/nr], b[i%nr], g, math.Float32bits(g), w, math.Float32bits(w))
			}
		}
	}
}

func FuzzFMA32(f *testing.F) {
	f.Add(uint32(0x3f800001), uint32(0x3f7fffff), uint32(0x28000000))
	f.Fuzz(func(t *testing.T, x, y, z uint32) {
		checkFMA32(t, math.Float32frombits(x), math.Float32frombits(y), math.Float32frombits(z))
	})
}
