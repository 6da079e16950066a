package cpu

import (
	"fmt"
	"testing"
)

func denseRef(n, d, o int, x, w, bias []float64) []float64 {
	y := make([]float64, n*o)
	for i := 0; i < n; i++ {
		for k := 0; k < o; k++ {
			s := 0.0
			if bias != nil {
				s = bias[k]
			}
			for j := 0; j < d; j++ {
				s += x[i*d+j] * w[k*d+j]
			}
			y[i*o+k] = s
		}
	}
	return y
}

func TestDense(t *testing.T) {
	b := newBackend(t, 2)
	r := newRand(5)
	for _, sh := range []struct{ n, c, h, w, o int }{{3, 2, 3, 3, 5}, {37, 5, 1, 1, 3}, {2, 300, 1, 1, 4}, {1, 4, 2, 2, 1}} {
		d := sh.c * sh.h * sh.w
		for _, sliced := range []bool{false, true} {
			for _, withBias := range []bool{false, true} {
				tag := fmt.Sprintf("%+v sliced=%v bias=%v", sh, sliced, withBias)
				x := randTensor(t, b, r, sh.n, sh.c, sh.h, sh.w, sliced)
				w := randTensor(t, b, r, sh.o, d, 1, 1, false)
				y := randTensor(t, b, r, sh.n, sh.o, 1, 1, sliced)
				var bias64 []float64
				bias, db := randTensor(t, b, r, sh.o, 1, 1, 1, false), randTensor(t, b, r, sh.o, 1, 1, 1, false)
				if withBias {
					bias64 = get64(b, bias)
				} else {
					bias, db = nil, nil
				}
				x64, w64 := get64(b, x), get64(b, w)
				before := raw(b, y)
				b.DenseForward(x, w, bias, y)
				checkOutside(t, tag, before, raw(b, y), y)
				near(t, tag+" forward", get64(b, y), denseRef(sh.n, d, sh.o, x64, w64, bias64), 1e-5)

				dy := randTensor(t, b, r, sh.n, sh.o, 1, 1, sliced)
				dy64 := get64(b, dy)
				gx := numGrad(x64, 1e-3, func(v []float64) float64 { return dot(dy64, denseRef(sh.n, d, sh.o, v, w64, bias64)) })
				for _, acc := range []bool{false, true} {
					dx := randTensor(t, b, r, sh.n, sh.c, sh.h, sh.w, sliced)
					want := gx
					if acc {
						want = add(gx, get64(b, dx))
					}
					before := raw(b, dx)
					b.DenseBackwardData(dy, w, dx, acc)
					checkOutside(t, tag, before, raw(b, dx), dx)
					near(t, fmt.Sprintf("%s backward data accumulate=%v", tag, acc), get64(b, dx), want, 1e-4)
				}
				dw := randTensor(t, b, r, sh.o, d, 1, 1, false)
				b.DenseBackwardFilter(x, dy, dw, db)
				gw := numGrad(w64, 1e-3, func(v []float64) float64 { return dot(dy64, denseRef(sh.n, d, sh.o, x64, v, bias64)) })
				near(t, tag+" backward filter", get64(b, dw), gw, 1e-4)
				if withBias {
					gb := numGrad(bias64, 1e-3, func(v []float64) float64 { return dot(dy64, denseRef(sh.n, d, sh.o, x64, w64, v)) })
					near(t, tag+" backward bias", get64(b, db), gb, 1e-4)
				}
			}
		}
	}
}
