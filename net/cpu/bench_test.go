package cpu

import (
	"testing"

	"rout/net"
	"rout/net/cpu/internal/gemm"
)

// Convolutions of inception28's shapes at batch 32, and of convnet-small's at batch 64. Run with
//
//	go test -tags nocuda -run XXX -bench Conv -benchtime 3x ./net/cpu
var benchConvs = []struct {
	name string
	cc   convCase
}{
	{"3x3_96to32_28x28", convCase{32, 96, 28, 28, 32, 3, 3, net.ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}}},
	{"1x1_96to32_28x28", convCase{32, 96, 28, 28, 32, 1, 1, net.ConvParams{StrideH: 1, StrideW: 1}}},
	{"3x3s2_80to80_28x28", convCase{32, 80, 28, 28, 80, 3, 3, net.ConvParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}}},
	{"3x3_144to96_14x14", convCase{32, 144, 14, 14, 96, 3, 3, net.ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}}},
	{"1x1_160to176_7x7", convCase{32, 160, 7, 7, 176, 1, 1, net.ConvParams{StrideH: 1, StrideW: 1}}},
	{"3x3_336to160_7x7", convCase{32, 336, 7, 7, 160, 3, 3, net.ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}}},
	// convnet-small's three layers as the quick preset trains them (28x28 crops, batch 64).
	{"small_3x3_3to32_28x28", convCase{64, 3, 28, 28, 32, 3, 3, net.ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}}},
	{"small_3x3_32to64_14x14", convCase{64, 32, 14, 14, 64, 3, 3, net.ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}}},
	{"small_3x3_64to128_7x7", convCase{64, 64, 7, 7, 128, 3, 3, net.ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}}},
}

// reportFlops reports GFLOP/s over wall time and, when the process's CPU time is known, GFLOP
// per CPU-second: on a machine shared with other work, wall-clock rates fall with the load while
// the rate per CPU-second stays near what each core does alone.
func reportFlops(b *testing.B, flops, cpu float64, known bool) {
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if known && cpu > 0 {
		b.ReportMetric(flops/cpu/1e9, "GFLOP/cpu-s")
	}
}

func BenchmarkConv(b *testing.B) {
	for _, bc := range benchConvs {
		cc := bc.cc
		oh, ow := cc.p.OutSize(cc.h, cc.w, cc.kh, cc.kw)
		flops := 2 * float64(cc.n*cc.k*cc.c*cc.kh*cc.kw*oh*ow)
		be := newBackend(b, 0)
		r := newRand(1)
		x := randTensor(b, be, r, cc.n, cc.c, cc.h, cc.w, false)
		w := randTensor(b, be, r, cc.k, cc.c, cc.kh, cc.kw, false)
		bias := randTensor(b, be, r, cc.k, 1, 1, 1, false)
		y := randTensor(b, be, r, cc.n, cc.k, oh, ow, false)
		for _, op := range []struct {
			name string
			f    func()
		}{
			{"Forward", func() { be.ConvForward(x, w, bias, y, cc.p) }},
			{"BackwardData", func() { be.ConvBackwardData(y, w, x, cc.p, false) }},
			{"BackwardFilter", func() { be.ConvBackwardFilter(x, y, w, bias, cc.p) }},
		} {
			b.Run(op.name+"/"+bc.name, func(b *testing.B) {
				op.f()
				b.ResetTimer()
				cpu0 := cpuSeconds()
				for i := 0; i < b.N; i++ {
					op.f()
				}
				reportFlops(b, flops*float64(b.N), cpuSeconds()-cpu0, cpu0 >= 0)
			})
		}
	}
}

// BenchmarkIm2col times the im2col passes alone on the same shapes (one thread, the whole
// batch), to show their share of a convolution's time: packing the patches into the GEMM's
// panels as the forward pass does, and col2im.
func BenchmarkIm2col(b *testing.B) {
	for _, bc := range benchConvs {
		cc := bc.cc
		be := newBackend(b, 1)
		r := newRand(1)
		x := randTensor(b, be, r, cc.n, cc.c, cc.h, cc.w, false)
		w := randTensor(b, be, r, cc.k, cc.c, cc.kh, cc.kw, false)
		oh, ow := cc.p.OutSize(cc.h, cc.w, cc.kh, cc.kw)
		y := randTensor(b, be, r, cc.n, cc.k, oh, ow, false)
		g := convGeometry("bench", x, w, y, cc.p)
		const kc = 256 // the GEMM's slab depth
		col := make([]float32, g.ckk*g.p)
		pack := make([]float32, kc*(g.p+gemm.Strip))
		xd := data(x)
		b.Run("pack/"+bc.name, func(b *testing.B) {
			var q patches
			for i := 0; i < b.N; i++ {
				for n := 0; n < cc.n; n++ {
					q.reuse(&g, xd, x, n, 1, 0, false)
					for p0 := 0; p0 < g.ckk; p0 += kc {
						kp := min(kc, g.ckk-p0)
						q.PackB(pack[:(g.p+gemm.Strip-1)/gemm.Strip*gemm.Strip*kp], p0, kp, 0, g.p)
					}
				}
			}
		})
		b.Run("col2im/"+bc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				for n := 0; n < cc.n; n++ {
					col2im(col, g.p, sample(xd, x, n), &g)
				}
			}
		})
	}
}

// The pooling and ReLU shapes of convnet-small's first two layers and inception28's first
// downsampling block, at batch 128.
var benchPools = []struct {
	name       string
	n, c, h, w int
	p          net.PoolParams
}{
	{"max2x2s2_32x28x28", 128, 32, 28, 28, pp(net.MaxPool, 2, 2, 0, false)},
	{"max2x2s2_64x14x14", 128, 64, 14, 14, pp(net.MaxPool, 2, 2, 0, false)},
	{"max3x3s2ceil_80x28x28", 128, 80, 28, 28, pp(net.MaxPool, 3, 2, 0, true)},
}

// BenchmarkPool times pooling forward and backward on the whole batch.
func BenchmarkPool(b *testing.B) {
	for _, bp := range benchPools {
		be := newBackend(b, 0)
		r := newRand(1)
		oh, ow := bp.p.OutSize(bp.h, bp.w)
		x := randTensor(b, be, r, bp.n, bp.c, bp.h, bp.w, false)
		dx := randTensor(b, be, r, bp.n, bp.c, bp.h, bp.w, false)
		y := randTensor(b, be, r, bp.n, bp.c, oh, ow, false)
		dy := randTensor(b, be, r, bp.n, bp.c, oh, ow, false)
		b.Run("Forward/"+bp.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				be.PoolForward(x, y, bp.p)
			}
		})
		b.Run("Backward/"+bp.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				be.PoolBackward(x, y, dy, dx, bp.p, false)
			}
		})
	}
}

// BenchmarkReLU times ReLU forward and backward on convnet-small's first conv output at batch
// 128, where about half of the outputs are zero.
func BenchmarkReLU(b *testing.B) {
	be := newBackend(b, 0)
	r := newRand(1)
	x := randTensor(b, be, r, 128, 32, 28, 28, false)
	y := randTensor(b, be, r, 128, 32, 28, 28, false)
	dy := randTensor(b, be, r, 128, 32, 28, 28, false)
	dx := randTensor(b, be, r, 128, 32, 28, 28, false)
	be.ReLUForward(x, y)
	b.Run("Forward", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			be.ReLUForward(x, y)
		}
	})
	b.Run("Backward", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			be.ReLUBackward(y, dy, dx)
		}
	})
}
