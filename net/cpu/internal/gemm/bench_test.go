package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// The GEMMs of a training step of inception28 (batch 32) and convnet-small (batch 128), the
// largest by FLOPs: forward (A = weights), backward data (A transposed) and backward filter
// (B transposed). Run single-threaded, beside gonum's Sgemm and one core's FMA peak (and, for the
// products with the weights, with them packed beforehand as convolutions do):
//
//	go test -run '^$' -bench . -cpu 1 ./net/cpu/internal/gemm
var benchShapes = []struct {
	name    string
	tA, tB  bool
	m, n, k int
}{
	{"inception28/fwd_160x392x3024", false, false, 160, 392, 3024},
	{"inception28/bwd-data_3024x392x160", true, false, 3024, 392, 160},
	{"inception28/bwd-filter_160x3024x392", false, true, 160, 3024, 392},
	{"inception28/fwd_96x392x1296", false, false, 96, 392, 1296},
	{"inception28/fwd_32x784x864", false, false, 32, 784, 864},
	{"convnet-small/fwd_128x384x576", false, false, 128, 384, 576},
	{"convnet-small/bwd-data_576x384x128", true, false, 576, 384, 128},
	{"convnet-small/bwd-filter_128x576x384", false, true, 128, 576, 384},
	{"convnet-small/fwd_64x512x288", false, false, 64, 512, 288},
	{"convnet-small/fwd_32x1024x27", false, false, 32, 1024, 27},
}

func BenchmarkSgemm(b *testing.B) {
	impls := []struct {
		name string
		f    func(tA, tB bool, m, n, k int, a []float32, lda int, bb []float32, ldb int, c []float32, ldc int)
	}{
		{"gonum", func(tA, tB bool, m, n, k int, a []float32, lda int, bb []float32, ldb int, c []float32, ldc int) {
			ta, tb := blas.NoTrans, blas.NoTrans
			if tA {
				ta = blas.Trans
			}
			if tB {
				tb = blas.Trans
			}
			gonum.Implementation{}.Sgemm(ta, tb, m, n, k, 1, a, lda, bb, ldb, 0, c, ldc)
		}},
	}
	var bufs Buffers
	for _, kern := range kernels() {
		impls = append(impls, struct {
			name string
			f    func(tA, tB bool, m, n, k int, a []float32, lda int, bb []float32, ldb int, c []float32, ldc int)
		}{kern, func(tA, tB bool, m, n, k int, a []float32, lda int, bb []float32, ldb int, c []float32, ldc int) {
			withKernel(b, kern, func() { bufs.Sgemm(tA, tB, m, n, k, a, lda, bb, ldb, 0, c, ldc) })
		}})
	}
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range benchShapes {
		a := make([]float32, s.m*s.k)
		bm := make([]float32, s.k*s.n)
		c := make([]float32, s.m*s.n)
		for _, x := range [][]float32{a, bm} {
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
		}
		lda, ldb := s.k, s.n
		if s.tA {
			lda = s.m
		}
		if s.tB {
			ldb = s.k
		}
		for _, im := range impls {
			b.Run(fmt.Sprintf("%s/%s", s.name, im.name), func(b *testing.B) {
				cpu0 := cpuSeconds()
				for b.Loop() {
					im.f(s.tA, s.tB, s.m, s.n, s.k, a, lda, bm, ldb, c, s.n)
				}
				report(b, 2*float64(s.m*s.n*s.k)*float64(b.N), cpuSeconds()-cpu0, cpu0 >= 0)
			})
		}
		if s.tB || Kernel != "fma" {
			continue
		}
		// The forward and data-gradient products (B untransposed) multiply the weights, which a
		// convolution packs once for all the chunks of its batch (PackedA): timed here with
		// A packed before the loop, so that only B's panels are packed in it.
		b.Run(s.name+"/fma-prepacked", func(b *testing.B) {
			var pa PackedA
			pa.Pack(s.tA, s.m, s.k, a, lda)
			cpu0 := cpuSeconds()
			for b.Loop() {
				bufs.SgemmPrepacked(&pa, s.n, bufs.Matrix(false, s.k, s.n, bm, ldb), 0, c, s.n)
			}
			report(b, 2*float64(s.m*s.n*s.k)*float64(b.N), cpuSeconds()-cpu0, cpu0 >= 0)
		})
	}
}

// report gives GFLOP/s over wall time and, where the process's CPU time is known, GFLOP per
// CPU-second, which stays near one core's rate when other work shares the machine.
func report(b *testing.B, flops, cpu float64, known bool) {
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if known && cpu > 0 {
		b.ReportMetric(flops/cpu/1e9, "GFLOP/cpu-s")
	}
}
