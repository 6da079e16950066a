// rout_cuda.h: the C declarations rout uses from libcuda, libcudnn, libcublas and libnvrtc,
// written by hand so that building rout needs no CUDA headers. Every function is listed once in
// an X-macro table; from it come the function-pointer types, the table the loader fills with
// dlsym, the cgo call wrappers (rc_NAME), and the declaration check (testdata/declcheck.c), which
// compiles these same lists against the real headers on a GPU machine.
//
// Types are prefixed rc_ so that declcheck.c can include this file after the real headers: it
// defines ROUT_DECLCHECK and maps each rc_ type to the real one, and then every prototype below
// must be assignment-compatible with the real function and every enum value equal to the real one.
#ifndef ROUT_CUDA_H
#define ROUT_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifndef ROUT_DECLCHECK
// Enums are int-sized in every header (declcheck asserts it); handles are opaque pointers.
typedef int rc_CUresult;
typedef int rc_CUdevice;
typedef int rc_CUdevice_attribute;
typedef int rc_CUfunction_attribute;
typedef unsigned long long rc_CUdeviceptr;
typedef void *rc_CUcontext;
typedef void *rc_CUstream;
typedef void *rc_CUmodule;
typedef void *rc_CUfunction;
typedef void *rc_CUevent;
typedef void *rc_CUgraph;
typedef void *rc_CUgraphExec;
typedef void *rc_CUgraphNode;
typedef int rc_CUstreamCaptureMode;
typedef int rc_CUstreamCaptureStatus;

typedef int rc_cudnnStatus_t;
typedef void *rc_cudnnHandle_t;
typedef void *rc_cudaStream_t;
typedef void *rc_cudnnTensorDescriptor_t;
typedef void *rc_cudnnFilterDescriptor_t;
typedef void *rc_cudnnConvolutionDescriptor_t;
typedef void *rc_cudnnActivationDescriptor_t;
typedef void *rc_cudnnPoolingDescriptor_t;
typedef int rc_cudnnDataType_t;
typedef int rc_cudnnTensorFormat_t;
typedef int rc_cudnnConvolutionMode_t;
typedef int rc_cudnnMathType_t;
typedef int rc_cudnnDeterminism_t;
typedef int rc_cudnnConvolutionFwdAlgo_t;
typedef int rc_cudnnConvolutionBwdDataAlgo_t;
typedef int rc_cudnnConvolutionBwdFilterAlgo_t;
typedef int rc_cudnnActivationMode_t;
typedef int rc_cudnnNanPropagation_t;
typedef int rc_cudnnPoolingMode_t;
typedef int rc_cudnnBatchNormMode_t;
typedef void *rc_cudnnBackendDescriptor_t;
typedef int rc_cudnnBackendDescriptorType_t;
typedef int rc_cudnnBackendAttributeName_t;
typedef int rc_cudnnBackendAttributeType_t;

typedef int rc_cublasStatus_t;
typedef void *rc_cublasHandle_t;
typedef int rc_cublasOperation_t;
typedef int rc_cublasPointerMode_t;
typedef int rc_cublasMath_t;
typedef int rc_libraryPropertyType;

typedef int rc_nvrtcResult;
typedef void *rc_nvrtcProgram;
#endif

// The algorithm-search results of cuDNN (cudnnConvolution*AlgoPerf_t); declcheck compares the
// layout field by field.
struct rc_conv_perf {
	int algo;
	int status;
	float time;
	size_t memory;
	int determinism;
	int mathType;
	int reserved[3];
};
#ifndef ROUT_DECLCHECK
typedef struct rc_conv_perf rc_cudnnConvolutionFwdAlgoPerf_t;
typedef struct rc_conv_perf rc_cudnnConvolutionBwdDataAlgoPerf_t;
typedef struct rc_conv_perf rc_cudnnConvolutionBwdFilterAlgoPerf_t;
#endif

// A kernel node's launch, as cuGraphExecKernelNodeSetParams_v2 takes it (CUDA_KERNEL_NODE_PARAMS
// since CUDA 12: kern and ctx follow extra); declcheck compares the layout field by field.
struct rc_kernel_node_params {
	rc_CUfunction func;
	unsigned int gridDimX, gridDimY, gridDimZ;
	unsigned int blockDimX, blockDimY, blockDimZ;
	unsigned int sharedMemBytes;
	void **kernelParams;
	void **extra;
	void *kern;
	rc_CUcontext ctx;
};
// A graph edge's data (CUgraphEdgeData, CUDA 12.3+), which rout never reads.
struct rc_graph_edge_data {
	unsigned char from_port, to_port, type, reserved[5];
};
#ifndef ROUT_DECLCHECK
typedef struct rc_kernel_node_params rc_CUDA_KERNEL_NODE_PARAMS;
typedef struct rc_graph_edge_data rc_CUgraphEdgeData;
#endif

