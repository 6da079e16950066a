//go:build !nocuda

package cudnn

/*
#include "rout_cuda.h"
*/
import "C"

import "unsafe"

// scalars are the host-side alpha and beta cuDNN takes by pointer.
func scalars(alpha, beta float32) (unsafe.Pointer, unsafe.Pointer) {
	ab := &[2]C.float{C.float(alpha), C.float(beta)}
	return unsafe.Pointer(&ab[0]), unsafe.Pointer(&ab[1])
}

// AddTensor computes c = alpha * a + beta * cc, broadcasting a over the dimensions where it has
// size 1: with a 1 x K x 1 x 1 bias and beta = 1 it adds a convolution's bias.
func (c *Context) AddTensor(alpha float32, a *TensorDesc, ap DevicePtr, beta float32, cd *TensorDesc, cp DevicePtr) error {
	done, err := c.bind()
	if err != nil {
		return err
	}
	defer done()
	al, be := scalars(alpha, beta)
	return dnnErr("cudnnAddTensor", C.rc_cudnnAddTensor(c.dnn, al, a.d, ap.c(), be, cd.d, cp.c()))
}

// ConvBackwardBias computes db = alpha * (dy summed over N, H and W) + beta * db, db being
// 1 x K x 1 x 1.
func (c *Context) ConvBackwardBias(alpha float32, dy *TensorDesc, dyp DevicePtr, beta float32, db *TensorDesc, dbp DevicePtr) error {
	done, err := c.bind()
	if err != nil {
		return err
	}
	defer done()
	al, be := scalars(alpha, beta)
	return dnnErr("cudnnConvolutionBackwardBias", C.rc_cudnnConvolutionBackwardBias(c.dnn, al, dy.d, dyp.c(), be, db.d, dbp.c()))
}

// ActivationForward computes y = alpha * act(x) + beta * y. y may be x.
func (c *Context) ActivationForward(act *ActivationDesc, alpha float32, x *TensorDesc, xp DevicePtr, beta float32, y *TensorDesc, yp DevicePtr) error {
	done, err := c.bind()
	if err != nil {
		return err
	}
	defer done()
	al, be := scalars(alpha, beta)
	return dnnErr("cudnnActivationForward", C.rc_cudnnActivationForward(c.dnn, act.d, al, x.d, xp.c(), be, y.d, yp.c()))
}

// ActivationBackward computes dx = alpha * act'(x) * dy + beta * dx from the forward's input x
// and output y.
func (c *Context) ActivationBackward(act *ActivationDesc, alpha float32, y *TensorDesc, yp DevicePtr, dy *TensorDesc, dyp DevicePtr,
	x *TensorDesc, xp DevicePtr, beta float32, dx *TensorDesc, dxp DevicePtr) error {
	done, err := c.bind()
	if err != nil {
		return err
	}
	defer done()
	al, be := scalars(alpha, beta)
	return dnnErr("cudnnActivationBackward", C.rc_cudnnActivationBackward(c.dnn, act.d, al, y.d, yp.c(), dy.d, dyp.c(),
		x.d, xp.c(), be, dx.d, dxp.c()))
}

// PoolingForward computes y = alpha * pool(x) + beta * y.
func (c *Context) PoolingForward(p *PoolingDesc, alpha float32, x *TensorDesc, xp DevicePtr, beta float32, y *TensorDesc, yp DevicePtr) error {
	done, err := c.bind()
	if err != nil {
		return err
	}
	defer done()
	al, be := scalars(alpha, beta)
	return dnnErr("cudnnPoolingForward", C.rc_cudnnPoolingForward(c.dnn, p.d, al, x.d, xp.c(), be, y.d, yp.c()))
}

// PoolingBackward computes dx = alpha * (gradient of the pooling, given x, y and dy) + beta * dx.
func (c *Context) PoolingBackward(p *PoolingDesc, alpha float32, y *TensorDesc, yp DevicePtr, dy *TensorDesc, dyp DevicePtr,
	x *TensorDesc, xp DevicePtr, beta float32, dx *TensorDesc, dxp DevicePtr) error {
	done, err := c.bind()
	if err != nil {
		return err
	}
	defer done()
	al, be := scalars(alpha, beta)
	return dnnErr("cudnnPoolingBackward", C.rc_cudnnPoolingBackward(c.dnn, p.d, al, y.d, yp.c(), dy.d, dyp.c(),
		x.d, xp.c(), be, dx.d, dxp.c()))
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

// BatchNormForwardTraining normalises x with the batch's statistics into y, saves mean and
// 1/sqrt(var+eps) and updates the running averages (run = (1-Momentum)*run + Momentum*batch,
// the variance unbiased).
func (c *Context) BatchNormForwardTraining(x *TensorDesc, xp DevicePtr, y *TensorDesc, yp DevicePtr, bn *BatchNorm) error {
	done, err := c.bind()
	if err != nil {
		return err
	}
	defer done()
	al, be := scalars(1, 0)
	return dnnErr("cudnnBatchNormalizationForwardTraining", C.rc_cudnnBatchNormalizationForwardTraining(c.dnn,
		C.RC_CUDNN_BATCHNORM_SPATIAL, al, be, x.d, xp.c(), y.d, yp.c(), bn.Param.d, bn.Scale.c(), bn.Bias.c(),
		C.double(bn.Momentum), bn.RunMean.c(), bn.RunVar.c(), C.double(bn.Eps), bn.SaveMean.c(), bn.SaveInvStd.c()))
}

// BatchNormForwardInference normalises x with the running statistics into y.
func (c *Context) BatchNormForwardInference(x *TensorDesc, xp DevicePtr, y *TensorDesc, yp DevicePtr, bn *BatchNorm) error {
	done, err := c.bind()
	if err != nil {
		return err
	}
	defer done()
	al, be := scalars(1, 0)
	return dnnErr("cudnnBatchNormalizationForwardInference", C.rc_cudnnBatchNormalizationForwardInference(c.dnn,
		C.RC_CUDNN_BATCHNORM_SPATIAL, al, be, x.d, xp.c(), y.d, yp.c(), bn.Param.d, bn.Scale.c(), bn.Bias.c(),
		bn.RunMean.c(), bn.RunVar.c(), C.double(bn.Eps)))
}

// BatchNormBackward computes dx (overwritten, or accumulated when accumulate) and the scale and
// bias gradients (overwritten) from the statistics saved by the training forward.
func (c *Context) BatchNormBackward(x *TensorDesc, xp DevicePtr, dy *TensorDesc, dyp DevicePtr, dx *TensorDesc, dxp DevicePtr,
	bn *BatchNorm, accumulate bool) error {
	done, err := c.bind()
	if err != nil {
		return err
	}
	defer done()
	betaData := float32(0)
	if accumulate {
		betaData = 1
	}
	ad, bd := scalars(1, betaData)
	ap, bp := scalars(1, 0)
	return dnnErr("cudnnBatchNormalizationBackward", C.rc_cudnnBatchNormalizationBackward(c.dnn,
		C.RC_CUDNN_BATCHNORM_SPATIAL, ad, bd, ap, bp, x.d, xp.c(), dy.d, dyp.c(), dx.d, dxp.c(),
		bn.Param.d, bn.Scale.c(), bn.DScale.c(), bn.DBias.c(), C.double(bn.Eps), bn.SaveMean.c(), bn.SaveInvStd.c()))
}
