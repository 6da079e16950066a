//go:build !nocuda

package gpu

import (
	"fmt"
	"math"

	"rout/cudnn"
	"rout/net"
)

// ReLUForward: y = max(x, 0). y may be x.
func (b *Backend) ReLUForward(x, y *net.Tensor) {
	sameShape("relu forward", x, y)
	if x.Len() == 0 {
		return
	}
	b.launch("relu_fwd", b.blocks(x.Len(), 256), 256, ptr(x), stride(x), ptr(y), stride(y), i32(x.N), i32(x.SampleLen()))
}

// ReLUBackward: dx = dy where y > 0, else 0. dx may be dy.
func (b *Backend) ReLUBackward(y, dy, dx *net.Tensor) {
	sameShape("relu backward", y, dy)
	sameShape("relu backward", y, dx)
	if y.Len() == 0 {
		return
	}
	b.launch("relu_bwd", b.blocks(y.Len(), 256), 256, ptr(y), stride(y), ptr(dy), stride(dy), ptr(dx), stride(dx),
		i32(y.N), i32(y.SampleLen()))
}

func checkPool(op string, x, y *net.Tensor, p net.PoolParams) {
	if p.KH <= 0 || p.KW <= 0 || p.StrideH <= 0 || p.StrideW <= 0 || p.PadH < 0 || p.PadW < 0 {
		panic(fmt.Sprintf("gpu: %s: bad parameters %+v", op, p))
	}
	oh, ow := p.OutSize(x.H, x.W)
	if y.N != x.N || y.C != x.C || y.H != oh || y.W != ow {
		panic(fmt.Sprintf("gpu: %s: x %v and y %v do not match %+v (%dx%d)", op, x.Shape(), y.Shape(), p, oh, ow))
	}
}

func poolMode(p net.PoolParams) int32 {
	if p.Mode == net.MaxPool {
		return 0
	}
	return 1
}

// PoolForward: max or average pooling of x into y, by rout's kernel (cuDNN has no ceil rule).
func (b *Backend) PoolForward(x, y *net.Tensor, p net.PoolParams) {
	checkPool("pool forward", x, y, p)
	if y.Len() == 0 {
		return
	}
	b.launch("pool_fwd", b.blocks(y.Len(), 256), 256, ptr(x), stride(x), ptr(y), stride(y),
		i32(x.N), i32(x.C), i32(x.H), i32(x.W), i32(y.H), i32(y.W),
		i32(p.KH), i32(p.KW), i32(p.StrideH), i32(p.StrideW), i32(p.PadH), i32(p.PadW), poolMode(p))
}

// PoolBackward: dx (+)= the gradient with respect to x, gathered per input element (no atomics).
func (b *Backend) PoolBackward(x, y, dy, dx *net.Tensor, p net.PoolParams, accumulate bool) {
	checkPool("pool backward", x, y, p)
	sameShape("pool backward", x, dx)
	sameShape("pool backward", y, dy)
	if dx.Len() == 0 {
		return
	}
	acc := int32(0)
	if accumulate {
		acc = 1
	}
	b.launch("pool_bwd", b.blocks(dx.Len(), 256), 256, ptr(x), stride(x), ptr(dy), stride(dy), ptr(dx), stride(dx),
		i32(x.N), i32(x.C), i32(x.H), i32(x.W), i32(y.H), i32(y.W),
		i32(p.KH), i32(p.KW), i32(p.StrideH), i32(p.StrideW), i32(p.PadH), i32(p.PadW), poolMode(p), acc)
}

func denseShape(op string, x, w, y *net.Tensor) (n, d, o int) {
	n, d, o = x.N, x.SampleLen(), w.N
	if w.SampleLen() != d || y.N != n || y.SampleLen() != o || y.H != 1 || y.W != 1 || !w.Dense() {
		panic(fmt.Sprintf("gpu: %s: x %v, w %v, y %v do not match", op, x.Shape(), w.Shape(), y.Shape()))
	}
	return n, d, o
}

// The dense layer's products through cuBLAS. cuBLAS is column-major, and a row-major matrix is
// its transpose in column-major with the row stride as leading dimension: x (N x D, rows Stride
// apart) is column-major X^T (D x N, ld Stride), w (O x D, dense) is W^T (D x O, ld D), and
// y (N x O) is Y^T (O x N, ld y's Stride).