// X(return type, symbol, parameter list, argument list)
#define RC_CUDA_FUNCS(X) \
	X(rc_CUresult, cuInit, (unsigned int flags), (flags)) \
	X(rc_CUresult, cuDriverGetVersion, (int *v), (v)) \
	X(rc_CUresult, cuGetErrorName, (rc_CUresult e, const char **s), (e, s)) \
	X(rc_CUresult, cuDeviceGetCount, (int *n), (n)) \
	X(rc_CUresult, cuDeviceGet, (rc_CUdevice *d, int ordinal), (d, ordinal)) \
	X(rc_CUresult, cuDeviceGetName, (char *name, int len, rc_CUdevice d), (name, len, d)) \
	X(rc_CUresult, cuDeviceGetAttribute, (int *v, rc_CUdevice_attribute a, rc_CUdevice d), (v, a, d)) \
	X(rc_CUresult, cuDeviceTotalMem_v2, (size_t *bytes, rc_CUdevice d), (bytes, d)) \
	X(rc_CUresult, cuDevicePrimaryCtxRetain, (rc_CUcontext *c, rc_CUdevice d), (c, d)) \
	X(rc_CUresult, cuDevicePrimaryCtxRelease_v2, (rc_CUdevice d), (d)) \
	X(rc_CUresult, cuCtxSetCurrent, (rc_CUcontext c), (c)) \
	X(rc_CUresult, cuMemGetInfo_v2, (size_t *free_, size_t *total), (free_, total)) \
	X(rc_CUresult, cuStreamCreate, (rc_CUstream *s, unsigned int flags), (s, flags)) \
	X(rc_CUresult, cuStreamDestroy_v2, (rc_CUstream s), (s)) \
	X(rc_CUresult, cuStreamSynchronize, (rc_CUstream s), (s)) \
	X(rc_CUresult, cuMemAlloc_v2, (rc_CUdeviceptr *p, size_t bytes), (p, bytes)) \
	X(rc_CUresult, cuMemFree_v2, (rc_CUdeviceptr p), (p)) \
	X(rc_CUresult, cuMemcpyHtoDAsync_v2, (rc_CUdeviceptr dst, const void *src, size_t bytes, rc_CUstream s), (dst, src, bytes, s)) \
	X(rc_CUresult, cuMemcpyDtoHAsync_v2, (void *dst, rc_CUdeviceptr src, size_t bytes, rc_CUstream s), (dst, src, bytes, s)) \
	X(rc_CUresult, cuMemcpyDtoDAsync_v2, (rc_CUdeviceptr dst, rc_CUdeviceptr src, size_t bytes, rc_CUstream s), (dst, src, bytes, s)) \
	X(rc_CUresult, cuMemsetD8Async, (rc_CUdeviceptr dst, unsigned char v, size_t n, rc_CUstream s), (dst, v, n, s)) \
	X(rc_CUresult, cuMemsetD32Async, (rc_CUdeviceptr dst, unsigned int v, size_t n, rc_CUstream s), (dst, v, n, s)) \
	X(rc_CUresult, cuModuleLoadData, (rc_CUmodule *m, const void *image), (m, image)) \
	X(rc_CUresult, cuModuleUnload, (rc_CUmodule m), (m)) \
	X(rc_CUresult, cuModuleGetFunction, (rc_CUfunction *f, rc_CUmodule m, const char *name), (f, m, name)) \
	X(rc_CUresult, cuFuncGetAttribute, (int *v, rc_CUfunction_attribute a, rc_CUfunction f), (v, a, f)) \
	X(rc_CUresult, cuFuncSetAttribute, (rc_CUfunction f, rc_CUfunction_attribute a, int v), (f, a, v)) \
	X(rc_CUresult, cuLaunchKernel, (rc_CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared, rc_CUstream s, void **params, void **extra), (f, gx, gy, gz, bx, by, bz, shared, s, params, extra)) \
	X(rc_CUresult, cuEventCreate, (rc_CUevent *e, unsigned int flags), (e, flags)) \
	X(rc_CUresult, cuEventRecord, (rc_CUevent e, rc_CUstream s), (e, s)) \
	X(rc_CUresult, cuEventSynchronize, (rc_CUevent e), (e)) \
	X(rc_CUresult, cuEventDestroy_v2, (rc_CUevent e), (e)) \
	X(rc_CUresult, cuEventElapsedTime_v2, (float *ms, rc_CUevent start, rc_CUevent end), (ms, start, end))

// CUDA graphs: stream capture, and the argument update of a captured kernel. Resolved apart from
// the rest of libcuda (like the cuDNN graph API), so that a driver without one of them still runs
// everything but step graphs.
#define RC_CUDA_GRAPH_FUNCS(X) \
	X(rc_CUresult, cuStreamBeginCapture_v2, (rc_CUstream s, rc_CUstreamCaptureMode mode), (s, mode)) \
	X(rc_CUresult, cuStreamEndCapture, (rc_CUstream s, rc_CUgraph *g), (s, g)) \
	X(rc_CUresult, cuStreamGetCaptureInfo_v3, (rc_CUstream s, rc_CUstreamCaptureStatus *status, uint64_t *id, rc_CUgraph *g, const rc_CUgraphNode **deps, const rc_CUgraphEdgeData **edges, size_t *ndeps), (s, status, id, g, deps, edges, ndeps)) \
	X(rc_CUresult, cuGraphInstantiateWithFlags, (rc_CUgraphExec *e, rc_CUgraph g, unsigned long long flags), (e, g, flags)) \
	X(rc_CUresult, cuGraphLaunch, (rc_CUgraphExec e, rc_CUstream s), (e, s)) \
	X(rc_CUresult, cuGraphExecKernelNodeSetParams_v2, (rc_CUgraphExec e, rc_CUgraphNode n, const rc_CUDA_KERNEL_NODE_PARAMS *p), (e, n, p)) \
	X(rc_CUresult, cuGraphExecDestroy, (rc_CUgraphExec e), (e)) \
	X(rc_CUresult, cuGraphDestroy, (rc_CUgraph g), (g))

