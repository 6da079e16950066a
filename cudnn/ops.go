//go:build !nocuda

package cudnn

/*
#include "rout_cuda.h"
*/
import "C"

import (
	"math"
	"unsafe"
)

// dnnCall is enqueue for a cuDNN call that takes alpha and beta: call gets them in host memory,
// where cuDNN reads them, and its status is reported as fn's. Every op wrapper below is one
// dnnCall: what it records for step graphs, and the C call.
func (c *Context) dnnCall(fn string, op uint64, fixed []uint64, alpha, beta float32,
	call func(alpha, beta unsafe.Pointer) C.rc_cudnnStatus_t) error {
	return c.enqueue(op, fixed, func() error {
		al, be := scalars(alpha, beta)
		return dnnErr(fn, call(al, be))
	})
}

// scalars are the host-side alpha and beta cuDNN takes by pointer.
func scalars(alpha, beta float32) (unsafe.Pointer, unsafe.Pointer) {
	ab := &[2]C.float{C.float(alpha), C.float(beta)}
	return unsafe.Pointer(&ab[0]), unsafe.Pointer(&ab[1])
}

// mapShape is what fixes a call y = alpha f(x) + beta y, f described by desc (0 for none).
func mapShape(desc uint64, alpha float32, x *TensorDesc, xp DevicePtr, beta float32, y *TensorDesc, yp DevicePtr) []uint64 {
	return []uint64{desc, f32Word(alpha), x.word(), uint64(xp), f32Word(beta), y.word(), uint64(yp)}
}

// mapBackwardShape is what fixes a call dx = alpha f'(x, y, dy) + beta dx.
func mapBackwardShape(desc uint64, alpha float32, y *TensorDesc, yp DevicePtr, dy *TensorDesc, dyp DevicePtr,
	x *TensorDesc, xp DevicePtr, beta float32, dx *TensorDesc, dxp DevicePtr) []uint64 {
	return []uint64{desc, f32Word(alpha), y.word(), uint64(yp), dy.word(), uint64(dyp), x.word(), uint64(xp), f32Word(beta), dx.word(), uint64(dxp)}
}

// AddTensor computes c = alpha * a + beta * cc, broadcasting a over the dimensions where it has
// size 1: with a 1 x K x 1 x 1 bias and beta = 1 it adds a convolution's bias.
func (c *Context) AddTensor(alpha float32, a *TensorDesc, ap DevicePtr, beta float32, cd *TensorDesc, cp DevicePtr) error {
	return c.dnnCall("cudnnAddTensor", opAddTensor, mapShape(0, alpha, a, ap, beta, cd, cp), alpha, beta,
		func(al, be unsafe.Pointer) C.rc_cudnnStatus_t {
			return C.rc_cudnnAddTensor(c.dnn, al, a.d, ap.c(), be, cd.d, cp.c())
		})
}

// ConvBackwardBias computes db = alpha * (dy summed over N, H and W) + beta * db, db being
// 1 x K x 1 x 1.
func (c *Context) ConvBackwardBias(alpha float32, dy *TensorDesc, dyp DevicePtr, beta float32, db *TensorDesc, dbp DevicePtr) error {
	return c.dnnCall("cudnnConvolutionBackwardBias", opConvBias, mapShape(0, alpha, dy, dyp, beta, db, dbp), alpha, beta,
		func(al, be unsafe.Pointer) C.rc_cudnnStatus_t {
			return C.rc_cudnnConvolutionBackwardBias(c.dnn, al, dy.d, dyp.c(), be, db.d, dbp.c())
		})
}

// ActivationForward computes y = alpha * act(x) + beta * y. y may be x.
func (c *Context) ActivationForward(act *ActivationDesc, alpha float32, x *TensorDesc, xp DevicePtr, beta float32, y *TensorDesc, yp DevicePtr) error {
	return c.dnnCall("cudnnActivationForward", opActivation, mapShape(act.word(), alpha, x, xp, beta, y, yp), alpha, beta,
		func(al, be unsafe.Pointer) C.rc_cudnnStatus_t {
			return C.rc_cudnnActivationForward(c.dnn, act.d, al, x.d, xp.c(), be, y.d, yp.c())
		})
}

// ActivationBackward computes dx = alpha * act'(x) * dy + beta * dx from the forward's input x
// and output y.
func (c *Context) ActivationBackward(act *ActivationDesc, alpha float32, y *TensorDesc, yp DevicePtr, dy *TensorDesc, dyp DevicePtr,
	x *TensorDesc, xp DevicePtr, beta float32, dx *TensorDesc, dxp DevicePtr) error {
	return c.dnnCall("cudnnActivationBackward", opActivationBackward,
		mapBackwardShape(act.word(), alpha, y, yp, dy, dyp, x, xp, beta, dx, dxp), alpha, beta,
		func(al, be unsafe.Pointer) C.rc_cudnnStatus_t {
			return C.rc_cudnnActivationBackward(c.dnn, act.d, al, y.d, yp.c(), dy.d, dyp.c(), x.d, xp.c(), be, dx.d, dxp.c())
		})
}

// PoolingForward computes y = alpha * pool(x) + beta * y.
func (c *Context) PoolingForward(p *PoolingDesc, alpha float32, x *TensorDesc, xp DevicePtr, beta float32, y *TensorDesc, yp DevicePtr) error {
	return c.dnnCall("cudnnPoolingForward", opPool, mapShape(p.word(), alpha, x, xp, beta, y, yp), alpha, beta,
		func(al, be unsafe.Pointer) C.rc_cudnnStatus_t {
			return C.rc_cudnnPoolingForward(c.dnn, p.d, al, x.d, xp.c(), be, y.d, yp.c())
		})
}

