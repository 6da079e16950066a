package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The micro-kernel's tile: mr rows of C by nr columns, nr/8 YMM registers a row. 6x16 keeps
// 12 accumulators, the two vectors of a row of B and one broadcast of A in the 16 YMM registers.
const (
	mr = 6
	nr = 16
)

// gemmSet is package gemm's assembly: the micro-kernel, the peak probe and the moves.
func gemmSet() {
	kernel()
	peak()
	packStrips()
	move16()
	addRows()
}

// kernel: for every p < k in order, C[i][j] = fma(A[p][i], B[p][j], C[i][j]), starting from
// C's values when load is set and from zero otherwise. a holds k columns of mr values of
// op(A), b k rows of nr values of op(B) (the packed panels); c is the tile, row-major with
// leading dimension ldc.
func kernel() {
	TEXT("kernelFMA", NOSPLIT, "func(k int, a, b, c *float32, ldc int, load bool, tiles int)")
	Pragma("noescape")
	Doc("kernelFMA runs the 6x16 micro-kernel on tiles tiles down C, one B strip against",
		"consecutive A strips: see kernelGo for its definition.")
	k0 := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	b0 := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc) // bytes
	load := Load(Param("load"), GP8())
	tiles := Load(Param("tiles"), GP64())
	k, b := GP64(), GP64()

	var acc [mr][nr / 8]VecVirtual
	for i := range acc {
		for j := range acc[i] {
			acc[i][j] = YMM()
		}
	}
	row := GP64()

	Comment("A tile: A's next strip (where the last one's k steps ended) against the B strip.")
	Label("tile")
	MOVQ(k0, k)
	MOVQ(b0, b)
	Comment("Accumulators: C's tile, or zero.")
	CMPB(load, U8(0))
	JEQ(LabelRef("zero"))
	MOVQ(c, row)
	for i := range acc {
		for j := range acc[i] {
			VMOVUPS(Mem{Base: row, Disp: 32 * j}, acc[i][j])
		}
		if i < mr-1 {
			ADDQ(ldc, row)
		}
	}
	JMP(LabelRef("loop"))
	Label("zero")
	for i := range acc {
		for j := range acc[i] {
			VXORPS(acc[i][j], acc[i][j], acc[i][j])
		}
	}

	var bv [nr / 8]VecVirtual
	for j := range bv {
		bv[j] = YMM()
	}
	t := YMM()
	step := func(p int) {
		for j := range bv {
			VMOVUPS(Mem{Base: b, Disp: 4 * (p*nr + 8*j)}, bv[j])
		}
		for i := range acc {
			VBROADCASTSS(Mem{Base: a, Disp: 4 * (p*mr + i)}, t)
			for j := range bv {
				VFMADD231PS(bv[j], t, acc[i][j])
			}
		}
	}

	const unroll = 4
	Comment(fmt.Sprintf("k steps, %d at a time, then one at a time: the FMA order is the same.", unroll))
	Label("loop")
	CMPQ(k, U8(unroll))
	JL(LabelRef("tail"))
	for p := 0; p < unroll; p++ {
		step(p)
	}
	ADDQ(U32(4*unroll*mr), a)
	ADDQ(U32(4*unroll*nr), b)
	SUBQ(U8(unroll), k)
	JMP(LabelRef("loop"))
	Label("tail")
	TESTQ(k, k)
	JE(LabelRef("store"))
	step(0)
	ADDQ(U32(4*mr), a)
	ADDQ(U32(4*nr), b)
	DECQ(k)
	JMP(LabelRef("tail"))

	Label("store")
	for i := range acc {
		for j := range acc[i] {
			VMOVUPS(acc[i][j], Mem{Base: c, Disp: 32 * j})
		}
		ADDQ(ldc, c) // the last time, to the next tile's first row
	}
	DECQ(tiles)
	JNE(LabelRef("tile"))
	VZEROUPPER()
	RET()
}