#define RC_CUDNN_FUNCS(X) \
	X(size_t, cudnnGetVersion, (void), ()) \
	X(size_t, cudnnGetCudartVersion, (void), ()) \
	X(const char *, cudnnGetErrorString, (rc_cudnnStatus_t s), (s)) \
	X(rc_cudnnStatus_t, cudnnCreate, (rc_cudnnHandle_t *h), (h)) \
	X(rc_cudnnStatus_t, cudnnDestroy, (rc_cudnnHandle_t h), (h)) \
	X(rc_cudnnStatus_t, cudnnSetStream, (rc_cudnnHandle_t h, rc_cudaStream_t s), (h, s)) \
	X(rc_cudnnStatus_t, cudnnCreateTensorDescriptor, (rc_cudnnTensorDescriptor_t *d), (d)) \
	X(rc_cudnnStatus_t, cudnnDestroyTensorDescriptor, (rc_cudnnTensorDescriptor_t d), (d)) \
	X(rc_cudnnStatus_t, cudnnSetTensor4dDescriptorEx, (rc_cudnnTensorDescriptor_t d, rc_cudnnDataType_t t, int n, int c, int h, int w, int ns, int cs, int hs, int ws), (d, t, n, c, h, w, ns, cs, hs, ws)) \
	X(rc_cudnnStatus_t, cudnnCreateFilterDescriptor, (rc_cudnnFilterDescriptor_t *d), (d)) \
	X(rc_cudnnStatus_t, cudnnDestroyFilterDescriptor, (rc_cudnnFilterDescriptor_t d), (d)) \
	X(rc_cudnnStatus_t, cudnnSetFilter4dDescriptor, (rc_cudnnFilterDescriptor_t d, rc_cudnnDataType_t t, rc_cudnnTensorFormat_t f, int k, int c, int h, int w), (d, t, f, k, c, h, w)) \
	X(rc_cudnnStatus_t, cudnnCreateConvolutionDescriptor, (rc_cudnnConvolutionDescriptor_t *d), (d)) \
	X(rc_cudnnStatus_t, cudnnDestroyConvolutionDescriptor, (rc_cudnnConvolutionDescriptor_t d), (d)) \
	X(rc_cudnnStatus_t, cudnnSetConvolution2dDescriptor, (rc_cudnnConvolutionDescriptor_t d, int padH, int padW, int u, int v, int dilH, int dilW, rc_cudnnConvolutionMode_t m, rc_cudnnDataType_t t), (d, padH, padW, u, v, dilH, dilW, m, t)) \
	X(rc_cudnnStatus_t, cudnnSetConvolutionMathType, (rc_cudnnConvolutionDescriptor_t d, rc_cudnnMathType_t m), (d, m)) \
	X(rc_cudnnStatus_t, cudnnSetConvolutionGroupCount, (rc_cudnnConvolutionDescriptor_t d, int groups), (d, groups)) \
	X(rc_cudnnStatus_t, cudnnGetConvolution2dForwardOutputDim, (const rc_cudnnConvolutionDescriptor_t cd, const rc_cudnnTensorDescriptor_t xd, const rc_cudnnFilterDescriptor_t wd, int *n, int *c, int *h, int *w), (cd, xd, wd, n, c, h, w)) \
	X(rc_cudnnStatus_t, cudnnFindConvolutionForwardAlgorithm, (rc_cudnnHandle_t h, const rc_cudnnTensorDescriptor_t xd, const rc_cudnnFilterDescriptor_t wd, const rc_cudnnConvolutionDescriptor_t cd, const rc_cudnnTensorDescriptor_t yd, const int req, int *ret, rc_cudnnConvolutionFwdAlgoPerf_t *perf), (h, xd, wd, cd, yd, req, ret, perf)) \
	X(rc_cudnnStatus_t, cudnnFindConvolutionBackwardDataAlgorithm, (rc_cudnnHandle_t h, const rc_cudnnFilterDescriptor_t wd, const rc_cudnnTensorDescriptor_t dyd, const rc_cudnnConvolutionDescriptor_t cd, const rc_cudnnTensorDescriptor_t dxd, const int req, int *ret, rc_cudnnConvolutionBwdDataAlgoPerf_t *perf), (h, wd, dyd, cd, dxd, req, ret, perf)) \
	X(rc_cudnnStatus_t, cudnnFindConvolutionBackwardFilterAlgorithm, (rc_cudnnHandle_t h, const rc_cudnnTensorDescriptor_t xd, const rc_cudnnTensorDescriptor_t dyd, const rc_cudnnConvolutionDescriptor_t cd, const rc_cudnnFilterDescriptor_t dwd, const int req, int *ret, rc_cudnnConvolutionBwdFilterAlgoPerf_t *perf), (h, xd, dyd, cd, dwd, req, ret, perf)) \
	X(rc_cudnnStatus_t, cudnnGetConvolutionForwardAlgorithm_v7, (rc_cudnnHandle_t h, const rc_cudnnTensorDescriptor_t xd, const rc_cudnnFilterDescriptor_t wd, const rc_cudnnConvolutionDescriptor_t cd, const rc_cudnnTensorDescriptor_t yd, const int req, int *ret, rc_cudnnConvolutionFwdAlgoPerf_t *perf), (h, xd, wd, cd, yd, req, ret, perf)) \
	X(rc_cudnnStatus_t, cudnnGetConvolutionBackwardDataAlgorithm_v7, (rc_cudnnHandle_t h, const rc_cudnnFilterDescriptor_t wd, const rc_cudnnTensorDescriptor_t dyd, const rc_cudnnConvolutionDescriptor_t cd, const rc_cudnnTensorDescriptor_t dxd, const int req, int *ret, rc_cudnnConvolutionBwdDataAlgoPerf_t *perf), (h, wd, dyd, cd, dxd, req, ret, perf)) \
	X(rc_cudnnStatus_t, cudnnGetConvolutionBackwardFilterAlgorithm_v7, (rc_cudnnHandle_t h, const rc_cudnnTensorDescriptor_t xd, const rc_cudnnTensorDescriptor_t dyd, const rc_cudnnConvolutionDescriptor_t cd, const rc_cudnnFilterDescriptor_t dwd, const int req, int *ret, rc_cudnnConvolutionBwdFilterAlgoPerf_t *perf), (h, xd, dyd, cd, dwd, req, ret, perf)) \
	X(rc_cudnnStatus_t, cudnnGetConvolutionForwardWorkspaceSize, (rc_cudnnHandle_t h, const rc_cudnnTensorDescriptor_t xd, const rc_cudnnFilterDescriptor_t wd, const rc_cudnnConvolutionDescriptor_t cd, const rc_cudnnTensorDescriptor_t yd, rc_cudnnConvolutionFwdAlgo_t a, size_t *size), (h, xd, wd, cd, yd, a, size)) \
	X(rc_cudnnStatus_t, cudnnGetConvolutionBackwardDataWorkspaceSize, (rc_cudnnHandle_t h, const rc_cudnnFilterDescriptor_t wd, const rc_cudnnTensorDescriptor_t dyd, const rc_cudnnConvolutionDescriptor_t cd, const rc_cudnnTensorDescriptor_t dxd, rc_cudnnConvolutionBwdDataAlgo_t a, size_t *size), (h, wd, dyd, cd, dxd, a, size)) \
	X(rc_cudnnStatus_t, cudnnGetConvolutionBackwardFilterWorkspaceSize, (rc_cudnnHandle_t h, const rc_cudnnTensorDescriptor_t xd, const rc_cudnnTensorDescriptor_t dyd, const rc_cudnnConvolutionDescriptor_t cd, const rc_cudnnFilterDescriptor_t dwd, rc_cudnnConvolutionBwdFilterAlgo_t a, size_t *size), (h, xd, dyd, cd, dwd, a, size)) \
	X(rc_cudnnStatus_t, cudnnConvolutionForward, (rc_cudnnHandle_t h, const void *alpha, const rc_cudnnTensorDescriptor_t xd, const void *x, const rc_cudnnFilterDescriptor_t wd, const void *w, const rc_cudnnConvolutionDescriptor_t cd, rc_cudnnConvolutionFwdAlgo_t a, void *ws, size_t wsSize, const void *beta, const rc_cudnnTensorDescriptor_t yd, void *y), (h, alpha, xd, x, wd, w, cd, a, ws, wsSize, beta, yd, y)) \
	X(rc_cudnnStatus_t, cudnnConvolutionBackwardData, (rc_cudnnHandle_t h, const void *alpha, const rc_cudnnFilterDescriptor_t wd, const void *w, const rc_cudnnTensorDescriptor_t dyd, const void *dy, const rc_cudnnConvolutionDescriptor_t cd, rc_cudnnConvolutionBwdDataAlgo_t a, void *ws, size_t wsSize, const void *beta, const rc_cudnnTensorDescriptor_t dxd, void *dx), (h, alpha, wd, w, dyd, dy, cd, a, ws, wsSize, beta, dxd, dx)) \
	X(rc_cudnnStatus_t, cudnnConvolutionBackwardFilter, (rc_cudnnHandle_t h, const void *alpha, const rc_cudnnTensorDescriptor_t xd, const void *x, const rc_cudnnTensorDescriptor_t dyd, const void *dy, const rc_cudnnConvolutionDescriptor_t cd, rc_cudnnConvolutionBwdFilterAlgo_t a, void *ws, size_t wsSize, const void *beta, const rc_cudnnFilterDescriptor_t dwd, void *dw), (h, alpha, xd, x, dyd, dy, cd, a, ws, wsSize, beta, dwd, dw)) \
	X(rc_cudnnStatus_t, cudnnConvolutionBackwardBias, (rc_cudnnHandle_t h, const void *alpha, const rc_cudnnTensorDescriptor_t dyd, const void *dy, const void *beta, const rc_cudnnTensorDescriptor_t dbd, void *db), (h, alpha, dyd, dy, beta, dbd, db)) \
	X(rc_cudnnStatus_t, cudnnAddTensor, (rc_cudnnHandle_t h, const void *alpha, const rc_cudnnTensorDescriptor_t ad, const void *a, const void *beta, const rc_cudnnTensorDescriptor_t cd, void *c), (h, alpha, ad, a, beta, cd, c)) \
	X(rc_cudnnStatus_t, cudnnCreateActivationDescriptor, (rc_cudnnActivationDescriptor_t *d), (d)) \
	X(rc_cudnnStatus_t, cudnnDestroyActivationDescriptor, (rc_cudnnActivationDescriptor_t d), (d)) \
	X(rc_cudnnStatus_t, cudnnSetActivationDescriptor, (rc_cudnnActivationDescriptor_t d, rc_cudnnActivationMode_t m, rc_cudnnNanPropagation_t nan, double coef), (d, m, nan, coef)) \
	X(rc_cudnnStatus_t, cudnnActivationForward, (rc_cudnnHandle_t h, rc_cudnnActivationDescriptor_t ad, const void *alpha, const rc_cudnnTensorDescriptor_t xd, const void *x, const void *beta, const rc_cudnnTensorDescriptor_t yd, void *y), (h, ad, alpha, xd, x, beta, yd, y)) \
	X(rc_cudnnStatus_t, cudnnActivationBackward, (rc_cudnnHandle_t h, rc_cudnnActivationDescriptor_t ad, const void *alpha, const rc_cudnnTensorDescriptor_t yd, const void *y, const rc_cudnnTensorDescriptor_t dyd, const void *dy, const rc_cudnnTensorDescriptor_t xd, const void *x, const void *beta, const rc_cudnnTensorDescriptor_t dxd, void *dx), (h, ad, alpha, yd, y, dyd, dy, xd, x, beta, dxd, dx)) \
	X(rc_cudnnStatus_t, cudnnCreatePoolingDescriptor, (rc_cudnnPoolingDescriptor_t *d), (d)) \
	X(rc_cudnnStatus_t, cudnnDestroyPoolingDescriptor, (rc_cudnnPoolingDescriptor_t d), (d)) \
	X(rc_cudnnStatus_t, cudnnSetPooling2dDescriptor, (rc_cudnnPoolingDescriptor_t d, rc_cudnnPoolingMode_t m, rc_cudnnNanPropagation_t nan, int wh, int ww, int ph, int pw, int sh, int sw), (d, m, nan, wh, ww, ph, pw, sh, sw)) \
	X(rc_cudnnStatus_t, cudnnPoolingForward, (rc_cudnnHandle_t h, const rc_cudnnPoolingDescriptor_t pd, const void *alpha, const rc_cudnnTensorDescriptor_t xd, const void *x, const void *beta, const rc_cudnnTensorDescriptor_t yd, void *y), (h, pd, alpha, xd, x, beta, yd, y)) \
	X(rc_cudnnStatus_t, cudnnPoolingBackward, (rc_cudnnHandle_t h, const rc_cudnnPoolingDescriptor_t pd, const void *alpha, const rc_cudnnTensorDescriptor_t yd, const void *y, const rc_cudnnTensorDescriptor_t dyd, const void *dy, const rc_cudnnTensorDescriptor_t xd, const void *x, const void *beta, const rc_cudnnTensorDescriptor_t dxd, void *dx), (h, pd, alpha, yd, y, dyd, dy, xd, x, beta, dxd, dx)) \
	X(rc_cudnnStatus_t, cudnnDeriveBNTensorDescriptor, (rc_cudnnTensorDescriptor_t bnd, const rc_cudnnTensorDescriptor_t xd, rc_cudnnBatchNormMode_t m), (bnd, xd, m)) \
	X(rc_cudnnStatus_t, cudnnBatchNormalizationForwardTraining, (rc_cudnnHandle_t h, rc_cudnnBatchNormMode_t m, const void *alpha, const void *beta, const rc_cudnnTensorDescriptor_t xd, const void *x, const rc_cudnnTensorDescriptor_t yd, void *y, const rc_cudnnTensorDescriptor_t bnd, const void *scale, const void *bias, double factor, void *runMean, void *runVar, double eps, void *saveMean, void *saveInvVar), (h, m, alpha, beta, xd, x, yd, y, bnd, scale, bias, factor, runMean, runVar, eps, saveMean, saveInvVar)) \
	X(rc_cudnnStatus_t, cudnnBatchNormalizationForwardInference, (rc_cudnnHandle_t h, rc_cudnnBatchNormMode_t m, const void *alpha, const void *beta, const rc_cudnnTensorDescriptor_t xd, const void *x, const rc_cudnnTensorDescriptor_t yd, void *y, const rc_cudnnTensorDescriptor_t bnd, const void *scale, const void *bias, const void *mean, const void *var, double eps), (h, m, alpha, beta, xd, x, yd, y, bnd, scale, bias, mean, var, eps)) \
	X(rc_cudnnStatus_t, cudnnBatchNormalizationBackward, (rc_cudnnHandle_t h, rc_cudnnBatchNormMode_t m, const void *alphaData, const void *betaData, const void *alphaParam, const void *betaParam, const rc_cudnnTensorDescriptor_t xd, const void *x, const rc_cudnnTensorDescriptor_t dyd, const void *dy, const rc_cudnnTensorDescriptor_t dxd, void *dx, const rc_cudnnTensorDescriptor_t bnd, const void *scale, void *dScale, void *dBias, double eps, const void *saveMean, const void *saveInvVar), (h, m, alphaData, betaData, alphaParam, betaParam, xd, x, dyd, dy, dxd, dx, bnd, scale, dScale, dBias, eps, saveMean, saveInvVar))

