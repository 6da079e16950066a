package cpu

import (
	"fmt"
	"math"
	"testing"

	"rout/net"
)

// bnRef is training-mode batch norm in float64; it returns y, the batch means and the biased
// variances.
func bnRef(n, c, hw int, x, gamma, beta []float64, eps float64) (y, mean, vr []float64) {
	y, mean, vr = make([]float64, len(x)), make([]float64, c), make([]float64, c)
	m := float64(n * hw)
	for ch := 0; ch < c; ch++ {
		for i := 0; i < n; i++ {
			for _, v := range x[(i*c+ch)*hw : (i*c+ch+1)*hw] {
				mean[ch] += v / m
			}
		}
		for i := 0; i < n; i++ {
			for _, v := range x[(i*c+ch)*hw : (i*c+ch+1)*hw] {
				vr[ch] += (v - mean[ch]) * (v - mean[ch]) / m
			}
		}
		for i := 0; i < n; i++ {
			for j := (i*c + ch) * hw; j < (i*c+ch+1)*hw; j++ {
				y[j] = gamma[ch]*(x[j]-mean[ch])/math.Sqrt(vr[ch]+eps) + beta[ch]
			}
		}
	}
	return y, mean, vr
}

func TestBatchNorm(t *testing.T) {
	b := newBackend(t, 2)
	r := newRand(6)
	for _, sh := range []struct{ n, c, h, w int }{{4, 3, 5, 5}, {7, 2, 1, 1}, {2, 5, 3, 2}} {
		for _, sliced := range []bool{false, true} {
			tag := fmt.Sprintf("%+v sliced=%v", sh, sliced)
			hw := sh.h * sh.w
			p := net.BatchNormParams{Training: true, Momentum: 0.1, Eps: 1e-5}
			x := randTensor(t, b, r, sh.n, sh.c, sh.h, sh.w, sliced)
			y := randTensor(t, b, r, sh.n, sh.c, sh.h, sh.w, sliced)
			ps := make([]*net.Tensor, 8)
			for i := range ps {
				ps[i] = randTensor(t, b, r, 1, sh.c, 1, 1, false)
			}
			scale, bias, runMean, runVar, saveMean, saveInv, dScale, dBias := ps[0], ps[1], ps[2], ps[3], ps[4], ps[5], ps[6], ps[7]
			b.Upload(runVar, []float32{0.5, 1, 2, 0.25, 3}[:sh.c])
			x64, g64, b64 := get64(b, x), get64(b, scale), get64(b, bias)
			rm0, rv0 := get64(b, runMean), get64(b, runVar)

			before := raw(b, y)
			b.BatchNormForward(x, y, scale, bias, runMean, runVar, saveMean, saveInv, p)
			checkOutside(t, tag, before, raw(b, y), y)
			wantY, mean, vr := bnRef(sh.n, sh.c, hw, x64, g64, b64, p.Eps)
			near(t, tag+" forward", get64(b, y), wantY, 1e-5)
			near(t, tag+" saved mean", get64(b, saveMean), mean, 1e-6)
			inv := make([]float64, sh.c)
			wantRM, wantRV := make([]float64, sh.c), make([]float64, sh.c)
			m := float64(sh.n * hw)
			for c := range inv {
				inv[c] = 1 / math.Sqrt(vr[c]+p.Eps)
				wantRM[c] = 0.9*rm0[c] + 0.1*mean[c]
				wantRV[c] = 0.9*rv0[c] + 0.1*vr[c]*m/(m-1)
			}
			near(t, tag+" saved inverse deviation", get64(b, saveInv), inv, 1e-6)
			near(t, tag+" running mean", get64(b, runMean), wantRM, 1e-6)
			near(t, tag+" running variance", get64(b, runVar), wantRV, 1e-6)

			dy := randTensor(t, b, r, sh.n, sh.c, sh.h, sh.w, sliced)
			dy64 := get64(b, dy)
			loss := func(x, g, bb []float64) float64 {
				y, _, _ := bnRef(sh.n, sh.c, hw, x, g, bb, p.Eps)
				return dot(dy64, y)
			}
			dx := randTensor(t, b, r, sh.n, sh.c, sh.h, sh.w, sliced)
			before = raw(b, dx)
			b.BatchNormBackward(x, dy, dx, scale, dScale, dBias, saveMean, saveInv, p)
			checkOutside(t, tag, before, raw(b, dx), dx)
			near(t, tag+" backward data", get64(b, dx), numGrad(x64, 1e-4, func(v []float64) float64 { return loss(v, g64, b64) }), 2e-4)
			near(t, tag+" backward scale", get64(b, dScale), numGrad(g64, 1e-4, func(v []float64) float64 { return loss(x64, v, b64) }), 1e-4)
			near(t, tag+" backward bias", get64(b, dBias), numGrad(b64, 1e-4, func(v []float64) float64 { return loss(x64, g64, v) }), 1e-4)

			// Inference uses the running statistics.
			p.Training = false
			rm, rv := get64(b, runMean), get64(b, runVar)
			b.BatchNormForward(x, y, scale, bias, runMean, runVar, nil, nil, p)
			want := make([]float64, len(x64))
			for i := range want {
				c := (i / hw) % sh.c
				want[i] = g64[c]*(x64[i]-rm[c])/math.Sqrt(rv[c]+p.Eps) + b64[c]
			}
			near(t, tag+" inference", get64(b, y), want, 1e-5)
			near(t, tag+" inference leaves running mean", get64(b, runMean), rm, 0)
		}
	}
}
