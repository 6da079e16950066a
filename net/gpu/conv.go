//go:build !nocuda

package gpu

import (
	"errors"
	"fmt"

	"rout/cudnn"
	"rout/net"
)

// descCache holds the cuDNN descriptors made so far, by shape: made at an operation shape's
// first use (the warm-up step), looked up afterwards.
type descCache struct {
	tensors map[[8]int]*cudnn.TensorDesc
	filters map[[4]int]*cudnn.FilterDesc
	convs   map[net.ConvParams]*cudnn.ConvDesc
	bn      map[[8]int]*cudnn.TensorDesc // batch-norm parameter descriptors, by the input's key
}

func (d *descCache) close() error {
	var errs []error
	for _, t := range d.tensors {
		errs = append(errs, t.Close())
	}
	for _, t := range d.bn {
		errs = append(errs, t.Close())
	}
	for _, f := range d.filters {
		errs = append(errs, f.Close())
	}
	for _, c := range d.convs {
		errs = append(errs, c.Close())
	}
	*d = descCache{}
	return errors.Join(errs...)
}

// tensorKey is a view's geometry as cuDNN sees it: NCHW sizes and element strides.
func tensorKey(t *net.Tensor) [8]int {
	sn := t.Stride
	if t.N <= 1 {
		sn = t.SampleLen()
	}
	return [8]int{t.N, t.C, t.H, t.W, sn, t.H * t.W, t.W, 1}
}

// tensorDesc describes view t (a channel slice included) for cuDNN.
func (b *Backend) tensorDesc(t *net.Tensor) *cudnn.TensorDesc {
	k := tensorKey(t)
	if d, ok := b.descs.tensors[k]; ok {
		return d
	}
	d, err := b.ctx.NewTensorStrided(k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7])
	if err != nil {
		b.fail(fmt.Errorf("gpu: describing %v: %w", t, err))
		return nil
	}
	if b.descs.tensors == nil {
		b.descs.tensors = map[[8]int]*cudnn.TensorDesc{}
	}
	b.descs.tensors[k] = d
	return d
}

// filterDesc describes dense weights w (K x C x KH x KW).
func (b *Backend) filterDesc(w *net.Tensor) *cudnn.FilterDesc {
	if !w.Dense() {
		panic(fmt.Sprintf("gpu: convolution weights %v must be dense", w))
	}
	k := w.Shape()
	if d, ok := b.descs.filters[k]; ok {
		return d
	}
	d, err := b.ctx.NewFilter(w.N, w.C, w.H, w.W)
	if err != nil {
		b.fail(fmt.Errorf("gpu: describing weights %v: %w", w, err))
		return nil
	}
	if b.descs.filters == nil {
		b.descs.filters = map[[4]int]*cudnn.FilterDesc{}
	}
	b.descs.filters[k] = d
	return d
}

func (b *Backend) convDesc(p net.ConvParams) *cudnn.ConvDesc {
	if d, ok := b.descs.convs[p]; ok {
		return d
	}
	d, err := b.ctx.NewConv(cudnn.ConvParams{PadH: p.PadH, PadW: p.PadW, StrideH: p.StrideH, StrideW: p.StrideW, Groups: p.GroupCount()})
	if err != nil {
		b.fail(fmt.Errorf("gpu: describing convolution %+v: %w", p, err))
		return nil
	}
	if b.descs.convs == nil {
		b.descs.convs = map[net.ConvParams]*cudnn.ConvDesc{}
	}
	b.descs.convs[p] = d
	return d
}

// biasDesc describes a K-element bias as 1 x K x 1 x 1, the shape cuDNN broadcasts.
func (b *Backend) biasDesc(bias *net.Tensor, k int) *cudnn.TensorDesc {
	if bias.Len() != k || !bias.Dense() {
		panic(fmt.Sprintf("gpu: bias %v should be %d dense values", bias, k))
	}
	return b.tensorDesc(&net.Tensor{N: 1, C: k, H: 1, W: 1, Stride: k, Offset: bias.Offset, Storage: bias.Storage})
}

func checkConv(op string, x, w, y *net.Tensor, p net.ConvParams) {
	if p.StrideH <= 0 || p.StrideW <= 0 || p.PadH < 0 || p.PadW < 0 || p.Groups < 0 {
		panic(fmt.Sprintf("gpu: %s: bad parameters %+v", op, p))
	}
	g := p.GroupCount()
	oh, ow := p.OutSize(x.H, x.W, w.H, w.W)
	if w.C*g != x.C || w.N%g != 0 || y.N != x.N || y.C != w.N || y.H != oh || y.W != ow {
		panic(fmt.Sprintf("gpu: %s: x %v, w %v, y %v do not match %+v", op, x.Shape(), w.Shape(), y.Shape(), p))
	}
}

