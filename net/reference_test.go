package net

import "math"

// This file is a float64 reference of a whole built network, written from the layer definitions
// with naive loops, independent of any backend. The external tests (net_test) use it to check a
// Net's Forward and, by central finite differences in float64, its Backward.

// refAct is a dense N x C x H x W float64 activation.
type refAct struct {
	n, c, h, w int
	d          []float64
}

func newRefAct(n, c, h, w int) *refAct {
	return &refAct{n, c, h, w, make([]float64, n*c*h*w)}
}

func (a *refAct) at(n, c, y, x int) *float64 { return &a.d[((n*a.c+c)*a.h+y)*a.w+x] }

// RefLoss evaluates net's function in float64: params is the flat parameter vector (in Params'
// layout), input the Batch x C x H x W input and labels the class indices (negative: ignored).
// Batch norm uses the batch's statistics (training mode). It returns the loss summed over the
// counted examples and the logits (Batch x Classes).
func RefLoss(net *Net, params, input []float64, labels []int) (float64, []float64) {
	x := &refAct{net.Batch, net.In[0], net.In[1], net.In[2], input}
	r := refNet{params: params, eps: net.Spec.BatchNorm.Eps}
	y := r.seq(net.plan.top, x)
	loss := 0.0
	k := net.Classes
	for n := 0; n < y.n; n++ {
		if labels[n] < 0 {
			continue
		}
		row := y.d[n*k : (n+1)*k]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, v)
		}
		s := 0.0
		for _, v := range row {
			s += math.Exp(v - m)
		}
		loss += m + math.Log(s) - row[labels[n]]
	}
	return loss, y.d
}

// ParamRange is a named part of the flat parameter vector.
type ParamRange struct {
	Name   string // "layer/weight", "layer/bias", "layer/gamma", "layer/beta"
	Off, N int
}

// ParamLayout lists every parameter range of net, for tests that sample each part.
func ParamLayout(net *Net) []ParamRange {
	var out []ParamRange
	var walk func(ns []*node)
	walk = func(ns []*node) {
		for _, nd := range ns {
			for _, br := range nd.branches {
				walk(br)
			}
			if nd.spec.Type != TypeConv && nd.spec.Type != TypeDense {
				continue
			}
			fan := nd.in[0] * nd.in[1] * nd.in[2]
			if nd.spec.Type == TypeConv {
				fan = nd.in[0] * nd.kh * nd.kw
			}
			out = append(out, ParamRange{nd.name + "/weight", nd.wOff, nd.units * fan})
			if nd.bias {
				out = append(out, ParamRange{nd.name + "/bias", nd.bOff, nd.units})
			}
			if nd.bn {
				out = append(out, ParamRange{nd.name + "/gamma", nd.gOff, nd.units},
					ParamRange{nd.name + "/beta", nd.gOff + nd.units, nd.units})
			}
		}
	}
	walk(net.plan.top)
	return out
}

type refNet struct {
	params []float64
	eps    float64
}

func (r refNet) seq(ns []*node, x *refAct) *refAct {
	for _, nd := range ns {
		x = r.layer(nd, x)
	}
	return x
}

func (r refNet) layer(nd *node, x *refAct) *refAct {
	switch nd.spec.Type {
	case TypeConv:
		y := r.conv(nd, x)
		if nd.bn {
			r.batchNorm(nd, y)
		}
		if nd.relu {
			relu(y)
		}
		return y
	case TypeDense:
		y := r.dense(nd, x)
		if nd.relu {
			relu(y)
		}
		return y
	case TypeMaxPool, TypeAvgPool:
		return pool(nd.pool, x, nd.out)
	case TypeReLU:
		y := &refAct{x.n, x.c, x.h, x.w, append([]float64(nil), x.d...)}
		relu(y)
		return y
	case TypeConcat:
		var outs []*refAct
		for _, br := range nd.branches {
			outs = append(outs, r.seq(br, x))
		}
		y := newRefAct(x.n, nd.out[0], nd.out[1], nd.out[2])
		for n := 0; n < x.n; n++ {
			c0 := 0
			for _, o := range outs {
				for c := 0; c < o.c; c++ {
					for i := 0; i < o.h; i++ {
						for j := 0; j < o.w; j++ {
							*y.at(n, c0+c, i, j) = *o.at(n, c, i, j)
						}
					}
				}
				c0 += o.c
			}
		}
		return y
	}
	panic("reference: unknown layer type " + nd.spec.Type)
}

