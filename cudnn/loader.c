//go:build !nocuda

// loader.c fills the function tables of rout_cuda.h from libraries opened with dlopen.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>
#include "rout_cuda.h"

struct rc_cuda_table rc_cuda;
struct rc_cuda_graph_table rc_cuda_graph;
struct rc_cudnn_table rc_cudnn;
struct rc_cudnn_graph_table rc_cudnn_graph;
struct rc_cublas_table rc_cublas;
struct rc_nvrtc_table rc_nvrtc;

void *rc_dlopen(const char *path, int lazy, char *err, size_t errlen) {
	void *h = dlopen(path, (lazy ? RTLD_LAZY : RTLD_NOW) | RTLD_GLOBAL);
	if (h == NULL && errlen > 0) {
		const char *e = dlerror();
		strncpy(err, e ? e : "dlopen failed", errlen - 1);
		err[errlen - 1] = 0;
	}
	return h;
}

// Older drivers lack the _v2 event timer (CUDA 12.8+); the original has the same prototype.
static void *rc_sym(void *h, const char *name) {
	void *p = dlsym(h, name);
	if (p == NULL && strcmp(name, "cuEventElapsedTime_v2") == 0) {
		p = dlsym(h, "cuEventElapsedTime");
	}
	return p;
}

#define RC_RESOLVE(table, name) \
	if ((table.name = (rc_##name##_t)rc_sym(handle, #name)) == NULL) return #name;
#define RC_RESOLVE_CUDA(ret, name, params, args) RC_RESOLVE(rc_cuda, name)
#define RC_RESOLVE_CUDA_GRAPH(ret, name, params, args) RC_RESOLVE(rc_cuda_graph, name)
#define RC_RESOLVE_CUDNN(ret, name, params, args) RC_RESOLVE(rc_cudnn, name)
#define RC_RESOLVE_CUDNN_GRAPH(ret, name, params, args) RC_RESOLVE(rc_cudnn_graph, name)
#define RC_RESOLVE_CUBLAS(ret, name, params, args) RC_RESOLVE(rc_cublas, name)
#define RC_RESOLVE_NVRTC(ret, name, params, args) RC_RESOLVE(rc_nvrtc, name)

const char *rc_resolve(int lib, void *handle) {
	switch (lib) {
	case RC_LIB_CUDA: { RC_CUDA_FUNCS(RC_RESOLVE_CUDA) break; }
	case RC_LIB_CUDA_GRAPH: { RC_CUDA_GRAPH_FUNCS(RC_RESOLVE_CUDA_GRAPH) break; }
	case RC_LIB_CUDNN: { RC_CUDNN_FUNCS(RC_RESOLVE_CUDNN) break; }
	case RC_LIB_CUDNN_GRAPH: { RC_CUDNN_GRAPH_FUNCS(RC_RESOLVE_CUDNN_GRAPH) break; }
	case RC_LIB_CUBLAS: { RC_CUBLAS_FUNCS(RC_RESOLVE_CUBLAS) break; }
	case RC_LIB_NVRTC: { RC_NVRTC_FUNCS(RC_RESOLVE_NVRTC) break; }
	default: return "(unknown library)";
	}
	return NULL;
}

const char *rc_dlpath(int lib) {
	void *sym = NULL;
	switch (lib) {
	case RC_LIB_CUDA: sym = (void *)rc_cuda.cuInit; break;
	case RC_LIB_CUDNN: sym = (void *)rc_cudnn.cudnnGetVersion; break;
	case RC_LIB_CUBLAS: sym = (void *)rc_cublas.cublasCreate_v2; break;
	case RC_LIB_NVRTC: sym = (void *)rc_nvrtc.nvrtcVersion; break;
	}
	Dl_info info;
	if (sym == NULL || dladdr(sym, &info) == 0 || info.dli_fname == NULL) return "";
	return info.dli_fname;
}

rc_CUresult rc_launch(rc_CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
		unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared, rc_CUstream s,
		void *argbuf, int nargs) {
	void *params[64];
	if (nargs > 64) return 1; // CUDA_ERROR_INVALID_VALUE; Go checks the count first.
	for (int i = 0; i < nargs; i++) params[i] = (char *)argbuf + 8 * i;
	return rc_cuda.cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shared, s, params, NULL);
}

rc_CUresult rc_captured_node(rc_CUstream s, rc_CUgraphNode *node, rc_CUstreamCaptureStatus *status, size_t *ndeps) {
	const rc_CUgraphNode *deps = NULL;
	*node = NULL;
	*ndeps = 0;
	rc_CUresult r = rc_cuda_graph.cuStreamGetCaptureInfo_v3(s, status, NULL, NULL, &deps, NULL, ndeps);
	if (r == RC_CUDA_SUCCESS && *ndeps == 1) *node = deps[0]; // deps lives until the next call on s
	return r;
}

rc_CUresult rc_set_kernel_args(rc_CUgraphExec exec, rc_CUgraphNode node, rc_CUfunction f, unsigned int gx,
		unsigned int gy, unsigned int gz, unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared,
		void *argbuf, int nargs) {
	void *params[64];
	if (nargs > 64) return 1;
	for (int i = 0; i < nargs; i++) params[i] = (char *)argbuf + 8 * i;
	struct rc_kernel_node_params p = {.func = f, .gridDimX = gx, .gridDimY = gy, .gridDimZ = gz,
		.blockDimX = bx, .blockDimY = by, .blockDimZ = bz, .sharedMemBytes = shared, .kernelParams = params};
	return rc_cuda_graph.cuGraphExecKernelNodeSetParams_v2(exec, node, &p);
}
