package cpu

import (
	"fmt"

	"rout/net"
	"rout/net/cpu/internal/gemm"
	"rout/net/cpu/internal/vec"
)

// Convolutions run as im2col + GEMM on chunks of samples. A chunk's im2col matrix holds the
// C*KH*KW x OH*OW columns of each of its samples side by side, so that small images (7x7 at the
// end of inception28) still give GEMMs wide enough to run at full speed. The forward pass and
// the weight gradient never write that matrix out: the GEMM packs its panels straight from the
// input (patches). The data gradient writes its gradient and folds it back (col2im). Chunks are
// the parallel tasks; their size depends on the shape alone.

// chunkCols is the least number of GEMM columns a chunk aims for: 24 of the micro-kernel's
// 16-column strips, so that the packed panels are reused across many tiles.
const chunkCols = 384

// filterGroups is how many partial sums ConvBackwardFilter keeps: chunk i adds into partial
// i mod filterGroups, and the partials are summed in order. Fixed, so that the weight gradient
// is bit-identical whatever the number of threads (up to filterGroups threads run at once).
const filterGroups = 8

// convGeom is a convolution's shape. c and k are one group's input channels and filters: a
// grouped convolution runs each group's GEMMs exactly as the ungrouped convolution of that
// group alone would (same shapes, same chunks, same partial sums), so a run trained in a pack
// computes bit for bit what it computes alone.
type convGeom struct {
	n, c, h, w     int
	k, kh, kw      int
	oh, ow         int
	sh, sw, ph, pw int
	groups         int
	ckk, p         int  // C*KH*KW (im2col rows), OH*OW (columns per sample)
	direct         bool // 1x1, stride 1, no padding: x is its own im2col matrix
	per, tasks     int  // samples per chunk, chunks
}

func convGeometry(op string, x, w, y *net.Tensor, p net.ConvParams) convGeom {
	if p.StrideH <= 0 || p.StrideW <= 0 || p.PadH < 0 || p.PadW < 0 || p.Groups < 0 {
		panic(fmt.Sprintf("cpu: %s: bad parameters %+v", op, p))
	}
	ng := p.GroupCount()
	oh, ow := p.OutSize(x.H, x.W, w.H, w.W)
	if w.C*ng != x.C || w.N%ng != 0 || y.C != w.N || y.N != x.N || y.H != oh || y.W != ow || oh <= 0 || ow <= 0 {
		panic(fmt.Sprintf("cpu: %s: x %v, w %v, y %v do not match (%+v gives %dx%d)", op, x.Shape(), w.Shape(), y.Shape(), p, oh, ow))
	}
	if !w.Dense() {
		panic(fmt.Sprintf("cpu: %s: weights %v must be dense", op, w))
	}
	g := convGeom{n: x.N, c: w.C, h: x.H, w: x.W, k: w.N / ng, kh: w.H, kw: w.W, oh: oh, ow: ow,
		sh: p.StrideH, sw: p.StrideW, ph: p.PadH, pw: p.PadW, groups: ng}
	g.ckk, g.p = g.c*g.kh*g.kw, oh*ow
	g.direct = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0
	g.per = max(1, min(g.n, (chunkCols+g.p-1)/g.p))
	g.tasks = (g.n + g.per - 1) / g.per
	return g
}

// outputAsInput is the geometry of a 1x1 convolution whose input is this one's output (per
// group, k channels of oh x ow): its patches are the output's samples side by side.
func (g *convGeom) outputAsInput() convGeom {
	return convGeom{n: g.n, c: g.k, h: g.oh, w: g.ow, k: g.k, kh: 1, kw: 1, oh: g.oh, ow: g.ow, sh: 1, sw: 1,
		groups: g.groups, ckk: g.k, p: g.p, direct: true, per: g.per, tasks: g.tasks}
}

// xPlanes is group gr's input channels of one sample (c planes of h*w).
func (g *convGeom) xPlanes(s []float32, gr int) []float32 {
	hw := g.h * g.w
	return s[gr*g.c*hw : (gr+1)*g.c*hw]
}

// yPlanes is group gr's output channels of one sample (k planes of oh*ow).
func (g *convGeom) yPlanes(s []float32, gr int) []float32 {
	return s[gr*g.k*g.p : (gr+1)*g.k*g.p]
}

// weights is group gr's filters (k x ckk).
func (g *convGeom) weights(w []float32, gr int) []float32 {
	return w[gr*g.k*g.ckk : (gr+1)*g.k*g.ckk]
}

const (
	convForward = iota
	convBackwardData
	convBackwardFilter
)

