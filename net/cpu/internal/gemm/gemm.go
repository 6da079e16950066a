// Package gemm is the CPU backend's single-precision matrix product: packed panels of A and B
// fed to a register-blocked 6x16 micro-kernel, in AVX+FMA assembly on amd64 CPUs that have
// it and in Go elsewhere; and the moves a convolution makes around it (building panels,
// folding a product back into an image), with AVX where it runs.
//
// Every element of C is one chain of fused multiply-adds in the order of k:
//
//	c = beta*c (or 0 when beta is 0); for p = 0..k-1: c = fma(op(A)[i][p], op(B)[p][j], c)
//
// with a single rounding per step. Edge tiles run the same chain on zero-padded panels, and
// the chain does not depend on the blocking (the accumulators go through C between k slabs
// unchanged), so an element's bits depend on its row of op(A), its column of op(B) and beta
// alone: never on m, n, where the element sits in a tile, or how callers split the work.
// The Go kernel computes each float32 fma exactly (see fma32), so both kernels give the same
// bits.
package gemm

//go:generate sh -c "cd ../asm && go run . -set gemm -pkg gemm -out ../gemm/kernel_amd64.s -stubs ../gemm/kernel_amd64.go"

import (
	"fmt"
	"os"
)

const (
	mr = 6  // rows of a micro-tile
	nr = 16 // columns of a micro-tile
	// kc is the depth of a packed slab: a kc x nr strip of B (16 KiB) stays in L1 while the
	// micro-kernel sweeps the strips of A.
	kc = 256
	// mc rows of A are packed at a time (120 KiB at full depth: L2).
	mc = 120
	// nc columns of B are packed at a time (2 MiB at full depth: L3).
	nc = 2048
)

// Kernel names the micro-kernel in use: "fma" (AVX+FMA assembly on amd64, Go compiled to
// FMADDS on arm64) or "portable" (Go, each fused multiply-add emulated exactly).
// ROUT_GEMM=portable forces the Go kernel.
var Kernel = pickKernel(os.Getenv("ROUT_GEMM"))

func pickKernel(env string) string {
	switch env {
	case "", "auto":
		if haveFMA {
			return "fma"
		}
		return "portable"
	case "portable":
		return "portable"
	}
	panic(fmt.Sprintf("gemm: ROUT_GEMM=%q: want \"portable\" or \"auto\" (or unset)", env))
}

// useAVX says whether the AVX moves run: where the FMA kernel does (ROUT_GEMM=portable turns
// both off, so that the tests cover the Go moves too).
func useAVX() bool { return Kernel == "fma" && haveAVX }

// Buffers hold the packed panels of a caller's products, so that once grown they allocate
// nothing. The zero value is ready; one Buffers serves one goroutine at a time.
type Buffers struct {
	a, b []float32
	mat  matrix
}

// Strip is the width of the column strips in which PackB lays out op(B).
const Strip = nr

// A Packer supplies op(B) to SgemmPacked, so that a caller can build B's panels straight from
// its own data (a convolution's input) without first writing B out.
type Packer interface {
	// PackB writes rows p0..p0+kp and columns j0..j0+nj of op(B) into dst: strip s (columns
	// j0+Strip*s onwards) at dst[s*Strip*kp:], row p of it at Strip*(p-p0) within the strip,
	// zeros past column j0+nj. dst holds exactly the strips needed.
	PackB(dst []float32, p0, kp, j0, nj int)
}

// PackStrip lays kp-long rows j = 0..Strip-1 of a row-major matrix (ld apart in src) down the
// lanes of one strip, dst[p*Strip+j] = src[j*ld+p], as PackB lays out op(B) when B is stored
// transposed: with AVX 8x8 transposes where the FMA kernel runs, with a Go loop elsewhere.
func PackStrip(dst, src []float32, ld, kp int) {
	_ = dst[nr*kp-1]
	_ = src[(nr-1)*ld+kp-1]
	from := 0
	if blocks := kp / 8; useAVX() && blocks > 0 {
		packB16T(&dst[0], &src[0], ld, blocks)
		from = 8 * blocks
	}
	for j := 0; j < nr; j++ {
		row := src[j*ld : j*ld+kp]
		for p := from; p < kp; p++ {
			dst[p*nr+j] = row[p]
		}
	}
}

