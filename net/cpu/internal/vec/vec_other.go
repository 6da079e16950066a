//go:build !amd64

package vec

// haveAVX is false off amd64: the loops run in Go.
const haveAVX = false

func relu(x, y *float32, blocks int)                    { panic("vec: no assembly on this CPU") }
func reluGrad(y, dy, dx *float32, blocks int)           { panic("vec: no assembly on this CPU") }
func addConst(dst, src *float32, v float32, blocks int) { panic("vec: no assembly on this CPU") }
func maxPool2x2(x, y *float32, w, rows, ow int)         { panic("vec: no assembly on this CPU") }
func maxPool2x2Grad(x, dy, dx *float32, w, rows, ow int, set bool) {
	panic("vec: no assembly on this CPU")
}

func fillRuns(out *float32, outLen int, x *float32, xLen int, runs *int, count int) bool {
	panic("vec: no assembly on this CPU")
}