// cuDNN's graph (backend) API (cudnn_graph.h), used only with Options.GraphConv. Its table is
// resolved apart from the others and its absence is not an error of Load: a cuDNN without it
// still runs every legacy call.
#define RC_CUDNN_GRAPH_FUNCS(X) \
	X(rc_cudnnStatus_t, cudnnBackendCreateDescriptor, (rc_cudnnBackendDescriptorType_t t, rc_cudnnBackendDescriptor_t *d), (t, d)) \
	X(rc_cudnnStatus_t, cudnnBackendDestroyDescriptor, (rc_cudnnBackendDescriptor_t d), (d)) \
	X(rc_cudnnStatus_t, cudnnBackendFinalize, (rc_cudnnBackendDescriptor_t d), (d)) \
	X(rc_cudnnStatus_t, cudnnBackendSetAttribute, (rc_cudnnBackendDescriptor_t d, rc_cudnnBackendAttributeName_t n, rc_cudnnBackendAttributeType_t t, int64_t count, const void *elems), (d, n, t, count, elems)) \
	X(rc_cudnnStatus_t, cudnnBackendGetAttribute, (rc_cudnnBackendDescriptor_t d, rc_cudnnBackendAttributeName_t n, rc_cudnnBackendAttributeType_t t, int64_t requested, int64_t *count, void *elems), (d, n, t, requested, count, elems)) \
	X(rc_cudnnStatus_t, cudnnBackendExecute, (rc_cudnnHandle_t h, rc_cudnnBackendDescriptor_t plan, rc_cudnnBackendDescriptor_t pack), (h, plan, pack))

