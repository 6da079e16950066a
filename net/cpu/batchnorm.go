package cpu

import (
	"fmt"
	"math"

	"rout/net"
)

// Batch norm runs one channel per task; its sums over N, H and W are in float64 and in a fixed
// order. The forward pass normalises with the float64 statistics; the backward pass uses the
// float32 statistics saved by it, as a device would.

const (
	bnTrain = iota
	bnInfer
	bnBackward
)

type bnJob struct {
	mode                 int
	p                    net.BatchNormParams
	x, y, dy, dx         []float32
	xt, yt, dyt, dxt     *net.Tensor
	scale, bias          []float32
	runMean, runVar      []float32
	saveMean, saveInvStd []float32
	dScale, dBias        []float32
}

func bnParam(op string, t *net.Tensor, c int) []float32 {
	if t.Len() != c {
		panic(fmt.Sprintf("cpu: %s: parameter %v should hold %d channels", op, t, c))
	}
	return flat(t, "batch norm parameter")
}

// BatchNormForward runs one task per channel, its statistics summed in float64.
func (b *Backend) BatchNormForward(x, y, scale, bias, runMean, runVar, saveMean, saveInvStd *net.Tensor, p net.BatchNormParams) {
	const op = "batch norm forward"
	sameShape(op, x, y)
	c := x.C
	j := &b.bn
	*j = bnJob{mode: bnInfer, p: p, x: data(x), y: data(y), xt: x, yt: y,
		scale: bnParam(op, scale, c), bias: bnParam(op, bias, c),
		runMean: bnParam(op, runMean, c), runVar: bnParam(op, runVar, c)}
	if p.Training {
		j.mode = bnTrain
		j.saveMean, j.saveInvStd = bnParam(op, saveMean, c), bnParam(op, saveInvStd, c)
	}
	b.pool.do(j, c)
	*j = bnJob{}
}

// BatchNormBackward runs one task per channel, its sums in float64.
func (b *Backend) BatchNormBackward(x, dy, dx, scale, dScale, dBias, saveMean, saveInvStd *net.Tensor, p net.BatchNormParams) {
	const op = "batch norm backward"
	sameShape(op, x, dy)
	sameShape(op, x, dx)
	c := x.C
	j := &b.bn
	*j = bnJob{mode: bnBackward, p: p, x: data(x), dy: data(dy), dx: data(dx), xt: x, dyt: dy, dxt: dx,
		scale: bnParam(op, scale, c), dScale: bnParam(op, dScale, c), dBias: bnParam(op, dBias, c),
		saveMean: bnParam(op, saveMean, c), saveInvStd: bnParam(op, saveInvStd, c)}
	b.pool.do(j, c)
	*j = bnJob{}
}

// plane is channel c of sample n of t.
func plane(d []float32, t *net.Tensor, n, c int) []float32 {
	hw := t.H * t.W
	o := t.Offset + n*t.Stride + c*hw
	return d[o : o+hw : o+hw]
}

func (j *bnJob) run(_, c int) {
	xt := j.xt
	m := float64(xt.N * xt.H * xt.W)
	switch j.mode {
	case bnInfer:
		a := float64(j.scale[c]) / math.Sqrt(float64(j.runVar[c])+j.p.Eps)
		j.affine(c, a, float64(j.bias[c])-float64(j.runMean[c])*a)
	case bnTrain:
		var s float64
		for n := 0; n < xt.N; n++ {
			for _, v := range plane(j.x, xt, n, c) {
				s += float64(v)
			}
		}
		mean := s / m
		var ss float64
		for n := 0; n < xt.N; n++ {
			for _, v := range plane(j.x, xt, n, c) {
				d := float64(v) - mean
				ss += d * d
			}
		}
		vr := ss / m
		inv := 1 / math.Sqrt(vr+j.p.Eps)
		j.saveMean[c], j.saveInvStd[c] = float32(mean), float32(inv)
		unbiased := vr
		if m > 1 {
			unbiased = ss / (m - 1)
		}
		mo := j.p.Momentum
		j.runMean[c] = float32((1-mo)*float64(j.runMean[c]) + mo*mean)
		j.runVar[c] = float32((1-mo)*float64(j.runVar[c]) + mo*unbiased)
		a := float64(j.scale[c]) * inv
		j.affine(c, a, float64(j.bias[c])-mean*a)
	default:
		mean, inv := float64(j.saveMean[c]), float64(j.saveInvStd[c])
		var sdy, sdyx float64
		for n := 0; n < xt.N; n++ {
			dy := plane(j.dy, j.dyt, n, c)
			for i, v := range plane(j.x, xt, n, c) {
				g := float64(dy[i])
				sdy += g
				sdyx += g * (float64(v) - mean) * inv
			}
		}
		j.dBias[c], j.dScale[c] = float32(sdy), float32(sdyx)
		k := float64(j.scale[c]) * inv
		for n := 0; n < xt.N; n++ {
			dy, dx := plane(j.dy, j.dyt, n, c), plane(j.dx, j.dxt, n, c)
			for i, v := range plane(j.x, xt, n, c) {
				xh := (float64(v) - mean) * inv
				dx[i] = float32(k * (float64(dy[i]) - sdy/m - xh*sdyx/m))
			}
		}
	}
}

// affine sets channel c of y to a*x + sh.
func (j *bnJob) affine(c int, a, sh float64) {
	for n := 0; n < j.xt.N; n++ {
		y := plane(j.y, j.yt, n, c)
		for i, v := range plane(j.x, j.xt, n, c) {
			y[i] = float32(a*float64(v) + sh)
		}
	}
}