func (r refNet) conv(nd *node, x *refAct) *refAct {
	y := newRefAct(x.n, nd.out[0], nd.out[1], nd.out[2])
	p := nd.conv
	for n := 0; n < x.n; n++ {
		for k := 0; k < y.c; k++ {
			b := 0.0
			if nd.bias {
				b = r.params[nd.bOff+k]
			}
			for oy := 0; oy < y.h; oy++ {
				for ox := 0; ox < y.w; ox++ {
					s := b
					for c := 0; c < x.c; c++ {
						for i := 0; i < nd.kh; i++ {
							iy := oy*p.StrideH - p.PadH + i
							if iy < 0 || iy >= x.h {
								continue
							}
							for j := 0; j < nd.kw; j++ {
								ix := ox*p.StrideW - p.PadW + j
								if ix < 0 || ix >= x.w {
									continue
								}
								s += r.params[nd.wOff+((k*x.c+c)*nd.kh+i)*nd.kw+j] * *x.at(n, c, iy, ix)
							}
						}
					}
					*y.at(n, k, oy, ox) = s
				}
			}
		}
	}
	return y
}

// batchNorm normalises y in place with the batch's mean and biased variance per channel.
func (r refNet) batchNorm(nd *node, y *refAct) {
	m := float64(y.n * y.h * y.w)
	for c := 0; c < y.c; c++ {
		mean, sq := 0.0, 0.0
		for n := 0; n < y.n; n++ {
			for i := 0; i < y.h*y.w; i++ {
				mean += *y.at(n, c, i/y.w, i%y.w)
			}
		}
		mean /= m
		for n := 0; n < y.n; n++ {
			for i := 0; i < y.h*y.w; i++ {
				d := *y.at(n, c, i/y.w, i%y.w) - mean
				sq += d * d
			}
		}
		inv := 1 / math.Sqrt(sq/m+r.eps)
		g, b := r.params[nd.gOff+c], r.params[nd.gOff+y.c+c]
		for n := 0; n < y.n; n++ {
			for i := 0; i < y.h*y.w; i++ {
				v := y.at(n, c, i/y.w, i%y.w)
				*v = g*(*v-mean)*inv + b
			}
		}
	}
}

func (r refNet) dense(nd *node, x *refAct) *refAct {
	d := x.c * x.h * x.w
	y := newRefAct(x.n, nd.units, 1, 1)
	for n := 0; n < x.n; n++ {
		for o := 0; o < nd.units; o++ {
			s := 0.0
			if nd.bias {
				s = r.params[nd.bOff+o]
			}
			for i := 0; i < d; i++ {
				s += r.params[nd.wOff+o*d+i] * x.d[n*d+i]
			}
			y.d[n*nd.units+o] = s
		}
	}
	return y
}

func relu(a *refAct) {
	for i, v := range a.d {
		a.d[i] = math.Max(v, 0)
	}
}

// pool takes, for each window, the maximum or the mean of its elements that lie inside the input.
func pool(p PoolParams, x *refAct, out [3]int) *refAct {
	y := newRefAct(x.n, out[0], out[1], out[2])
	for n := 0; n < x.n; n++ {
		for c := 0; c < x.c; c++ {
			for oy := 0; oy < y.h; oy++ {
				for ox := 0; ox < y.w; ox++ {
					best, sum, cnt := math.Inf(-1), 0.0, 0
					for i := 0; i < p.KH; i++ {
						iy := oy*p.StrideH - p.PadH + i
						for j := 0; j < p.KW; j++ {
							ix := ox*p.StrideW - p.PadW + j
							if iy < 0 || iy >= x.h || ix < 0 || ix >= x.w {
								continue
							}
							v := *x.at(n, c, iy, ix)
							best, sum, cnt = math.Max(best, v), sum+v, cnt+1
						}
					}
					if p.Mode == MaxPool {
						*y.at(n, c, oy, ox) = best
					} else {
						*y.at(n, c, oy, ox) = sum / float64(cnt)
					}
				}
			}
		}
	}
	return y
}
