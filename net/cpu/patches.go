package cpu

import (
	"rout/net"
	"rout/net/cpu/internal/gemm"
	"rout/net/cpu/internal/vec"
)

// patches is a chunk's im2col matrix: ckk rows (c, ki, kj) by s*p columns (sample, oh, ow),
// element x[sample][c][oh*sh-ph+ki][ow*sw-pw+kj] or 0 in the padding. It is never written out
// whole: the GEMM asks it for one panel at a time, which it gathers from x straight into the
// packed layout. With t it supplies the transpose (s*p rows by ckk columns), for the weight
// gradient.
//
// Rows are built a run at a time: within one output row (sample, oh), a row of the matrix is a
// run of x (stride sw) between runs of padding zeros, copied whole. (Gathering element by
// element through a table of input offsets was four times slower.) The runs of a range of
// columns depend on the kernel tap (ki, kj) but not on the channel, so plan lists them once
// per tap for a panel, and every channel's row replays its tap's list.
type patches struct {
	g    *convGeom
	x    []float32
	t    bool
	base []int // base[si]: where in x sample n0+si's group-gr planes start
	rows []float32
	// runs are the planned columns' runs, tap by tap: in channel c's row, run r is zeros when
	// r.Src < 0, else x[r.Src + c*h*w + t*sw] for t < r.N, from column r.O on.
	runs []vec.Run
	tap  []int // tap kk's runs are runs[tap[kk]:tap[kk+1]]
}

// room is the floats a row buffer needs past its columns: vec.FillRuns may write 7 past the
// last run.
const room = 7

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
	if q.t {
		// Column j of op(B) is row j of the matrix, laid down lane j%s of its strip: a strip's
		// s rows are built whole (zeros past nj), then interleaved by gemm.PackStrip.
		q.plan(p0, kp)
		rows := grow(&q.rows, s*kp+room)
		for jr := 0; jr < nj; jr += s {
			for j := 0; j < s; j++ {
				if jr+j < nj {
					q.fillRow(rows[j*kp:], j0+jr+j) // its room is the next row's start
				} else {
					clear(rows[j*kp : (j+1)*kp])
				}
			}
			gemm.PackStrip(dst[jr*kp:(jr+s)*kp], rows, kp, kp)
		}
		return
	}
	q.plan(j0, nj)
	row := grow(&q.rows, nj+room)
	for p := 0; p < kp; p++ {
		q.fillRow(row, p0+p)
		gemm.SpreadRow(dst, row[:nj], p, kp)
	}
}

// plan lists, for every kernel tap, the runs of columns j0..j0+n, walking the output rows
// (sample, oh) that they cross.
func (q *patches) plan(j0, n int) {
	g := q.g
	q.runs, q.tap = q.runs[:0], q.tap[:0]
	for ki := 0; ki < g.kh; ki++ {
		for kj := 0; kj < g.kw; kj++ {
			q.tap = append(q.tap, len(q.runs))
			lo, hi := validRange(kj, g.pw, g.sw, g.w, g.ow) // the output columns that read inside x
			si, pos := j0/g.p, j0%g.p
			oh, ow := pos/g.ow, pos%g.ow
			for o := 0; o < n; {
				m := min(g.ow-ow, n-o) // this output row's columns within the range
				ih := oh*g.sh - g.ph + ki
				a, b := max(lo, ow), min(hi, ow+m) // the part inside x
				if ih < 0 || ih >= g.h || a >= b {
					a, b = ow+m, ow+m
				}
				q.zeros(o, a-ow)
				if b > a {
					q.data(o+a-ow, b-a, q.base[si]+ih*g.w+a*g.sw-g.pw+kj)
				}
				q.zeros(o+b-ow, ow+m-b)
				o += m
				if ow, oh = 0, oh+1; oh == g.oh {
					oh, si = 0, si+1
				}
			}
		}
	}
	q.tap = append(q.tap, len(q.runs))
}

// data adds a run of n columns from src on at column o, merged into the last run when that
// one's input continues into it: a tap's rows without padding (the middle column of a 3x3
// kernel) chain into one run over the output rows.
func (q *patches) data(o, n, src int) {
	if k := len(q.runs) - 1; k >= 0 && q.runs[k].Src >= 0 && q.runs[k].O+q.runs[k].N == o && q.runs[k].Src+q.runs[k].N*q.g.sw == src {
		q.runs[k].N += n
		return
	}
	q.runs = append(q.runs, vec.Run{O: o, N: n, Src: src})
}

// zeros adds a run of n zeros at column o, merged into the last run when that is zeros too, and
// left out when vec.FillRuns writes them anyway after the last run of data (the padding column
// after each output row of a 3x3 kernel's left tap, say).
func (q *patches) zeros(o, n int) {
	if n == 0 {
		return
	}
	k := len(q.runs) - 1
	if k >= 0 && q.g.sw == 1 && q.runs[k].Src >= 0 {
		if end := q.runs[k].O + q.runs[k].N; o >= end && o+n <= end+vec.ZerosAfter(q.runs[k].N) {
			return
		}
	}
	if k >= 0 && q.runs[k].Src < 0 && q.runs[k].O+q.runs[k].N == o {
		q.runs[k].N += n
		return
	}
	q.runs = append(q.runs, vec.Run{O: o, N: n, Src: -1})
}

// fillRow writes row r of the matrix, over the planned columns, into out, which has room
// floats past them that it may overwrite.
func (q *patches) fillRow(out []float32, r int) {
	g := q.g
	c, kk := r/(g.kh*g.kw), r%(g.kh*g.kw)
	x := q.x[c*g.h*g.w:]
	runs := q.runs[q.tap[kk]:q.tap[kk+1]]
	if g.sw == 1 {
		vec.FillRuns(out, x, runs)
		return
	}
	for _, rn := range runs {
		seg := out[rn.O : rn.O+rn.N]
		if rn.Src < 0 {
			clear(seg)
			continue
		}
		src := x[rn.Src:]
		for t := range seg {
			seg[t] = src[t*g.sw]
		}
	}
}
