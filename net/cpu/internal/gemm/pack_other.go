//go:build !amd64

package gemm

// packAsm is false off amd64: the packers are Go loops.
const packAsm = false

// packB16T is never called where packAsm is false.
func packB16T(dst, src *float32, ld, blocks int) { panic("gemm: no assembly packer on this CPU") }

// packA6 is never called where packAsm is false.
func packA6(dst, src *float32, ld, blocks int) { panic("gemm: no assembly packer on this CPU") }

// spreadRow16 is never called where packAsm is false.
func spreadRow16(dst, row *float32, stride, strips int) {
	panic("gemm: no assembly packer on this CPU")
}
