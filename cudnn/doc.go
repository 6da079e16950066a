//go:build !nocuda

// Package cudnn is rout's thin binding to the NVIDIA libraries: the CUDA driver (libcuda.so.1),
// cuDNN 9 (libcudnn.so.9), cuBLAS (libcublas.so.13, then .12) and NVRTC (libnvrtc.so.13, then
// .12). It is the only package that touches C. The libraries are opened with dlopen at run time
// and their prototypes and enum values are declared by hand (rout_cuda.h), so building rout
// needs a C compiler but no CUDA SDK, and a machine without a GPU gets a clear error instead of
// a loader failure. Build with -tags nocuda to leave this package (and cgo) out.
//
// # Finding the libraries
//
// Each library is looked up by its file name through the dynamic loader (LD_LIBRARY_PATH, the
// ld.so cache), then in each folder of ROUT_CUDA_LIBS (colon-separated), then in the usual
// install folders (/usr/local/cuda/lib64, /usr/local/cuda-13.0/targets/x86_64-linux/lib,
// /usr/lib/x86_64-linux-gnu, ...). When a library is found in a folder, the libraries it opens
// by name (cuDNN's sub-libraries, cuBLASLt, NVRTC's builtins) are opened from that folder first.
// When none loads, the error lists every path tried and why each failed.
//
// # Errors
//
// Every failed call returns an *Error carrying the library, the C function and the library's own
// name for the status (cuGetErrorName, cudnnGetErrorString, nvrtcGetErrorString, cuBLAS's enum
// name), e.g. "cudnn: cudnnConvolutionForward: CUDNN_STATUS_BAD_PARAM (2000)".
//
// # API
//
//	Load() error                                 open all four libraries (NewContext does it)
//	DeviceCount, DeviceInfo, DriverVersion, CUDNNVersion, CUBLASVersion, NVRTCVersion, LibraryPath
//	GraphAPI() error                             whether cuDNN's graph API resolved (optional)
//	StepGraphAPI() error                         whether the driver's CUDA graphs resolved (optional)
//	NewContext(Options{Device, Deterministic, AllowTF32, KernelCache, MaxWorkspace, GraphConv, StepGraphs}) (*Context, error)
//	  one device, its primary context, one non-blocking stream, a cuDNN and a cuBLAS handle on it
//	(*Context) Sync, Close, CloseWith(free), Device, MemInfo, TF32, Deterministic
//
//	Alloc[T float32|int32|uint8|uint32](c, n) (*Buffer[T], error)   zeroed device memory
//	(*Buffer[T]) Len, Bytes, Ptr, At(i), Slice(i, j), Upload(src), Download(dst) (waits),
//	  CopyFrom(src), Zero, Fill(v), Free
//	(*Context) CopyDevice(dst, src, bytes), MemsetD8, MemsetD32       raw DevicePtr forms
//
//	(*Context) Compile(Program{Name, Source, Options}) (*Module, error)  NVRTC + on-disk cache
//	(*Context) LoadModule(image) (*Module, error)                        cubin, fatbin or PTX
//	(*Module) Function(name) (*Function, error); (*Function) Launch(grid, block Dim3, shared, *Args)
//	Args: Ptr, Int32, Uint32, Int64, Uint64, Float32, Float64, Reset; Blocks(n, per)
//	(*Context) NewEvent; (*Event) Record, Wait, Since(start), Close
//
//	(*Context) NewTensor(n, c, h, w), NewTensorStrided(n, c, h, w, sn, sc, sh, sw),
//	  NewFilter(k, c, h, w), NewConv(ConvParams), NewActivation(mode, coef),
//	  NewPooling(mode, kh, kw, padH, padW, strideH, strideW), NewBatchNormParams(x)
//	(*Context) PlanConv(x, w, conv, y) (*ConvPlan, error); Plans() []ShapePlan (choices and calls)
//	(*Context) ConvForward, ConvBackwardData, ConvBackwardFilter      alpha/beta (beta=1 accumulates);
//	  with GraphConv the unscaled ones (alpha 1, beta 0) through cuDNN's graph API (graph.go)
//	(*Context) AddTensor (bias add), ConvBackwardBias (bias gradient)
//	(*Context) ActivationForward/Backward, PoolingForward/Backward
//	(*Context) BatchNormForwardTraining/Inference, BatchNormBackward  (spatial; *BatchNorm buffers)
//	(*Context) Sgemm(transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)   column-major
//	(*Context) RunStep(f) error, StepStats()     a training step through CUDA graphs (stepgraph.go)
//
// cuDNN and cuBLAS calls take descriptors and DevicePtrs (buffer.At(offset)), so views into a
// larger buffer need no allocation; descriptors carry strides (a channel slice of an N x C x H x W
// tensor with sample stride S is NewTensorStrided(n, c, h, w, S, h*w, w, 1)).
//
// # Kernels
//
// Kernel sources are CUDA C++ for NVRTC: declare kernels extern "C" __global__ (unmangled names)
// and include no CUDA headers (NVRTC provides the built-ins; CI compile-checks the same files
// with clang -nocudainc). Compile picks the target from the device: sm_XY (a cubin) when NVRTC
// supports the device's architecture, else the newest compute_XY below it (PTX the driver
// finishes). Compiled images are cached in os.UserCacheDir()/rout/kernels (Options.KernelCache;
// "off" disables), keyed by a hash of source, name, options, target and NVRTC version, written
// atomically. Launching:
//
//	m, err := c.Compile(cudnn.Program{Name: "scale.cu", Source: src})
//	f, err := m.Function("scale")
//	var a cudnn.Args
//	a.Ptr(buf.Ptr()).Int32(int32(n)).Float32(2)
//	err = f.Launch(cudnn.Dim3{X: cudnn.Blocks(n, 256)}, cudnn.Dim3{X: 256}, 0, &a)
//
// # Streams, synchronisation, determinism
//
// Everything a Context does is queued on its one stream in call order; only Download, Sync,
// Event.Wait/Since, Alloc/Free and the first use of a convolution shape (PlanConv: algorithm
// search, workspace growth) wait for the device, and Upload may (the driver stages pageable host
// memory). Plan every convolution shape and allocate every buffer before the training loop, and
// a step never waits, so it can be captured as a CUDA graph: with Options.StepGraphs, RunStep
// does that, a step's first run being its warm-up (stepgraph.go).
//
// TF32 is off unless Options.AllowTF32: convolutions use CUDNN_FMA_MATH (graph API: engines with
// the tensor-core or down-convert numerical notes are refused) and cuBLAS its default math
// (CUBLAS_TF32_TENSOR_OP_MATH when allowed). Options.Deterministic (parity tests) also
// restricts convolution algorithms to deterministic ones, chosen by cuDNN's heuristics instead
// of by timing (so that reruns choose alike), uses CUBLAS_PEDANTIC_MATH and deterministic
// max-pool backward. NVIDIA_TF32_OVERRIDE=0 in the environment forbids TF32 in the
// libraries whatever the options say.
//
// The state of the dlopen'ed libraries is process-wide, as dlopen is: each is loaded at most
// once per process.
//
// # Tests
//
// The GPU tests compare every binding with a float64 loop in Go. Without a usable GPU they skip
// with one line (ROUT_REQUIRE_GPU=1 makes that a failure); TestPlumbingWithCPUMock runs them
// anyway, in a child process, against testdata/mockcuda.c (a CPU stand-in for the four libraries,
// built with the C compiler), which checks the Go side everywhere. testdata/declcheck.sh checks
// rout_cuda.h against NVIDIA's headers on a GPU machine (scripts/gpu-check.sh --device).
package cudnn