#define RC_CUBLAS_FUNCS(X) \
	X(rc_cublasStatus_t, cublasCreate_v2, (rc_cublasHandle_t *h), (h)) \
	X(rc_cublasStatus_t, cublasDestroy_v2, (rc_cublasHandle_t h), (h)) \
	X(rc_cublasStatus_t, cublasSetStream_v2, (rc_cublasHandle_t h, rc_cudaStream_t s), (h, s)) \
	X(rc_cublasStatus_t, cublasSetWorkspace_v2, (rc_cublasHandle_t h, void *ws, size_t size), (h, ws, size)) \
	X(rc_cublasStatus_t, cublasSetPointerMode_v2, (rc_cublasHandle_t h, rc_cublasPointerMode_t m), (h, m)) \
	X(rc_cublasStatus_t, cublasSetMathMode, (rc_cublasHandle_t h, rc_cublasMath_t m), (h, m)) \
	X(rc_cublasStatus_t, cublasGetVersion_v2, (rc_cublasHandle_t h, int *v), (h, v)) \
	X(rc_cublasStatus_t, cublasGetProperty, (rc_libraryPropertyType p, int *v), (p, v)) \
	X(rc_cublasStatus_t, cublasSgemm_v2, (rc_cublasHandle_t h, rc_cublasOperation_t ta, rc_cublasOperation_t tb, int m, int n, int k, const float *alpha, const float *a, int lda, const float *b, int ldb, const float *beta, float *c, int ldc), (h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc))

