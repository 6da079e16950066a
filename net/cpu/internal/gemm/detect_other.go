//go:build !amd64 && !arm64

package gemm

// haveFMA is false off amd64 and arm64: the portable kernel runs.
const haveFMA = false

// kernelFMA is never called where haveFMA is false.
func kernelFMA(k int, a, b, c *float32, ldc int, load bool, tiles int) {
	panic("gemm: no FMA kernel on this CPU")
}
