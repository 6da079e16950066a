//go:build !nocuda

package cudnn

/*
#include "rout_cuda.h"
*/
import "C"

import "fmt"

// TensorDesc describes a 4-D float32 tensor with explicit strides (in elements), so a channel
// slice of a wider tensor (sample stride larger than C*H*W) is described directly.
type TensorDesc struct {
	d                                  C.rc_cudnnTensorDescriptor_t
	N, C, H, W                         int
	StrideN, StrideC, StrideH, StrideW int
}

// NewTensor describes a dense NCHW float32 tensor.
func (c *Context) NewTensor(n, ch, h, w int) (*TensorDesc, error) {
	return c.NewTensorStrided(n, ch, h, w, ch*h*w, h*w, w, 1)
}

// NewTensorStrided describes an NCHW float32 tensor with the given element strides.
func (c *Context) NewTensorStrided(n, ch, h, w, sn, sc, sh, sw int) (*TensorDesc, error) {
	t := &TensorDesc{N: n, C: ch, H: h, W: w, StrideN: sn, StrideC: sc, StrideH: sh, StrideW: sw}
	if err := dnnErr("cudnnCreateTensorDescriptor", C.rc_cudnnCreateTensorDescriptor(&t.d)); err != nil {
		return nil, err
	}
	if err := dnnErr("cudnnSetTensor4dDescriptorEx", C.rc_cudnnSetTensor4dDescriptorEx(t.d, C.RC_CUDNN_DATA_FLOAT,
		C.int(n), C.int(ch), C.int(h), C.int(w), C.int(sn), C.int(sc), C.int(sh), C.int(sw))); err != nil {
		C.rc_cudnnDestroyTensorDescriptor(t.d)
		err.(*Error).Detail = fmt.Sprintf("tensor %dx%dx%dx%d strides %d,%d,%d,%d", n, ch, h, w, sn, sc, sh, sw)
		return nil, err
	}
	return t, nil
}

// Close frees the descriptor.
func (t *TensorDesc) Close() error {
	if t == nil || t.d == nil {
		return nil
	}
	err := dnnErr("cudnnDestroyTensorDescriptor", C.rc_cudnnDestroyTensorDescriptor(t.d))
	t.d = nil
	return err
}

func (t *TensorDesc) key() [8]int {
	return [8]int{t.N, t.C, t.H, t.W, t.StrideN, t.StrideC, t.StrideH, t.StrideW}
}

// FilterDesc describes K x C x H x W float32 convolution weights (dense, NCHW).
type FilterDesc struct {
	d          C.rc_cudnnFilterDescriptor_t
	K, C, H, W int
}

// NewFilter describes k filters of c x h x w weights.
func (c *Context) NewFilter(k, ch, h, w int) (*FilterDesc, error) {
	f := &FilterDesc{K: k, C: ch, H: h, W: w}
	if err := dnnErr("cudnnCreateFilterDescriptor", C.rc_cudnnCreateFilterDescriptor(&f.d)); err != nil {
		return nil, err
	}
	if err := dnnErr("cudnnSetFilter4dDescriptor", C.rc_cudnnSetFilter4dDescriptor(f.d, C.RC_CUDNN_DATA_FLOAT,
		C.RC_CUDNN_TENSOR_NCHW, C.int(k), C.int(ch), C.int(h), C.int(w))); err != nil {
		C.rc_cudnnDestroyFilterDescriptor(f.d)
		err.(*Error).Detail = fmt.Sprintf("filter %dx%dx%dx%d", k, ch, h, w)
		return nil, err
	}
	return f, nil
}

// Close frees the descriptor.
func (f *FilterDesc) Close() error {
	if f == nil || f.d == nil {
		return nil
	}
	err := dnnErr("cudnnDestroyFilterDescriptor", C.rc_cudnnDestroyFilterDescriptor(f.d))
	f.d = nil
	return err
}

// ConvParams are a 2-D convolution's zero padding, stride and dilation (0 means 1).
type ConvParams struct {
	PadH, PadW           int
	StrideH, StrideW     int
	DilationH, DilationW int
	// Groups is the group count (0 and 1: ungrouped): the filters of group g read only the
	// input channels of group g. The graph API reads it from the channels of x and w instead.
	Groups int
}

// ConvDesc describes a 2-D cross-correlation (what deep-learning frameworks call convolution)
// computed in float32.
type ConvDesc struct {
	d    C.rc_cudnnConvolutionDescriptor_t
	P    ConvParams
	math C.rc_cudnnMathType_t // the math type set on d now
}

