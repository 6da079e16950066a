// declcheck.c checks rout's hand-written declarations (../rout_cuda.h) against NVIDIA's headers.
// It only needs to compile (-c): every function pointer type of ours must accept the real function
// (-Werror turns an incompatible pointer type into a failure) and every enum value, type size and
// struct layout must equal the real one (_Static_assert). Run by declcheck.sh on the GPU machine:
//
//	gcc -std=gnu11 -Wall -Werror -Wno-deprecated-declarations -Wno-unused-variable
//	    -isystem $CUDA/include -isystem $CUDNN/include -I<folder of rout_cuda.h> -c declcheck.c
#include <stddef.h>
#include <stdio.h>
#include <cuda.h>
#include <cudnn.h>
#include <cublas_v2.h>
#include <nvrtc.h>

// Map our rc_ types to the real ones, so that the prototypes are compared parameter by
// parameter (count, order, scalar types, pointer levels, const) while enum and handle types are
// checked for size below.
#define ROUT_DECLCHECK
typedef CUresult rc_CUresult;
typedef CUdevice rc_CUdevice;
typedef CUdevice_attribute rc_CUdevice_attribute;
typedef CUfunction_attribute rc_CUfunction_attribute;
typedef CUdeviceptr rc_CUdeviceptr;
typedef CUcontext rc_CUcontext;
typedef CUstream rc_CUstream;
typedef CUmodule rc_CUmodule;
typedef CUfunction rc_CUfunction;
typedef CUevent rc_CUevent;
typedef CUgraph rc_CUgraph;
typedef CUgraphExec rc_CUgraphExec;
typedef CUgraphNode rc_CUgraphNode;
typedef CUstreamCaptureMode rc_CUstreamCaptureMode;
typedef CUstreamCaptureStatus rc_CUstreamCaptureStatus;
typedef CUDA_KERNEL_NODE_PARAMS rc_CUDA_KERNEL_NODE_PARAMS;
typedef CUgraphEdgeData rc_CUgraphEdgeData;
typedef cudnnStatus_t rc_cudnnStatus_t;
typedef cudnnHandle_t rc_cudnnHandle_t;
typedef cudaStream_t rc_cudaStream_t;
typedef cudnnTensorDescriptor_t rc_cudnnTensorDescriptor_t;
typedef cudnnFilterDescriptor_t rc_cudnnFilterDescriptor_t;
typedef cudnnConvolutionDescriptor_t rc_cudnnConvolutionDescriptor_t;
typedef cudnnActivationDescriptor_t rc_cudnnActivationDescriptor_t;
typedef cudnnPoolingDescriptor_t rc_cudnnPoolingDescriptor_t;
typedef cudnnDataType_t rc_cudnnDataType_t;
typedef cudnnTensorFormat_t rc_cudnnTensorFormat_t;
typedef cudnnConvolutionMode_t rc_cudnnConvolutionMode_t;
typedef cudnnMathType_t rc_cudnnMathType_t;
typedef cudnnDeterminism_t rc_cudnnDeterminism_t;
typedef cudnnConvolutionFwdAlgo_t rc_cudnnConvolutionFwdAlgo_t;
typedef cudnnConvolutionBwdDataAlgo_t rc_cudnnConvolutionBwdDataAlgo_t;
typedef cudnnConvolutionBwdFilterAlgo_t rc_cudnnConvolutionBwdFilterAlgo_t;
typedef cudnnActivationMode_t rc_cudnnActivationMode_t;
typedef cudnnNanPropagation_t rc_cudnnNanPropagation_t;
typedef cudnnPoolingMode_t rc_cudnnPoolingMode_t;
typedef cudnnBatchNormMode_t rc_cudnnBatchNormMode_t;
typedef cudnnBackendDescriptor_t rc_cudnnBackendDescriptor_t;
typedef cudnnBackendDescriptorType_t rc_cudnnBackendDescriptorType_t;
typedef cudnnBackendAttributeName_t rc_cudnnBackendAttributeName_t;
typedef cudnnBackendAttributeType_t rc_cudnnBackendAttributeType_t;
typedef cudnnConvolutionFwdAlgoPerf_t rc_cudnnConvolutionFwdAlgoPerf_t;
typedef cudnnConvolutionBwdDataAlgoPerf_t rc_cudnnConvolutionBwdDataAlgoPerf_t;
typedef cudnnConvolutionBwdFilterAlgoPerf_t rc_cudnnConvolutionBwdFilterAlgoPerf_t;
typedef cublasStatus_t rc_cublasStatus_t;
typedef cublasHandle_t rc_cublasHandle_t;
typedef cublasOperation_t rc_cublasOperation_t;
typedef cublasPointerMode_t rc_cublasPointerMode_t;
typedef cublasMath_t rc_cublasMath_t;
typedef libraryPropertyType rc_libraryPropertyType;
typedef nvrtcResult rc_nvrtcResult;
typedef nvrtcProgram rc_nvrtcProgram;
#include "rout_cuda.h"

