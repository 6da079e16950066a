//go:build !nocuda

package gpu

import "rout/net"

func poolMode(p net.PoolParams) cInt {
	if p.Mode == net.MaxPool {
		return 0
	}
	return 1
}

// PoolForward runs kernels/pool.cu's pool_fwd (cuDNN's pooling has no ceil rule).
func (b *Backend) PoolForward(x, y *net.Tensor, p net.PoolParams) {
	net.CheckPool("gpu: pool forward", x, y, p)
	if y.Len() == 0 {
		return
	}
	b.launchPoolFwd(b.blocks(y.Len(), 256), 256, in(x), stride(x), out(y), stride(y),
		i32(x.N), i32(x.C), i32(x.H), i32(x.W), i32(y.H), i32(y.W),
		i32(p.KH), i32(p.KW), i32(p.StrideH), i32(p.StrideW), i32(p.PadH), i32(p.PadW), poolMode(p))
}

// PoolBackward runs kernels/pool.cu's pool_bwd, which gathers per input element (no atomics).
func (b *Backend) PoolBackward(x, y, dy, dx *net.Tensor, p net.PoolParams, accumulate bool) {
	net.CheckPool("gpu: pool backward", x, y, p)
	sameShape("pool backward", x, dx)
	sameShape("pool backward", y, dy)
	if dx.Len() == 0 {
		return
	}
	b.launchPoolBwd(b.blocks(dx.Len(), 256), 256, in(x), stride(x), in(dy), stride(dy), out(dx), stride(dx),
		i32(x.N), i32(x.C), i32(x.H), i32(x.W), i32(y.H), i32(y.W),
		i32(p.KH), i32(p.KW), i32(p.StrideH), i32(p.StrideW), i32(p.PadH), i32(p.PadW), poolMode(p), flag(accumulate))
}

// Launch wrappers of kernels/pool.cu, one per kernel, its parameters in its order.

func (b *Backend) launchPoolFwd(grid, block int, x constFloatPtr, xs cInt, y floatPtr, ys, n, c, h, w, oh, ow, kh, kw, sh, sw, ph, pw, mode cInt) {
	b.launch("pool_fwd", grid, block, x, xs, y, ys, n, c, h, w, oh, ow, kh, kw, sh, sw, ph, pw, mode)
}

func (b *Backend) launchPoolBwd(grid, block int, x constFloatPtr, xs cInt, dy constFloatPtr, dys cInt, dx floatPtr,
	dxs, n, c, h, w, oh, ow, kh, kw, sh, sw, ph, pw, mode, accumulate cInt) {
	b.launch("pool_bwd", grid, block, x, xs, dy, dys, dx, dxs, n, c, h, w, oh, ow, kh, kw, sh, sw, ph, pw, mode, accumulate)
}
