package gemm

import "testing"

// BenchmarkFMAPeak measures one core's single-precision FMA throughput: 12 independent 8-wide
// FMAs a round, no memory traffic.
func BenchmarkFMAPeak(b *testing.B) {
	if !haveFMA {
		b.Skip("no FMA kernel on this CPU")
	}
	const rounds = 1 << 20
	cpu0 := cpuSeconds()
	for b.Loop() {
		fmaPeak(rounds)
	}
	report(b, 192*rounds*float64(b.N), cpuSeconds()-cpu0, cpu0 >= 0)
}