// Outside the check these are int, unsigned long long and void *.
#define INT_SIZED(T) _Static_assert(sizeof(T) == sizeof(int), #T " is not int-sized");
#define PTR_SIZED(T) _Static_assert(sizeof(T) == sizeof(void *), #T " is not pointer-sized");
INT_SIZED(CUresult) INT_SIZED(CUstreamCaptureMode) INT_SIZED(CUstreamCaptureStatus) INT_SIZED(CUdevice) INT_SIZED(CUdevice_attribute) INT_SIZED(CUfunction_attribute)
INT_SIZED(cudnnStatus_t) INT_SIZED(cudnnDataType_t) INT_SIZED(cudnnTensorFormat_t)
INT_SIZED(cudnnConvolutionMode_t) INT_SIZED(cudnnMathType_t) INT_SIZED(cudnnDeterminism_t)
INT_SIZED(cudnnConvolutionFwdAlgo_t) INT_SIZED(cudnnConvolutionBwdDataAlgo_t)
INT_SIZED(cudnnConvolutionBwdFilterAlgo_t) INT_SIZED(cudnnActivationMode_t)
INT_SIZED(cudnnNanPropagation_t) INT_SIZED(cudnnPoolingMode_t) INT_SIZED(cudnnBatchNormMode_t)
INT_SIZED(cudnnBackendDescriptorType_t) INT_SIZED(cudnnBackendAttributeName_t) INT_SIZED(cudnnBackendAttributeType_t)
INT_SIZED(cudnnBackendHeurMode_t) INT_SIZED(cudnnBackendNumericalNote_t) INT_SIZED(cudnnBackendBehaviorNote_t)
INT_SIZED(cublasStatus_t) INT_SIZED(cublasOperation_t) INT_SIZED(cublasPointerMode_t)
INT_SIZED(cublasMath_t) INT_SIZED(libraryPropertyType) INT_SIZED(nvrtcResult)
PTR_SIZED(CUcontext) PTR_SIZED(CUgraph) PTR_SIZED(CUgraphExec) PTR_SIZED(CUgraphNode) PTR_SIZED(CUstream) PTR_SIZED(CUmodule) PTR_SIZED(CUfunction) PTR_SIZED(CUevent)
PTR_SIZED(cudnnHandle_t) PTR_SIZED(cudaStream_t) PTR_SIZED(cudnnTensorDescriptor_t)
PTR_SIZED(cudnnFilterDescriptor_t) PTR_SIZED(cudnnConvolutionDescriptor_t)
PTR_SIZED(cudnnActivationDescriptor_t) PTR_SIZED(cudnnPoolingDescriptor_t)
PTR_SIZED(cublasHandle_t) PTR_SIZED(nvrtcProgram) PTR_SIZED(cudnnBackendDescriptor_t)
_Static_assert(__builtin_types_compatible_p(CUdeviceptr, unsigned long long), "CUdeviceptr is not unsigned long long");
_Static_assert(__builtin_types_compatible_p(cudaStream_t, CUstream), "cudaStream_t is not CUstream (Go passes one as the other)");

// The algorithm-search result structs, field by field.
#define SAME_FIELD(T, f) _Static_assert(offsetof(T, f) == offsetof(struct rc_conv_perf, f) && \
	sizeof(((T *)0)->f) == sizeof(((struct rc_conv_perf *)0)->f), #T "." #f " differs");
#define SAME_PERF(T) _Static_assert(sizeof(T) == sizeof(struct rc_conv_perf), #T " size differs"); \
	SAME_FIELD(T, algo) SAME_FIELD(T, status) SAME_FIELD(T, time) SAME_FIELD(T, memory) \
	SAME_FIELD(T, determinism) SAME_FIELD(T, mathType) SAME_FIELD(T, reserved)
SAME_PERF(cudnnConvolutionFwdAlgoPerf_t)
SAME_PERF(cudnnConvolutionBwdDataAlgoPerf_t)
SAME_PERF(cudnnConvolutionBwdFilterAlgoPerf_t)

// The kernel node launch struct, field by field.
#define SAME_KFIELD(f) _Static_assert(offsetof(CUDA_KERNEL_NODE_PARAMS, f) == offsetof(struct rc_kernel_node_params, f) && \
	sizeof(((CUDA_KERNEL_NODE_PARAMS *)0)->f) == sizeof(((struct rc_kernel_node_params *)0)->f), "CUDA_KERNEL_NODE_PARAMS." #f " differs");
_Static_assert(sizeof(CUDA_KERNEL_NODE_PARAMS) == sizeof(struct rc_kernel_node_params), "CUDA_KERNEL_NODE_PARAMS size differs");
SAME_KFIELD(func) SAME_KFIELD(gridDimX) SAME_KFIELD(gridDimY) SAME_KFIELD(gridDimZ) SAME_KFIELD(blockDimX)
SAME_KFIELD(blockDimY) SAME_KFIELD(blockDimZ) SAME_KFIELD(sharedMemBytes) SAME_KFIELD(kernelParams) SAME_KFIELD(extra)
SAME_KFIELD(kern) SAME_KFIELD(ctx)
_Static_assert(sizeof(CUgraphEdgeData) == sizeof(struct rc_graph_edge_data), "CUgraphEdgeData size differs");

// Every enum value.
#define SAME_ENUM(name, value) _Static_assert((int)RC_##name == (int)name, #name " differs from the header");
RC_ENUMS(SAME_ENUM)

// Every prototype: the real function must convert to our pointer type without a warning.
#define SAME_FN(ret, name, params, args) rc_##name##_t rc_check_##name = name;
RC_CUDA_FUNCS(SAME_FN)
RC_CUDA_GRAPH_FUNCS(SAME_FN)
RC_CUDNN_FUNCS(SAME_FN)
RC_CUDNN_GRAPH_FUNCS(SAME_FN)
RC_CUBLAS_FUNCS(SAME_FN)
RC_NVRTC_FUNCS(SAME_FN)

// It is compiled, not linked: the references above are resolved by nothing, only type-checked.
