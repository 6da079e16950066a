//go:build !nocuda

package gpu

import (
	"fmt"

	"rout/net"
)

// SoftmaxCrossEntropy runs kernels/loss.cu's softmax_xent: one single-block launch, which counts
// the mean's divisor itself.
func (b *Backend) SoftmaxCrossEntropy(logits, labels, dlogits, stats *net.Tensor, r net.Reduction) {
	n, k := logits.N, logits.SampleLen()
	if labels.N != n || labels.SampleLen() != 1 || stats.Len() != 3 || !stats.Dense() || (dlogits != nil && dlogits.Shape() != logits.Shape()) {
		panic(fmt.Sprintf("gpu: softmax cross-entropy: logits %v, labels %v, stats %v do not match", logits.Shape(), labels.Shape(), stats.Shape()))
	}
	if n == 0 {
		return
	}
	dls := cInt(0)
	if dlogits != nil {
		dls = stride(dlogits)
	}
	threads := min(512, 32*n)
	b.launchSoftmaxXent(1, threads, in(logits), stride(logits), in(labels), stride(labels),
		optOut(dlogits), dls, out(stats), i32(n), i32(k), flag(r == net.ReduceMean))
}

// Launch wrapper of kernels/loss.cu's kernel, its parameters in its order.

func (b *Backend) launchSoftmaxXent(grid, block int, logits constFloatPtr, ls cInt, labels constFloatPtr, lbs cInt,
	dlogits floatPtr, dls cInt, stats floatPtr, n, k, mean cInt) {
	b.launch("softmax_xent", grid, block, logits, ls, labels, lbs, dlogits, dls, stats, n, k, mean)
}
