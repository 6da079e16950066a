package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Predicates of VCMPPS.
const (
	cmpUnord = 0x03 // either operand is a NaN
	cmpGT    = 0x1e // greater than, ordered (false with a NaN), quiet
)

// vecSet is package vec's assembly: ReLU and its gradient, adding a constant, 2x2 max pooling
// and its gradient, and the im2col rows' runs. Each computes, element by element, exactly what
// the package's Go loop does: the same float32 operations with the same signed-zero results,
// and a NaN where Go gives one.
func vecSet() {
	relu()
	reluGrad()
	addConst()
	masks := maskTable()
	pool(false, masks)
	pool(true, masks)
	fillRuns(masks)
}

// relu: y = max(x, 0) as Go's max computes it. VMAXPS(x, 0) gives 0 > x ? 0 : x, which is x for
// a NaN (the second source operand wins) and for -0; adding +0 then turns -0 into +0 and
// changes nothing else, as max(-0, 0) = +0 in Go.
func relu() {
	TEXT("relu", NOSPLIT, "func(x, y *float32, blocks int)")
	Pragma("noescape")
	Doc("relu sets y[i] = max(x[i], 0) for i < 8*blocks.")
	x := Load(Param("x"), GP64())
	y := Load(Param("y"), GP64())
	n := Load(Param("blocks"), GP64())
	zero, v := YMM(), YMM()
	VXORPS(zero, zero, zero)
	blocks("relu", n, []Register{x, y}, func() {
		VMAXPS(Mem{Base: x}, zero, v)
		VADDPS(zero, v, v)
		VMOVUPS(v, Mem{Base: y})
	})
}

// reluGrad: dx = dy where y > 0, else +0, as a bit mask (y > 0 is false for a NaN).
func reluGrad() {
	TEXT("reluGrad", NOSPLIT, "func(y, dy, dx *float32, blocks int)")
	Pragma("noescape")
	Doc("reluGrad sets dx[i] = dy[i] where y[i] > 0 and +0 elsewhere, for i < 8*blocks.")
	y := Load(Param("y"), GP64())
	dy := Load(Param("dy"), GP64())
	dx := Load(Param("dx"), GP64())
	n := Load(Param("blocks"), GP64())
	zero, m, v := YMM(), YMM(), YMM()
	VXORPS(zero, zero, zero)
	blocks("grad", n, []Register{y, dy, dx}, func() {
		VMOVUPS(Mem{Base: y}, v)
		VCMPPS(U8(cmpGT), zero, v, m)
		VANDPS(Mem{Base: dy}, m, v)
		VMOVUPS(v, Mem{Base: dx})
	})
}