#define RC_NVRTC_FUNCS(X) \
	X(const char *, nvrtcGetErrorString, (rc_nvrtcResult r), (r)) \
	X(rc_nvrtcResult, nvrtcVersion, (int *major, int *minor), (major, minor)) \
	X(rc_nvrtcResult, nvrtcGetNumSupportedArchs, (int *n), (n)) \
	X(rc_nvrtcResult, nvrtcGetSupportedArchs, (int *archs), (archs)) \
	X(rc_nvrtcResult, nvrtcCreateProgram, (rc_nvrtcProgram *p, const char *src, const char *name, int numHeaders, const char *const *headers, const char *const *includeNames), (p, src, name, numHeaders, headers, includeNames)) \
	X(rc_nvrtcResult, nvrtcDestroyProgram, (rc_nvrtcProgram *p), (p)) \
	X(rc_nvrtcResult, nvrtcCompileProgram, (rc_nvrtcProgram p, int numOptions, const char *const *options), (p, numOptions, options)) \
	X(rc_nvrtcResult, nvrtcGetProgramLogSize, (rc_nvrtcProgram p, size_t *n), (p, n)) \
	X(rc_nvrtcResult, nvrtcGetProgramLog, (rc_nvrtcProgram p, char *log), (p, log)) \
	X(rc_nvrtcResult, nvrtcGetPTXSize, (rc_nvrtcProgram p, size_t *n), (p, n)) \
	X(rc_nvrtcResult, nvrtcGetPTX, (rc_nvrtcProgram p, char *ptx), (p, ptx)) \
	X(rc_nvrtcResult, nvrtcGetCUBINSize, (rc_nvrtcProgram p, size_t *n), (p, n)) \
	X(rc_nvrtcResult, nvrtcGetCUBIN, (rc_nvrtcProgram p, char *cubin), (p, cubin))

