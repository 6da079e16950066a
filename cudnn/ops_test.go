//go:build !nocuda

package cudnn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func dense(t *testing.T, c *Context, n, ch, h, w int) *TensorDesc {
	t.Helper()
	d, err := c.NewTensor(n, ch, h, w)
	must(t, err)
	t.Cleanup(func() { d.Close() })
	return d
}

func TestActivationsAgainstFloat64(t *testing.T) {
	c := parity(t)
	r := rand.New(rand.NewPCG(5, 6))
	const n = 2 * 3 * 4 * 5
	x := randVec(r, n)
	for i := range x {
		if x[i] == 0 {
			x[i] = 0.25
		}
	}
	dy := randVec(r, n)
	d := dense(t, c, 2, 3, 4, 5)
	for _, m := range []struct {
		mode ActivationMode
		f    func(x float64) float64
		df   func(x, y float64) float64
	}{
		{ActivationReLU, func(x float64) float64 { return math.Max(x, 0) }, func(x, y float64) float64 {
			if x > 0 {
				return 1
			}
			return 0
		}},
		{ActivationSigmoid, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }, func(x, y float64) float64 { return y * (1 - y) }},
		{ActivationTanh, math.Tanh, func(x, y float64) float64 { return 1 - y*y }},
	} {
		t.Run(fmt.Sprint(m.mode), func(t *testing.T) {
			a, err := c.NewActivation(m.mode, 0)
			must(t, err)
			defer a.Close()
			xb, yb, dyb, dxb := upload(t, c, x), upload(t, c, make([]float32, n)), upload(t, c, dy), upload(t, c, make([]float32, n))
			must(t, c.ActivationForward(a, 1, d, xb.Ptr(), 0, d, yb.Ptr()))
			y := download(t, yb)
			wantY, wantDx := make([]float64, n), make([]float64, n)
			for i := range x {
				wantY[i] = m.f(float64(x[i]))
				wantDx[i] = float64(dy[i]) * m.df(float64(x[i]), wantY[i])
			}
			near(t, "forward", y, wantY, 1e-5, 1e-5)
			must(t, c.ActivationBackward(a, 1, d, yb.Ptr(), d, dyb.Ptr(), d, xb.Ptr(), 0, d, dxb.Ptr()))
			near(t, "backward", download(t, dxb), wantDx, 1e-5, 1e-5)
		})
	}
	// In place, as the Backend's ReLUForward allows (y may be x).
	a, err := c.NewActivation(ActivationReLU, 0)
	must(t, err)
	defer a.Close()
	xb := upload(t, c, x)
	must(t, c.ActivationForward(a, 1, d, xb.Ptr(), 0, d, xb.Ptr()))
	for i, v := range download(t, xb) {
		if want := max(x[i], 0); v != want {
			t.Fatalf("in-place relu [%d] = %g, want %g", i, v, want)
		}
	}
}

type poolCase struct {
	mode                   PoolingMode
	N, C, H, W             int
	kh, kw, ph, pw, sh, sw int
}

func TestPoolingAgainstFloat64(t *testing.T) {
	for i, pc := range []poolCase{
		{PoolMax, 2, 3, 9, 9, 3, 3, 1, 1, 2, 2},
		{PoolMax, 1, 2, 7, 6, 2, 2, 0, 0, 2, 2},
		{PoolAvgExcludePad, 2, 2, 7, 7, 3, 3, 1, 1, 1, 1},
		{PoolAvgIncludePad, 1, 3, 6, 5, 3, 3, 1, 1, 2, 2},
		{PoolAvgExcludePad, 2, 4, 7, 7, 7, 7, 0, 0, 1, 1}, // the global average pool of inception28
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) { testPool(t, parity(t), pc) })
	}
}