// NewConv describes a convolution. Its math type follows the context: FMA only unless TF32 is
// allowed.
func (c *Context) NewConv(p ConvParams) (*ConvDesc, error) {
	if p.StrideH == 0 {
		p.StrideH = 1
	}
	if p.StrideW == 0 {
		p.StrideW = 1
	}
	if p.DilationH == 0 {
		p.DilationH = 1
	}
	if p.DilationW == 0 {
		p.DilationW = 1
	}
	d := &ConvDesc{P: p}
	if err := dnnErr("cudnnCreateConvolutionDescriptor", C.rc_cudnnCreateConvolutionDescriptor(&d.d)); err != nil {
		return nil, err
	}
	if err := dnnErr("cudnnSetConvolution2dDescriptor", C.rc_cudnnSetConvolution2dDescriptor(d.d,
		C.int(p.PadH), C.int(p.PadW), C.int(p.StrideH), C.int(p.StrideW), C.int(p.DilationH), C.int(p.DilationW),
		C.RC_CUDNN_CROSS_CORRELATION, C.RC_CUDNN_DATA_FLOAT)); err != nil {
		C.rc_cudnnDestroyConvolutionDescriptor(d.d)
		err.(*Error).Detail = fmt.Sprintf("%+v", p)
		return nil, err
	}
	if p.Groups > 1 {
		if err := dnnErr("cudnnSetConvolutionGroupCount", C.rc_cudnnSetConvolutionGroupCount(d.d, C.int(p.Groups))); err != nil {
			C.rc_cudnnDestroyConvolutionDescriptor(d.d)
			return nil, err
		}
	}
	d.math = -1
	if err := d.setMath(c.convMath()); err != nil {
		C.rc_cudnnDestroyConvolutionDescriptor(d.d)
		return nil, err
	}
	return d, nil
}

// convMath is the math type the context allows for convolutions.
func (c *Context) convMath() C.rc_cudnnMathType_t {
	if c.TF32() {
		return C.RC_CUDNN_DEFAULT_MATH
	}
	return C.RC_CUDNN_FMA_MATH
}

func (d *ConvDesc) setMath(m C.rc_cudnnMathType_t) error {
	if d.math == m {
		return nil
	}
	if err := dnnErr("cudnnSetConvolutionMathType", C.rc_cudnnSetConvolutionMathType(d.d, m)); err != nil {
		return err
	}
	d.math = m
	return nil
}

// OutputDim is cuDNN's output shape for input x and filter w.
func (d *ConvDesc) OutputDim(x *TensorDesc, w *FilterDesc) (n, c, h, wd int, err error) {
	var cn, cc, ch, cw C.int
	err = dnnErr("cudnnGetConvolution2dForwardOutputDim", C.rc_cudnnGetConvolution2dForwardOutputDim(d.d, x.d, w.d, &cn, &cc, &ch, &cw))
	return int(cn), int(cc), int(ch), int(cw), err
}

// Close frees the descriptor.
func (d *ConvDesc) Close() error {
	if d == nil || d.d == nil {
		return nil
	}
	err := dnnErr("cudnnDestroyConvolutionDescriptor", C.rc_cudnnDestroyConvolutionDescriptor(d.d))
	d.d = nil
	return err
}

// ActivationMode selects an activation function.
type ActivationMode int

const (
	ActivationReLU ActivationMode = iota
	ActivationSigmoid
	ActivationTanh
	ActivationClippedReLU // min(max(x, 0), coef)
	ActivationELU         // coef is alpha
	ActivationIdentity
)

// ActivationDesc describes an activation function. NaN inputs propagate.
type ActivationDesc struct {
	d    C.rc_cudnnActivationDescriptor_t
	Mode ActivationMode
}

// NewActivation describes mode; coef is the clipping bound or ELU's alpha, else ignored.
func (c *Context) NewActivation(mode ActivationMode, coef float64) (*ActivationDesc, error) {
	var m C.rc_cudnnActivationMode_t
	switch mode {
	case ActivationReLU:
		m = C.RC_CUDNN_ACTIVATION_RELU
	case ActivationSigmoid:
		m = C.RC_CUDNN_ACTIVATION_SIGMOID
	case ActivationTanh:
		m = C.RC_CUDNN_ACTIVATION_TANH
	case ActivationClippedReLU:
		m = C.RC_CUDNN_ACTIVATION_CLIPPED_RELU
	case ActivationELU:
		m = C.RC_CUDNN_ACTIVATION_ELU
	case ActivationIdentity:
		m = C.RC_CUDNN_ACTIVATION_IDENTITY
	default:
		return nil, fmt.Errorf("cudnn: unknown activation mode %d", mode)
	}
	a := &ActivationDesc{Mode: mode}
	if err := dnnErr("cudnnCreateActivationDescriptor", C.rc_cudnnCreateActivationDescriptor(&a.d)); err != nil {
		return nil, err
	}
	if err := dnnErr("cudnnSetActivationDescriptor", C.rc_cudnnSetActivationDescriptor(a.d, m, C.RC_CUDNN_PROPAGATE_NAN, C.double(coef))); err != nil {
		C.rc_cudnnDestroyActivationDescriptor(a.d)
		return nil, err
	}
	return a, nil
}