// convJob is one of the three convolution operations over the chunks of a batch.
type convJob struct {
	b          *Backend
	mode       int
	g          convGeom
	gy         convGeom  // backward data: the output gradient as the input of a 1x1 convolution
	x, w, y    []float32 // x: input (or its gradient), y: output (or its gradient)
	xt, yt     *net.Tensor
	bias       []float32 // forward: the bias or nil; backward filter: non-nil when db is wanted
	accumulate bool
	groups     int
}

// ConvForward runs im2col + GEMM per chunk of samples.
func (b *Backend) ConvForward(x, w, bias, y *net.Tensor, p net.ConvParams) {
	g := convGeometry("conv forward", x, w, y, p)
	j := &b.conv
	*j = convJob{b: b, mode: convForward, g: g, x: data(x), w: flat(w, "conv weights"), y: data(y), xt: x, yt: y}
	if bias != nil {
		j.bias = vector(bias, g.groups*g.k, "conv bias")
	}
	j.packWeights(false)
	b.pool.do(j, g.tasks)
	*j = convJob{}
}

// ConvBackwardData runs GEMM + col2im per chunk of samples.
func (b *Backend) ConvBackwardData(dy, w, dx *net.Tensor, p net.ConvParams, accumulate bool) {
	g := convGeometry("conv backward data", dx, w, dy, p)
	j := &b.conv
	*j = convJob{b: b, mode: convBackwardData, g: g, gy: g.outputAsInput(), x: data(dx), w: flat(w, "conv weights"), y: data(dy), xt: dx, yt: dy, accumulate: accumulate}
	j.packWeights(true)
	b.pool.do(j, g.tasks)
	*j = convJob{}
}

// ConvBackwardFilter adds each chunk's GEMM into one of filterGroups partial sums, then sums
// those in order, so that the result does not depend on the thread count.
func (b *Backend) ConvBackwardFilter(x, dy, dw, db *net.Tensor, p net.ConvParams) {
	g := convGeometry("conv backward filter", x, dw, dy, p)
	groups := min(filterGroups, g.tasks)
	k := g.groups * g.k
	size := k * g.ckk
	j := &b.conv
	*j = convJob{b: b, mode: convBackwardFilter, g: g, x: data(x), y: data(dy), xt: x, yt: dy, groups: groups}
	grow(&b.partial, groups*size)
	pb := grow(&b.partialB, groups*k)
	if db != nil {
		j.bias = vector(db, k, "conv bias gradient")
		for i := range pb {
			pb[i] = 0
		}
	}
	b.pool.do(j, groups)
	b.sumPartials(flat(dw, "conv weight gradient"), b.partial, groups)
	if db != nil {
		for f := range j.bias {
			s := 0.0
			for gi := 0; gi < groups; gi++ {
				s += pb[gi*k+f]
			}
			j.bias[f] = float32(s)
		}
	}
	*j = convJob{}
}

// packWeights packs each group's weights (with t, their transpose, for the data gradient) once
// for all chunks, unless every chunk multiplies a 1x1 convolution's input in place.
func (j *convJob) packWeights(t bool) {
	g, b := &j.g, j.b
	if g.direct && g.per == 1 {
		return
	}
	for len(b.packed) < g.groups {
		b.packed = append(b.packed, gemm.PackedA{})
	}
	for gr := 0; gr < g.groups; gr++ {
		if t {
			b.packed[gr].Pack(true, g.ckk, g.k, g.weights(j.w, gr), g.ckk)
		} else {
			b.packed[gr].Pack(false, g.k, g.ckk, g.weights(j.w, gr), g.ckk)
		}
	}
}

func (j *convJob) run(w, i int) {
	switch j.mode {
	case convForward:
		j.forward(w, i)
	case convBackwardData:
		j.backwardData(w, i)
	default:
		for c := i; c < j.g.tasks; c += j.groups {
			j.backwardFilter(w, i, c, c == i)
		}
	}
}

// chunk is the sample range of task i.
func (j *convJob) chunk(i int) (n0, s, cols int) {
	n0 = i * j.g.per
	s = min(j.g.per, j.g.n-n0)
	return n0, s, s * j.g.p
}

// patches returns group gr's im2col matrix of the chunk (or with t its transpose) as a
// gemm.Packer.
func (j *convJob) patches(sc *scratch, n0, s, gr int, t bool) *patches {
	sc.patches.reuse(&j.g, j.x, j.xt, n0, s, gr, t)
	return &sc.patches
}

