package cpu

import (
	"rout/net"
	"rout/net/cpu/internal/gemm"
)

// patches is a chunk's im2col matrix: ckk rows (c, ki, kj) by s*p columns (sample, oh, ow),
// element x[sample][c][oh*sh-ph+ki][ow*sw-pw+kj] or 0 in the padding. It is never written out
// whole: the GEMM asks it for one panel at a time, which it gathers from x straight into the
// packed layout. With t it supplies the transpose (s*p rows by ckk columns), for the weight
// gradient.
//
// Rows are built a run at a time: within one output row (sample, oh), a row of the matrix is a
// run of x (stride sw) between runs of padding zeros, copied whole. (Gathering element by
// element through a table of input offsets was four times slower.)
type patches struct {
	g    *convGeom
	x    []float32
	t    bool
	base []int // base[si]: where in x sample n0+si's group-gr planes start
	rows []float32
}

// reuse makes q describe the im2col matrix of group gr's channels of samples n0..n0+s of x,
// keeping q's buffers.
func (q *patches) reuse(g *convGeom, x []float32, xt *net.Tensor, n0, s, gr int, t bool) {
	q.g, q.x, q.t = g, x, t
	q.base = q.base[:0]
	for si := 0; si < s; si++ {
		q.base = append(q.base, xt.Offset+(n0+si)*xt.Stride+gr*g.c*g.h*g.w)
	}
}

var _ gemm.Packer = (*patches)(nil)

func (q *patches) PackB(dst []float32, p0, kp, j0, nj int) {
	const s = gemm.Strip
	full := nj - nj%s
	if q.t {
		// Column j of op(B) is row j of the matrix, laid down lane j%s of its strip: a full
		// strip's s rows are built whole, then interleaved by gemm.PackStrip.
		rows := grow(&q.rows, s*kp)
		for jr := 0; jr < full; jr += s {
			for j := 0; j < s; j++ {
				q.fillRow(rows[j*kp:(j+1)*kp], j0+jr+j, p0)
			}
			gemm.PackStrip(dst[jr*kp:(jr+s)*kp], rows, kp, kp)
		}
		if full < nj {
			d := dst[full*kp : (full+s)*kp]
			clear(d)
			row := rows[:kp]
			for j := full; j < nj; j++ {
				q.fillRow(row, j0+j, p0)
				for p, v := range row {
					d[p*s+j-full] = v
				}
			}
		}
		return
	}
	row := grow(&q.rows, nj)
	for p := 0; p < kp; p++ {
		q.fillRow(row, p0+p, j0)
		gemm.SpreadRow(dst, row, p, kp)
	}
}

// fillRow writes columns j0..j0+len(out) of row r of the matrix into out, walking the output
// rows (sample, oh) that they cross.
func (q *patches) fillRow(out []float32, r, j0 int) {
	g := q.g
	c, kk := r/(g.kh*g.kw), r%(g.kh*g.kw)
	ki, kj := kk/g.kw, kk%g.kw
	lo, hi := colRange(kj, g.pw, g.sw, g.w, g.ow) // the output columns that read inside x
	plane := c*g.h*g.w - g.pw + kj
	si, pos := j0/g.p, j0%g.p
	oh, ow := pos/g.ow, pos%g.ow
	for o := 0; o < len(out); {
		m := min(g.ow-ow, len(out)-o) // this output row's columns within the range
		seg := out[o : o+m]
		ih := oh*g.sh - g.ph + ki
		a, b := max(lo, ow), min(hi, ow+m) // the part of seg inside x
		if ih < 0 || ih >= g.h || a >= b {
			clear(seg)
		} else {
			clear(seg[:a-ow])
			run := seg[a-ow : b-ow]
			src := q.x[q.base[si]+plane+ih*g.w+a*g.sw:]
			if g.sw == 1 {
				copy(run, src)
			} else {
				for t := range run {
					run[t] = src[t*g.sw]
				}
			}
			clear(seg[b-ow:])
		}
		o += m
		if ow, oh = 0, oh+1; oh == g.oh {
			oh, si = 0, si+1
		}
	}
}