func testPool(t *testing.T, c *Context, pc poolCase) {
	r := rand.New(rand.NewPCG(7, uint64(pc.H)))
	oh, ow := (pc.H+2*pc.ph-pc.kh)/pc.sh+1, (pc.W+2*pc.pw-pc.kw)/pc.sw+1
	nx, ny := pc.N*pc.C*pc.H*pc.W, pc.N*pc.C*oh*ow
	// Distinct values, so every max window has one maximum.
	x := make([]float32, nx)
	for i, p := range r.Perm(nx) {
		x[i] = float32(p)/float32(nx) - 0.5
	}
	dy := randVec(r, ny)
	p, err := c.NewPooling(pc.mode, pc.kh, pc.kw, pc.ph, pc.pw, pc.sh, pc.sw)
	must(t, err)
	defer p.Close()
	xd, yd := dense(t, c, pc.N, pc.C, pc.H, pc.W), dense(t, c, pc.N, pc.C, oh, ow)
	xb, yb, dyb := upload(t, c, x), upload(t, c, make([]float32, ny)), upload(t, c, dy)
	dx0 := randVec(r, nx)
	dxb := upload(t, c, dx0)

	wantY := make([]float64, ny)
	wantDx := widen(dx0) // backward accumulates (beta = 1)
	for nc := 0; nc < pc.N*pc.C; nc++ {
		for o := 0; o < oh; o++ {
			for q := 0; q < ow; q++ {
				yi := (nc*oh+o)*ow + q
				best, arg, sum, count := math.Inf(-1), -1, 0.0, 0
				for i := 0; i < pc.kh; i++ {
					for j := 0; j < pc.kw; j++ {
						h, w := o*pc.sh-pc.ph+i, q*pc.sw-pc.pw+j
						if h < 0 || h >= pc.H || w < 0 || w >= pc.W {
							continue
						}
						xi := (nc*pc.H+h)*pc.W + w
						v := float64(x[xi])
						sum += v
						count++
						if v > best {
							best, arg = v, xi
						}
					}
				}
				div := float64(count)
				if pc.mode == PoolAvgIncludePad {
					div = float64(pc.kh * pc.kw)
				}
				switch pc.mode {
				case PoolMax:
					wantY[yi] = best
					wantDx[arg] += float64(dy[yi])
				default:
					wantY[yi] = sum / div
					for i := 0; i < pc.kh; i++ {
						for j := 0; j < pc.kw; j++ {
							h, w := o*pc.sh-pc.ph+i, q*pc.sw-pc.pw+j
							if h >= 0 && h < pc.H && w >= 0 && w < pc.W {
								wantDx[(nc*pc.H+h)*pc.W+w] += float64(dy[yi]) / div
							}
						}
					}
				}
			}
		}
	}
	must(t, c.PoolingForward(p, 1, xd, xb.Ptr(), 0, yd, yb.Ptr()))
	near(t, "forward", download(t, yb), wantY, 1e-6, 1e-5)
	must(t, c.PoolingBackward(p, 1, yd, yb.Ptr(), yd, dyb.Ptr(), xd, xb.Ptr(), 1, xd, dxb.Ptr()))
	near(t, "backward (accumulated)", download(t, dxb), wantDx, 1e-5, 1e-5)
}

