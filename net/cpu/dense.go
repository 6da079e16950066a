package cpu

import (
	"fmt"

	"rout/net"
)

// Dense layers are single GEMMs; tasks are chunks of denseRows samples (forward, backward data)
// or of denseCols input features (backward filter), so each output element has one writer.
const (
	denseRows = 16
	denseCols = 256
)

const (
	denseForward = iota
	denseBackwardData
	denseBackwardFilter
)

type denseJob struct {
	b          *Backend
	mode       int
	n, d, o    int
	x, w, y    []float32 // x: input or its gradient; y: output or its gradient
	xt, yt     *net.Tensor
	bias       []float32
	accumulate bool
}

func denseShape(op string, x, w, y *net.Tensor) (n, d, o int) {
	n, d, o = x.N, x.SampleLen(), w.N
	if w.SampleLen() != d || y.N != n || y.SampleLen() != o || y.H != 1 || y.W != 1 {
		panic(fmt.Sprintf("cpu: %s: x %v, w %v, y %v do not match", op, x.Shape(), w.Shape(), y.Shape()))
	}
	return n, d, o
}

// DenseForward runs a GEMM per chunk of denseRows samples.
func (b *Backend) DenseForward(x, w, bias, y *net.Tensor) {
	n, d, o := denseShape("dense forward", x, w, y)
	j := &b.dense
	*j = denseJob{b: b, mode: denseForward, n: n, d: d, o: o, x: data(x), w: flat(w, "dense weights"), y: data(y), xt: x, yt: y}
	if bias != nil {
		j.bias = vector(bias, o, "dense bias")
	}
	b.pool.do(j, (n+denseRows-1)/denseRows)
	*j = denseJob{}
}

// DenseBackwardData runs a GEMM per chunk of denseRows samples.
func (b *Backend) DenseBackwardData(dy, w, dx *net.Tensor, accumulate bool) {
	n, d, o := denseShape("dense backward data", dx, w, dy)
	j := &b.dense
	*j = denseJob{b: b, mode: denseBackwardData, n: n, d: d, o: o, x: data(dx), w: flat(w, "dense weights"), y: data(dy), xt: dx, yt: dy, accumulate: accumulate}
	b.pool.do(j, (n+denseRows-1)/denseRows)
	*j = denseJob{}
}

// DenseBackwardFilter runs a GEMM per chunk of denseCols input features, and sums the bias
// gradient in float64 in row order.
func (b *Backend) DenseBackwardFilter(x, dy, dw, db *net.Tensor) {
	n, d, o := denseShape("dense backward filter", x, dw, dy)
	j := &b.dense
	*j = denseJob{b: b, mode: denseBackwardFilter, n: n, d: d, o: o, x: data(x), w: flat(dw, "dense weight gradient"), y: data(dy), xt: x, yt: dy}
	b.pool.do(j, (d+denseCols-1)/denseCols)
	if db != nil {
		g := vector(db, o, "dense bias gradient")
		for k := range g {
			s := 0.0
			for i := 0; i < n; i++ {
				s += float64(j.y[dy.Offset+i*dy.Stride+k])
			}
			g[k] = float32(s)
		}
	}
	*j = denseJob{}
}

func (j *denseJob) run(w, i int) {
	xs, ys, sc := j.xt.Stride, j.yt.Stride, &j.b.scratch[w]
	switch j.mode {
	case denseForward:
		r0, r := i*denseRows, min(denseRows, j.n-i*denseRows)
		y := j.y[j.yt.Offset+r0*ys:]
		sc.gemm.Sgemm(false, true, r, j.o, j.d, j.x[j.xt.Offset+r0*xs:], xs, j.w, j.d, 0, y, ys)
		if j.bias != nil {
			for t := 0; t < r; t++ {
				row := y[t*ys : t*ys+j.o]
				for k, v := range j.bias {
					row[k] += v
				}
			}
		}
	case denseBackwardData:
		r0, r := i*denseRows, min(denseRows, j.n-i*denseRows)
		beta := float32(0)
		if j.accumulate {
			beta = 1
		}
		sc.gemm.Sgemm(false, false, r, j.d, j.o, j.y[j.yt.Offset+r0*ys:], ys, j.w, j.d, beta, j.x[j.xt.Offset+r0*xs:], xs)
	default:
		c0, c := i*denseCols, min(denseCols, j.d-i*denseCols)
		sc.gemm.Sgemm(true, false, j.o, c, j.n, j.y[j.yt.Offset:], ys, j.x[j.xt.Offset+c0:], xs, 0, j.w[c0:], j.d)
	}
}