// Close frees the descriptor.
func (a *ActivationDesc) Close() error {
	if a == nil || a.d == nil {
		return nil
	}
	err := dnnErr("cudnnDestroyActivationDescriptor", C.rc_cudnnDestroyActivationDescriptor(a.d))
	a.d = nil
	return err
}

// PoolingMode selects max or average pooling.
type PoolingMode int

const (
	// PoolMax is max pooling; in a Deterministic context its backward pass is cuDNN's
	// deterministic variant.
	PoolMax PoolingMode = iota
	// PoolAvgExcludePad divides by the number of window elements inside the input.
	PoolAvgExcludePad
	// PoolAvgIncludePad divides by the full window size.
	PoolAvgIncludePad
)

// PoolingDesc describes 2-D pooling. cuDNN's output size is the floor rule
// (in + 2*pad - k)/stride + 1.
type PoolingDesc struct {
	d                C.rc_cudnnPoolingDescriptor_t
	Mode             PoolingMode
	KH, KW           int
	PadH, PadW       int
	StrideH, StrideW int
}

// NewPooling describes a kh x kw window with the given padding and stride.
func (c *Context) NewPooling(mode PoolingMode, kh, kw, padH, padW, strideH, strideW int) (*PoolingDesc, error) {
	var m C.rc_cudnnPoolingMode_t
	switch mode {
	case PoolMax:
		m = C.RC_CUDNN_POOLING_MAX
		if c.opts.Deterministic {
			m = C.RC_CUDNN_POOLING_MAX_DETERMINISTIC
		}
	case PoolAvgExcludePad:
		m = C.RC_CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING
	case PoolAvgIncludePad:
		m = C.RC_CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
	default:
		return nil, fmt.Errorf("cudnn: unknown pooling mode %d", mode)
	}
	p := &PoolingDesc{Mode: mode, KH: kh, KW: kw, PadH: padH, PadW: padW, StrideH: strideH, StrideW: strideW}
	if err := dnnErr("cudnnCreatePoolingDescriptor", C.rc_cudnnCreatePoolingDescriptor(&p.d)); err != nil {
		return nil, err
	}
	if err := dnnErr("cudnnSetPooling2dDescriptor", C.rc_cudnnSetPooling2dDescriptor(p.d, m, C.RC_CUDNN_PROPAGATE_NAN,
		C.int(kh), C.int(kw), C.int(padH), C.int(padW), C.int(strideH), C.int(strideW))); err != nil {
		C.rc_cudnnDestroyPoolingDescriptor(p.d)
		return nil, err
	}
	return p, nil
}

// Close frees the descriptor.
func (p *PoolingDesc) Close() error {
	if p == nil || p.d == nil {
		return nil
	}
	err := dnnErr("cudnnDestroyPoolingDescriptor", C.rc_cudnnDestroyPoolingDescriptor(p.d))
	p.d = nil
	return err
}

// NewBatchNormParams describes the per-channel parameter tensor (1 x C x 1 x 1: scale, bias,
// running and saved statistics) of spatial batch normalisation over x.
func (c *Context) NewBatchNormParams(x *TensorDesc) (*TensorDesc, error) {
	t := &TensorDesc{N: 1, C: x.C, H: 1, W: 1, StrideN: x.C, StrideC: 1, StrideH: 1, StrideW: 1}
	if err := dnnErr("cudnnCreateTensorDescriptor", C.rc_cudnnCreateTensorDescriptor(&t.d)); err != nil {
		return nil, err
	}
	if err := dnnErr("cudnnDeriveBNTensorDescriptor", C.rc_cudnnDeriveBNTensorDescriptor(t.d, x.d, C.RC_CUDNN_BATCHNORM_SPATIAL)); err != nil {
		C.rc_cudnnDestroyTensorDescriptor(t.d)
		return nil, err
	}
	return t, nil
}