// SpreadRow lays row (one row of op(B), nj = len(row) columns) into row p of a panel of
// kp-row strips as PackB writes them: dst[(j/Strip)*Strip*kp + p*Strip + j%Strip] = row[j],
// zeros past nj in the last strip.
func SpreadRow(dst, row []float32, p, kp int) {
	nj := len(row)
	full := nj / nr
	if full > 0 {
		_ = dst[(full-1)*nr*kp+p*nr+nr-1]
		if useAVX() {
			move16(&dst[p*nr], &row[0], nr*kp, nr, full)
		} else {
			for s := 0; s < full; s++ {
				copy(dst[s*nr*kp+p*nr:s*nr*kp+p*nr+nr], row[s*nr:])
			}
		}
	}
	if r := nj - full*nr; r > 0 {
		d := dst[full*nr*kp+p*nr : full*nr*kp+(p+1)*nr]
		copy(d, row[full*nr:])
		clear(d[r:])
	}
}

// AddRows sets dst[r*dstStride+i] += src[r*srcStride+i] for i < n and r < rows: col2im's fold
// of one kernel tap of a product back into an image plane, with AVX where the FMA kernel runs.
// Each element gets the one float32 addition of the Go loop, so the bits are the same either way.
func AddRows(dst, src []float32, n, rows, dstStride, srcStride int) {
	if n <= 0 || rows <= 0 {
		return
	}
	_ = dst[(rows-1)*dstStride+n-1]
	_ = src[(rows-1)*srcStride+n-1]
	if useAVX() {
		addRows(&dst[0], &src[0], n, rows, dstStride, srcStride)
		return
	}
	for r := 0; r < rows; r++ {
		d, s := dst[r*dstStride:r*dstStride+n], src[r*srcStride:r*srcStride+n]
		for i, v := range s {
			d[i] += v
		}
	}
}

// Sgemm computes C = op(A) op(B) + beta C for row-major C (m x n), op(A) (m x k) and op(B)
// (k x n), where op transposes when tA or tB is set (A is then stored k x m, B n x k). It runs
// on the calling goroutine.
func (buf *Buffers) Sgemm(tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	buf.SgemmPacked(tA, m, n, k, a, lda, buf.Matrix(tB, k, n, b, ldb), beta, c, ldc)
	buf.mat = matrix{}
}

// SgemmPacked is Sgemm with op(B) (k x n) supplied by b.
func (buf *Buffers) SgemmPacked(tA bool, m, n, k int, a []float32, lda int, b Packer, beta float32, c []float32, ldc int) {
	check("A", tA, m, k, a, lda)
	buf.product(m, n, k, b, beta, c, ldc, func(i0, mi, p0, kp int) []float32 {
		pa := grow(&buf.a, roundUp(mi, mr)*kp)
		packA(pa, tA, a, lda, i0, mi, p0, kp)
		return pa
	})
}

// PackedA is op(A) packed once for products with many B, as SgemmPacked would pack it for each:
// a convolution's weights, the same for every chunk of the batch. The zero value is ready.
type PackedA struct {
	m, k int
	data []float32
}

// Pack packs op(A) (m x k; A is stored k x m when tA), reusing pa's memory.
func (pa *PackedA) Pack(tA bool, m, k int, a []float32, lda int) {
	check("A", tA, m, k, a, lda)
	pa.m, pa.k = m, k
	pa.data = grow(&pa.data, roundUp(m, mr)*k)
	for p0 := 0; p0 < k; p0 += kc {
		kp := min(kc, k-p0)
		for i0 := 0; i0 < m; i0 += mc {
			mi := min(mc, m-i0)
			packA(pa.block(i0, mi, p0, kp), tA, a, lda, i0, mi, p0, kp)
		}
	}
}

