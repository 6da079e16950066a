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
			copy(dst[jr*kp+p*s:jr*kp+p*s+s], seg[jr:jr+s])
		}
	}
}

// row writes columns j0..j0+len(dst) of the matrix's row r into dst.
func (q *patches) row(dst []float32, r, j0 int) {
	g := q.g
	c, kk := r/(g.kh*g.kw), r%(g.kh*g.kw)
	ki, kj := kk/g.kw, kk%g.kw
	lo, hi := colRange(kj, g.pw, g.sw, g.w, g.ow)
	for j, end := j0, j0+len(dst); j < end; {
		si, rem := j/g.p, j%g.p
		oh, ow0 := rem/g.ow, rem%g.ow
		n := min(g.ow-ow0, end-j) // the rest of output row oh of sample si
		out := dst[j-j0 : j-j0+n]
		j += n
		ih := oh*g.sh - g.ph + ki
		if ih < 0 || ih >= g.h {
			zero(out)
			continue
		}
		// out[t] is output column ow0+t: zero below lo and from hi, input elsewhere.
		a, b := min(max(lo-ow0, 0), n), min(max(hi-ow0, 0), n)
		zero(out[:a])
		zero(out[b:])
		if a == b {
			continue
		}
		src := sample(q.x, q.xt, q.n0+si)[(c*g.h+ih)*g.w:]
		iw := (ow0+a)*g.sw - g.pw + kj
		if g.sw == 1 {
			copy(out[a:b], src[iw:])
			continue
		}
		for t := a; t < b; t++ {
			out[t] = src[iw]
			iw += g.sw
		}
	}
}
