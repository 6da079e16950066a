//go:build !nocuda

package cudnn

/*
#include "rout_cuda.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
)

// Options configure a Context.
type Options struct {
	// Device is the CUDA device ordinal.
	Device int
	// Deterministic is the parity mode: no TF32 anywhere (cuDNN FMA math, cuBLAS pedantic math),
	// convolution algorithms restricted to deterministic ones, deterministic max-pool backward.
	Deterministic bool
	// AllowTF32 lets cuDNN and cuBLAS use TF32 tensor cores for float32 (ignored when
	// Deterministic). Off by default: cuDNN then uses FMA math and cuBLAS its default math.
	AllowTF32 bool
	// KernelCache is the folder of NVRTC's compiled-kernel cache: "" means
	// os.UserCacheDir()/rout/kernels, "off" disables the cache.
	KernelCache string
	// MaxWorkspace caps the cuDNN workspace a convolution algorithm may need, in bytes
	// (0: 1 GiB). Algorithms that need more are not chosen.
	MaxWorkspace int
	// GraphConv runs unscaled, overwriting convolutions (alpha 1, beta 0) through cuDNN's graph
	// (backend) API, whose engine heuristics reach more kernels than the legacy algorithm enums
	// (see graph.go), instead of the legacy cudnnConvolution* calls, which keep the others.
	GraphConv bool
	// StepGraphs makes RunStep capture steps into CUDA graphs and replay them (stepgraph.go)
	// instead of running them directly.
	StepGraphs bool
}

// Context is one device with one stream and the cuDNN and cuBLAS handles bound to it. Every
// operation is queued on that stream, so work issued through one Context runs in order and can
// be captured into a CUDA graph; only Download, Sync, event waits and the first use of a
// convolution shape (algorithm search) wait for the device.
//
// A Context is not safe for concurrent use. Its methods may be called from any goroutine: each
// call makes the context current on the calling OS thread.
type Context struct {
	opts   Options
	dev    C.rc_CUdevice
	info   Device
	ctx    C.rc_CUcontext
	stream C.rc_CUstream
	dnn    C.rc_cudnnHandle_t
	blas   C.rc_cublasHandle_t

	blasWork  *Buffer[uint8] // cuBLAS workspace, set once so cuBLAS never allocates in a step
	work      *Buffer[uint8] // cuDNN workspace, grown by PlanConv
	algos     map[convKey]*ConvPlan
	graphs    map[graphKey]*graphPlan // GraphConv's plans (nil: that graph takes the legacy path)
	packs     map[packKey]*bdesc      // GraphConv's variant packs
	graphInfo map[convKey]*ConvPlan   // GraphConv's choices and calls, for Plans
	steps     stepGraphs              // RunStep's state
	cacheDir  string
	kernelTgt *target // NVRTC target, computed on first Compile
	closed    bool
}

const cublasWorkspaceBytes = 32 << 20 // cuBLAS's recommended size on Hopper

// NewContext loads the libraries, retains device o.Device's primary context, creates a
// non-blocking stream, and binds a cuDNN handle and a cuBLAS handle (host pointer mode, math mode
// per Options) to it.
func NewContext(o Options) (_ *Context, err error) {
	if err := Load(); err != nil {
		return nil, err
	}
	if err := cuInitOnce(); err != nil {
		return nil, err
	}
	if o.GraphConv {
		if err := GraphAPI(); err != nil {
			return nil, err
		}
	}
	if o.StepGraphs {
		if err := StepGraphAPI(); err != nil {
			return nil, err
		}
	}
	if o.MaxWorkspace <= 0 {
		o.MaxWorkspace = 1 << 30
	}
	c := &Context{opts: o, algos: map[convKey]*ConvPlan{}, graphs: map[graphKey]*graphPlan{}, packs: map[packKey]*bdesc{},
		graphInfo: map[convKey]*ConvPlan{}}
	if c.cacheDir, err = kernelCacheDir(o.KernelCache); err != nil {
		return nil, err
	}
	n, err := DeviceCount()
	if err != nil {
		return nil, err
	}
	if o.Device < 0 || o.Device >= n {
		return nil, fmt.Errorf("cudnn: device %d requested, the driver sees %d", o.Device, n)
	}
	deviceWide.Lock() // see deviceWide
	defer deviceWide.Unlock()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cuErr("cuDeviceGet", C.rc_cuDeviceGet(&c.dev, C.int(o.Device))); err != nil {
		return nil, err
	}
	if c.info, err = deviceInfo(o.Device, c.dev); err != nil {
		return nil, err
	}
	if err := cuErr("cuDevicePrimaryCtxRetain", C.rc_cuDevicePrimaryCtxRetain(&c.ctx, c.dev)); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	if err := cuErr("cuCtxSetCurrent", C.rc_cuCtxSetCurrent(c.ctx)); err != nil {
		return nil, err
	}
	if err := cuErr("cuStreamCreate", C.rc_cuStreamCreate(&c.stream, C.RC_CU_STREAM_NON_BLOCKING)); err != nil {
		return nil, err
	}
	if err := dnnErr("cudnnCreate", C.rc_cudnnCreate(&c.dnn)); err != nil {
		return nil, err
	}
	if err := dnnErr("cudnnSetStream", C.rc_cudnnSetStream(c.dnn, C.rc_cudaStream_t(c.stream))); err != nil {
		return nil, err
	}
	if err := blasErr("cublasCreate_v2", C.rc_cublasCreate_v2(&c.blas)); err != nil {
		return nil, err
	}
	if err := blasErr("cublasSetStream_v2", C.rc_cublasSetStream_v2(c.blas, C.rc_cudaStream_t(c.stream))); err != nil {
		return nil, err
	}
	if err := blasErr("cublasSetPointerMode_v2", C.rc_cublasSetPointerMode_v2(c.blas, C.RC_CUBLAS_POINTER_MODE_HOST)); err != nil {
		return nil, err
	}
	if err := blasErr("cublasSetMathMode", C.rc_cublasSetMathMode(c.blas, c.blasMath())); err != nil {
		return nil, err
	}
	if c.blasWork, err = Alloc[uint8](c, cublasWorkspaceBytes); err != nil {
		return nil, err
	}
	if err := blasErr("cublasSetWorkspace_v2", C.rc_cublasSetWorkspace_v2(c.blas, c.blasWork.ptr.c(), C.size_t(cublasWorkspaceBytes))); err != nil {
		return nil, err
	}
	return c, nil
}

// TF32 reports whether TF32 tensor-core math is allowed.
func (c *Context) TF32() bool { return c.opts.AllowTF32 && !c.opts.Deterministic }

// Deterministic reports whether the context is in parity mode.
func (c *Context) Deterministic() bool { return c.opts.Deterministic }

func (c *Context) blasMath() C.rc_cublasMath_t {
	switch {
	case c.opts.Deterministic:
		return C.RC_CUBLAS_PEDANTIC_MATH
	case c.TF32():
		return C.RC_CUBLAS_TF32_TENSOR_OP_MATH
	}
	return C.RC_CUBLAS_DEFAULT_MATH
}

// Device describes the context's GPU.
func (c *Context) Device() Device { return c.info }

// bind makes the context current on this goroutine's OS thread and keeps the goroutine there
// until the returned function is called.
func (c *Context) bind() (func(), error) {
	if c.closed {
		return nil, errors.New("cudnn: context used after Close")
	}
	runtime.LockOSThread()
	if err := cuErr("cuCtxSetCurrent", C.rc_cuCtxSetCurrent(c.ctx)); err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	return runtime.UnlockOSThread, nil
}

// Sync waits until all work queued on the context's stream has finished and returns the first
// asynchronous error the device reported.
func (c *Context) Sync() error {
	if err := c.mayWait("Sync"); err != nil {
		return err
	}
	done, err := c.bind()
	if err != nil {
		return err
	}
	defer done()
	return cuErr("cuStreamSynchronize", C.rc_cuStreamSynchronize(c.stream))
}

// MemInfo reports the device's free and total memory in bytes.
func (c *Context) MemInfo() (free, total int64, err error) {
	done, err := c.bind()
	if err != nil {
		return 0, 0, err
	}
	defer done()
	var f, t C.size_t
	err = cuErr("cuMemGetInfo_v2", C.rc_cuMemGetInfo_v2(&f, &t))
	return int64(f), int64(t), err
}

// WorkspaceBytes is the size of the cuDNN workspace held now.
func (c *Context) WorkspaceBytes() int {
	if c.work == nil {
		return 0
	}
	return c.work.Len()
}

// Close waits for queued work, frees the workspaces, destroys the handles and the stream and
// releases the primary context. Buffers, modules, events and descriptors made from the context
// must be freed before. Close is idempotent.
func (c *Context) Close() error { return c.CloseWith(nil) }

// CloseWith runs free (the owner's release of the buffers, modules, events and descriptors made
// from the context; nil for none) and then Close, both under deviceWide, so that no other
// Context's algorithm search or step capture runs while this one is torn down.
func (c *Context) CloseWith(free func() error) error {
	deviceWide.Lock() // see deviceWide
	defer deviceWide.Unlock()
	var err error
	if free != nil {
		err = free()
	}
	if c.closed || c.ctx == nil {
		return err
	}
	return errors.Join(err, c.close())
}

// close is Close under deviceWide.
func (c *Context) close() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(cuErr("cuCtxSetCurrent", C.rc_cuCtxSetCurrent(c.ctx)))
	if c.stream != nil {
		add(cuErr("cuStreamSynchronize", C.rc_cuStreamSynchronize(c.stream)))
	}
	c.dropStepGraphs() // before the handles and modules their nodes use
	if c.blas != nil {
		add(blasErr("cublasDestroy_v2", C.rc_cublasDestroy_v2(c.blas)))
	}
	c.closeGraphs()
	if c.dnn != nil {
		add(dnnErr("cudnnDestroy", C.rc_cudnnDestroy(c.dnn)))
	}
	for _, b := range []*Buffer[uint8]{c.work, c.blasWork} {
		if b != nil {
			add(b.Free())
		}
	}
	if c.stream != nil {
		add(cuErr("cuStreamDestroy_v2", C.rc_cuStreamDestroy_v2(c.stream)))
	}
	add(cuErr("cuDevicePrimaryCtxRelease_v2", C.rc_cuDevicePrimaryCtxRelease_v2(c.dev)))
	c.closed = true
	return errors.Join(errs...)
}