// addConst: dst = src + v, one float32 addition an element (src the first operand, as Go's
// s[i] += v); dst may be src.
func addConst() {
	TEXT("addConst", NOSPLIT, "func(dst, src *float32, v float32, blocks int)")
	Pragma("noescape")
	Doc("addConst sets dst[i] = src[i] + v for i < 8*blocks.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("blocks"), GP64())
	c, t := YMM(), YMM()
	v, err := Param("v").Resolve()
	if err != nil {
		panic(err)
	}
	VBROADCASTSS(v.Addr, c)
	blocks("add", n, []Register{src, dst}, func() {
		VMOVUPS(Mem{Base: src}, t)
		VADDPS(c, t, t)
		VMOVUPS(t, Mem{Base: dst})
	})
}

// blocks ends an elementwise function: body n times, each pointer 8 floats further on after
// each, then the return.
func blocks(name string, n Register, ptrs []Register, body func()) {
	Label(name + "_loop")
	TESTQ(n, n)
	JE(LabelRef(name + "_done"))
	body()
	for _, p := range ptrs {
		ADDQ(U8(32), p)
	}
	DECQ(n)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// maskTable lays down 16 all-ones words then 16 zero words: the 8 words from word 16-c on are
// the mask of the first c lanes, for c from 0 to 16 (lanes past 8 count as all of them), and
// reading from word 16-c for c down to -8 gives no lanes.
func maskTable() Mem {
	m := GLOBL("vecMasks", RODATA|NOPTR)
	for i := 0; i < 32; i++ {
		word := U32(0xffffffff)
		if i >= 16 {
			word = 0
		}
		DATA(4*i, word)
	}
	return m
}

// maxOf is Go's max(a, b) for float32 lanes: the larger, +0 over -0, and a NaN when either is
// one (b if b is, else a). VMAXPS picks its second source on ties and NaNs, so the two orders
// agree except for ±0 ties, where their AND is +0 unless both are -0, and for NaNs, which the
// blends restore.
func maxOf(a, b VecVirtual) VecVirtual {
	t, u, n := YMM(), YMM(), YMM()
	VMAXPS(b, a, t)
	VMAXPS(a, b, u)
	VANDPS(u, t, t)
	VCMPPS(U8(cmpUnord), a, a, n)
	VBLENDVPS(n, a, t, t)
	VCMPPS(U8(cmpUnord), b, b, n)
	VBLENDVPS(n, b, t, t)
	return t
}

// evenOdd splits 16 consecutive floats (lo: 0-7, hi: 8-15) into their even and odd elements,
// in order.
func evenOdd(lo, hi VecVirtual) (even, odd VecVirtual) {
	a, b := YMM(), YMM()
	VPERM2F128(U8(0x20), hi, lo, a) // 0-3, 8-11
	VPERM2F128(U8(0x31), hi, lo, b) // 4-7, 12-15
	even, odd = YMM(), YMM()
	VSHUFPS(U8(0x88), b, a, even)
	VSHUFPS(U8(0xdd), b, a, odd)
	return even, odd
}

// interleave is evenOdd's inverse: the 16 floats e0 o0 e1 o1 ... as lo (0-7) and hi (8-15).
func interleave(even, odd VecVirtual) (lo, hi VecVirtual) {
	u, v := YMM(), YMM()
	VUNPCKLPS(odd, even, u) // e0 o0 e1 o1 | e4 o4 e5 o5
	VUNPCKHPS(odd, even, v) // e2 o2 e3 o3 | e6 o6 e7 o7
	lo, hi = YMM(), YMM()
	VPERM2F128(U8(0x20), v, u, lo)
	VPERM2F128(U8(0x31), v, u, hi)
	return lo, hi
}

// poolMasks are the masks of a block: nil for a full block of 8 windows, else those of its
// windows and of the first and second 8 elements of each of its two rows.
type poolMasks struct{ win, lo, hi VecVirtual }

// load reads 8 floats, or under mask m the lanes it sets (zeros elsewhere).
func load(mem Mem, m VecVirtual) VecVirtual {
	v := YMM()
	if m == nil {
		VMOVUPS(mem, v)
	} else {
		VMASKMOVPS(mem, m, v)
	}
	return v
}

// store writes 8 floats, or under mask m the lanes it sets.
func store(v VecVirtual, mem Mem, m VecVirtual) {
	if m == nil {
		VMOVUPS(v, mem)
	} else {
		VMASKMOVPS(v, m, mem)
	}
}

// pool generates maxPool2x2 (grad false) or maxPool2x2Grad: for each of rows row pairs (the
// top row at x, the bottom one w floats on, the next pair 2w floats on) its ow windows of 2x2,
// in blocks of 8 and then the last ow%8 under masks. The windows a, b (top row), c, d (bottom
// row) are split out of each row's 16 floats.
func pool(grad bool, masks Mem) {
	name := "maxPool2x2"
	if grad {
		name += "Grad"
		TEXT(name, NOSPLIT, "func(x, dy, dx *float32, w, rows, ow int, set bool)")
		Pragma("noescape")
		Doc(name+" adds dy[r*ow+k] to the first largest of window k of row pair r (in the order",
			"top left, top right, bottom left, bottom right, as MaxPool2x2Grad's Go loop takes them) in dx,",
			"laid out as x, for k < ow and r < rows; with set, to +0 in place of the window's values.")
	} else {
		TEXT(name, NOSPLIT, "func(x, y *float32, w, rows, ow int)")
		Pragma("noescape")
		Doc(name+" sets y[r*ow+k] to the largest of the 2x2 window k of row pair r, as Go's max",
			"computes it, for k < ow and r < rows: the pairs' top rows start 2w floats apart at x.")
	}
	x := Load(Param("x"), GP64())
	out, delta := GP64(), GP64()
	if grad {
		Load(Param("dy"), out)
		Load(Param("dx"), delta)
		SUBQ(x, delta) // dx's address of an x element is its address plus delta
	} else {
		Load(Param("y"), out)
	}
	w := Load(Param("w"), GP64())
	SHLQ(U8(2), w) // bytes
	rows := Load(Param("rows"), GP64())
	ow := Load(Param("ow"), GP64())
	table := GP64()
	LEAQ(masks, table)
	top, bottom, left, off := GP64(), GP64(), GP64(), GP64()
	var set GPVirtual
	if grad {
		set = GP8()
		Load(Param("set"), set)
	}
	blocks := 0

	block := func(m *poolMasks) {
		blocks++
		var win, lo, hi VecVirtual
		if m != nil {
			win, lo, hi = m.win, m.lo, m.hi
		}
		a, b := evenOdd(load(Mem{Base: top}, lo), load(Mem{Base: top, Disp: 32}, hi))
		c, d := evenOdd(load(Mem{Base: bottom}, lo), load(Mem{Base: bottom, Disp: 32}, hi))
		if !grad {
			store(maxOf(maxOf(maxOf(a, b), c), d), Mem{Base: out}, win)
			return
		}
		// Which element takes the gradient: the first strictly larger one, as in Go.
		mb, mc, md, best := YMM(), YMM(), YMM(), YMM()
		VCMPPS(U8(cmpGT), a, b, mb)
		VBLENDVPS(mb, b, a, best)
		VCMPPS(U8(cmpGT), best, c, mc)
		VBLENDVPS(mc, c, best, best)
		VCMPPS(U8(cmpGT), best, d, md)
		sa, sb, sc, taken := YMM(), YMM(), YMM(), YMM()
		VANDNPS(mc, md, sc) // c unless d
		VORPS(mc, md, taken)
		VANDNPS(mb, taken, sb) // b unless c or d
		VORPS(mb, taken, taken)
		VXORPS(sa, sa, sa)
		VCMPPS(U8(0x00), sa, sa, sa) // all ones (0 == 0)
		VANDNPS(sa, taken, sa)       // a when no other
		g := load(Mem{Base: out}, win)
		glo, ghi := interleave(g, g)
		for r, sel := range [2][2]VecVirtual{{sa, sb}, {sc, md}} {
			row := top
			if r == 1 {
				row = bottom
			}
			mlo, mhi := interleave(sel[0], sel[1])
			for h, pair := range [2][3]VecVirtual{{mlo, glo, lo}, {mhi, ghi, hi}} {
				at := Mem{Base: row, Index: delta, Scale: 1, Disp: 32 * h}
				v := YMM()
				fresh, loaded := fmt.Sprintf("%s_fresh%d_%d_%d", name, blocks, r, h), fmt.Sprintf("%s_loaded%d_%d_%d", name, blocks, r, h)
				CMPB(set, U8(0))
				JNE(LabelRef(fresh))
				if pair[2] == nil {
					VMOVUPS(at, v)
				} else {
					VMASKMOVPS(at, pair[2], v)
				}
				JMP(LabelRef(loaded))
				Label(fresh)
				VXORPS(v, v, v)
				Label(loaded)
				s := YMM()
				VADDPS(pair[1], v, s)
				VBLENDVPS(pair[0], s, v, v)
				store(v, at, pair[2])
			}
		}
	}

	Label(name + "_rows")
	TESTQ(rows, rows)
	JE(LabelRef(name + "_done"))
	MOVQ(x, top)
	MOVQ(x, bottom)
	ADDQ(w, bottom)
	MOVQ(ow, left)
	Label(name + "_block")
	CMPQ(left, U8(8))
	JL(LabelRef(name + "_tail"))
	block(nil)
	ADDQ(U8(64), top)
	ADDQ(U8(64), bottom)
	ADDQ(U8(32), out)
	SUBQ(U8(8), left)
	JMP(LabelRef(name + "_block"))
	Label(name + "_tail")
	TESTQ(left, left)
	JE(LabelRef(name + "_next"))
	// The masks of left windows (word 16-left on) and of 2*left elements (words 16-2*left
	// and 24-2*left on), as byte offsets into the table.
	var m poolMasks
	MOVQ(U32(16), off)
	SUBQ(left, off)
	SHLQ(U8(2), off)
	m.win = YMM()
	VMOVUPS(Mem{Base: table, Index: off, Scale: 1}, m.win)
	MOVQ(U32(16), off)
	SUBQ(left, off)
	SUBQ(left, off)
	SHLQ(U8(2), off)
	m.lo, m.hi = YMM(), YMM()
	VMOVUPS(Mem{Base: table, Index: off, Scale: 1}, m.lo)
	VMOVUPS(Mem{Base: table, Index: off, Scale: 1, Disp: 32}, m.hi)
	block(&m)
	SHLQ(U8(2), left)
	ADDQ(left, out)
	Label(name + "_next")
	ADDQ(w, x)
	ADDQ(w, x)
	DECQ(rows)
	JMP(LabelRef(name + "_rows"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// fillRuns generates fillRuns, the im2col rows' builder: runs of copies and zeros laid down in
// order, eight floats a move. A run's last move loads under a mask (it must not read past x)
// and stores whole, up to 7 floats past the run's end, which the next run or the room the
// caller leaves takes. Every run is checked against the lengths first (unsigned compares, so
// that a negative offset fails too); a bad one stops it, returning false.
func fillRuns(masks Mem) {
	TEXT("fillRuns", NOSPLIT, "func(out *float32, outLen int, x *float32, xLen int, runs *int, count int) bool")
	Pragma("noescape")
	Doc("fillRuns writes count runs into out, in order: see FillRuns; runs points at the first",
		"run's O, and each run is three ints, O, N and Src. It returns false, having written the runs",
		"before it, at the first run that lies outside out (with 7 floats of room) or x.")
	out := Load(Param("out"), GP64())
	outLen := Load(Param("outLen"), GP64())
	x := Load(Param("x"), GP64())
	xLen := Load(Param("xLen"), GP64())
	r := Load(Param("runs"), GP64())
	count := Load(Param("count"), GP64())
	table := GP64()
	LEAQ(masks, table)
	zero, v, m := YMM(), YMM(), YMM()
	VXORPS(zero, zero, zero)
	o, n, src, end, d := GP64(), GP64(), GP64(), GP64(), GP64()

	Label("runs_loop")
	TESTQ(count, count)
	JE(LabelRef("runs_ok"))
	MOVQ(Mem{Base: r}, o)
	MOVQ(Mem{Base: r, Disp: 8}, n)
	MOVQ(Mem{Base: r, Disp: 16}, src)
	CMPQ(o, outLen)
	JA(LabelRef("runs_bad"))
	CMPQ(n, outLen)
	JA(LabelRef("runs_bad"))
	LEAQ(Mem{Base: o, Index: n, Scale: 1, Disp: 7}, end)
	CMPQ(end, outLen)
	JA(LabelRef("runs_bad"))
	LEAQ(Mem{Base: out, Index: o, Scale: 4}, d)
	TESTQ(src, src)
	JS(LabelRef("runs_zeros"))
	CMPQ(src, xLen)
	JA(LabelRef("runs_bad"))
	LEAQ(Mem{Base: src, Index: n, Scale: 1}, end)
	CMPQ(end, xLen)
	JA(LabelRef("runs_bad"))
	LEAQ(Mem{Base: x, Index: src, Scale: 4}, src) // src is now an address

	Label("runs_copy")
	CMPQ(n, U8(8))
	JL(LabelRef("runs_tail"))
	VMOVUPS(Mem{Base: src}, v)
	VMOVUPS(v, Mem{Base: d})
	ADDQ(U8(32), src)
	ADDQ(U8(32), d)
	SUBQ(U8(8), n)
	JMP(LabelRef("runs_copy"))
	Label("runs_tail")
	TESTQ(n, n)
	JE(LabelRef("runs_next"))
	NEGQ(n)
	ADDQ(U8(16), n)
	SHLQ(U8(2), n) // the byte offset of the mask of the n floats left
	VMOVUPS(Mem{Base: table, Index: n, Scale: 1}, m)
	VMASKMOVPS(Mem{Base: src}, m, v)
	VMOVUPS(v, Mem{Base: d})
	JMP(LabelRef("runs_next"))

	Label("runs_zeros")
	TESTQ(n, n)
	JLE(LabelRef("runs_next"))
	VMOVUPS(zero, Mem{Base: d})
	ADDQ(U8(32), d)
	SUBQ(U8(8), n)
	JMP(LabelRef("runs_zeros"))

	Label("runs_next")
	ADDQ(U8(24), r)
	DECQ(count)
	JMP(LabelRef("runs_loop"))
	ok := GP8()
	Label("runs_ok")
	MOVB(U8(1), ok)
	Store(ok, ReturnIndex(0))
	VZEROUPPER()
	RET()
	Label("runs_bad")
	MOVB(U8(0), ok)
	Store(ok, ReturnIndex(0))
	VZEROUPPER()
	RET()
}