// block is the panel of rows i0..i0+mi and columns p0..p0+kp: slab after slab of kc columns,
// each holding its blocks of mc rows (a multiple of mr) in order.
func (pa *PackedA) block(i0, mi, p0, kp int) []float32 {
	at := roundUp(pa.m, mr)*p0 + i0*kp
	return pa.data[at : at+roundUp(mi, mr)*kp]
}

// SgemmPrepacked is SgemmPacked with op(A) packed beforehand: C = op(A) op(B) + beta C for
// op(B) (k x n) supplied by b. The products are those of SgemmPacked, bit for bit.
func (buf *Buffers) SgemmPrepacked(pa *PackedA, n int, b Packer, beta float32, c []float32, ldc int) {
	buf.product(pa.m, n, pa.k, b, beta, c, ldc, pa.block)
}

// Matrix returns op(B) (k x n; B stored n x k when tB) as a Packer for SgemmPacked or
// SgemmPrepacked, valid until buf's next call.
func (buf *Buffers) Matrix(tB bool, k, n int, b []float32, ldb int) Packer {
	check("B", tB, k, n, b, ldb)
	buf.mat = matrix{tB, b, ldb}
	return &buf.mat
}

// product runs the blocked product, taking op(A)'s packed panels from packed.
func (buf *Buffers) product(m, n, k int, b Packer, beta float32, c []float32, ldc int, packed func(i0, mi, p0, kp int) []float32) {
	check("C", false, m, n, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if beta != 0 && beta != 1 || k == 0 {
		scale(m, n, beta, c, ldc)
		if k == 0 {
			return
		}
		beta = 1
	}
	fma := Kernel == "fma"
	var edge [mr * nr]float32
	for j0 := 0; j0 < n; j0 += nc {
		nj := min(nc, n-j0)
		for p0 := 0; p0 < k; p0 += kc {
			kp := min(kc, k-p0)
			load := beta != 0 || p0 > 0
			pb := grow(&buf.b, roundUp(nj, nr)*kp)
			b.PackB(pb, p0, kp, j0, nj)
			for i0 := 0; i0 < m; i0 += mc {
				mi := min(mc, m-i0)
				pa := packed(i0, mi, p0, kp)
				for jr := 0; jr < nj; jr += nr {
					bs := pb[jr*kp:]
					cols := min(nr, nj-jr)
					// The full tiles of a full strip in one call, then the edge tiles.
					ir := 0
					if full := mi / mr; cols == nr && full > 0 {
						micro(fma, kp, pa, bs, c[i0*ldc+j0+jr:], ldc, load, full)
						ir = full * mr
					}
					for ; ir < mi; ir += mr {
						as := pa[ir*kp:]
						rows := min(mr, mi-ir)
						ct := c[(i0+ir)*ldc+j0+jr:]
						// An edge tile: the same chain on a copy of C's part of it.
						if load {
							for i := 0; i < rows; i++ {
								copy(edge[i*nr:i*nr+cols], ct[i*ldc:i*ldc+cols])
							}
						}
						micro(fma, kp, as, bs, edge[:], nr, load, 1)
						for i := 0; i < rows; i++ {
							copy(ct[i*ldc:i*ldc+cols], edge[i*nr:i*nr+cols])
						}
					}
				}
			}
		}
	}
}

// micro runs the kernel over tiles mr x nr tiles down c, op(A)'s consecutive strips in a
// against one strip of b; c must hold (tiles*mr-1)*ldc+nr elements.
func micro(fma bool, k int, a, b, c []float32, ldc int, load bool, tiles int) {
	_ = a[tiles*k*mr-1]
	_ = b[k*nr-1]
	_ = c[(tiles*mr-1)*ldc+nr-1]
	if fma {
		kernelFMA(k, &a[0], &b[0], &c[0], ldc, load, tiles)
		return
	}
	for t := 0; t < tiles; t++ {
		kernelGo(k, a[t*k*mr:], b, c[t*mr*ldc:], ldc, load)
	}
}

// packA copies rows i0..i0+mi of op(A), columns p0..p0+kp, into dst as strips of mr rows,
// each strip column-major (mr values per step of k), the last strip zero-padded. Full strips
// of an untransposed A move 8 columns at a time through packA6 where it runs.
func packA(dst []float32, tA bool, a []float32, lda, i0, mi, p0, kp int) {
	if r := mi % mr; r != 0 {
		clear(dst[(mi-r)*kp : (mi-r+mr)*kp])
	}
	if tA {
		// op(A)'s columns are A's rows: each row of A is read once, in order, and dealt out
		// mr at a time to the strips (strip by strip it would be read mr floats a row, a
		// page apart, for every strip).
		for p := 0; p < kp; p++ {
			row := a[(p0+p)*lda+i0 : (p0+p)*lda+i0+mi]
			for ir := 0; ir < mi; ir += mr {
				src := row[ir:min(ir+mr, mi)]
				d := dst[ir*kp+p*mr : ir*kp+p*mr+len(src)]
				for i := range d { // short: a loop, not a memmove call
					d[i] = src[i]
				}
			}
		}
		return
	}
	for ir := 0; ir < mi; ir += mr {
		s := dst[ir*kp : (ir+mr)*kp]
		rows := min(mr, mi-ir)
		from := 0
		if blocks := kp / 8; useAVX() && rows == mr && blocks > 0 {
			src := a[(i0+ir)*lda+p0 : (i0+ir+mr-1)*lda+p0+kp]
			packA6(&s[0], &src[0], lda, blocks)
			from = 8 * blocks
		}
		for i := 0; i < rows; i++ {
			r := i0 + ir + i
			row := a[r*lda+p0 : r*lda+p0+kp]
			for p := from; p < kp; p++ {
				s[p*mr+i] = row[p]
			}
		}
	}
}

// matrix is op(B) held as a row-major matrix (B is n x k when t).
type matrix struct {
	t  bool
	b  []float32
	ld int
}

func (q *matrix) PackB(dst []float32, p0, kp, j0, nj int) {
	for jr := 0; jr < nj; jr += nr {
		s := dst[jr*kp : (jr+nr)*kp]
		cols := min(nr, nj-jr)
		if cols < nr {
			clear(s)
		}
		if q.t {
			if cols == nr {
				PackStrip(s, q.b[(j0+jr)*q.ld+p0:], q.ld, kp)
				continue
			}
			for j := 0; j < cols; j++ {
				o := (j0+jr+j)*q.ld + p0
				for p, v := range q.b[o : o+kp] {
					s[p*nr+j] = v
				}
			}
			continue
		}
		o := p0*q.ld + j0 + jr
		if cols == nr && useAVX() {
			_ = q.b[o+(kp-1)*q.ld+nr-1]
			move16(&s[0], &q.b[o], nr, q.ld, kp)
			continue
		}
		for p := 0; p < kp; p++ {
			copy(s[p*nr:p*nr+cols], q.b[o+p*q.ld:o+p*q.ld+cols])
		}
	}
}

// scale sets C = beta C (C = 0 when beta is 0, whatever C held).
func scale(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// check panics unless s holds a rows x cols matrix (cols x rows when t) with leading dimension ld.
func check(name string, t bool, rows, cols int, s []float32, ld int) {
	if t {
		rows, cols = cols, rows
	}
	if rows < 0 || cols < 0 || ld < max(1, cols) {
		panic(fmt.Sprintf("gemm: %s: %dx%d with leading dimension %d", name, rows, cols, ld))
	}
	if rows > 0 && cols > 0 && len(s) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("gemm: %s: %dx%d with leading dimension %d needs %d elements, have %d", name, rows, cols, ld, (rows-1)*ld+cols, len(s)))
	}
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

// grow returns (*s)[:n], reallocating when the capacity is short.
func grow(s *[]float32, n int) []float32 {
	if cap(*s) < n {
		*s = make([]float32, n)
	}
	return (*s)[:n]
}
