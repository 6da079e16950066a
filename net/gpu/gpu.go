//go:build !nocuda

package gpu

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"rout/cudnn"
	"rout/kernels"
	"rout/net"
)

// Backend is the GPU implementation of net.Backend: convolutions, batch norm and the dense
// layer's products through cuDNN and cuBLAS, everything else through rout's kernels (package
// kernels), all queued on one stream.
//
// Every buffer is allocated by Alloc, NewImageSet and the first use of a filter table; the first
// use of a convolution shape searches for its algorithms (and may grow the shared workspace),
// and the first use of an operation shape makes its descriptors. So the first training step is
// the warm-up: after it, a step queues work and never waits for the device. Download, Sync,
// Upload, SetOrder and Time wait.
//
// A Backend is not safe for concurrent use (nor is a stream).
type Backend struct {
	ctx   *cudnn.Context
	mod   *cudnn.Module
	fn    map[string]*cudnn.Function
	dev   cudnn.Device
	prov  map[string]string
	err   error
	descs descCache

	owned   []interface{ Free() error } // every buffer Alloc and NewImageSet made, freed by Close
	events  [2]*cudnn.Event
	tables  []*deviceTable // filter tables uploaded, freed by Close
	args    cudnn.Args     // reused by launch, so that a launch allocates no argument buffer
	closed  bool
	maxGrid int

	packedConv bool                   // Options.PackedConv
	packedBufs map[[4]int]*net.Tensor // PackedConv's buffers, one per shape
}

var _ net.Backend = (*Backend)(nil)

// Available reports why no GPU is usable, or nil when one is.
func Available() error {
	if err := cudnn.Load(); err != nil {
		return err
	}
	n, err := cudnn.DeviceCount()
	if err != nil {
		return err
	}
	if n == 0 {
		return errors.New("gpu: the CUDA driver sees no device")
	}
	return nil
}

// New opens device o.Device: loads the CUDA libraries, creates the stream and the cuDNN and
// cuBLAS handles, and compiles rout's kernels for the device (NVRTC, cached on disk).
func New(o Options) (_ net.Backend, err error) {
	ctx, err := cudnn.NewContext(cudnn.Options{Device: o.Device, Deterministic: o.Deterministic, AllowTF32: o.AllowTF32,
		GraphConv: o.GraphConv, StepGraphs: o.StepGraphs})
	if err != nil {
		return nil, fmt.Errorf("gpu: device %d: %w", o.Device, err)
	}
	b := &Backend{ctx: ctx, dev: ctx.Device(), fn: map[string]*cudnn.Function{}, packedConv: o.PackedConv,
		packedBufs: map[[4]int]*net.Tensor{}}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	if b.mod, err = ctx.Compile(cudnn.Program{Name: "rout_kernels.cu", Source: kernels.Source(), Options: kernels.Options}); err != nil {
		return nil, fmt.Errorf("gpu: compiling rout's kernels for %s: %w", b.dev.Name, err)
	}
	for _, name := range kernels.Names {
		f, err := b.mod.Function(name)
		if err != nil {
			return nil, fmt.Errorf("gpu: kernel %s: %w", name, err)
		}
		b.fn[name] = f
	}
	for i := range b.events {
		if b.events[i], err = ctx.NewEvent(); err != nil {
			return nil, fmt.Errorf("gpu: %w", err)
		}
	}
	b.maxGrid = 32 * b.dev.SMs // grid-stride kernels: enough blocks to fill the device
	if b.maxGrid < 32 {
		b.maxGrid = 32
	}
	b.prov = provenance(ctx, o)
	return b, nil
}

