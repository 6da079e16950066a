//go:build !nocuda

package gpu

import "rout/net"

// ReLUForward runs kernels/relu.cu's relu_fwd.
func (b *Backend) ReLUForward(x, y *net.Tensor) {
	sameShape("relu forward", x, y)
	if x.Len() == 0 {
		return
	}
	b.launchReluFwd(b.blocks(x.Len(), 256), 256, in(x), stride(x), out(y), stride(y), i32(x.N), i32(x.SampleLen()))
}

// ReLUBackward runs kernels/relu.cu's relu_bwd.
func (b *Backend) ReLUBackward(y, dy, dx *net.Tensor) {
	sameShape("relu backward", y, dy)
	sameShape("relu backward", y, dx)
	if y.Len() == 0 {
		return
	}
	b.launchReluBwd(b.blocks(y.Len(), 256), 256, in(y), stride(y), in(dy), stride(dy), out(dx), stride(dx),
		i32(y.N), i32(y.SampleLen()))
}

// Launch wrappers of kernels/relu.cu, one per kernel, its parameters in its order.

func (b *Backend) launchReluFwd(grid, block int, x constFloatPtr, xs cInt, y floatPtr, ys, n, len cInt) {
	b.launch("relu_fwd", grid, block, x, xs, y, ys, n, len)
}

func (b *Backend) launchReluBwd(grid, block int, y constFloatPtr, ys cInt, dy constFloatPtr, dys cInt, dx floatPtr, dxs, n, len cInt) {
	b.launch("relu_bwd", grid, block, y, ys, dy, dys, dx, dxs, n, len)
}
