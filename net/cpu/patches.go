package cpu

import (
	"rout/net"
	"rout/net/cpu/internal/gemm"
)

// patches is a chunk's im2col matrix: ckk rows (c, ki, kj) by s*p columns (sample, oh, ow),
// element x[sample][c][oh*sh-ph+ki][ow*sw-pw+kj] or 0 in the padding. It is never written out
// whole: the GEMM asks it for one panel at a time, which it builds from x straight into the
// packed layout. With t it supplies the transpose (s*p rows by ckk columns), for the weight
// gradient.
type patches struct {
	g   *convGeom
	x   []float32
	xt  *net.Tensor
	n0  int
	t   bool
	seg []float32 // one row segment of the matrix
}

var _ gemm.Packer = (*patches)(nil)

func (q *patches) PackB(dst []float32, p0, kp, j0, nj int) {
	const s = gemm.Strip
	if q.t {
		// Column j of op(B) is row j of the matrix: lay it down lane j%s of its strip.
		if r := nj % s; r != 0 {
			zero(dst[(nj-r)*kp:])
		}
		seg := grow(&q.seg, kp)
		for j := 0; j < nj; j++ {
			q.row(seg, j0+j, p0)
			d := dst[(j-j%s)*kp+j%s:]
			for p, v := range seg {
				d[p*s] = v
			}
		}
		return
	}
	seg := grow(&q.seg, (nj+s-1)/s*s)
	zero(seg[nj:])
	for p := 0; p < kp; p++ {
		q.row(seg[:nj], p0+p, j0)
		for jr := 0; jr < nj; jr += s {
			*(*[s]float32)(dst[jr*kp+p*s:]) = *(*[s]float32)(seg[jr:])
		}
	}
}

// row writes columns j0..j0+len(dst) of the matrix's row r into dst, one output row (of one
// sample) at a time.
func (q *patches) row(dst []float32, r, j0 int) {
	g := q.g
	c, kk := r/(g.kh*g.kw), r%(g.kh*g.kw)
	ki, kj := kk/g.kw, kk%g.kw
	lo, hi := colRange(kj, g.pw, g.sw, g.w, g.ow)
	si, rem := j0/g.p, j0%g.p
	oh, ow0 := rem/g.ow, rem%g.ow
	plane := sample(q.x, q.xt, q.n0+si)[c*g.h*g.w:]
	for pos := 0; pos < len(dst); {
		n := min(g.ow-ow0, len(dst)-pos)
		out := dst[pos : pos+n]
		if ih := oh*g.sh - g.ph + ki; ih < 0 || ih >= g.h {
			clear(out)
		} else {
			// out[t] is output column ow0+t: zero below lo and from hi, input elsewhere.
			a, b := min(max(lo-ow0, 0), n), min(max(hi-ow0, 0), n)
			clear(out[:a])
			clear(out[b:])
			if a < b {
				src := plane[ih*g.w:]
				iw := (ow0+a)*g.sw - g.pw + kj
				if g.sw == 1 {
					copy(out[a:b], src[iw:])
				} else {
					for t := a; t < b; t++ {
						out[t] = src[iw]
						iw += g.sw
					}
				}
			}
		}
		pos += n
		ow0 = 0
		if oh++; oh == g.oh && pos < len(dst) {
			oh = 0
			si++
			plane = sample(q.x, q.xt, q.n0+si)[c*g.h*g.w:]
		}
	}
}
