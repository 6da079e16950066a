package cpu

import "rout/net"

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
	var y, dy, dx []float32
	if j.backward {
		dy, dx = sample(j.dy, j.dyt, n), sample(j.dx, j.dxt, n)
		if !j.accumulate {
			zero(dx)
		}
	} else {
		y = sample(j.y, j.yt, n)
	}
	// convnet-small's pools: 2x2 windows at stride 2, every one inside the plane.
	max2x2 := p.Mode == net.MaxPool && p.KH == 2 && p.KW == 2 && p.StrideH == 2 && p.StrideW == 2 &&
		p.PadH == 0 && p.PadW == 0 && 2*oh <= h && 2*ow <= w
	for c := 0; c < xt.C; c++ {
		xp := x[c*h*w : (c+1)*h*w]
		if max2x2 {
			o := c * oh * ow
			if j.backward {
				maxPool2x2Backward(xp, w, oh, ow, dy[o:o+oh*ow], dx[c*h*w:(c+1)*h*w])
			} else {
				maxPool2x2(xp, w, oh, ow, y[o:o+oh*ow])
			}
			continue
		}
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
						row := dx[c*h*w+r*w+w0 : c*h*w+r*w+w1]
						for q := range row {
							row[q] += g
						}
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

// maxPool2x2 is the forward pass of a 2x2, stride-2 max pool over one plane of width w whose
// windows all lie inside it: the maxima windowMax finds, without its per-window bounds.
func maxPool2x2(xp []float32, w, oh, ow int, y []float32) {
	for i := 0; i < oh; i++ {
		r0, r1 := xp[2*i*w:2*i*w+2*ow], xp[(2*i+1)*w:(2*i+1)*w+2*ow]
		yr := y[i*ow : (i+1)*ow]
		for k := range yr {
			yr[k] = max(r0[2*k], r0[2*k+1], r1[2*k], r1[2*k+1])
		}
	}
}

// maxPool2x2Backward adds each window's gradient to its first maximal element in row-major
// order, as the general loop does.
func maxPool2x2Backward(xp []float32, w, oh, ow int, dy, dx []float32) {
	for i := 0; i < oh; i++ {
		top := 2 * i * w
		r0, r1 := xp[top:top+2*ow], xp[top+w:top+w+2*ow]
		for k, g := range dy[i*ow : (i+1)*ow] {
			at, best := top+2*k, r0[2*k]
			if v := r0[2*k+1]; v > best {
				at, best = top+2*k+1, v
			}
			if v := r1[2*k]; v > best {
				at, best = top+w+2*k, v
			}
			if r1[2*k+1] > best {
				at = top + w + 2*k + 1
			}
			dx[at] += g
		}
	}
}