// provenance describes the device and libraries; a library whose version cannot be read says so.
func provenance(ctx *cudnn.Context, o Options) map[string]string {
	d := ctx.Device()
	p := map[string]string{
		"backend":            "gpu",
		"device":             d.Name,
		"device_ordinal":     strconv.Itoa(d.Ordinal),
		"compute_capability": fmt.Sprintf("%d.%d", d.Major, d.Minor),
		"device_memory":      fmt.Sprintf("%.1f GiB", float64(d.TotalMemory)/(1<<30)),
		"tf32":               strconv.FormatBool(ctx.TF32()),
		"deterministic":      strconv.FormatBool(ctx.Deterministic()),
		"kernels":            "NVRTC " + fmt.Sprint(kernels.Options),
		"conv_api":           "cuDNN legacy (cudnnFind*)",
	}
	if o.GraphConv {
		p["conv_api"] = "cuDNN graph (engine heuristics A and fallback, timed)"
	}
	if o.StepGraphs {
		p["step_graphs"] = "CUDA graphs (each step shape captured once, then replayed)"
	}
	if o.PackedConv {
		p["conv_tensors"] = "packed (channel slices copied through buffers)"
	}
	put := func(key string, v string, err error) {
		if err != nil {
			v = "unknown (" + err.Error() + ")"
		}
		p[key] = v
	}
	v, err := cudnn.DriverVersion()
	put("cuda_driver", v, err)
	dnn, rt, err := cudnn.CUDNNVersion()
	put("cudnn", dnn, err)
	put("cudnn_cudart", rt, err)
	v, err = cudnn.CUBLASVersion()
	put("cublas", v, err)
	v, err = cudnn.NVRTCVersion()
	put("nvrtc", v, err)
	for _, lib := range []string{"cuda", "cudnn", "cublas", "nvrtc"} {
		path, err := cudnn.LibraryPath(lib)
		put("lib_"+lib, path, err)
	}
	return p
}

// Name is "gpu".
func (b *Backend) Name() string { return "gpu" }

// Provenance describes the device, the libraries, and the TF32 and determinism modes.
func (b *Backend) Provenance() map[string]string {
	p := make(map[string]string, len(b.prov))
	for k, v := range b.prov {
		p[k] = v
	}
	return p
}

// fail keeps the first error (Err and Sync report it).
func (b *Backend) fail(err error) {
	if err != nil && b.err == nil {
		b.err = err
	}
}

// ok reports whether work may be queued: after the first error, operations do nothing, so
// one failure is reported once instead of cascading.
func (b *Backend) ok() bool { return b.err == nil && !b.closed }

// Err returns the first error kept, without waiting.
func (b *Backend) Err() error {
	if b.closed && b.err == nil {
		return errors.New("gpu: backend used after Close")
	}
	return b.err
}

// Sync waits for the stream.
func (b *Backend) Sync() error {
	if b.ok() {
		b.fail(b.ctx.Sync())
	}
	return b.Err()
}

// Time runs f, which queues work, and returns the device time between the start and the end of
// that work, measured with CUDA events (it waits for the end). rout bench uses it.
func (b *Backend) Time(f func()) (time.Duration, error) {
	if !b.ok() {
		return 0, b.Err()
	}
	b.fail(b.events[0].Record())
	f()
	b.fail(b.events[1].Record())
	if !b.ok() {
		return 0, b.Err()
	}
	d, err := b.events[1].Since(b.events[0])
	b.fail(err)
	return d, b.Err()
}