// outGrads returns the chunk's output gradients of group gr as a k x cols matrix and its
// leading dimension.
func (j *convJob) outGrads(sc *scratch, n0, s, cols, gr int) ([]float32, int) {
	g := &j.g
	if s == 1 {
		return g.yPlanes(sample(j.y, j.yt, n0), gr), g.p
	}
	t := grow(&sc.tmp, g.k*cols)
	for si := 0; si < s; si++ {
		ys := g.yPlanes(sample(j.y, j.yt, n0+si), gr)
		for k := 0; k < g.k; k++ {
			copy(t[k*cols+si*g.p:k*cols+(si+1)*g.p], ys[k*g.p:(k+1)*g.p])
		}
	}
	return t, cols
}

func (j *convJob) forward(w, i int) {
	g, sc := &j.g, &j.b.scratch[w]
	n0, s, cols := j.chunk(i)
	for gr := 0; gr < g.groups; gr++ {
		wg := g.weights(j.w, gr)
		var bias []float32
		if j.bias != nil {
			bias = j.bias[gr*g.k : (gr+1)*g.k]
		}
		out, ldo := g.yPlanes(sample(j.y, j.yt, n0), gr), g.p
		if s > 1 {
			out, ldo = grow(&sc.tmp, g.k*cols), cols
		}
		if g.direct && s == 1 {
			sc.gemm.Sgemm(false, false, g.k, g.p, g.ckk, wg, g.ckk, g.xPlanes(sample(j.x, j.xt, n0), gr), g.p, 0, out, ldo)
		} else {
			sc.gemm.SgemmPrepacked(&j.b.packed[gr], cols, j.patches(sc, n0, s, gr, false), 0, out, ldo)
		}
		if s == 1 {
			for k, v := range bias {
				vec.AddConst(out[k*g.p:(k+1)*g.p], v)
			}
			continue
		}
		t := out
		for si := 0; si < s; si++ {
			ys := g.yPlanes(sample(j.y, j.yt, n0+si), gr)
			for k := 0; k < g.k; k++ {
				dst, src := ys[k*g.p:(k+1)*g.p], t[k*cols+si*g.p:k*cols+(si+1)*g.p]
				if bias != nil {
					vec.AddConstTo(dst, src, bias[k])
				} else {
					copy(dst, src)
				}
			}
		}
	}
}

func (j *convJob) backwardData(w, i int) {
	g, sc := &j.g, &j.b.scratch[w]
	n0, s, cols := j.chunk(i)
	for gr := 0; gr < g.groups; gr++ {
		if g.direct && s == 1 {
			beta := float32(0)
			if j.accumulate {
				beta = 1
			}
			dy := g.yPlanes(sample(j.y, j.yt, n0), gr)
			sc.gemm.Sgemm(true, false, g.c, g.p, g.k, g.weights(j.w, gr), g.ckk, dy, g.p, beta, g.xPlanes(sample(j.x, j.xt, n0), gr), g.p)
			continue
		}
		// The chunk's output gradients, k x cols: one sample's planes as they lie; several side
		// by side, packed as the patches of a 1x1 convolution of them, which they are.
		var dy gemm.Packer
		if s == 1 {
			dy = sc.gemm.Matrix(false, g.k, cols, g.yPlanes(sample(j.y, j.yt, n0), gr), g.p)
		} else {
			sc.patches.reuse(&j.gy, j.y, j.yt, n0, s, gr, false)
			dy = &sc.patches
		}
		dcol := grow(&sc.col, g.ckk*cols)
		sc.gemm.SgemmPrepacked(&j.b.packed[gr], cols, dy, 0, dcol, cols)
		for si := 0; si < s; si++ {
			dx := g.xPlanes(sample(j.x, j.xt, n0+si), gr)
			if !j.accumulate {
				zero(dx)
			}
			col2im(dcol[si*g.p:], cols, dx, g)
		}
	}
}

// backwardFilter adds chunk c's weight (and bias) gradient into partial gi; first says whether
// it is the partial's first chunk, which overwrites it.
func (j *convJob) backwardFilter(w, gi, c int, first bool) {
	g, sc := &j.g, &j.b.scratch[w]
	n0, s, cols := j.chunk(c)
	beta := float32(1)
	if first {
		beta = 0
	}
	size := g.groups * g.k * g.ckk
	part := j.b.partial[gi*size : (gi+1)*size]
	for gr := 0; gr < g.groups; gr++ {
		dy, ldy := j.outGrads(sc, n0, s, cols, gr)
		dw := g.weights(part, gr)
		if g.direct && s == 1 {
			sc.gemm.Sgemm(false, true, g.k, g.ckk, cols, dy, ldy, g.xPlanes(sample(j.x, j.xt, n0), gr), g.p, beta, dw, g.ckk)
		} else {
			sc.gemm.SgemmPacked(false, g.k, g.ckk, cols, dy, ldy, j.patches(sc, n0, s, gr, true), beta, dw, g.ckk)
		}
		if j.bias != nil {
			addRowSums(j.b.partialB[gi*g.groups*g.k+gr*g.k:gi*g.groups*g.k+(gr+1)*g.k], dy, ldy, cols)
		}
	}
}