// peak runs n rounds of 12 independent 8-wide FMAs (192 flops) on registers alone: the most
// one core can do, which the GEMM benchmarks are measured against.
func peak() {
	TEXT("fmaPeak", NOSPLIT, "func(n int)")
	Doc("fmaPeak runs n rounds of 12 independent 8-wide FMAs (192 flops) without memory traffic.")
	n := Load(Param("n"), GP64())
	var acc [12]VecVirtual
	x, y := YMM(), YMM()
	VXORPS(x, x, x)
	VXORPS(y, y, y)
	for i := range acc {
		acc[i] = YMM()
		VXORPS(acc[i], acc[i], acc[i])
	}
	Label("loop")
	TESTQ(n, n)
	JE(LabelRef("done"))
	for i := range acc {
		VFMADD231PS(x, y, acc[i])
	}
	DECQ(n)
	JMP(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// transpose8 transposes the 8x8 block held in r (row i in r[i]) and returns its columns
// (column i in the result's i), with the usual unpack, shuffle and lane-permute steps. With
// six it reads rows 0..5 only and leaves lanes 6 and 7 of every column undefined.
func transpose8(r [8]VecVirtual, six bool) [8]VecVirtual {
	var t, s, c [8]VecVirtual
	for i := 0; i < 8; i += 2 {
		if six && i == 6 {
			t[6], t[7] = t[4], t[5]
			break
		}
		t[i], t[i+1] = YMM(), YMM()
		VUNPCKLPS(r[i+1], r[i], t[i])   // r_i0 r_(i+1)0 r_i1 r_(i+1)1, and the same for 4, 5
		VUNPCKHPS(r[i+1], r[i], t[i+1]) // the same for columns 2, 3 and 6, 7
	}
	for q := 0; q < 2; q++ { // rows 0..3, then rows 4..7
		for h := 0; h < 2; h++ { // columns 0, 1, 4, 5, then 2, 3, 6, 7
			lo, hi := t[4*q+h], t[4*q+h+2]
			s[4*q+2*h], s[4*q+2*h+1] = YMM(), YMM()
			VSHUFPS(U8(0x44), hi, lo, s[4*q+2*h])
			VSHUFPS(U8(0xee), hi, lo, s[4*q+2*h+1])
		}
	}
	for i := 0; i < 4; i++ {
		c[i], c[i+4] = YMM(), YMM()
		VPERM2F128(U8(0x20), s[4+i], s[i], c[i])
		VPERM2F128(U8(0x31), s[4+i], s[i], c[i+4])
	}
	return c
}

// packStrips generates the two packers of full panels: packB16T lays 16 rows of B (a
// transposed operand) side by side as a strip of 16 lanes, and packA6 lays 6 rows of A down
// a strip of 6. Both move blocks of 8 columns; the callers copy the rest in Go.
func packStrips() {
	for _, pk := range []struct {
		name, doc string
		rows      int // rows read; each column of them becomes one row of the strip
	}{
		{"packB16T", "packB16T sets dst[p*16+j] = src[j*ld+p] for j < 16 and p < 8*blocks.", 16},
		{"packA6", "packA6 sets dst[p*6+i] = src[i*ld+p] for i < 6 and p < 8*blocks.", 6},
	} {
		TEXT(pk.name, NOSPLIT, "func(dst, src *float32, ld, blocks int)")
		Pragma("noescape")
		Doc(pk.doc)
		dst := Load(Param("dst"), GP64())
		src := Load(Param("src"), GP64())
		ld := Load(Param("ld"), GP64())
		SHLQ(U8(2), ld) // bytes
		n := Load(Param("blocks"), GP64())
		row := GP64()
		Label(pk.name + "_loop")
		TESTQ(n, n)
		JE(LabelRef(pk.name + "_done"))
		for h := 0; h < pk.rows; h += 8 {
			MOVQ(src, row)
			if h > 0 {
				for i := 0; i < h; i++ {
					ADDQ(ld, row)
				}
			}
			var r [8]VecVirtual
			rows := min(8, pk.rows-h)
			for i := 0; i < rows; i++ {
				r[i] = YMM()
				VMOVUPS(Mem{Base: row}, r[i])
				if i < rows-1 {
					ADDQ(ld, row)
				}
			}
			c := transpose8(r, rows == 6)
			for p := range c {
				if pk.rows == 16 {
					VMOVUPS(c[p], Mem{Base: dst, Disp: 4 * (p*16 + h)})
					continue
				}
				hi := XMM()
				VMOVUPS(c[p].AsX(), Mem{Base: dst, Disp: 4 * p * 6})
				VEXTRACTF128(U8(1), c[p], hi)
				VMOVQ(hi, Mem{Base: dst, Disp: 4*p*6 + 16})
			}
		}
		ADDQ(U8(32), src)
		ADDQ(U32(4*8*pk.rows), dst)
		DECQ(n)
		JMP(LabelRef(pk.name + "_loop"))
		Label(pk.name + "_done")
		VZEROUPPER()
		RET()
	}
}

// move16 generates move16, which moves n pieces of 16 floats between strided places: the rows
// of an untransposed panel out of B (strided source) or into strips (strided destination).
// Two vector moves a piece, where Go calls memmove.
func move16() {
	TEXT("move16", NOSPLIT, "func(dst, src *float32, dstStride, srcStride, n int)")
	Pragma("noescape")
	Doc("move16 sets dst[i*dstStride+j] = src[i*srcStride+j] for j < 16 and i < n.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	ds := Load(Param("dstStride"), GP64())
	SHLQ(U8(2), ds) // bytes
	ss := Load(Param("srcStride"), GP64())
	SHLQ(U8(2), ss)
	n := Load(Param("n"), GP64())
	lo, hi := YMM(), YMM()
	Label("move_loop")
	TESTQ(n, n)
	JE(LabelRef("move_done"))
	VMOVUPS(Mem{Base: src}, lo)
	VMOVUPS(Mem{Base: src, Disp: 32}, hi)
	VMOVUPS(lo, Mem{Base: dst})
	VMOVUPS(hi, Mem{Base: dst, Disp: 32})
	ADDQ(ss, src)
	ADDQ(ds, dst)
	DECQ(n)
	JMP(LabelRef("move_loop"))
	Label("move_done")
	VZEROUPPER()
	RET()
}

// addRows generates addRows, col2im's fold of one kernel tap: rows runs of n floats added into
// rows of dst, eight at a time, then four, then one at a time. Each element gets the one float32 addition
// Go would give it; one call covers a whole plane, so short rows (7 floats) pay no call each.
func addRows() {
	TEXT("addRows", NOSPLIT, "func(dst, src *float32, n, rows, dstStride, srcStride int)")
	Pragma("noescape")
	Doc("addRows sets dst[r*dstStride+i] += src[r*srcStride+i] for i < n and r < rows.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	rows := Load(Param("rows"), GP64())
	ds := Load(Param("dstStride"), GP64())
	SHLQ(U8(2), ds) // bytes
	ss := Load(Param("srcStride"), GP64())
	SHLQ(U8(2), ss)
	d, s, left := GP64(), GP64(), GP64()
	x, y := YMM(), YMM()
	Label("rows_loop")
	TESTQ(rows, rows)
	JE(LabelRef("rows_done"))
	MOVQ(dst, d)
	MOVQ(src, s)
	MOVQ(n, left)
	Label("rows_vec")
	CMPQ(left, U8(8))
	JL(LabelRef("rows_tail"))
	VMOVUPS(Mem{Base: d}, x)
	VADDPS(Mem{Base: s}, x, x)
	VMOVUPS(x, Mem{Base: d})
	ADDQ(U8(32), d)
	ADDQ(U8(32), s)
	SUBQ(U8(8), left)
	JMP(LabelRef("rows_vec"))
	Label("rows_tail")
	CMPQ(left, U8(4))
	JL(LabelRef("rows_one"))
	VMOVUPS(Mem{Base: d}, x.AsX())
	VADDPS(Mem{Base: s}, x.AsX(), x.AsX())
	VMOVUPS(x.AsX(), Mem{Base: d})
	ADDQ(U8(16), d)
	ADDQ(U8(16), s)
	SUBQ(U8(4), left)
	Label("rows_one")
	TESTQ(left, left)
	JE(LabelRef("rows_next"))
	VMOVSS(Mem{Base: d}, y.AsX())
	VADDSS(Mem{Base: s}, y.AsX(), y.AsX())
	VMOVSS(y.AsX(), Mem{Base: d})
	ADDQ(U8(4), d)
	ADDQ(U8(4), s)
	DECQ(left)
	JMP(LabelRef("rows_one"))
	Label("rows_next")
	ADDQ(ds, dst)
	ADDQ(ss, src)
	DECQ(rows)
	JMP(LabelRef("rows_loop"))
	Label("rows_done")
	VZEROUPPER()
	RET()
}
