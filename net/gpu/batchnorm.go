//go:build !nocuda

package gpu

import (
	"fmt"

	"rout/cudnn"
	"rout/net"
)

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

// BatchNormForward runs cuDNN's spatial batch norm, whose exponentialAverageFactor is
// net.BatchNormParams.Momentum and whose saved inverse variance is 1/sqrt(var+eps).
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

// BatchNormBackward runs cuDNN's spatial batch norm backward.
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