// addRowSums adds to sums[k] the float64 sum, in order, of the first cols floats of row k of m
// (leading dimension ld). Four rows go at once: each sum is a chain of dependent additions,
// and four chains keep the adder busy where one waits for each result.
func addRowSums(sums []float64, m []float32, ld, cols int) {
	k := 0
	for ; k+4 <= len(sums); k += 4 {
		r0 := m[k*ld : k*ld+cols]
		r1 := m[(k+1)*ld:][:len(r0)]
		r2 := m[(k+2)*ld:][:len(r0)]
		r3 := m[(k+3)*ld:][:len(r0)]
		var s0, s1, s2, s3 float64
		for i, v := range r0 {
			s0 += float64(v)
			s1 += float64(r1[i])
			s2 += float64(r2[i])
			s3 += float64(r3[i])
		}
		sums[k] += s0
		sums[k+1] += s1
		sums[k+2] += s2
		sums[k+3] += s3
	}
	for ; k < len(sums); k++ {
		s := 0.0
		for _, v := range m[k*ld : k*ld+cols] {
			s += float64(v)
		}
		sums[k] += s
	}
}

// validRange is the range [lo, hi) of output positions o (columns, or rows) along one axis whose
// input position o*s-pad+kj lies in [0, w).
func validRange(kj, pad, s, w, ow int) (int, int) {
	lo, hi := 0, 0
	if d := pad - kj; d > 0 {
		lo = (d + s - 1) / s
	}
	if e := w + pad - kj; e > 0 {
		hi = (e + s - 1) / s
	}
	lo = min(lo, ow)
	return lo, min(max(hi, lo), ow)
}

// col2im adds the patch gradients in col (one sample's columns of a patches matrix, written
// out) into the sample's dx, tap by tap. With a column stride of 1 a tap's valid part is a run
// of hi-lo floats in each valid output row, which gemm.AddRows adds in one call a tap; a dx
// element receives its taps' contributions in the same order either way.
func col2im(col []float32, ld int, dx []float32, g *convGeom) {
	hw := g.h * g.w
	for c := 0; c < g.c; c++ {
		plane := dx[c*hw : (c+1)*hw]
		for ki := 0; ki < g.kh; ki++ {
			// The output rows oh whose input row oh*sh-ph+ki lies in [0, h).
			oh0, oh1 := validRange(ki, g.ph, g.sh, g.h, g.oh)
			for kj := 0; kj < g.kw; kj++ {
				row := col[((c*g.kh+ki)*g.kw+kj)*ld:]
				lo, hi := validRange(kj, g.pw, g.sw, g.w, g.ow)
				if hi <= lo || oh1 <= oh0 {
					continue
				}
				ih, iw := oh0*g.sh-g.ph+ki, lo*g.sw-g.pw+kj
				if g.sw == 1 {
					n, rows := hi-lo, oh1-oh0
					if n == g.w && g.sh == 1 && g.ow == g.w { // rows end to end in both: one run
						n, rows = n*rows, 1
					}
					gemm.AddRows(plane[ih*g.w+iw:], row[oh0*g.ow+lo:], n, rows, g.sh*g.w, g.ow)
					continue
				}
				for oh := oh0; oh < oh1; oh++ {
					seg := row[oh*g.ow : (oh+1)*g.ow]
					dst := plane[(ih+(oh-oh0)*g.sh)*g.w:]
					for ow, at := lo, iw; ow < hi; ow, at = ow+1, at+g.sw {
						dst[at] += seg[ow]
					}
				}
			}
		}
	}
}

// reduceJob sums per-group partials into dst, over element ranges, in group order.
type reduceJob struct {
	dst, src []float32
	groups   int
}

const reduceSpan = 1 << 14

func (j *reduceJob) run(_, i int) {
	lo, hi := i*reduceSpan, min((i+1)*reduceSpan, len(j.dst))
	size := len(j.dst)
	d := j.dst[lo:hi]
	copy(d, j.src[lo:hi])
	for gi := 1; gi < j.groups; gi++ {
		for t, v := range j.src[gi*size+lo : gi*size+hi] {
			d[t] += v
		}
	}
}

// sumPartials sets dst to the sum of groups consecutive partials of len(dst) elements in src.
func (b *Backend) sumPartials(dst, src []float32, groups int) {
	j := &b.reduce
	*j = reduceJob{dst: dst, src: src, groups: groups}
	b.pool.do(j, (len(dst)+reduceSpan-1)/reduceSpan)
	*j = reduceJob{}
}