// PoolingBackward computes dx = alpha * (gradient of the pooling, given x, y and dy) + beta * dx.
func (c *Context) PoolingBackward(p *PoolingDesc, alpha float32, y *TensorDesc, yp DevicePtr, dy *TensorDesc, dyp DevicePtr,
	x *TensorDesc, xp DevicePtr, beta float32, dx *TensorDesc, dxp DevicePtr) error {
	return c.dnnCall("cudnnPoolingBackward", opPoolBackward,
		mapBackwardShape(p.word(), alpha, y, yp, dy, dyp, x, xp, beta, dx, dxp), alpha, beta,
		func(al, be unsafe.Pointer) C.rc_cudnnStatus_t {
			return C.rc_cudnnPoolingBackward(c.dnn, p.d, al, y.d, yp.c(), dy.d, dyp.c(), x.d, xp.c(), be, dx.d, dxp.c())
		})
}

// BatchNorm are the per-channel buffers of spatial batch normalisation, all described by Param
// (from NewBatchNormParams): Scale and Bias (gamma, beta), the running statistics, and the
// batch mean and inverse standard deviation saved by the training forward for the backward.
type BatchNorm struct {
	Param                *TensorDesc
	Scale, Bias          DevicePtr
	RunMean, RunVar      DevicePtr
	SaveMean, SaveInvStd DevicePtr
	DScale, DBias        DevicePtr // gradients, written by BatchNormBackward
	Eps                  float64   // cuDNN requires at least 1e-5
	Momentum             float64   // weight of the batch statistics in the running averages
}

// words are the operands that fix what a batch-norm call does, for a step's shape (stepgraph.go).
func (bn *BatchNorm) words() []uint64 {
	return []uint64{bn.Param.word(), uint64(bn.Scale), uint64(bn.Bias), uint64(bn.RunMean), uint64(bn.RunVar),
		uint64(bn.SaveMean), uint64(bn.SaveInvStd), uint64(bn.DScale), uint64(bn.DBias), math.Float64bits(bn.Eps), math.Float64bits(bn.Momentum)}
}

// BatchNormForwardTraining normalises x with the batch's statistics into y, saves mean and
// 1/sqrt(var+eps) and updates the running averages (run = (1-Momentum)*run + Momentum*batch,
// the variance unbiased).
func (c *Context) BatchNormForwardTraining(x *TensorDesc, xp DevicePtr, y *TensorDesc, yp DevicePtr, bn *BatchNorm) error {
	return c.dnnCall("cudnnBatchNormalizationForwardTraining", opBatchNormTraining,
		append(bn.words(), x.word(), uint64(xp), y.word(), uint64(yp)), 1, 0,
		func(al, be unsafe.Pointer) C.rc_cudnnStatus_t {
			return C.rc_cudnnBatchNormalizationForwardTraining(c.dnn, C.RC_CUDNN_BATCHNORM_SPATIAL, al, be, x.d, xp.c(), y.d, yp.c(),
				bn.Param.d, bn.Scale.c(), bn.Bias.c(), C.double(bn.Momentum), bn.RunMean.c(), bn.RunVar.c(), C.double(bn.Eps),
				bn.SaveMean.c(), bn.SaveInvStd.c())
		})
}

// BatchNormForwardInference normalises x with the running statistics into y.
func (c *Context) BatchNormForwardInference(x *TensorDesc, xp DevicePtr, y *TensorDesc, yp DevicePtr, bn *BatchNorm) error {
	return c.dnnCall("cudnnBatchNormalizationForwardInference", opBatchNormInference,
		append(bn.words(), x.word(), uint64(xp), y.word(), uint64(yp)), 1, 0,
		func(al, be unsafe.Pointer) C.rc_cudnnStatus_t {
			return C.rc_cudnnBatchNormalizationForwardInference(c.dnn, C.RC_CUDNN_BATCHNORM_SPATIAL, al, be, x.d, xp.c(), y.d, yp.c(),
				bn.Param.d, bn.Scale.c(), bn.Bias.c(), bn.RunMean.c(), bn.RunVar.c(), C.double(bn.Eps))
		})
}

// BatchNormBackward computes dx (overwritten, or accumulated when accumulate) and the scale and
// bias gradients (overwritten) from the statistics saved by the training forward.
func (c *Context) BatchNormBackward(x *TensorDesc, xp DevicePtr, dy *TensorDesc, dyp DevicePtr, dx *TensorDesc, dxp DevicePtr,
	bn *BatchNorm, accumulate bool) error {
	betaData := float32(0)
	if accumulate {
		betaData = 1
	}
	return c.dnnCall("cudnnBatchNormalizationBackward", opBatchNormBackward,
		append(bn.words(), x.word(), uint64(xp), dy.word(), uint64(dyp), dx.word(), uint64(dxp), boolWord(accumulate)), 1, betaData,
		func(ad, bd unsafe.Pointer) C.rc_cudnnStatus_t {
			ap, bp := scalars(1, 0) // the parameter gradients are overwritten
			return C.rc_cudnnBatchNormalizationBackward(c.dnn, C.RC_CUDNN_BATCHNORM_SPATIAL, ad, bd, ap, bp, x.d, xp.c(),
				dy.d, dyp.c(), dx.d, dxp.c(), bn.Param.d, bn.Scale.c(), bn.DScale.c(), bn.DBias.c(), C.double(bn.Eps),
				bn.SaveMean.c(), bn.SaveInvStd.c())
		})
}
