// mockcuda.c is a CPU stand-in for libcuda, libcudnn, libcublas and libnvrtc, used by
// TestPlumbingWithCPUMock to run the package's GPU tests on machines without a GPU. It checks the
// Go side of every binding (argument order, strides and offsets, alpha/beta, workspace, math
// type and algorithm choice, error conversion), not NVIDIA's numerics: the GPU run does that.
// "Device" memory is host memory; the only kernel is the tests' saxpy; Find reports three
// algorithms: a tensor-core one (fastest), a non-deterministic one and a deterministic one. The
// graph API's heuristics propose engines 4 (compiled at run time; 0.1 ms), 0 (tensor cores;
// 0.2 ms), 2 (non-deterministic; 0.5 ms), 5 (1.0 ms) and 1 (0.8 ms), and as fallback 3, whose
// plan never finalises; engines 1, 2 and 5 refuse strided convolutions, so that those take the
// legacy path unless TF32 allows engine 0. Every engine computes the same convolution, and every
// one ignores alpha and beta (it writes the plain convolution), as cuDNN 9.14's forward engines
// were seen to on an H200: the Go side must send only unscaled, overwriting calls there.
// Stream capture records kernel launches, memsets, device-to-device copies and the cuDNN and
// cuBLAS computations (as calls made again at each launch, with the operands they had, alpha,
// beta and descriptors copied; their operands are checked when captured); copies from or to the
// host and synchronisation refuse to be captured and spoil the capture (the real driver refuses
// these when the host memory is pageable, as Go's is). With ROUT_MOCK_ANY_KERNEL=1 every kernel
// name other than saxpy loads as a kernel that does nothing, so that a whole training step's
// calls can run (with meaningless numbers) to check the plumbing; with ROUT_MOCK_NO_COMPUTE=1 the
// library calls compute nothing either, so that a benchmark on the stand-in measures rout's own
// host time per step.
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include "../rout_cuda.h" // for the RC_ enum values
typedef unsigned long long dptr;
#define OK 0
// ---- driver
int cuInit(unsigned f) { return OK; }
int cuDriverGetVersion(int *v) { *v = 13000; return OK; }
int cuGetErrorName(int e, const char **s) {
	switch (e) { case 0: *s = "CUDA_SUCCESS"; break; case 1: *s = "CUDA_ERROR_INVALID_VALUE"; break;
	case 500: *s = "CUDA_ERROR_NOT_FOUND"; break; case 900: *s = "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED"; break;
	case 901: *s = "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED"; break; default: return 1; }
	return OK;
}
int cuDeviceGetCount(int *n) { *n = 1; return OK; }
int cuDeviceGet(int *d, int o) { if (o != 0) return 101; *d = 0; return OK; }
int cuDeviceGetName(char *n, int len, int d) { snprintf(n, len, "Mock GPU"); return OK; }
int cuDeviceGetAttribute(int *v, int a, int d) {
	switch (a) { case 1: *v = 1024; break; case 16: *v = 132; break; case 75: *v = 9; break; case 76: *v = 0; break; default: *v = 0; }
	return OK;
}
int cuDeviceTotalMem_v2(size_t *b, int d) { *b = (size_t)80 << 30; return OK; }
int cuDevicePrimaryCtxRetain(void **c, int d) { *c = (void *)0x1234; return OK; }
int cuDevicePrimaryCtxRelease_v2(int d) { return OK; }
int cuCtxSetCurrent(void *c) { return c == (void *)0x1234 ? OK : 201; }
int cuMemGetInfo_v2(size_t *f, size_t *t) { *f = (size_t)70 << 30; *t = (size_t)80 << 30; return OK; }
int cuStreamCreate(void **s, unsigned f) { *s = malloc(1); return OK; }
int cuStreamDestroy_v2(void *s) { free(s); return OK; }
static int mock_capture_spoilt(void); // 900 while a capture is in progress (and spoils it), else 0
int cuStreamSynchronize(void *s) { return mock_capture_spoilt(); }
int cuMemAlloc_v2(dptr *p, size_t n) { *p = (dptr)(uintptr_t)malloc(n); return *p ? OK : 2; }
int cuMemFree_v2(dptr p) { free((void *)(uintptr_t)p); return OK; }
int cuMemcpyHtoDAsync_v2(dptr d, const void *s, size_t n, void *st) { if (mock_capture_spoilt()) return 900; memcpy((void *)(uintptr_t)d, s, n); return OK; }
int cuMemcpyDtoHAsync_v2(void *d, dptr s, size_t n, void *st) { if (mock_capture_spoilt()) return 900; memcpy(d, (void *)(uintptr_t)s, n); return OK; }
static int mock_captured_copy(dptr d, dptr s, size_t n); // 1 when recorded
int cuMemcpyDtoDAsync_v2(dptr d, dptr s, size_t n, void *st) { if (!mock_captured_copy(d, s, n)) memmove((void *)(uintptr_t)d, (void *)(uintptr_t)s, n); return OK; }
static void memset8(dptr d, unsigned v, size_t n) { memset((void *)(uintptr_t)d, v, n); }
static void memset32(dptr d, unsigned v, size_t n) { unsigned *p = (unsigned *)(uintptr_t)d; for (size_t i = 0; i < n; i++) p[i] = v; }
static int mock_captured(int kind, void *f, unsigned gx, unsigned bx, void **params, dptr d, unsigned v, size_t n); // 1 when recorded
int cuMemsetD8Async(dptr d, unsigned char v, size_t n, void *s) { if (!mock_captured(1, 0, 0, 0, 0, d, v, n)) memset8(d, v, n); return OK; }
int cuMemsetD32Async(dptr d, unsigned v, size_t n, void *s) { if (!mock_captured(2, 0, 0, 0, 0, d, v, n)) memset32(d, v, n); return OK; }
int cuModuleLoadData(void **m, const void *img) { *m = malloc(1); return OK; }
int cuModuleUnload(void *m) { free(m); return OK; }
static void saxpy(void **p, unsigned gx, unsigned bx) {
	float a = *(float *)p[0]; const float *x = *(float **)p[1]; float *y = *(float **)p[2]; int n = *(int *)p[3];
	unsigned tag = *(unsigned *)p[4]; unsigned *tags = *(unsigned **)p[5];
	for (unsigned i = 0; i < gx * bx; i++) if ((int)i < n) { y[i] = a * x[i] + y[i]; tags[i] = tag + i; }
}
static void noop(void **p, unsigned gx, unsigned bx) {}
int cuModuleGetFunction(void **f, void *m, const char *name) {
	const char *any = getenv("ROUT_MOCK_ANY_KERNEL");
	if (strcmp(name, "saxpy") == 0) *f = (void *)saxpy;
	else if (any && strcmp(any, "1") == 0) *f = (void *)noop;
	else return 500;
	return OK;
}
int cuFuncGetAttribute(int *v, int a, void *f) { *v = 1024; return OK; }
int cuFuncSetAttribute(void *f, int a, int v) { return OK; }
int cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned sh, void *s, void **params, void **extra) {
	if (!mock_captured(0, f, gx, bx, params, 0, 0, 0)) ((void (*)(void **, unsigned, unsigned))f)(params, gx, bx);
	return OK;
}
// ---- CUDA graphs. A graph is a list of nodes, run in order. A kernel node keeps six 8-byte
// argument slots (saxpy's six parameters).
enum { MAXNODES = 1024, NARGS = 6 };
// Kinds: 0 kernel, 1 and 2 memsets, 3 a library call, 4 a device-to-device copy.
typedef struct {
	int kind; void *f; unsigned gx, bx; uint64_t args[NARGS]; void *argp[NARGS]; dptr d; unsigned v; size_t n;
	int (*call)(void *); void *callArgs; size_t callSize; dptr src;
} NODE;
typedef struct { int n; NODE nodes[MAXNODES]; } GRAPH;
typedef struct { GRAPH *src; GRAPH g; } EXEC;
static GRAPH *mock_capture; // the graph being captured, or NULL
static int mock_spoilt;      // the capture met a call it cannot record
static int mock_capture_spoilt(void) { if (!mock_capture) return 0; mock_spoilt = 1; return 900; }
static int run_node(NODE *nd) {
	switch (nd->kind) {
	case 0: ((void (*)(void **, unsigned, unsigned))nd->f)(nd->argp, nd->gx, nd->bx); break;
	case 1: memset8(nd->d, nd->v, nd->n); break;
	case 2: memset32(nd->d, nd->v, nd->n); break;
	case 3: return nd->call(nd->callArgs);
	case 4: memmove((void *)(uintptr_t)nd->d, (void *)(uintptr_t)nd->src, nd->n); break;
	}
	return OK;
}
static void free_nodes(GRAPH *g) { for (int i = 0; i < g->n; i++) free(g->nodes[i].callArgs); }
// Only saxpy's arguments are kept (the no-op kernels ignore theirs).
static void set_args(NODE *nd, void **params) {
	if (nd->f != (void *)saxpy) return;
	for (int i = 0; i < NARGS; i++) { memcpy(&nd->args[i], params[i], 8); nd->argp[i] = &nd->args[i]; }
}
static int mock_captured(int kind, void *f, unsigned gx, unsigned bx, void **params, dptr d, unsigned v, size_t n) {
	if (!mock_capture) return 0;
	if (mock_capture->n == MAXNODES) { mock_spoilt = 1; return 1; }
	NODE *nd = &mock_capture->nodes[mock_capture->n++];
	*nd = (NODE){.kind = kind, .f = f, .gx = gx, .bx = bx, .d = d, .v = v, .n = n};
	if (kind == 0) set_args(nd, params);
	return 1;
}
static int mock_captured_copy(dptr d, dptr s, size_t n) {
	if (!mock_capture) return 0;
	if (mock_capture->n == MAXNODES) { mock_spoilt = 1; return 1; }
	mock_capture->nodes[mock_capture->n++] = (NODE){.kind = 4, .d = d, .src = s, .n = n};
	return 1;
}
int cuStreamBeginCapture_v2(void *s, int mode) { if (mock_capture || mode != RC_CU_STREAM_CAPTURE_MODE_THREAD_LOCAL) return 1; mock_capture = calloc(1, sizeof(GRAPH)); mock_spoilt = 0; return OK; }
int cuStreamEndCapture(void *s, GRAPH **g) {
	if (!mock_capture) return 1;
	*g = mock_capture; mock_capture = 0;
	if (mock_spoilt) { free_nodes(*g); free(*g); *g = 0; return 901; } // CUDA_ERROR_STREAM_CAPTURE_INVALIDATED
	return OK;
}
int cuStreamGetCaptureInfo_v3(void *s, int *status, uint64_t *id, GRAPH **g, NODE *const **deps, const void **edges, size_t *ndeps) {
	static NODE *last;
	*status = mock_capture ? RC_CU_STREAM_CAPTURE_STATUS_ACTIVE : 0;
	if (!mock_capture) return OK;
	if (id) *id = 1;
	if (g) *g = mock_capture;
	last = mock_capture->n ? &mock_capture->nodes[mock_capture->n - 1] : 0;
	if (deps) *deps = &last;
	if (edges) *edges = 0;
	if (ndeps) *ndeps = last ? 1 : 0;
	return OK;
}
// An instantiated graph owns copies of everything (the graph may be destroyed first).
int cuGraphInstantiateWithFlags(EXEC **e, GRAPH *g, unsigned long long flags) {
	*e = malloc(sizeof(EXEC)); (*e)->src = g; (*e)->g = *g;
	for (int i = 0; i < g->n; i++) {
		NODE *nd = &(*e)->g.nodes[i];
		for (int j = 0; j < NARGS; j++) nd->argp[j] = &nd->args[j];
		if (nd->callArgs) { nd->callArgs = malloc(nd->callSize); memcpy(nd->callArgs, g->nodes[i].callArgs, nd->callSize); }
	}
	return OK;
}
// A library call that fails at launch fails the launch (CUDA_ERROR_LAUNCH_FAILED), as a fault would.
int cuGraphLaunch(EXEC *e, void *s) {
	for (int i = 0; i < e->g.n; i++) if (run_node(&e->g.nodes[i]) != OK) return 719;
	return OK;
}
struct kparams { void *func; unsigned gx, gy, gz, bx, by, bz, shared; void **params; void **extra; void *kern; void *ctx; };
int cuGraphExecKernelNodeSetParams_v2(EXEC *e, NODE *nd, const struct kparams *p) {
	long i = nd - e->src->nodes;
	if (i < 0 || i >= e->g.n || e->g.nodes[i].kind != 0 || e->g.nodes[i].f != p->func || p->extra || p->kern) return 1;
	e->g.nodes[i].gx = p->gx; e->g.nodes[i].bx = p->bx;
	set_args(&e->g.nodes[i], p->params);
	return OK;
}
int cuGraphExecDestroy(EXEC *e) { free_nodes(&e->g); free(e); return OK; }
int cuGraphDestroy(GRAPH *g) { free_nodes(g); free(g); return OK; }
// mock_defer records a library call (call, with its operands copied into args) as a node of the
// graph being captured; the call is made at each launch.
static int mock_defer(int (*call)(void *), void *args, size_t size) {
	if (mock_capture->n == MAXNODES) { mock_spoilt = 1; return 3000; }
	NODE *nd = &mock_capture->nodes[mock_capture->n++];
	*nd = (NODE){.kind = 3, .call = call, .callArgs = malloc(size), .callSize = size};
	memcpy(nd->callArgs, args, size);
	return OK;
}
int cuEventCreate(void **e, unsigned f) { *e = calloc(1, sizeof(double)); return OK; }
static double mock_pending; // device time of the last graph-API execution, added at the next event
int cuEventRecord(void *e, void *s) { static double t; *(double *)e = (t += 0.5 + mock_pending); mock_pending = 0; return OK; }
int cuEventSynchronize(void *e) { return OK; }
int cuEventDestroy_v2(void *e) { free(e); return OK; }
int cuEventElapsedTime_v2(float *ms, void *a, void *b) { *ms = *(double *)b - *(double *)a; return OK; }
// ---- cudnn
// A library call's operands go into a struct (alpha, beta and descriptors by value), and a
// function of that struct makes the call: RUN makes it now, or under capture records it
// (mock_defer) to be made at each launch.
#define RUN(run, args) (mock_capture ? mock_defer(run, &(args), sizeof(args)) : run(&(args)))
size_t cudnnGetVersion(void) { return 91400; }
size_t cudnnGetCudartVersion(void) { return 13000; }
const char *cudnnGetErrorString(int s) {
	return s == 2000 ? "CUDNN_STATUS_BAD_PARAM" : s == 3000 ? "CUDNN_STATUS_NOT_SUPPORTED" : s == 0 ? "CUDNN_STATUS_SUCCESS" : "CUDNN_STATUS_INTERNAL_ERROR";
}
int cudnnCreate(void **h) { *h = malloc(1); return OK; }
int cudnnDestroy(void *h) { free(h); return OK; }
int cudnnSetStream(void *h, void *s) { return OK; }
typedef struct { int n, c, h, w, sn, sc, sh, sw; } T;
#define AT(t, p, N, C, H, W) ((float *)(p))[(N) * (t)->sn + (C) * (t)->sc + (H) * (t)->sh + (W) * (t)->sw]
int cudnnCreateTensorDescriptor(T **d) { *d = calloc(1, sizeof(T)); return OK; }
int cudnnDestroyTensorDescriptor(T *d) { free(d); return OK; }
int cudnnSetTensor4dDescriptorEx(T *d, int t, int n, int c, int h, int w, int sn, int sc, int sh, int sw) {
	if (n <= 0 || c <= 0 || h <= 0 || w <= 0 || t != 0) return 2000;
	*d = (T){n, c, h, w, sn, sc, sh, sw}; return OK;
}
typedef struct { int k, c, h, w; } F;
int cudnnCreateFilterDescriptor(F **d) { *d = calloc(1, sizeof(F)); return OK; }
int cudnnDestroyFilterDescriptor(F *d) { free(d); return OK; }
int cudnnSetFilter4dDescriptor(F *d, int t, int f, int k, int c, int h, int w) { if (t || f) return 2000; *d = (F){k, c, h, w}; return OK; }
// groups: the legacy descriptor's group count (1 unless set); -1 for the graph API, which reads
// it from the channels of x and w.
typedef struct { int ph, pw, u, v, dh, dw, mode, math, groups; } CV;
int cudnnCreateConvolutionDescriptor(CV **d) { *d = calloc(1, sizeof(CV)); return OK; }
int cudnnDestroyConvolutionDescriptor(CV *d) { free(d); return OK; }
int cudnnSetConvolution2dDescriptor(CV *d, int ph, int pw, int u, int v, int dh, int dw, int m, int t) { if (m != 1 || t != 0) return 2000; *d = (CV){ph, pw, u, v, dh, dw, m, 0, 1}; return OK; }
int cudnnSetConvolutionMathType(CV *d, int m) { if (m < 0 || m > 3) return 2000; d->math = m; return OK; }
int cudnnSetConvolutionGroupCount(CV *d, int g) { if (g < 1) return 2000; d->groups = g; return OK; }
int cudnnGetConvolution2dForwardOutputDim(CV *cd, T *x, F *w, int *n, int *c, int *h, int *ww) {
	*n = x->n; *c = w->k; *h = (x->h + 2 * cd->ph - w->h) / cd->u + 1; *ww = (x->w + 2 * cd->pw - w->w) / cd->v + 1; return OK;
}
typedef struct { int algo, status; float time; size_t memory; int determinism, mathType, reserved[3]; } P;
static int findk(int req, int *ret, P *p, int count) {
	// algo 0 non-deterministic, algo 1 deterministic (slower), algo 2 tensor ops
	int n = count < 3 ? count : 3;
	P r[3] = {{0, 0, 1, 100, 0, 3}, {1, 0, 2, 200, 1, 3}, {2, 0, 0.5, 50, 1, 1}};
	P s[3] = {r[2], r[0], r[1]};
	for (int i = 0; i < n && i < req; i++) p[i] = s[i];
	*ret = n < req ? n : req; return OK;
}
int cudnnFindConvolutionForwardAlgorithm(void *h, T *x, F *w, CV *c, T *y, int req, int *ret, P *p) { return findk(req, ret, p, 8); }
int cudnnFindConvolutionBackwardDataAlgorithm(void *h, F *w, T *dy, CV *c, T *dx, int req, int *ret, P *p) { return findk(req, ret, p, 6); }
int cudnnFindConvolutionBackwardFilterAlgorithm(void *h, T *x, T *dy, CV *c, F *dw, int req, int *ret, P *p) { return findk(req, ret, p, 7); }
// The heuristics (no timing, time -1) rank a tensor-core algorithm first, then deterministic 4,
// then non-deterministic 0 and deterministic 1.
static int heurk(int req, int *ret, P *p) {
	P s[4] = {{2, 0, -1, 50, 1, 1}, {4, 0, -1, 400, 1, 3}, {0, 0, -1, 100, 0, 3}, {1, 0, -1, 200, 1, 3}};
	int n = 4 < req ? 4 : req;
	for (int i = 0; i < n; i++) p[i] = s[i];
	*ret = n; return OK;
}
int cudnnGetConvolutionForwardAlgorithm_v7(void *h, T *x, F *w, CV *c, T *y, int req, int *ret, P *p) { return heurk(req, ret, p); }
int cudnnGetConvolutionBackwardDataAlgorithm_v7(void *h, F *w, T *dy, CV *c, T *dx, int req, int *ret, P *p) { return heurk(req, ret, p); }
int cudnnGetConvolutionBackwardFilterAlgorithm_v7(void *h, T *x, T *dy, CV *c, F *dw, int req, int *ret, P *p) { return heurk(req, ret, p); }
int cudnnGetConvolutionForwardWorkspaceSize(void *h, T *x, F *w, CV *c, T *y, int a, size_t *s) { *s = a * 100; return OK; }
int cudnnGetConvolutionBackwardDataWorkspaceSize(void *h, F *w, T *dy, CV *c, T *dx, int a, size_t *s) { *s = a * 100; return OK; }
int cudnnGetConvolutionBackwardFilterWorkspaceSize(void *h, T *x, T *dy, CV *c, F *dw, int a, size_t *s) { *s = a * 100; return OK; }
static int no_compute(void) { static int v = -1; if (v < 0) { const char *e = getenv("ROUT_MOCK_NO_COMPUTE"); v = e && !strcmp(e, "1"); } return v; }
// conv loops: mode 0 fwd, 1 bwd data, 2 bwd filter
static int conv(int mode, float al, float be, T *x, float *xp, F *w, float *wp, CV *c, T *y, float *yp) {
	// A grouped convolution: x has G times w's channels, and filter k reads group k / (K/G).
	int G = x->c / w->c, KG = w->k / (G > 0 ? G : 1);
	if (G < 1 || G * w->c != x->c || KG * G != w->k || y->c != w->k || (c->groups > 0 && c->groups != G)) return 2000;
	if (no_compute()) return OK;
	int OH = y->h, OW = y->w;
	if (mode == 0) for (int n = 0; n < y->n; n++) for (int k = 0; k < y->c; k++) for (int i = 0; i < OH; i++) for (int j = 0; j < OW; j++) AT(y, yp, n, k, i, j) *= be;
	if (mode == 1) for (int n = 0; n < x->n; n++) for (int k = 0; k < x->c; k++) for (int i = 0; i < x->h; i++) for (int j = 0; j < x->w; j++) AT(x, xp, n, k, i, j) *= be;
	if (mode == 2) for (int i = 0; i < w->k * w->c * w->h * w->w; i++) wp[i] *= be;
	for (int n = 0; n < x->n; n++) for (int k = 0; k < w->k; k++) for (int i = 0; i < OH; i++) for (int j = 0; j < OW; j++)
		for (int ch = 0; ch < w->c; ch++) for (int a = 0; a < w->h; a++) for (int b = 0; b < w->w; b++) {
			int hh = i * c->u - c->ph + a, ww = j * c->v - c->pw + b;
			if (hh < 0 || hh >= x->h || ww < 0 || ww >= x->w) continue;
			float *wv = &wp[((k * w->c + ch) * w->h + a) * w->w + b];
			int xc = k / KG * w->c + ch;
			if (mode == 0) AT(y, yp, n, k, i, j) += al * AT(x, xp, n, xc, hh, ww) * *wv;
			if (mode == 1) AT(x, xp, n, xc, hh, ww) += al * AT(y, yp, n, k, i, j) * *wv;
			if (mode == 2) *wv += al * AT(y, yp, n, k, i, j) * AT(x, xp, n, xc, hh, ww);
		}
	return OK;
}
struct conv_run_args { int mode; float al, be; T x; float *xp; F w; float *wp; CV c; T y; float *yp; };
static int conv_run(void *p) { struct conv_run_args *a = p; return conv(a->mode, a->al, a->be, &a->x, a->xp, &a->w, a->wp, &a->c, &a->y, a->yp); }
// conv_call checks a convolution's math type (FMA, or tensor-core math for Find's tensor-core
// algorithm 2, which a TF32 context may choose) and runs it, or records it.
static int conv_call(int mode, int algo, float al, float be, T *x, float *xp, F *w, float *wp, CV *c, T *y, float *yp) {
	if (c->math != 3 && !(algo == 2 && c->math == 1)) return 3000;
	struct conv_run_args a = {mode, al, be, *x, xp, *w, wp, *c, *y, yp};
	return RUN(conv_run, a);
}
int cudnnConvolutionForward(void *h, const float *al, T *x, float *xp, F *w, float *wp, CV *c, int a, void *ws, size_t wsz, const float *be, T *y, float *yp) {
	return wsz < (size_t)a * 100 ? 2000 : conv_call(0, a, *al, *be, x, xp, w, wp, c, y, yp);
}
int cudnnConvolutionBackwardData(void *h, const float *al, F *w, float *wp, T *dy, float *dyp, CV *c, int a, void *ws, size_t wsz, const float *be, T *dx, float *dxp) {
	return wsz < (size_t)a * 100 ? 2000 : conv_call(1, a, *al, *be, dx, dxp, w, wp, c, dy, dyp);
}
int cudnnConvolutionBackwardFilter(void *h, const float *al, T *x, float *xp, T *dy, float *dyp, CV *c, int a, void *ws, size_t wsz, const float *be, F *dw, float *dwp) {
	return wsz < (size_t)a * 100 ? 2000 : conv_call(2, a, *al, *be, x, xp, dw, dwp, c, dy, dyp);
}
struct bias_run_args { float al, be; T dy; float *dyp; T db; float *dbp; };
static int bias_run(void *p) {
	struct bias_run_args *a = p;
	if (no_compute()) return OK;
	for (int k = 0; k < a->dy.c; k++) { double s = 0; for (int n = 0; n < a->dy.n; n++) for (int i = 0; i < a->dy.h; i++) for (int j = 0; j < a->dy.w; j++) s += AT(&a->dy, a->dyp, n, k, i, j);
		AT(&a->db, a->dbp, 0, k, 0, 0) = a->al * s + a->be * AT(&a->db, a->dbp, 0, k, 0, 0); }
	return OK;
}
int cudnnConvolutionBackwardBias(void *h, const float *al, T *dy, float *dyp, const float *be, T *db, float *dbp) {
	struct bias_run_args q = {*al, *be, *dy, dyp, *db, dbp};
	return RUN(bias_run, q);
}
struct add_run_args { float al, be; T a; float *ap; T c; float *cp; };
static int add_run(void *p) {
	struct add_run_args *q = p; T *a = &q->a, *c = &q->c;
	if (no_compute()) return OK;
	for (int n = 0; n < c->n; n++) for (int k = 0; k < c->c; k++) for (int i = 0; i < c->h; i++) for (int j = 0; j < c->w; j++)
		AT(c, q->cp, n, k, i, j) = q->be * AT(c, q->cp, n, k, i, j) + q->al * AT(a, q->ap, a->n == 1 ? 0 : n, a->c == 1 ? 0 : k, a->h == 1 ? 0 : i, a->w == 1 ? 0 : j);
	return OK;
}
int cudnnAddTensor(void *h, const float *al, T *a, float *ap, const float *be, T *c, float *cp) {
	struct add_run_args q = {*al, *be, *a, ap, *c, cp};
	return RUN(add_run, q);
}
// ---- cudnn graph API: descriptors hold their attributes as set; Execute reads them back.
typedef struct { int name, type; int64_t n; char *data; } ATTR;
typedef struct BD { int kind, fin, nattr, engine; struct BD *graph; ATTR at[24]; } BD;
static size_t tsize(int t) {
	switch (t) {
	case RC_CUDNN_TYPE_INT64: return 8;
	case RC_CUDNN_TYPE_HANDLE: case RC_CUDNN_TYPE_VOID_PTR: case RC_CUDNN_TYPE_BACKEND_DESCRIPTOR: return sizeof(void *);
	default: return 4;
	}
}
static ATTR *attr(BD *d, int name) { for (int i = 0; i < d->nattr; i++) if (d->at[i].name == name) return &d->at[i]; return 0; }
static int64_t i64(BD *d, int name, int i) { ATTR *a = attr(d, name); return a && i < a->n ? ((int64_t *)a->data)[i] : -1; }
static BD *sub(BD *d, int name) { ATTR *a = attr(d, name); return a ? ((BD **)a->data)[0] : 0; }
int cudnnBackendCreateDescriptor(int kind, BD **d) { *d = calloc(1, sizeof(BD)); (*d)->kind = kind; return OK; }
int cudnnBackendDestroyDescriptor(BD *d) { for (int i = 0; i < d->nattr; i++) free(d->at[i].data); free(d); return OK; }
int cudnnBackendSetAttribute(BD *d, int name, int type, int64_t n, const void *e) {
	if (d->fin || n < 1 || d->nattr == 24) return 2000;
	ATTR *a = attr(d, name);
	if (!a) a = &d->at[d->nattr++]; else free(a->data);
	*a = (ATTR){name, type, n, malloc(n * tsize(type))};
	memcpy(a->data, e, n * tsize(type));
	return OK;
}
int cudnnBackendFinalize(BD *d) {
	if (d->kind == RC_CUDNN_BACKEND_TENSOR_DESCRIPTOR && (i64(d, RC_CUDNN_ATTR_TENSOR_UNIQUE_ID, 0) < 0 ||
		i64(d, RC_CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, 0) < 4 || i64(d, RC_CUDNN_ATTR_TENSOR_STRIDES, 3) < 0)) return 2000;
	if (d->kind == RC_CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR) {
		BD *cfg = sub(d, RC_CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG);
		if (!cfg || cfg->engine == 3) return 3000; // CUDNN_STATUS_NOT_SUPPORTED
		BD *op = sub(cfg->graph, RC_CUDNN_ATTR_OPERATIONGRAPH_OPS), *cd = 0;
		for (int i = 0; op && i < op->nattr; i++)
			if (op->at[i].type == RC_CUDNN_TYPE_BACKEND_DESCRIPTOR && ((BD **)op->at[i].data)[0]->kind == RC_CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR)
				cd = ((BD **)op->at[i].data)[0];
		if ((cfg->engine == 1 || cfg->engine == 2 || cfg->engine == 5) && cd && i64(cd, RC_CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, 0) > 1) return 3002;
		d->engine = cfg->engine; d->graph = cfg->graph;
	}
	d->fin = 1; return OK;
}
int cudnnBackendGetAttribute(BD *d, int name, int type, int64_t req, int64_t *cnt, void *e) {
	if (!d->fin && d->kind != RC_CUDNN_BACKEND_ENGINECFG_DESCRIPTOR && d->kind != RC_CUDNN_BACKEND_ENGINE_DESCRIPTOR) return 2000;
	static const int heurA[] = {4, 0, 2, 5, 1}, heurFallback[] = {3};
	switch (name) {
	case RC_CUDNN_ATTR_ENGINEHEUR_RESULTS: {
		ATTR *m = attr(d, RC_CUDNN_ATTR_ENGINEHEUR_MODE);
		int fallback = m && ((int *)m->data)[0] == RC_CUDNN_HEUR_MODE_FALLBACK;
		const int *list = fallback ? heurFallback : heurA;
		int n = fallback ? 1 : 5;
		for (int i = 0; i < n && i < req; i++) { BD *c = ((BD **)e)[i]; c->engine = list[i]; c->graph = sub(d, RC_CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH); }
		if (cnt) *cnt = n;
		return OK;
	}
	case RC_CUDNN_ATTR_ENGINECFG_ENGINE: { BD *en = ((BD **)e)[0]; en->engine = d->engine; en->graph = d->graph; if (cnt) *cnt = 1; return OK; }
	case RC_CUDNN_ATTR_ENGINE_GLOBAL_INDEX: *(int64_t *)e = d->engine; if (cnt) *cnt = 1; return OK;
	case RC_CUDNN_ATTR_ENGINE_NUMERICAL_NOTE: {
		int n = 0;
		if (d->engine == 0 && req > 0) ((int *)e)[n++] = RC_CUDNN_NUMERICAL_NOTE_TENSOR_CORE;
		if (d->engine == 2 && req > 0) ((int *)e)[n++] = RC_CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC;
		if (cnt) *cnt = n;
		return OK;
	}
	case RC_CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE: {
		int n = 0;
		if (d->engine == 4 && req > 0) ((int *)e)[n++] = RC_CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION;
		if (cnt) *cnt = n;
		return OK;
	}
	case RC_CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE: *(int64_t *)e = 64 * d->engine; if (cnt) *cnt = 1; return OK;
	}
	return 2000;
}
static T tensorOf(BD *t) {
	T r = {(int)i64(t, RC_CUDNN_ATTR_TENSOR_DIMENSIONS, 0), (int)i64(t, RC_CUDNN_ATTR_TENSOR_DIMENSIONS, 1),
		(int)i64(t, RC_CUDNN_ATTR_TENSOR_DIMENSIONS, 2), (int)i64(t, RC_CUDNN_ATTR_TENSOR_DIMENSIONS, 3),
		(int)i64(t, RC_CUDNN_ATTR_TENSOR_STRIDES, 0), (int)i64(t, RC_CUDNN_ATTR_TENSOR_STRIDES, 1),
		(int)i64(t, RC_CUDNN_ATTR_TENSOR_STRIDES, 2), (int)i64(t, RC_CUDNN_ATTR_TENSOR_STRIDES, 3)};
	return r;
}
// dataOf is the variant pack's pointer for tensor t, checked against the alignment t promises.
static float *dataOf(BD *vp, BD *t, int *bad) {
	int64_t uid = i64(t, RC_CUDNN_ATTR_TENSOR_UNIQUE_ID, 0), align = i64(t, RC_CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, 0);
	ATTR *ids = attr(vp, RC_CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS), *ptrs = attr(vp, RC_CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS);
	for (int i = 0; ids && ptrs && i < ids->n && i < ptrs->n; i++)
		if (((int64_t *)ids->data)[i] == uid) {
			void *p = ((void **)ptrs->data)[i];
			if ((uintptr_t)p % align) *bad = 2003; // CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER
			return p;
		}
	*bad = 2002;
	return 0;
}
int cudnnBackendExecute(void *h, BD *plan, BD *vp) {
	if (!plan->fin || !vp->fin || !plan->graph) return 2004;
	BD *op = sub(plan->graph, RC_CUDNN_ATTR_OPERATIONGRAPH_OPS);
	ATTR *ws = attr(vp, RC_CUDNN_ATTR_VARIANT_PACK_WORKSPACE);
	if (plan->engine > 0 && (!ws || !((void **)ws->data)[0])) return 2006; // workspace missing
	int mode = op->kind == RC_CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR ? 0 :
		op->kind == RC_CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR ? 1 : 2;
	static const int names[3][6] = {
		{RC_CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, RC_CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, RC_CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y,
		 RC_CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, RC_CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, RC_CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA},
		{RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX, RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W, RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY,
		 RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC, RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA, RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA},
		{RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X, RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW, RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY,
		 RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC, RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA, RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA},
	};
	BD *tx = sub(op, names[mode][0]), *tw = sub(op, names[mode][1]), *ty = sub(op, names[mode][2]), *cd = sub(op, names[mode][3]);
	ATTR *al = attr(op, names[mode][4]), *be = attr(op, names[mode][5]);
	if (!tx || !tw || !ty || !cd || !al || !be || al->type != RC_CUDNN_TYPE_FLOAT || be->type != RC_CUDNN_TYPE_FLOAT) return 2000;
	T x = tensorOf(tx), y = tensorOf(ty), wt = tensorOf(tw);
	F w = {wt.n, wt.c, wt.h, wt.w};
	CV c = {(int)i64(cd, RC_CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, 0), (int)i64(cd, RC_CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, 1),
		(int)i64(cd, RC_CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, 0), (int)i64(cd, RC_CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, 1), 1, 1, 1, 3, -1};
	int bad = 0;
	float *xp = dataOf(vp, tx, &bad), *wp = dataOf(vp, tw, &bad), *yp = dataOf(vp, ty, &bad);
	if (bad) return bad;
	static const double engineMs[] = {0.2, 0.8, 0.5, 0, 0.1, 1.0};
	if (!mock_capture) mock_pending = engineMs[plan->engine];
	return conv_call(mode, -1, 1, 0, &x, xp, &w, wp, &c, &y, yp); // alpha and beta ignored (see the top)
}
typedef struct { int mode, nan; double coef; } A;
int cudnnCreateActivationDescriptor(A **d) { *d = calloc(1, sizeof(A)); return OK; }
int cudnnDestroyActivationDescriptor(A *d) { free(d); return OK; }
int cudnnSetActivationDescriptor(A *d, int m, int nan, double coef) { *d = (A){m, nan, coef}; return OK; }
static double act(int m, double x) { return m == 1 ? (x > 0 ? x : 0) : m == 0 ? 1 / (1 + exp(-x)) : m == 2 ? tanh(x) : x; }
static double dact(int m, double x, double y) { return m == 1 ? (x > 0) : m == 0 ? y * (1 - y) : m == 2 ? 1 - y * y : 1; }
struct act_run_args { int back; A a; float al, be; T y; float *yp; T dy; float *dyp; T x; float *xp; T dx; float *dxp; };
static int act_run(void *p) {
	struct act_run_args *q = p; T *x = &q->x, *y = &q->y, *dy = &q->dy, *dx = &q->dx;
	if (no_compute()) return OK;
	for (int n = 0; n < x->n; n++) for (int k = 0; k < x->c; k++) for (int i = 0; i < x->h; i++) for (int j = 0; j < x->w; j++)
		if (!q->back) AT(y, q->yp, n, k, i, j) = q->al * act(q->a.mode, AT(x, q->xp, n, k, i, j)) + (q->be ? q->be * AT(y, q->yp, n, k, i, j) : 0);
		else AT(dx, q->dxp, n, k, i, j) = q->al * AT(dy, q->dyp, n, k, i, j) * dact(q->a.mode, AT(x, q->xp, n, k, i, j), AT(y, q->yp, n, k, i, j)) + (q->be ? q->be * AT(dx, q->dxp, n, k, i, j) : 0);
	return OK;
}
int cudnnActivationForward(void *h, A *a, const float *al, T *x, float *xp, const float *be, T *y, float *yp) {
	struct act_run_args q = {0, *a, *al, *be, *y, yp, {0}, 0, *x, xp, {0}, 0};
	return RUN(act_run, q);
}
int cudnnActivationBackward(void *h, A *a, const float *al, T *y, float *yp, T *dy, float *dyp, T *x, float *xp, const float *be, T *dx, float *dxp) {
	struct act_run_args q = {1, *a, *al, *be, *y, yp, *dy, dyp, *x, xp, *dx, dxp};
	return RUN(act_run, q);
}
typedef struct { int mode, nan, wh, ww, ph, pw, sh, sw; } PL;
int cudnnCreatePoolingDescriptor(PL **d) { *d = calloc(1, sizeof(PL)); return OK; }
int cudnnDestroyPoolingDescriptor(PL *d) { free(d); return OK; }
int cudnnSetPooling2dDescriptor(PL *d, int m, int nan, int wh, int ww, int ph, int pw, int sh, int sw) { *d = (PL){m, nan, wh, ww, ph, pw, sh, sw}; return OK; }
static void pool(int back, PL *p, float al, T *x, float *xp, float be, T *y, float *yp, float *dyp, float *dxp) {
	if (!back) for (int n = 0; n < y->n; n++) for (int k = 0; k < y->c; k++) for (int i = 0; i < y->h; i++) for (int j = 0; j < y->w; j++) AT(y, yp, n, k, i, j) *= be;
	else for (int n = 0; n < x->n; n++) for (int k = 0; k < x->c; k++) for (int i = 0; i < x->h; i++) for (int j = 0; j < x->w; j++) AT(x, dxp, n, k, i, j) *= be;
	for (int n = 0; n < y->n; n++) for (int k = 0; k < y->c; k++) for (int i = 0; i < y->h; i++) for (int j = 0; j < y->w; j++) {
		double best = -1e300, sum = 0; int bh = -1, bw = -1, cnt = 0;
		for (int a = 0; a < p->wh; a++) for (int b = 0; b < p->ww; b++) {
			int hh = i * p->sh - p->ph + a, ww = j * p->sw - p->pw + b;
			if (hh < 0 || hh >= x->h || ww < 0 || ww >= x->w) continue;
			double v = AT(x, xp, n, k, hh, ww); sum += v; cnt++;
			if (v > best) { best = v; bh = hh; bw = ww; }
		}
		double div = p->mode == 1 ? p->wh * p->ww : cnt;
		int mx = p->mode == 0 || p->mode == 3;
		if (!back) { AT(y, yp, n, k, i, j) += al * (mx ? best : sum / div); continue; }
		double g = al * AT(y, dyp, n, k, i, j);
		if (mx) { AT(x, dxp, n, k, bh, bw) += g; continue; }
		for (int a = 0; a < p->wh; a++) for (int b = 0; b < p->ww; b++) {
			int hh = i * p->sh - p->ph + a, ww = j * p->sw - p->pw + b;
			if (hh >= 0 && hh < x->h && ww >= 0 && ww < x->w) AT(x, dxp, n, k, hh, ww) += g / div;
		}
	}
}
struct pool_run_args { int back; PL p; float al; T x; float *xp; float be; T y; float *yp, *dyp, *dxp; };
static int pool_run(void *q) { struct pool_run_args *a = q; if (!no_compute()) pool(a->back, &a->p, a->al, &a->x, a->xp, a->be, &a->y, a->yp, a->dyp, a->dxp); return OK; }
int cudnnPoolingForward(void *h, PL *p, const float *al, T *x, float *xp, const float *be, T *y, float *yp) {
	struct pool_run_args q = {0, *p, *al, *x, xp, *be, *y, yp, 0, 0};
	return RUN(pool_run, q);
}
int cudnnPoolingBackward(void *h, PL *p, const float *al, T *y, float *yp, T *dy, float *dyp, T *x, float *xp, const float *be, T *dx, float *dxp) {
	struct pool_run_args q = {1, *p, *al, *x, xp, *be, *y, yp, dyp, dxp};
	return RUN(pool_run, q);
}
int cudnnDeriveBNTensorDescriptor(T *d, T *x, int m) { *d = (T){1, x->c, 1, 1, x->c, 1, 1, 1}; return OK; }
// The three batch-norm calls share one operand struct: which (0 training forward, 1 inference
// forward, 2 backward), the input x, the output y (dy backward), dx, and the per-channel arrays.
struct bn_run_args { int which; T x, y, dx; float *xp, *yp, *dxp, *sc, *bi, *rm, *rv, *sm, *si, *ds, *db; double f, eps; float ad, bd; };
static int bn_run(void *p) {
	struct bn_run_args *a = p; T *x = &a->x, *y = &a->y, *dx = &a->dx;
	if (no_compute()) return OK;
	int M = x->n * x->h * x->w;
	for (int k = 0; k < x->c; k++) {
		if (a->which == 1) {
			for (int n = 0; n < x->n; n++) for (int i = 0; i < x->h; i++) for (int j = 0; j < x->w; j++)
				AT(y, a->yp, n, k, i, j) = a->sc[k] * (AT(x, a->xp, n, k, i, j) - a->rm[k]) / sqrt(a->rv[k] + a->eps) + a->bi[k];
			continue;
		}
		if (a->which == 0) {
			double s = 0, ss = 0;
			for (int n = 0; n < x->n; n++) for (int i = 0; i < x->h; i++) for (int j = 0; j < x->w; j++) s += AT(x, a->xp, n, k, i, j);
			double mean = s / M;
			for (int n = 0; n < x->n; n++) for (int i = 0; i < x->h; i++) for (int j = 0; j < x->w; j++) { double d = AT(x, a->xp, n, k, i, j) - mean; ss += d * d; }
			double inv = 1 / sqrt(ss / M + a->eps);
			a->sm[k] = mean; a->si[k] = inv; a->rm[k] = (1 - a->f) * a->rm[k] + a->f * mean; a->rv[k] = (1 - a->f) * a->rv[k] + a->f * ss / (M - 1);
			for (int n = 0; n < x->n; n++) for (int i = 0; i < x->h; i++) for (int j = 0; j < x->w; j++)
				AT(y, a->yp, n, k, i, j) = a->sc[k] * (AT(x, a->xp, n, k, i, j) - mean) * inv + a->bi[k];
			continue;
		}
		double sdy = 0, sdyx = 0;
		for (int n = 0; n < x->n; n++) for (int i = 0; i < x->h; i++) for (int j = 0; j < x->w; j++) {
			double xh = (AT(x, a->xp, n, k, i, j) - a->sm[k]) * a->si[k]; sdy += AT(y, a->yp, n, k, i, j); sdyx += AT(y, a->yp, n, k, i, j) * xh; }
		a->ds[k] = sdyx; a->db[k] = sdy;
		for (int n = 0; n < x->n; n++) for (int i = 0; i < x->h; i++) for (int j = 0; j < x->w; j++) {
			double xh = (AT(x, a->xp, n, k, i, j) - a->sm[k]) * a->si[k];
			double g = a->sc[k] * a->si[k] / M * (M * AT(y, a->yp, n, k, i, j) - sdy - xh * sdyx);
			AT(dx, a->dxp, n, k, i, j) = a->ad * g + (a->bd ? a->bd * AT(dx, a->dxp, n, k, i, j) : 0);
		}
	}
	return OK;
}
int cudnnBatchNormalizationForwardTraining(void *h, int m, const float *al, const float *be, T *x, float *xp, T *y, float *yp, T *bd, float *sc, float *bi, double f, float *rm, float *rv, double eps, float *sm, float *si) {
	struct bn_run_args a = {.which = 0, .x = *x, .y = *y, .xp = xp, .yp = yp, .sc = sc, .bi = bi, .rm = rm, .rv = rv, .sm = sm, .si = si, .f = f, .eps = eps};
	return RUN(bn_run, a);
}
int cudnnBatchNormalizationForwardInference(void *h, int m, const float *al, const float *be, T *x, float *xp, T *y, float *yp, T *bd, float *sc, float *bi, float *mean, float *var, double eps) {
	struct bn_run_args a = {.which = 1, .x = *x, .y = *y, .xp = xp, .yp = yp, .sc = sc, .bi = bi, .rm = mean, .rv = var, .eps = eps};
	return RUN(bn_run, a);
}
int cudnnBatchNormalizationBackward(void *h, int m, const float *ad, const float *bd_, const float *ap, const float *bp, T *x, float *xp, T *dy, float *dyp, T *dx, float *dxp, T *bd, float *sc, float *ds, float *db, double eps, float *sm, float *si) {
	struct bn_run_args a = {.which = 2, .x = *x, .y = *dy, .dx = *dx, .xp = xp, .yp = dyp, .dxp = dxp, .sc = sc, .ds = ds, .db = db, .sm = sm, .si = si,
		.eps = eps, .ad = *ad, .bd = *bd_};
	return RUN(bn_run, a);
}
// ---- cublas
int cublasCreate_v2(void **h) { *h = malloc(1); return OK; }
int cublasDestroy_v2(void *h) { free(h); return OK; }
int cublasSetStream_v2(void *h, void *s) { return OK; }
int cublasSetWorkspace_v2(void *h, void *w, size_t n) { return OK; }
int cublasSetPointerMode_v2(void *h, int m) { return m == 0 ? OK : 7; }
int cublasSetMathMode(void *h, int m) { return OK; }
int cublasGetVersion_v2(void *h, int *v) { *v = 130000; return OK; }
int cublasGetProperty(int p, int *v) { *v = p == 0 ? 13 : p == 1 ? 0 : 2; return OK; }
struct gemm_run_args { int ta, tb, m, n, k; float al; const float *a; int lda; const float *b; int ldb; float be; float *c; int ldc; };
static int gemm_run(void *p) {
	struct gemm_run_args *q = p;
	if (no_compute()) return OK;
	for (int i = 0; i < q->m; i++) for (int j = 0; j < q->n; j++) {
		double s = 0;
		for (int l = 0; l < q->k; l++) s += (double)(q->ta ? q->a[l + i * q->lda] : q->a[i + l * q->lda]) * (q->tb ? q->b[j + l * q->ldb] : q->b[l + j * q->ldb]);
		q->c[i + j * q->ldc] = q->al * s + q->be * q->c[i + j * q->ldc];
	}
	return OK;
}
int cublasSgemm_v2(void *h, int ta, int tb, int m, int n, int k, const float *al, const float *a, int lda, const float *b, int ldb, const float *be, float *c, int ldc) {
	if (lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m) return 7;
	struct gemm_run_args q = {ta, tb, m, n, k, *al, a, lda, b, ldb, *be, c, ldc};
	return RUN(gemm_run, q);
}
// ---- nvrtc
const char *nvrtcGetErrorString(int r) { return r == 6 ? "NVRTC_ERROR_COMPILATION" : r == 0 ? "NVRTC_SUCCESS" : "NVRTC_ERROR_INTERNAL_ERROR"; }
int nvrtcVersion(int *a, int *b) { *a = 13; *b = 0; return OK; }
int nvrtcGetNumSupportedArchs(int *n) { *n = 3; return OK; }
int nvrtcGetSupportedArchs(int *a) { a[0] = 80; a[1] = 90; a[2] = 100; return OK; }
typedef struct { char *src, *log; } PR;
int nvrtcCreateProgram(PR **p, const char *src, const char *name, int nh, const char *const *h, const char *const *in) {
	*p = calloc(1, sizeof(PR)); (*p)->src = strdup(src); (*p)->log = strdup(""); return OK;
}
int nvrtcDestroyProgram(PR **p) { free((*p)->src); free((*p)->log); free(*p); *p = 0; return OK; }
int nvrtcCompileProgram(PR *p, int n, const char *const *o) {
	int arch = 0; for (int i = 0; i < n; i++) if (!strncmp(o[i], "--gpu-architecture=sm_90", 24)) arch = 1;
	if (!arch) return 7;
	if (strstr(p->src, "= ;")) { free(p->log); p->log = strdup("broken.cu(1): error: expected an expression\n"); return 6; }
	return OK;
}
int nvrtcGetProgramLogSize(PR *p, size_t *n) { *n = strlen(p->log) + 1; return OK; }
int nvrtcGetProgramLog(PR *p, char *l) { strcpy(l, p->log); return OK; }
int nvrtcGetPTXSize(PR *p, size_t *n) { *n = 4; return OK; }
int nvrtcGetPTX(PR *p, char *x) { memcpy(x, "ptx", 4); return OK; }
int nvrtcGetCUBINSize(PR *p, size_t *n) { *n = 8; return OK; }
int nvrtcGetCUBIN(PR *p, char *x) { memcpy(x, "\x7f" "ELFcub", 8); return OK; }