// DenseForward: y = x W^T + b, as Y^T (O x N) = W (O x D) X^T (D x N), then the bias per row.
func (b *Backend) DenseForward(x, w, bias, y *net.Tensor) {
	n, d, o := denseShape("dense forward", x, w, y)
	if !b.ok() || n == 0 {
		return
	}
	if err := b.ctx.Sgemm(true, false, o, n, d, 1, ptr(w), d, ptr(x), int(stride(x)), 0, ptr(y), int(stride(y))); err != nil {
		b.fail(fmt.Errorf("gpu: dense forward x %v w %v: %w", x.Shape(), w.Shape(), err))
		return
	}
	if bias != nil {
		if bias.Len() != o || !bias.Dense() {
			panic(fmt.Sprintf("gpu: dense forward: bias %v should be %d dense values", bias, o))
		}
		b.launch("bias_rows", b.blocks(n*o, 256), 256, ptr(y), stride(y), ptr(bias), i32(n), i32(o))
	}
}

// DenseBackwardData: dx (+)= dy W, as DX^T (D x N) = W^T (D x O) DY^T (O x N).
func (b *Backend) DenseBackwardData(dy, w, dx *net.Tensor, accumulate bool) {
	n, d, o := denseShape("dense backward data", dx, w, dy)
	if !b.ok() || n == 0 {
		return
	}
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	if err := b.ctx.Sgemm(false, false, d, n, o, 1, ptr(w), d, ptr(dy), int(stride(dy)), beta, ptr(dx), int(stride(dx))); err != nil {
		b.fail(fmt.Errorf("gpu: dense backward data dy %v w %v: %w", dy.Shape(), w.Shape(), err))
	}
}

// DenseBackwardFilter: dw = dy^T x, as DW^T (D x O) = X^T (D x N) DY (N x O); db = the column
// sums of dy (rout's kernel, in float64 like the CPU).
func (b *Backend) DenseBackwardFilter(x, dy, dw, db *net.Tensor) {
	n, d, o := denseShape("dense backward filter", x, dw, dy)
	if !b.ok() {
		return
	}
	if n == 0 {
		b.Fill(dw, 0)
		if db != nil {
			b.Fill(db, 0)
		}
		return
	}
	if err := b.ctx.Sgemm(false, true, d, o, n, 1, ptr(x), int(stride(x)), ptr(dy), int(stride(dy)), 0, ptr(dw), d); err != nil {
		b.fail(fmt.Errorf("gpu: dense backward filter x %v dy %v: %w", x.Shape(), dy.Shape(), err))
		return
	}
	if db != nil {
		if db.Len() != o || !db.Dense() {
			panic(fmt.Sprintf("gpu: dense backward filter: bias gradient %v should be %d dense values", db, o))
		}
		b.launch("col_sums", (o+127)/128, 128, ptr(dy), stride(dy), ptr(db), i32(n), i32(o))
	}
}

// bnParam checks a batch-norm parameter tensor (C dense values) and returns its address.
func bnParam(op string, t *net.Tensor, c int) cudnn.DevicePtr {
	if t.Len() != c || !t.Dense() {
		panic(fmt.Sprintf("gpu: %s: parameter %v should hold %d dense channels", op, t, c))
	}
	return ptr(t)
}

// bnDesc is the per-channel parameter descriptor for batch norm over x.
func (b *Backend) bnDesc(x *net.Tensor, xd *cudnn.TensorDesc) *cudnn.TensorDesc {
	k := tensorKey(x)
	if d, ok := b.descs.bn[k]; ok {
		return d
	}
	d, err := b.ctx.NewBatchNormParams(xd)
	if err != nil {
		b.fail(fmt.Errorf("gpu: batch norm over %v: %w", x, err))
		return nil
	}
	if b.descs.bn == nil {
		b.descs.bn = map[[8]int]*cudnn.TensorDesc{}
	}
	b.descs.bn[k] = d
	return d
}

// minBNEps is cuDNN's CUDNN_BN_MIN_EPSILON.
const minBNEps = 1e-5

// BatchNormForward normalises each channel over N, H and W with cuDNN's spatial batch norm, whose
// exponentialAverageFactor is net.BatchNormParams.Momentum (the weight of the batch statistics)
// and whose saved inverse variance is 1/sqrt(var+eps), as the contract says.
func (b *Backend) BatchNormForward(x, y, scale, bias, runMean, runVar, saveMean, saveInvStd *net.Tensor, p net.BatchNormParams) {
	const op = "batch norm forward"
	sameShape(op, x, y)
	c := x.C
	bn := cudnn.BatchNorm{Scale: bnParam(op, scale, c), Bias: bnParam(op, bias, c),
		RunMean: bnParam(op, runMean, c), RunVar: bnParam(op, runVar, c), Eps: p.Eps, Momentum: p.Momentum}
	if p.Training {
		bn.SaveMean, bn.SaveInvStd = bnParam(op, saveMean, c), bnParam(op, saveInvStd, c)
	}
	if !b.ok() || x.Len() == 0 {
		return
	}
	if p.Eps < minBNEps {
		b.fail(fmt.Errorf("gpu: %s: eps %g is below cuDNN's minimum %g", op, p.Eps, minBNEps))
		return
	}
	xd, yd := b.tensorDesc(x), b.tensorDesc(y)
	if !b.ok() {
		return
	}
	if bn.Param = b.bnDesc(x, xd); bn.Param == nil {
		return
	}
	var err error
	if p.Training {
		err = b.ctx.BatchNormForwardTraining(xd, ptr(x), yd, ptr(y), &bn)
	} else {
		err = b.ctx.BatchNormForwardInference(xd, ptr(x), yd, ptr(y), &bn)
	}
	if err != nil {
		b.fail(fmt.Errorf("gpu: %s %v: %w", op, x.Shape(), err))
	}
}

