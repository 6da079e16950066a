//go:build !nocuda

package gpu

import (
	"fmt"
	"math"

	"rout/net"
)

func optimTensors(op string, params *net.Tensor, ts ...*net.Tensor) {
	for _, t := range append([]*net.Tensor{params}, ts...) {
		if t.Len() != params.Len() || !t.Dense() {
			panic(fmt.Sprintf("gpu: %s: %v must be dense and as long as %v", op, t, params))
		}
	}
}

// AdamUpdate runs kernels/optim.cu's adam_update; the bias corrections are computed in float64
// and rounded once, as the CPU does.
func (b *Backend) AdamUpdate(params, grads, m, v *net.Tensor, h net.AdamParams) {
	if h.Step < 1 {
		panic(fmt.Sprintf("gpu: adam: step %d, want >= 1", h.Step))
	}
	optimTensors("adam", params, grads, m, v)
	n := params.Len()
	if n == 0 {
		return
	}
	bc1 := float32(1 - math.Pow(float64(h.Beta1), float64(h.Step)))
	bc2 := float32(1 - math.Pow(float64(h.Beta2), float64(h.Step)))
	b.launchAdamUpdate(b.blocks(n, 256), 256, out(params), in(grads), out(m), out(v), i32(n),
		cFloat(h.LR), cFloat(h.Beta1), cFloat(h.Beta2), cFloat(h.Eps), cFloat(h.WeightDecay), cFloat(bc1), cFloat(bc2))
}

// SGDUpdate runs kernels/optim.cu's sgd_update.
func (b *Backend) SGDUpdate(params, grads, vel *net.Tensor, h net.SGDParams) {
	optimTensors("sgd", params, grads, vel)
	n := params.Len()
	if n == 0 {
		return
	}
	b.launchSgdUpdate(b.blocks(n, 256), 256, out(params), in(grads), out(vel), i32(n),
		cFloat(h.LR), cFloat(h.Momentum), cFloat(h.WeightDecay), flag(h.Nesterov))
}

// Launch wrappers of kernels/optim.cu, one per kernel, its parameters in its order.

func (b *Backend) launchAdamUpdate(grid, block int, p floatPtr, g constFloatPtr, m, v floatPtr, n cInt,
	lr, b1, b2, eps, wd, bc1, bc2 cFloat) {
	b.launch("adam_update", grid, block, p, g, m, v, n, lr, b1, b2, eps, wd, bc1, bc2)
}

func (b *Backend) launchSgdUpdate(grid, block int, p floatPtr, g constFloatPtr, vel floatPtr, n cInt, lr, momentum, wd cFloat, nesterov cInt) {
	b.launch("sgd_update", grid, block, p, g, vel, n, lr, momentum, wd, nesterov)
}
