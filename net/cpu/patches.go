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
type patches struct {
	g *convGeom
	x []float32
	t bool
	// at[kk*cols+j] is where in x the element of row (0, kk) and column j sits, -1 in the
	// padding; row (c, kk) is c planes further. Built once a chunk, it spares PackB the index
	// arithmetic of short output rows (7 wide at the end of inception28).
	at   []int
	cols int
	rows []float32 // a strip's rows, gathered for the transposed panels
}

// newPatches describes the im2col matrix of group gr's channels of samples n0..n0+s of x; at
// and rows are reused.
func newPatches(g *convGeom, x []float32, xt *net.Tensor, n0, s, gr int, t bool, at []int, rows []float32) patches {
	cols := s * g.p
	q := patches{g: g, x: x, t: t, at: grow(&at, g.kh*g.kw*cols), cols: cols, rows: rows}
	for ki := 0; ki < g.kh; ki++ {
		for kj := 0; kj < g.kw; kj++ {
			at := q.at[(ki*g.kw+kj)*cols:]
			for si := 0; si < s; si++ {
				base := xt.Offset + (n0+si)*xt.Stride + gr*g.c*g.h*g.w
				for oh := 0; oh < g.oh; oh++ {
					ih := oh*g.sh - g.ph + ki
					row := at[si*g.p+oh*g.ow : si*g.p+(oh+1)*g.ow]
					for ow := range row {
						iw := ow*g.sw - g.pw + kj
						if ih < 0 || ih >= g.h || iw < 0 || iw >= g.w {
							row[ow] = -1
						} else {
							row[ow] = base + ih*g.w + iw
						}
					}
				}
			}
		}
	}
	return q
}

var _ gemm.Packer = (*patches)(nil)

func (q *patches) PackB(dst []float32, p0, kp, j0, nj int) {
	const s = gemm.Strip
	g := q.g
	if q.t {
		// Column j of op(B) is row j of the matrix, laid down lane j%s of its strip: a full
		// strip's s rows are gathered whole, then interleaved by gemm.PackStrip.
		full := nj - nj%s
		rows := grow(&q.rows, s*kp)
		for jr := 0; jr < full; jr += s {
			for j := 0; j < s; j++ {
				q.gather(rows[j*kp:(j+1)*kp], j0+jr+j, p0)
			}
			gemm.PackStrip(dst[jr*kp:(jr+s)*kp], rows, kp, kp)
		}
		if full < nj {
			d := dst[full*kp : (full+s)*kp]
			zero(d)
			for j := full; j < nj; j++ {
				row := rows[:kp]
				q.gather(row, j0+j, p0)
				for p, v := range row {
					d[p*s+j-full] = v
				}
			}
		}
		return
	}
	for p := 0; p < kp; p++ {
		c, kk := (p0+p)/(g.kh*g.kw), (p0+p)%(g.kh*g.kw)
		x := q.x[c*g.h*g.w:]
		at := q.at[kk*q.cols+j0 : kk*q.cols+j0+nj]
		for jr := 0; jr < nj; jr += s {
			d := dst[jr*kp+p*s : jr*kp+p*s+s]
			n := min(s, nj-jr)
			for t, o := range at[jr : jr+n] {
				if o < 0 {
					d[t] = 0
				} else {
					d[t] = x[o]
				}
			}
			clear(d[n:])
		}
	}
}

// gather writes columns p0..p0+len(dst) of row r of the matrix into dst.
func (q *patches) gather(dst []float32, r, p0 int) {
	g := q.g
	c, kk := r/(g.kh*g.kw), r%(g.kh*g.kw)
	x := q.x[c*g.h*g.w:]
	for p, o := range q.at[kk*q.cols+p0 : kk*q.cols+p0+len(dst)] {
		v := float32(0)
		if o >= 0 {
			v = x[o]
		}
		dst[p] = v
	}
}