// Close waits for the stream, frees every buffer, descriptor and event and the module, and
// releases the device.
func (b *Backend) Close() error {
	if b.closed {
		return nil
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	free := func() error { // what was made from the context; its errors go to add
		for _, o := range b.owned {
			add(o.Free())
		}
		for _, t := range b.tables {
			add(t.words.Free())
		}
		add(b.descs.close())
		for _, e := range b.events {
			if e != nil {
				add(e.Close())
			}
		}
		if b.mod != nil {
			add(b.mod.Close())
		}
		return nil
	}
	if b.ctx != nil {
		add(b.ctx.Sync())
		// The frees and the context's close run as one, apart from other backends' algorithm
		// searches and step captures (cudnn.Context.CloseWith).
		add(b.ctx.CloseWith(free))
	} else {
		free()
	}
	b.closed = true
	b.owned, b.tables = nil, nil
	return errors.Join(errs...)
}

// RunStep runs f, one training step's work, through the context's step graphs when
// Options.StepGraphs is set, else directly. An error that f meets while being captured does not
// stick: the capture is dropped and the step runs directly (cudnn.Context.RunStep).
func (b *Backend) RunStep(f func()) {
	if !b.ok() {
		return
	}
	b.fail(b.ctx.RunStep(func() error {
		f()
		err := b.err
		b.err = nil
		return err
	}))
}

// StepReport says what RunStep did: how many steps replayed a graph, and why graphs were turned
// off if they were.
func (b *Backend) StepReport() string {
	s := b.ctx.StepStats()
	if s.Captured == 0 && s.Off == "" {
		return ""
	}
	r := fmt.Sprintf("CUDA graphs: %d captured, %d steps replayed (%d kernel argument updates), %d run directly",
		s.Captured, s.Replayed, s.Updated, s.Direct)
	if s.Off != "" {
		r += "; turned off: " + s.Off
	}
	return r
}

// StepStats reports what RunStep did (for tests and benchmarks).
func (b *Backend) StepStats() cudnn.StepStats { return b.ctx.StepStats() }

// Kernel parameter types: one Go type per C type a kernel parameter has, named in its comment,
// so that a launch wrapper's signature spells its kernel's and TestKernelWrappers can compare the
// two without a GPU (it reads the C type of each Go type from these comments).
type (
	cInt          int32           // int
	cUint         uint32          // unsigned int
	cFloat        float32         // float
	floatPtr      cudnn.DevicePtr // float*
	constFloatPtr cudnn.DevicePtr // const float*
	constIntPtr   cudnn.DevicePtr // const int*
	constBytePtr  cudnn.DevicePtr // const unsigned char*
)

// kernelArg is a kernel parameter type: it appends itself to a launch's arguments.
type kernelArg interface{ put(a *cudnn.Args) }

func (v cInt) put(a *cudnn.Args)          { a.Int32(int32(v)) }
func (v cUint) put(a *cudnn.Args)         { a.Uint32(uint32(v)) }
func (v cFloat) put(a *cudnn.Args)        { a.Float32(float32(v)) }
func (v floatPtr) put(a *cudnn.Args)      { a.Ptr(cudnn.DevicePtr(v)) }
func (v constFloatPtr) put(a *cudnn.Args) { a.Ptr(cudnn.DevicePtr(v)) }
func (v constIntPtr) put(a *cudnn.Args)   { a.Ptr(cudnn.DevicePtr(v)) }
func (v constBytePtr) put(a *cudnn.Args)  { a.Ptr(cudnn.DevicePtr(v)) }

// in is view t's first element as a kernel's input, out as its output; optIn and optOut give 0
// (a null pointer for the kernels) for a nil tensor.
func in(t *net.Tensor) constFloatPtr    { return constFloatPtr(ptr(t)) }
func out(t *net.Tensor) floatPtr        { return floatPtr(ptr(t)) }
func optIn(t *net.Tensor) constFloatPtr { return constFloatPtr(optPtr(t)) }
func optOut(t *net.Tensor) floatPtr     { return floatPtr(optPtr(t)) }

// flag is a bool as a kernel's int.
func flag(v bool) cInt {
	if v {
		return 1
	}
	return 0
}

// launch queues kernel name on grid x block threads with args in the kernel's parameter order.
// Its only callers are the launch wrappers, one per kernel, each in the file named after the
// kernel's .cu file, which pass their parameters through in order: TestKernelWrappers checks
// them against the kernels' declarations.
func (b *Backend) launch(name string, grid, block int, args ...kernelArg) {
	if !b.ok() {
		return
	}
	if grid < 1 {
		grid = 1
	}
	a := b.args.Reset()
	for _, v := range args {
		v.put(a)
	}
	if err := b.fn[name].Launch(cudnn.Dim3{X: grid}, cudnn.Dim3{X: block}, 0, a); err != nil {
		b.fail(fmt.Errorf("gpu: kernel %s: %w", name, err))
	}
}

// blocks is the grid for a grid-stride kernel over n elements with blocks of threads threads.
func (b *Backend) blocks(n, threads int) int {
	g := (n + threads - 1) / threads
	if g > b.maxGrid {
		g = b.maxGrid
	}
	if g < 1 {
		g = 1
	}
	return g
}

// i32 converts a size or offset for a kernel's int parameter; rout's tensors stay far below 2^31
// elements per view (Alloc refuses larger ones).
func i32(v int) cInt { return cInt(v) }