// Enum values: X(real name, our value). Go code uses RC_<real name>.
#define RC_ENUMS(X) \
	X(CUDA_SUCCESS, 0) \
	X(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, 1) \
	X(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 16) \
	X(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 75) \
	X(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, 76) \
	X(CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, 0) \
	X(CU_FUNC_ATTRIBUTE_NUM_REGS, 4) \
	X(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 8) \
	X(CU_STREAM_NON_BLOCKING, 1) \
	X(CU_STREAM_CAPTURE_MODE_THREAD_LOCAL, 1) \
	X(CU_STREAM_CAPTURE_STATUS_ACTIVE, 1) \
	X(CU_EVENT_DEFAULT, 0) \
	X(CUDNN_STATUS_SUCCESS, 0) \
	X(CUDNN_DATA_FLOAT, 0) \
	X(CUDNN_TENSOR_NCHW, 0) \
	X(CUDNN_CROSS_CORRELATION, 1) \
	X(CUDNN_DEFAULT_MATH, 0) \
	X(CUDNN_TENSOR_OP_MATH, 1) \
	X(CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION, 2) \
	X(CUDNN_FMA_MATH, 3) \
	X(CUDNN_NON_DETERMINISTIC, 0) \
	X(CUDNN_DETERMINISTIC, 1) \
	X(CUDNN_CONVOLUTION_FWD_ALGO_COUNT, 8) \
	X(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, 6) \
	X(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, 7) \
	X(CUDNN_ACTIVATION_SIGMOID, 0) \
	X(CUDNN_ACTIVATION_RELU, 1) \
	X(CUDNN_ACTIVATION_TANH, 2) \
	X(CUDNN_ACTIVATION_CLIPPED_RELU, 3) \
	X(CUDNN_ACTIVATION_ELU, 4) \
	X(CUDNN_ACTIVATION_IDENTITY, 5) \
	X(CUDNN_NOT_PROPAGATE_NAN, 0) \
	X(CUDNN_PROPAGATE_NAN, 1) \
	X(CUDNN_POOLING_MAX, 0) \
	X(CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING, 1) \
	X(CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING, 2) \
	X(CUDNN_POOLING_MAX_DETERMINISTIC, 3) \
	X(CUDNN_BATCHNORM_PER_ACTIVATION, 0) \
	X(CUDNN_BATCHNORM_SPATIAL, 1) \
	X(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, 1) \
	X(CUDNN_BACKEND_ENGINE_DESCRIPTOR, 2) \
	X(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, 3) \
	X(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, 4) \
	X(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, 5) \
	X(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, 10) \
	X(CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR, 11) \
	X(CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR, 12) \
	X(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, 15) \
	X(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, 16) \
	X(CUDNN_BACKEND_TENSOR_DESCRIPTOR, 17) \
	X(CUDNN_TYPE_HANDLE, 0) \
	X(CUDNN_TYPE_DATA_TYPE, 1) \
	X(CUDNN_TYPE_INT64, 3) \
	X(CUDNN_TYPE_FLOAT, 4) \
	X(CUDNN_TYPE_VOID_PTR, 6) \
	X(CUDNN_TYPE_CONVOLUTION_MODE, 7) \
	X(CUDNN_TYPE_HEUR_MODE, 8) \
	X(CUDNN_TYPE_NUMERICAL_NOTE, 11) \
	X(CUDNN_TYPE_BACKEND_DESCRIPTOR, 15) \
	X(CUDNN_TYPE_BEHAVIOR_NOTE, 19) \
	X(CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION, 0) \
	X(CUDNN_HEUR_MODE_FALLBACK, 2) \
	X(CUDNN_HEUR_MODE_A, 3) \
	X(CUDNN_NUMERICAL_NOTE_TENSOR_CORE, 0) \
	X(CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS, 1) \
	X(CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION, 2) \
	X(CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC, 4) \
	X(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, 100) \
	X(CUDNN_ATTR_CONVOLUTION_CONV_MODE, 101) \
	X(CUDNN_ATTR_CONVOLUTION_DILATIONS, 102) \
	X(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, 103) \
	X(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, 104) \
	X(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, 105) \
	X(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, 106) \
	X(CUDNN_ATTR_ENGINEHEUR_MODE, 200) \
	X(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, 201) \
	X(CUDNN_ATTR_ENGINEHEUR_RESULTS, 202) \
	X(CUDNN_ATTR_ENGINECFG_ENGINE, 300) \
	X(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, 400) \
	X(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, 401) \
	X(CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, 402) \
	X(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, 700) \
	X(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, 701) \
	X(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, 702) \
	X(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, 703) \
	X(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, 704) \
	X(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, 705) \
	X(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA, 706) \
	X(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA, 707) \
	X(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC, 708) \
	X(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W, 709) \
	X(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX, 710) \
	X(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY, 711) \
	X(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA, 712) \
	X(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA, 713) \
	X(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC, 714) \
	X(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW, 715) \
	X(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X, 716) \
	X(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY, 717) \
	X(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, 800) \
	X(CUDNN_ATTR_OPERATIONGRAPH_OPS, 801) \
	X(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, 900) \
	X(CUDNN_ATTR_TENSOR_DATA_TYPE, 901) \
	X(CUDNN_ATTR_TENSOR_DIMENSIONS, 902) \
	X(CUDNN_ATTR_TENSOR_STRIDES, 903) \
	X(CUDNN_ATTR_TENSOR_UNIQUE_ID, 906) \
	X(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, 1000) \
	X(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, 1001) \
	X(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, 1003) \
	X(CUDNN_ATTR_ENGINE_GLOBAL_INDEX, 1301) \
	X(CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, 1303) \
	X(CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, 1305) \
	X(CUBLAS_STATUS_SUCCESS, 0) \
	X(CUBLAS_STATUS_NOT_INITIALIZED, 1) \
	X(CUBLAS_STATUS_ALLOC_FAILED, 3) \
	X(CUBLAS_STATUS_INVALID_VALUE, 7) \
	X(CUBLAS_STATUS_ARCH_MISMATCH, 8) \
	X(CUBLAS_STATUS_MAPPING_ERROR, 11) \
	X(CUBLAS_STATUS_EXECUTION_FAILED, 13) \
	X(CUBLAS_STATUS_INTERNAL_ERROR, 14) \
	X(CUBLAS_STATUS_NOT_SUPPORTED, 15) \
	X(CUBLAS_STATUS_LICENSE_ERROR, 16) \
	X(CUBLAS_OP_N, 0) \
	X(CUBLAS_OP_T, 1) \
	X(CUBLAS_POINTER_MODE_HOST, 0) \
	X(CUBLAS_DEFAULT_MATH, 0) \
	X(CUBLAS_PEDANTIC_MATH, 2) \
	X(CUBLAS_TF32_TENSOR_OP_MATH, 3) \
	X(MAJOR_VERSION, 0) \
	X(MINOR_VERSION, 1) \
	X(PATCH_LEVEL, 2) \
	X(NVRTC_SUCCESS, 0)

#define RC_ENUM_VALUE(name, value) RC_##name = value,
enum { RC_ENUMS(RC_ENUM_VALUE) };
#undef RC_ENUM_VALUE