// packed is t itself, unless Options.PackedConv is set and t is a channel slice: then it is a
// dense buffer of t's shape (one per shape, kept for the backend's life). Each use fills it and
// empties it within one operation, no operation stages two operands, and the stream orders the
// operations, so tensors of the same shape can share it. Only y and dy are staged: x and dx are
// dense in rout's networks (an inception block's input is a whole tensor).
func (b *Backend) packed(t *net.Tensor) *net.Tensor {
	if !b.packedConv || t.Dense() {
		return t
	}
	if buf, ok := b.packedBufs[t.Shape()]; ok {
		return buf
	}
	buf, err := b.Alloc(t.N, t.C, t.H, t.W)
	if err != nil {
		b.fail(fmt.Errorf("gpu: packed buffer for %v: %w", t.Shape(), err))
		return t
	}
	b.packedBufs[t.Shape()] = buf
	return buf
}

// packedCopy is packed(t) holding t's values.
func (b *Backend) packedCopy(t *net.Tensor) *net.Tensor {
	p := b.packed(t)
	if p != t {
		b.Copy(p, t)
	}
	return p
}

// ConvForward runs cuDNN's convolution (the algorithm measured at the shape's first use), the
// bias added by cudnnAddTensor.
func (b *Backend) ConvForward(x, w, bias, y *net.Tensor, p net.ConvParams) {
	checkConv("conv forward", x, w, y, p)
	if !b.ok() {
		return
	}
	out := b.packed(y)
	xd, wd, cd, od := b.tensorDesc(x), b.filterDesc(w), b.convDesc(p), b.tensorDesc(out)
	if !b.ok() {
		return
	}
	if err := b.ctx.ConvForward(1, xd, ptr(x), wd, ptr(w), cd, 0, od, ptr(out)); err != nil {
		b.fail(fmt.Errorf("gpu: conv forward x %v w %v: %w", x.Shape(), w.Shape(), err))
		return
	}
	if bias != nil {
		bd := b.biasDesc(bias, w.N)
		if b.ok() {
			b.fail(b.ctx.AddTensor(1, bd, ptr(bias), 1, od, ptr(out)))
		}
	}
	if out != y {
		b.Copy(y, out)
	}
}

// ConvBackwardData runs cuDNN's, with beta 1 to accumulate. With Options.PackedConv a
// channel-slice dy is copied into a packed buffer first (dx, the gradient of a block's input, is
// dense in rout's networks and is passed as it is).
func (b *Backend) ConvBackwardData(dy, w, dx *net.Tensor, p net.ConvParams, accumulate bool) {
	checkConv("conv backward data", dx, w, dy, p)
	if !b.ok() {
		return
	}
	dy = b.packedCopy(dy)
	wd, dyd, cd, dxd := b.filterDesc(w), b.tensorDesc(dy), b.convDesc(p), b.tensorDesc(dx)
	if !b.ok() {
		return
	}
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	if err := b.ctx.ConvBackwardData(1, wd, ptr(w), dyd, ptr(dy), cd, beta, dxd, ptr(dx)); err != nil {
		b.fail(fmt.Errorf("gpu: conv backward data dy %v w %v: %w", dy.Shape(), w.Shape(), err))
	}
}

// ConvBackwardFilter runs cuDNN's, the bias gradient by cudnnConvolutionBackwardBias.
func (b *Backend) ConvBackwardFilter(x, dy, dw, db *net.Tensor, p net.ConvParams) {
	checkConv("conv backward filter", x, dw, dy, p)
	if !b.ok() {
		return
	}
	dy = b.packedCopy(dy)
	xd, dyd, cd, dwd := b.tensorDesc(x), b.tensorDesc(dy), b.convDesc(p), b.filterDesc(dw)
	if !b.ok() {
		return
	}
	if err := b.ctx.ConvBackwardFilter(1, xd, ptr(x), dyd, ptr(dy), cd, 0, dwd, ptr(dw)); err != nil {
		b.fail(fmt.Errorf("gpu: conv backward filter x %v dy %v: %w", x.Shape(), dy.Shape(), err))
		return
	}
	if db != nil {
		bd := b.biasDesc(db, dw.N)
		if b.ok() {
			b.fail(b.ctx.ConvBackwardBias(1, dyd, ptr(dy), 0, bd, ptr(db)))
		}
	}
}
