//go:build !nocuda

package gpu

import (
	"fmt"
	"math"

	"rout/cudnn"
	"rout/net"
)

// A GPU tensor's Storage is a *cudnn.Buffer[float32] (its Len is the element count).

// maxElems bounds one allocation: the kernels index views with 32-bit ints.
const maxElems = math.MaxInt32

// Alloc allocates device memory, up to 2^31 elements (the kernels index with 32-bit ints).
func (b *Backend) Alloc(n, c, h, w int) (*net.Tensor, error) {
	if b.closed {
		return nil, fmt.Errorf("gpu: alloc %dx%dx%dx%d: backend is closed", n, c, h, w)
	}
	if n < 0 || c < 0 || h < 0 || w < 0 {
		return nil, fmt.Errorf("gpu: alloc %dx%dx%dx%d: negative dimension", n, c, h, w)
	}
	size := 1
	for _, d := range []int{n, c, h, w} {
		if d != 0 && size > maxElems/d {
			return nil, fmt.Errorf("gpu: alloc %dx%dx%dx%d: more than 2^31 elements", n, c, h, w)
		}
		size *= d
	}
	buf, err := cudnn.Alloc[float32](b.ctx, size)
	if err != nil {
		return nil, fmt.Errorf("gpu: alloc %dx%dx%dx%d (%d MiB): %w", n, c, h, w, size>>18, err)
	}
	b.owned = append(b.owned, buf)
	return &net.Tensor{N: n, C: c, H: h, W: w, Stride: c * h * w, Storage: buf}, nil
}

// buffer is the device memory under t, checked to hold every element of the view.
func buffer(t *net.Tensor) *cudnn.Buffer[float32] {
	s, ok := t.Storage.(*cudnn.Buffer[float32])
	if !ok {
		panic(fmt.Sprintf("gpu: %v does not belong to the GPU backend (storage %T)", t, t.Storage))
	}
	if t.N > 0 && t.SampleLen() > 0 {
		if t.Offset < 0 || (t.N > 1 && t.Stride < t.SampleLen()) || t.Offset+(t.N-1)*t.Stride+t.SampleLen() > s.Len() {
			panic(fmt.Sprintf("gpu: %v exceeds its storage of %d elements", t, s.Len()))
		}
	}
	return s
}

// ptr is the device address of t's first element.
func ptr(t *net.Tensor) cudnn.DevicePtr { return buffer(t).At(t.Offset) }

// optPtr is ptr, or 0 (a null pointer for the kernels) for a nil tensor.
func optPtr(t *net.Tensor) cudnn.DevicePtr {
	if t == nil {
		return 0
	}
	return ptr(t)
}

// stride is t's sample stride as a kernel argument (any value for a single sample).
func stride(t *net.Tensor) cInt {
	if t.N <= 1 {
		return i32(t.SampleLen())
	}
	return i32(t.Stride)
}

func sameShape(op string, a, b *net.Tensor) {
	if a.Shape() != b.Shape() {
		panic(fmt.Sprintf("gpu: %s: shapes %v and %v differ", op, a.Shape(), b.Shape()))
	}
}

// samples calls f with the buffer holding each sample of t (one call for a dense t) and the
// range of host elements it corresponds to.
func samples(t *net.Tensor, f func(buf *cudnn.Buffer[float32], lo, hi int) error) error {
	buf, sl := buffer(t), t.SampleLen()
	if t.Dense() {
		return f(buf.Slice(t.Offset, t.Offset+t.Len()), 0, t.Len())
	}
	for n := 0; n < t.N; n++ {
		o := t.Offset + n*t.Stride
		if err := f(buf.Slice(o, o+sl), n*sl, (n+1)*sl); err != nil {
			return err
		}
	}
	return nil
}

// Upload queues one copy per sample (one for a dense t); src may be reused when it returns.
func (b *Backend) Upload(t *net.Tensor, src []float32) {
	if len(src) != t.Len() {
		panic(fmt.Sprintf("gpu: upload of %d values into %v", len(src), t))
	}
	if !b.ok() || len(src) == 0 {
		return
	}
	b.fail(samples(t, func(buf *cudnn.Buffer[float32], lo, hi int) error { return buf.Upload(src[lo:hi]) }))
}

// Download waits for the queued work. On an earlier error dst is left as it was (Err says why).
func (b *Backend) Download(t *net.Tensor, dst []float32) {
	if len(dst) != t.Len() {
		panic(fmt.Sprintf("gpu: download of %v into %d values", t, len(dst)))
	}
	if !b.ok() || len(dst) == 0 {
		return
	}
	b.fail(samples(t, func(buf *cudnn.Buffer[float32], lo, hi int) error { return buf.Download(dst[lo:hi]) }))
}

// Fill uses the driver's memset for a dense t, else kernels/memory.cu's fill.
func (b *Backend) Fill(t *net.Tensor, v float32) {
	if !b.ok() || t.Len() == 0 {
		return
	}
	if t.Dense() {
		b.fail(b.ctx.MemsetD32(ptr(t), math.Float32bits(v), t.Len()))
		return
	}
	b.launchFill(b.blocks(t.Len(), 256), 256, out(t), stride(t), i32(t.N), i32(t.SampleLen()), cFloat(v))
}

// Copy uses the driver's copy when both are dense, else kernels/memory.cu's copy_strided.
func (b *Backend) Copy(dst, src *net.Tensor) {
	sameShape("copy", dst, src)
	if !b.ok() || dst.Len() == 0 {
		return
	}
	if dst.Dense() && src.Dense() {
		b.fail(b.ctx.CopyDevice(ptr(dst), ptr(src), 4*dst.Len()))
		return
	}
	b.launchCopyStrided(b.blocks(dst.Len(), 256), 256, out(dst), stride(dst), in(src), stride(src),
		i32(dst.N), i32(dst.SampleLen()))
}

// Launch wrappers of kernels/memory.cu, one per kernel, its parameters in its order.

func (b *Backend) launchFill(grid, block int, y floatPtr, ys, n, len cInt, v cFloat) {
	b.launch("fill", grid, block, y, ys, n, len, v)
}

func (b *Backend) launchCopyStrided(grid, block int, dst floatPtr, ds cInt, src constFloatPtr, ss, n, len cInt) {
	b.launch("copy_strided", grid, block, dst, ds, src, ss, n, len)
}
