//go:build !nocuda

package gpu

import (
	"fmt"
	"slices"

	"rout/cudnn"
	"rout/net"
	"rout/rng"
)

// imageSet is a uint8 dataset in device memory, with its labels, the current order and the
// per-channel normalisation last used (uploaded again only when it changes).
type imageSet struct {
	owner      *Backend
	n, c, h, w int
	pixels     *cudnn.Buffer[uint8]
	labels     *cudnn.Buffer[int32]
	order      *cudnn.Buffer[int32]
	orderLen   int
	chanMean   *cudnn.Buffer[float32] // c values
	chanInvStd *cudnn.Buffer[float32]
	hostMean   []float32 // what chanMean holds (nil: not set)
	hostInvStd []float32
}

func (s *imageSet) Len() int { return s.n }

// NewImageSet copies the images and their labels to the device, once.
func (b *Backend) NewImageSet(pixels []uint8, labels []int32, n, c, h, w int) (net.ImageSet, error) {
	if n < 0 || c <= 0 || h <= 0 || w <= 0 {
		return nil, fmt.Errorf("gpu: image set of %d images of %dx%dx%d: bad shape", n, c, h, w)
	}
	if len(pixels) != n*c*h*w {
		return nil, fmt.Errorf("gpu: image set: %d pixels for %d images of %dx%dx%d, want %d", len(pixels), n, c, h, w, n*c*h*w)
	}
	if len(labels) != n {
		return nil, fmt.Errorf("gpu: image set: %d labels for %d images", len(labels), n)
	}
	for i, l := range labels {
		if l < 0 {
			return nil, fmt.Errorf("gpu: image set: image %d has negative label %d", i, l)
		}
	}
	if b.closed {
		return nil, fmt.Errorf("gpu: image set: backend is closed")
	}
	s := &imageSet{owner: b, n: n, c: c, h: h, w: w}
	var err error
	alloc := func(what string, f func() error) {
		if err == nil {
			if e := f(); e != nil {
				err = fmt.Errorf("gpu: image set of %d images of %dx%dx%d: %s: %w", n, c, h, w, what, e)
			}
		}
	}
	own := func(buf interface{ Free() error }) { b.owned = append(b.owned, buf) }
	alloc("pixels", func() (e error) {
		if s.pixels, e = cudnn.Alloc[uint8](b.ctx, len(pixels)); e == nil {
			own(s.pixels)
		}
		return e
	})
	alloc("labels", func() (e error) {
		if s.labels, e = cudnn.Alloc[int32](b.ctx, n); e == nil {
			own(s.labels)
		}
		return e
	})
	alloc("order", func() (e error) {
		if s.order, e = cudnn.Alloc[int32](b.ctx, n); e == nil {
			own(s.order)
		}
		return e
	})
	alloc("channel means", func() (e error) {
		if s.chanMean, e = cudnn.Alloc[float32](b.ctx, c); e == nil {
			own(s.chanMean)
		}
		return e
	})
	alloc("channel deviations", func() (e error) {
		if s.chanInvStd, e = cudnn.Alloc[float32](b.ctx, c); e == nil {
			own(s.chanInvStd)
		}
		return e
	})
	alloc("pixels", func() error { return s.pixels.Upload(pixels) })
	alloc("labels", func() error { return s.labels.Upload(labels) })
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (b *Backend) imageSetOf(op string, set net.ImageSet) *imageSet {
	s, ok := set.(*imageSet)
	if !ok || s.owner != b {
		panic(fmt.Sprintf("gpu: %s: image set %T does not belong to this GPU backend", op, set))
	}
	return s
}

// SetOrder copies the order to the device, queued after the work that reads the previous one.
func (b *Backend) SetOrder(set net.ImageSet, order []int32) {
	s := b.imageSetOf("set order", set)
	for i, v := range order {
		if v < 0 || int(v) >= s.n {
			b.fail(fmt.Errorf("gpu: set order: position %d holds example %d, want 0..%d", i, v, s.n-1))
			return
		}
	}
	if !b.ok() {
		return
	}
	if len(order) > s.order.Len() {
		// A longer order than any before: a new buffer (this waits for the device).
		buf, err := cudnn.Alloc[int32](b.ctx, len(order))
		if err != nil {
			b.fail(fmt.Errorf("gpu: set order of %d examples: %w", len(order), err))
			return
		}
		b.owned = append(b.owned, buf)
		s.order = buf
	}
	b.fail(s.order.Upload(order))
	s.orderLen = len(order)
}

// GatherBatch runs kernels/batch.cu's gather_batch, a block per example, whose arithmetic and
// draws are the CPU's, bit for bit.
func (b *Backend) GatherBatch(set net.ImageSet, start int, x, labels *net.Tensor, a net.Augment) {
	s := b.imageSetOf("gather batch", set)
	if err := net.CheckGather("gpu: gather batch", s.c, s.h, s.w, x, labels, a); err != nil {
		b.fail(err)
		return
	}
	if !b.ok() || x.N == 0 {
		return
	}
	var chanMean, chanInvStd constFloatPtr
	if len(a.ChanMean) > 0 {
		if !slices.Equal(s.hostMean, a.ChanMean) {
			b.fail(s.chanMean.Upload(a.ChanMean))
			s.hostMean = slices.Clone(a.ChanMean)
		}
		chanMean = constFloatPtr(s.chanMean.Ptr())
	}
	if len(a.ChanInvStd) > 0 {
		if !slices.Equal(s.hostInvStd, a.ChanInvStd) {
			b.fail(s.chanInvStd.Upload(a.ChanInvStd))
			s.hostInvStd = slices.Clone(a.ChanInvStd)
		}
		chanInvStd = constFloatPtr(s.chanInvStd.Ptr())
	}
	scale := a.Scale
	if scale == 0 {
		scale = 1
	}
	key := rng.KeyFromSeed(a.Seed)
	b.launchGatherBatch(x.N, 256, constBytePtr(s.pixels.Ptr()), constIntPtr(s.labels.Ptr()), constIntPtr(s.order.Ptr()),
		i32(s.orderLen), i32(start), i32(s.c), i32(s.h), i32(s.w), out(x), stride(x), out(labels), stride(labels),
		i32(a.CropH), i32(a.CropW), i32(a.Pad), flag(a.RandomCrop), flag(a.Flip), cUint(key[0]), cUint(key[1]), cUint(a.Epoch),
		cFloat(scale), optIn(a.Mean), chanMean, chanInvStd)
}

// Launch wrapper of kernels/batch.cu's kernel, its parameters in its order.

func (b *Backend) launchGatherBatch(grid, block int, pixels constBytePtr, setLabels, order constIntPtr, orderLen, start, c, h, w cInt,
	x floatPtr, xs cInt, labelsOut floatPtr, ls, cropH, cropW, pad, randomCrop, flip cInt, key0, key1, epoch cUint,
	scale cFloat, mean, chanMean, chanInvStd constFloatPtr) {
	b.launch("gather_batch", grid, block, pixels, setLabels, order, orderLen, start, c, h, w, x, xs, labelsOut, ls,
		cropH, cropW, pad, randomCrop, flip, key0, key1, epoch, scale, mean, chanMean, chanInvStd)
}
