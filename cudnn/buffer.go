//go:build !nocuda

package cudnn

/*
#include "rout_cuda.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// DevicePtr is a device address (CUdeviceptr). Element i of a Buffer is at b.At(i); cuDNN and
// cuBLAS calls take DevicePtrs so that views (a channel slice, a layer's weights inside the flat
// parameter tensor) need no Buffer of their own.
type DevicePtr uint64

// c passes the address to C as a void* (it is never dereferenced on the host, and it is not in
// the Go heap, so the garbage collector and cgo's pointer checks ignore it).
func (p DevicePtr) c() unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

// Elem are the element types a Buffer may hold.
type Elem interface {
	~float32 | ~int32 | ~uint8 | ~uint32
}

// Buffer is n elements of type T in device memory. A Buffer made by Alloc owns its memory (Free
// releases it); one made by Slice is a view that shares it. Buffer[float32] satisfies
// net.Storage (Len).
type Buffer[T Elem] struct {
	c     *Context
	ptr   DevicePtr
	n     int
	owned bool
}

func elemSize[T Elem]() int {
	var v T
	return int(unsafe.Sizeof(v))
}

// Alloc allocates n zeroed elements (the zeroing is queued on the stream). Allocation may wait
// for the device: allocate before the training loop, never inside a step.
func Alloc[T Elem](c *Context, n int) (*Buffer[T], error) {
	if n < 0 {
		return nil, fmt.Errorf("cudnn: Alloc of %d elements", n)
	}
	b := &Buffer[T]{c: c, n: n, owned: true}
	if n == 0 {
		return b, nil
	}
	if err := c.runDirect("an allocation"); err != nil {
		return nil, err
	}
	done, err := c.bind()
	if err != nil {
		return nil, err
	}
	defer done()
	var p C.rc_CUdeviceptr
	bytes := n * elemSize[T]()
	if err := cuErr("cuMemAlloc_v2", C.rc_cuMemAlloc_v2(&p, C.size_t(bytes))); err != nil {
		return nil, fmt.Errorf("%w (allocating %d bytes)", err, bytes)
	}
	b.ptr = DevicePtr(p)
	if err := cuErr("cuMemsetD8Async", C.rc_cuMemsetD8Async(p, 0, C.size_t(bytes), c.stream)); err != nil {
		C.rc_cuMemFree_v2(p)
		return nil, err
	}
	return b, nil
}

// Len is the number of elements.
func (b *Buffer[T]) Len() int { return b.n }

// Bytes is the size in bytes.
func (b *Buffer[T]) Bytes() int { return b.n * elemSize[T]() }

// Ptr is the address of the first element.
func (b *Buffer[T]) Ptr() DevicePtr { return b.ptr }

// At is the address of element i (0 <= i <= Len: the end address is allowed).
func (b *Buffer[T]) At(i int) DevicePtr {
	if i < 0 || i > b.n {
		panic(fmt.Sprintf("cudnn: element %d of a buffer of %d", i, b.n))
	}
	return b.ptr + DevicePtr(i*elemSize[T]())
}

// Slice is the view of elements [i, j); it shares b's memory and must not be freed.
func (b *Buffer[T]) Slice(i, j int) *Buffer[T] {
	if i < 0 || j > b.n || i > j {
		panic(fmt.Sprintf("cudnn: slice [%d,%d) of a buffer of %d", i, j, b.n))
	}
	return &Buffer[T]{c: b.c, ptr: b.At(i), n: j - i}
}

// Upload queues a copy of src into the first len(src) elements. src may be reused as soon as
// Upload returns (the driver stages pageable memory before returning).
func (b *Buffer[T]) Upload(src []T) error {
	if len(src) > b.n {
		return fmt.Errorf("cudnn: upload of %d elements into a buffer of %d", len(src), b.n)
	}
	if len(src) == 0 {
		return nil
	}
	if err := b.c.runDirect("an upload"); err != nil {
		return err
	}
	done, err := b.c.bind()
	if err != nil {
		return err
	}
	defer done()
	return cuErr("cuMemcpyHtoDAsync_v2", C.rc_cuMemcpyHtoDAsync_v2(C.rc_CUdeviceptr(b.ptr),
		unsafe.Pointer(&src[0]), C.size_t(len(src)*elemSize[T]()), b.c.stream))
}

// Download copies the first len(dst) elements into dst, after all queued work, and waits.
func (b *Buffer[T]) Download(dst []T) error {
	if len(dst) > b.n {
		return fmt.Errorf("cudnn: download of %d elements from a buffer of %d", len(dst), b.n)
	}
	if err := b.c.mayWait("Download"); err != nil {
		return err
	}
	done, err := b.c.bind()
	if err != nil {
		return err
	}
	defer done()
	if len(dst) > 0 {
		if err := cuErr("cuMemcpyDtoHAsync_v2", C.rc_cuMemcpyDtoHAsync_v2(unsafe.Pointer(&dst[0]),
			C.rc_CUdeviceptr(b.ptr), C.size_t(len(dst)*elemSize[T]()), b.c.stream)); err != nil {
			return err
		}
	}
	return cuErr("cuStreamSynchronize", C.rc_cuStreamSynchronize(b.c.stream))
}

// CopyFrom queues a device-to-device copy of src (src.Len() <= b.Len()) into b's first elements.
func (b *Buffer[T]) CopyFrom(src *Buffer[T]) error {
	if src.n > b.n {
		return fmt.Errorf("cudnn: copy of %d elements into a buffer of %d", src.n, b.n)
	}
	return b.c.CopyDevice(b.ptr, src.ptr, src.Bytes())
}

// Zero queues setting every byte to 0.
func (b *Buffer[T]) Zero() error { return b.c.MemsetD8(b.ptr, 0, b.Bytes()) }

// Fill queues setting every element to v.
func (b *Buffer[T]) Fill(v T) error {
	if elemSize[T]() == 1 {
		return b.c.MemsetD8(b.ptr, *(*uint8)(unsafe.Pointer(&v)), b.n)
	}
	return b.c.MemsetD32(b.ptr, *(*uint32)(unsafe.Pointer(&v)), b.n)
}

// Free releases an owned buffer (after waiting for queued work that may use it). Freeing a view
// or a freed buffer does nothing.
func (b *Buffer[T]) Free() error {
	if !b.owned || b.ptr == 0 {
		b.ptr, b.n = 0, 0
		return nil
	}
	if err := b.c.mayWait("Free"); err != nil {
		return err
	}
	done, err := b.c.bind()
	if err != nil {
		return err
	}
	defer done()
	err = cuErr("cuStreamSynchronize", C.rc_cuStreamSynchronize(b.c.stream))
	if e := cuErr("cuMemFree_v2", C.rc_cuMemFree_v2(C.rc_CUdeviceptr(b.ptr))); err == nil {
		err = e
	}
	b.ptr, b.n = 0, 0
	return err
}

// CopyDevice queues a copy of bytes bytes from src to dst (device to device).
func (c *Context) CopyDevice(dst, src DevicePtr, bytes int) error {
	if bytes == 0 {
		return nil
	}
	return c.enqueue(opCopy, []uint64{uint64(dst), uint64(src), uint64(bytes)}, func() error {
		return cuErr("cuMemcpyDtoDAsync_v2", C.rc_cuMemcpyDtoDAsync_v2(C.rc_CUdeviceptr(dst), C.rc_CUdeviceptr(src), C.size_t(bytes), c.stream))
	})
}

// MemsetD8 queues setting n bytes at p to v.
func (c *Context) MemsetD8(p DevicePtr, v uint8, n int) error {
	if n == 0 {
		return nil
	}
	return c.enqueue(opMemset8, []uint64{uint64(p), uint64(v), uint64(n)}, func() error {
		return cuErr("cuMemsetD8Async", C.rc_cuMemsetD8Async(C.rc_CUdeviceptr(p), C.uchar(v), C.size_t(n), c.stream))
	})
}

// MemsetD32 queues setting n 32-bit words at p (4-byte aligned) to v; for a float32 f pass
// math.Float32bits(f).
func (c *Context) MemsetD32(p DevicePtr, v uint32, n int) error {
	if n == 0 {
		return nil
	}
	return c.enqueue(opMemset32, []uint64{uint64(p), uint64(v), uint64(n)}, func() error {
		return cuErr("cuMemsetD32Async", C.rc_cuMemsetD32Async(C.rc_CUdeviceptr(p), C.uint(v), C.size_t(n), c.stream))
	})
}