func TestBatchNormAgainstFloat64(t *testing.T) {
	c := parity(t)
	const N, C, H, W = 4, 3, 5, 5
	const M = N * H * W
	r := rand.New(rand.NewPCG(8, 9))
	x := randVec(r, N*C*H*W)
	for i := range x {
		x[i] = x[i]*2 + float32(i%C) // channels with different means
	}
	dy := randVec(r, len(x))
	scale, bias := randVec(r, C), randVec(r, C)
	runMean, runVar := randVec(r, C), []float32{1, 2, 0.5}
	xd := dense(t, c, N, C, H, W)
	pd, err := c.NewBatchNormParams(xd)
	must(t, err)
	defer pd.Close()
	bn := &BatchNorm{Param: pd, Eps: 1e-5, Momentum: 0.1}
	xb, yb, dyb, dxb := upload(t, c, x), upload(t, c, make([]float32, len(x))), upload(t, c, dy), upload(t, c, make([]float32, len(x)))
	sb, bb, rmb, rvb := upload(t, c, scale), upload(t, c, bias), upload(t, c, runMean), upload(t, c, runVar)
	smb, sib, dsb, dbb := upload(t, c, make([]float32, C)), upload(t, c, make([]float32, C)), upload(t, c, make([]float32, C)), upload(t, c, make([]float32, C))
	bn.Scale, bn.Bias, bn.RunMean, bn.RunVar = sb.Ptr(), bb.Ptr(), rmb.Ptr(), rvb.Ptr()
	bn.SaveMean, bn.SaveInvStd, bn.DScale, bn.DBias = smb.Ptr(), sib.Ptr(), dsb.Ptr(), dbb.Ptr()

	idx := func(n, ch, i int) int { return (n*C+ch)*H*W + i }
	mean, invStd := make([]float64, C), make([]float64, C)
	wantY, wantDx := make([]float64, len(x)), make([]float64, len(x))
	wantRM, wantRV, wantDs, wantDb := make([]float64, C), make([]float64, C), make([]float64, C), make([]float64, C)
	for ch := 0; ch < C; ch++ {
		s, ss := 0.0, 0.0
		for n := 0; n < N; n++ {
			for i := 0; i < H*W; i++ {
				s += float64(x[idx(n, ch, i)])
			}
		}
		mean[ch] = s / M
		for n := 0; n < N; n++ {
			for i := 0; i < H*W; i++ {
				d := float64(x[idx(n, ch, i)]) - mean[ch]
				ss += d * d
			}
		}
		v := ss / M
		invStd[ch] = 1 / math.Sqrt(v+bn.Eps)
		wantRM[ch] = 0.9*float64(runMean[ch]) + 0.1*mean[ch]
		wantRV[ch] = 0.9*float64(runVar[ch]) + 0.1*ss/(M-1)
		for n := 0; n < N; n++ {
			for i := 0; i < H*W; i++ {
				j := idx(n, ch, i)
				xh := (float64(x[j]) - mean[ch]) * invStd[ch]
				wantY[j] = float64(scale[ch])*xh + float64(bias[ch])
				wantDb[ch] += float64(dy[j])
				wantDs[ch] += float64(dy[j]) * xh
			}
		}
		for n := 0; n < N; n++ {
			for i := 0; i < H*W; i++ {
				j := idx(n, ch, i)
				xh := (float64(x[j]) - mean[ch]) * invStd[ch]
				wantDx[j] = float64(scale[ch]) * invStd[ch] / M * (M*float64(dy[j]) - wantDb[ch] - xh*wantDs[ch])
			}
		}
	}
	must(t, c.BatchNormForwardTraining(xd, xb.Ptr(), xd, yb.Ptr(), bn))
	near(t, "training y", download(t, yb), wantY, 1e-5, 1e-4)
	near(t, "saved mean", download(t, smb), mean, 1e-5, 1e-5)
	near(t, "saved inverse std", download(t, sib), invStd, 1e-5, 1e-4)
	near(t, "running mean", download(t, rmb), wantRM, 1e-5, 1e-5)
	near(t, "running variance (unbiased)", download(t, rvb), wantRV, 1e-5, 1e-4)

	must(t, c.BatchNormBackward(xd, xb.Ptr(), xd, dyb.Ptr(), xd, dxb.Ptr(), bn, false))
	near(t, "dx", download(t, dxb), wantDx, 1e-5, 1e-4)
	near(t, "dscale", download(t, dsb), wantDs, 1e-4, 1e-4)
	near(t, "dbias", download(t, dbb), wantDb, 1e-4, 1e-4)

	must(t, c.BatchNormForwardInference(xd, xb.Ptr(), xd, yb.Ptr(), bn))
	rm, rv := download(t, rmb), download(t, rvb)
	for ch := 0; ch < C; ch++ {
		for n := 0; n < N; n++ {
			for i := 0; i < H*W; i++ {
				j := idx(n, ch, i)
				wantY[j] = float64(scale[ch])*(float64(x[j])-float64(rm[ch]))/math.Sqrt(float64(rv[ch])+bn.Eps) + float64(bias[ch])
			}
		}
	}
	near(t, "inference y", download(t, yb), wantY, 1e-5, 1e-4)
}
