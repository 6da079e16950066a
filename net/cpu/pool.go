package cpu

import (
	"rout/net"
	"rout/net/cpu/internal/vec"
)

// poolJob runs pooling forward or backward on one sample per task.
type poolJob struct {
	backward         bool
	accumulate       bool
	p                net.PoolParams
	x, y, dy, dx     []float32
	xt, yt, dyt, dxt *net.Tensor
}

// PoolForward runs one task per sample. A max window holding a NaN gives NaN.
func (b *Backend) PoolForward(x, y *net.Tensor, p net.PoolParams) {
	net.CheckPool("cpu: pool forward", x, y, p)
	j := &b.pool2d
	*j = poolJob{p: p, x: data(x), y: data(y), xt: x, yt: y}
	b.pool.do(j, x.N)
	*j = poolJob{}
}

// PoolBackward runs one task per sample, adding each window's gradient in window order.
func (b *Backend) PoolBackward(x, y, dy, dx *net.Tensor, p net.PoolParams, accumulate bool) {
	net.CheckPool("cpu: pool backward", x, y, p)
	sameShape("pool backward", x, dx)
	sameShape("pool backward", y, dy)
	j := &b.pool2d
	*j = poolJob{backward: true, accumulate: accumulate, p: p, x: data(x), dy: data(dy), dx: data(dx), xt: x, dyt: dy, dxt: dx}
	b.pool.do(j, x.N)
	*j = poolJob{}
}

// window is the in-bounds part [lo, hi) of output position o's window along one axis.
func window(o, k, s, pad, in int) (int, int) {
	lo := o*s - pad
	return max(lo, 0), min(lo+k, in)
}

// windowMax is the largest element of the window [h0, h1) x [w0, w1) of the plane xp of width w,
// or NaN if it holds one (as cuDNN is asked to propagate it). The max builtin compiles without a
// branch, which on random data runs twice as fast as comparing and branching (BenchmarkPool).
func windowMax(xp []float32, w, h0, h1, w0, w1 int) float32 {
	best := xp[h0*w+w0]
	for r := h0; r < h1; r++ {
		for _, v := range xp[r*w+w0 : r*w+w1] {
			best = max(best, v)
		}
	}
	return best
}

func (j *poolJob) run(_, n int) {
	p, xt := &j.p, j.xt
	h, w := xt.H, xt.W
	oh, ow := p.OutSize(h, w)
	x := sample(j.x, xt, n)
	// convnet-small's pools: 2x2 windows at stride 2, every one inside the plane. Where the
	// windows cover the plane's rows, the sample's planes are one run of row pairs; where they
	// tile it, the gradient sets dx without clearing it first.
	max2x2 := p.Mode == net.MaxPool && p.KH == 2 && p.KW == 2 && p.StrideH == 2 && p.StrideW == 2 &&
		p.PadH == 0 && p.PadW == 0 && 2*oh <= h && 2*ow <= w
	set := max2x2 && !j.accumulate && 2*oh == h && 2*ow == w
	var y, dy, dx []float32
	if j.backward {
		dy, dx = sample(j.dy, j.dyt, n), sample(j.dx, j.dxt, n)
		if !j.accumulate && !set {
			zero(dx)
		}
	} else {
		y = sample(j.y, j.yt, n)
	}
	if max2x2 {
		planes, rows := xt.C, oh
		if 2*oh == h {
			planes, rows = 1, xt.C*oh
		}
		for c := 0; c < planes; c++ {
			xp, o := x[c*h*w:], c*oh*ow
			if j.backward {
				vec.MaxPool2x2Grad(xp, w, rows, ow, dy[o:], dx[c*h*w:], set)
			} else {
				vec.MaxPool2x2(xp, w, rows, ow, y[o:])
			}
		}
		return
	}
	if p.Mode == net.AvgPool && !j.backward && oh == 1 && ow == 1 && wholePlane(p, h, w) {
		planeMeans(x, h*w, y[:xt.C])
		return
	}
	for c := 0; c < xt.C; c++ {
		xp := x[c*h*w : (c+1)*h*w]
		for i := 0; i < oh; i++ {
			h0, h1 := window(i, p.KH, p.StrideH, p.PadH, h)
			for k := 0; k < ow; k++ {
				w0, w1 := window(k, p.KW, p.StrideW, p.PadW, w)
				o := (c*oh+i)*ow + k
				if h1 <= h0 || w1 <= w0 {
					if !j.backward {
						y[o] = 0
					}
					continue
				}
				if p.Mode == net.MaxPool && !j.backward {
					y[o] = windowMax(xp, w, h0, h1, w0, w1)
					continue
				}
				if p.Mode == net.MaxPool {
					best, at := xp[h0*w+w0], h0*w+w0
					for r := h0; r < h1; r++ {
						for q := w0; q < w1; q++ {
							if v := xp[r*w+q]; v > best {
								best, at = v, r*w+q
							}
						}
					}
					dx[c*h*w+at] += dy[o]
					continue
				}
				count := float32((h1 - h0) * (w1 - w0))
				if j.backward {
					g := dy[o] / count
					for r := h0; r < h1; r++ {
						vec.AddConst(dx[c*h*w+r*w+w0:c*h*w+r*w+w1], g)
					}
					continue
				}
				var s float32
				for r := h0; r < h1; r++ {
					for _, v := range xp[r*w+w0 : r*w+w1] {
						s += v
					}
				}
				y[o] = s / count
			}
		}
	}
}

// wholePlane reports whether the first window covers all of an h x w plane (a global pool's
// one window).
func wholePlane(p *net.PoolParams, h, w int) bool {
	h0, h1 := window(0, p.KH, p.StrideH, p.PadH, h)
	w0, w1 := window(0, p.KW, p.StrideW, p.PadW, w)
	return h0 == 0 && h1 == h && w0 == 0 && w1 == w
}

// planeMeans sets means[c] to the mean of plane c (hw floats) of x: a global average pool's
// forward pass, each sum in the order of the general loop (row by row) but four planes at once,
// four chains of dependent additions where one would wait for each result.
func planeMeans(x []float32, hw int, means []float32) {
	count := float32(hw)
	c := 0
	for ; c+4 <= len(means); c += 4 {
		p0 := x[c*hw : (c+1)*hw]
		p1 := x[(c+1)*hw:][:len(p0)]
		p2 := x[(c+2)*hw:][:len(p0)]
		p3 := x[(c+3)*hw:][:len(p0)]
		var s0, s1, s2, s3 float32
		for i, v := range p0 {
			s0 += v
			s1 += p1[i]
			s2 += p2[i]
			s3 += p3[i]
		}
		means[c], means[c+1], means[c+2], means[c+3] = s0/count, s1/count, s2/count, s3/count
	}
	for ; c < len(means); c++ {
		var s float32
		for _, v := range x[c*hw : (c+1)*hw] {
			s += v
		}
		means[c] = s / count
	}
}
