//go:build !amd64

package gemm

// haveAVX is false off amd64: the moves are Go loops.
const haveAVX = false

// packB16T is never called where haveAVX is false.
func packB16T(dst, src *float32, ld, blocks int) { panic("gemm: no AVX moves on this CPU") }

// packA6 is never called where haveAVX is false.
func packA6(dst, src *float32, ld, blocks int) { panic("gemm: no AVX moves on this CPU") }

// move16 is never called where haveAVX is false.
func move16(dst, src *float32, dstStride, srcStride, n int) { panic("gemm: no AVX moves on this CPU") }

// addRows is never called where haveAVX is false.
func addRows(dst, src *float32, n, rows, dstStride, srcStride int) {
	panic("gemm: no AVX moves on this CPU")
}