// One function-pointer type per symbol: rc_NAME_t.
#define RC_FN_TYPE(ret, name, params, args) typedef ret(*rc_##name##_t) params;
RC_CUDA_FUNCS(RC_FN_TYPE)
RC_CUDA_GRAPH_FUNCS(RC_FN_TYPE)
RC_CUDNN_FUNCS(RC_FN_TYPE)
RC_CUDNN_GRAPH_FUNCS(RC_FN_TYPE)
RC_CUBLAS_FUNCS(RC_FN_TYPE)
RC_NVRTC_FUNCS(RC_FN_TYPE)
#undef RC_FN_TYPE

#ifndef ROUT_DECLCHECK
// The tables loader.c fills with dlsym: one per library.
#define RC_FN_FIELD(ret, name, params, args) rc_##name##_t name;
struct rc_cuda_table { RC_CUDA_FUNCS(RC_FN_FIELD) };
struct rc_cuda_graph_table { RC_CUDA_GRAPH_FUNCS(RC_FN_FIELD) };
struct rc_cudnn_table { RC_CUDNN_FUNCS(RC_FN_FIELD) };
struct rc_cudnn_graph_table { RC_CUDNN_GRAPH_FUNCS(RC_FN_FIELD) };
struct rc_cublas_table { RC_CUBLAS_FUNCS(RC_FN_FIELD) };
struct rc_nvrtc_table { RC_NVRTC_FUNCS(RC_FN_FIELD) };
#undef RC_FN_FIELD
extern struct rc_cuda_table rc_cuda;
extern struct rc_cuda_graph_table rc_cuda_graph;
extern struct rc_cudnn_table rc_cudnn;
extern struct rc_cudnn_graph_table rc_cudnn_graph;
extern struct rc_cublas_table rc_cublas;
extern struct rc_nvrtc_table rc_nvrtc;

// Library identifiers for the loader.
// RC_LIB_CUDNN_GRAPH is the graph-API part of cuDNN's table, resolved from cuDNN's handle, and
// RC_LIB_CUDA_GRAPH the CUDA-graph part of the driver's, resolved from libcuda's.
enum { RC_LIB_CUDA = 0, RC_LIB_CUDNN = 1, RC_LIB_CUBLAS = 2, RC_LIB_NVRTC = 3, RC_LIB_CUDNN_GRAPH = 4, RC_LIB_CUDA_GRAPH = 5 };

// rc_dlopen opens path (RTLD_NOW, or RTLD_LAZY when lazy, with RTLD_GLOBAL); on failure it
// returns NULL and copies dlerror() into err. rc_resolve fills library lib's table from handle; on failure it returns the name of
// the first missing symbol (static storage), else NULL. rc_dlpath names the file a symbol of
// library lib was loaded from (for `rout info`), or "" when unknown.
void *rc_dlopen(const char *path, int lazy, char *err, size_t errlen);
const char *rc_resolve(int lib, void *handle);
const char *rc_dlpath(int lib);

// rc_launch is cuLaunchKernel with the kernel's arguments packed by Go into argbuf: argument i
// is at argbuf + 8*i (each in its own 8-byte slot).
rc_CUresult rc_launch(rc_CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
		unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared, rc_CUstream s,
		void *argbuf, int nargs);

// rc_captured_node reports stream s's capture status and how many nodes the next call on s will
// depend on; when that is one, *node is it: right after a kernel launch on a stream that
// captures one chain, the launch's node. rc_set_kernel_args gives kernel node node of exec the
// launch that rc_launch would make with the same arguments.
rc_CUresult rc_captured_node(rc_CUstream s, rc_CUgraphNode *node, rc_CUstreamCaptureStatus *status, size_t *ndeps);
rc_CUresult rc_set_kernel_args(rc_CUgraphExec exec, rc_CUgraphNode node, rc_CUfunction f, unsigned int gx,
		unsigned int gy, unsigned int gz, unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared,
		void *argbuf, int nargs);

// Call wrappers: rc_NAME(args) calls through the loaded table (cgo cannot call C function
// pointers directly). Go calls them only after the library's table is filled.
#define RC_WRAP_CUDA(ret, name, params, args) static inline ret rc_##name params { return rc_cuda.name args; }
#define RC_WRAP_CUDA_GRAPH(ret, name, params, args) static inline ret rc_##name params { return rc_cuda_graph.name args; }
#define RC_WRAP_CUDNN(ret, name, params, args) static inline ret rc_##name params { return rc_cudnn.name args; }
#define RC_WRAP_CUDNN_GRAPH(ret, name, params, args) static inline ret rc_##name params { return rc_cudnn_graph.name args; }
#define RC_WRAP_CUBLAS(ret, name, params, args) static inline ret rc_##name params { return rc_cublas.name args; }
#define RC_WRAP_NVRTC(ret, name, params, args) static inline ret rc_##name params { return rc_nvrtc.name args; }
RC_CUDA_FUNCS(RC_WRAP_CUDA)
RC_CUDA_GRAPH_FUNCS(RC_WRAP_CUDA_GRAPH)
RC_CUDNN_FUNCS(RC_WRAP_CUDNN)
RC_CUDNN_GRAPH_FUNCS(RC_WRAP_CUDNN_GRAPH)
RC_CUBLAS_FUNCS(RC_WRAP_CUBLAS)
RC_NVRTC_FUNCS(RC_WRAP_NVRTC)
#undef RC_WRAP_CUDA
#undef RC_WRAP_CUDA_GRAPH
#undef RC_WRAP_CUDNN
#undef RC_WRAP_CUDNN_GRAPH
#undef RC_WRAP_CUBLAS
#undef RC_WRAP_NVRTC
#endif // ROUT_DECLCHECK

#endif // ROUT_CUDA_H
