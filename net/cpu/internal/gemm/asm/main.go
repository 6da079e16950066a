// Command asm generates the AVX+FMA micro-kernel of package gemm (../kernel_amd64.s) with avo.
// It is its own module so that avo stays out of rout's module graph; run it through
// `go generate` in package gemm.
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

func main() {
	ConstraintExpr("amd64")
	kernel()
	peak()
	Generate()
}

// kernel: for every p < k in order, C[i][j] = fma(A[p][i], B[p][j], C[i][j]), starting from
// C's values when load is set and from zero otherwise. a holds k columns of mr values of
// op(A), b k rows of nr values of op(B) (the packed panels); c is the tile, row-major with
// leading dimension ldc.
func kernel() {
	TEXT("kernelFMA", NOSPLIT, "func(k int, a, b, c *float32, ldc int, load bool)")
	Pragma("noescape")
	Doc("kernelFMA runs the 6x16 micro-kernel: see kernelGo for its definition.")
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc) // bytes
	load := Load(Param("load"), GP8())

	var acc [mr][nr / 8]VecVirtual
	for i := range acc {
		for j := range acc[i] {
			acc[i][j] = YMM()
		}
	}
	row := GP64()

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
		if i < mr-1 {
			ADDQ(ldc, c)
		}
	}
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