// BatchNormBackward: dx, dScale and dBias (overwritten) from the statistics the training forward
// saved.
func (b *Backend) BatchNormBackward(x, dy, dx, scale, dScale, dBias, saveMean, saveInvStd *net.Tensor, p net.BatchNormParams) {
	const op = "batch norm backward"
	sameShape(op, x, dy)
	sameShape(op, x, dx)
	c := x.C
	bn := cudnn.BatchNorm{Scale: bnParam(op, scale, c), DScale: bnParam(op, dScale, c), DBias: bnParam(op, dBias, c),
		SaveMean: bnParam(op, saveMean, c), SaveInvStd: bnParam(op, saveInvStd, c), Eps: p.Eps, Momentum: p.Momentum}
	if !b.ok() || x.Len() == 0 {
		return
	}
	if p.Eps < minBNEps {
		b.fail(fmt.Errorf("gpu: %s: eps %g is below cuDNN's minimum %g", op, p.Eps, minBNEps))
		return
	}
	xd, dyd, dxd := b.tensorDesc(x), b.tensorDesc(dy), b.tensorDesc(dx)
	if !b.ok() {
		return
	}
	if bn.Param = b.bnDesc(x, xd); bn.Param == nil {
		return
	}
	if err := b.ctx.BatchNormBackward(xd, ptr(x), dyd, ptr(dy), dxd, ptr(dx), &bn, false); err != nil {
		b.fail(fmt.Errorf("gpu: %s %v: %w", op, x.Shape(), err))
	}
}

// SoftmaxCrossEntropy adds [summed loss, correct, counted] to stats and writes the logits'
// gradient, in one single-block launch (the mean's divisor is counted inside it).
func (b *Backend) SoftmaxCrossEntropy(logits, labels, dlogits, stats *net.Tensor, r net.Reduction) {
	n, k := logits.N, logits.SampleLen()
	if labels.N != n || labels.SampleLen() != 1 || stats.Len() != 3 || !stats.Dense() || (dlogits != nil && dlogits.Shape() != logits.Shape()) {
		panic(fmt.Sprintf("gpu: softmax cross-entropy: logits %v, labels %v, stats %v do not match", logits.Shape(), labels.Shape(), stats.Shape()))
	}
	if n == 0 {
		return
	}
	dls := int32(0)
	if dlogits != nil {
		dls = stride(dlogits)
	}
	mean := int32(0)
	if r == net.ReduceMean {
		mean = 1
	}
	threads := min(512, 32*n)
	b.launch("softmax_xent", 1, threads, ptr(logits), stride(logits), ptr(labels), stride(labels),
		optPtr(dlogits), dls, ptr(stats), i32(n), i32(k), mean)
}

func optimTensors(op string, params *net.Tensor, ts ...*net.Tensor) {
	for _, t := range append([]*net.Tensor{params}, ts...) {
		if t.Len() != params.Len() || !t.Dense() {
			panic(fmt.Sprintf("gpu: %s: %v must be dense and as long as %v", op, t, params))
		}
	}
}

// AdamUpdate is one fused Adam step over all parameters (see net.Backend); the bias corrections
// are computed in float64 and rounded once, as the CPU does.
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
	b.launch("adam_update", b.blocks(n, 256), 256, ptr(params), ptr(grads), ptr(m), ptr(v), i32(n),
		h.LR, h.Beta1, h.Beta2, h.Eps, h.WeightDecay, bc1, bc2)
}

// SGDUpdate is one fused SGD step with momentum (see net.Backend).
func (b *Backend) SGDUpdate(params, grads, vel *net.Tensor, h net.SGDParams) {
	optimTensors("sgd", params, grads, vel)
	n := params.Len()
	if n == 0 {
		return
	}
	nesterov := int32(0)
	if h.Nesterov {
		nesterov = 1
	}
	b.launch("sgd_update", b.blocks(n, 256), 256, ptr(params), ptr(grads), ptr(vel), i32(n),
		h.LR, h.Momentum, h.WeightDecay, nesterov)
}
