// optim.cu: the optimisers, fused over the network's flat parameter tensor (one launch per step).
//
// The arithmetic follows net.AdamParams / net.SGDParams term by term in the CPU backend's order,
// with every product and sum rounded on its own (the _rn intrinsics are never contracted into
// fused multiply-adds), so the GPU and the CPU give the same bits.
// CPU twin: net/cpu/optim.go.
#include "common.cuh"

// adam_update: g' = g + wd*p; m = b1*m + (1-b1)*g'; v = b2*v + (1-b2)*g'^2;
// p -= lr * (m/bc1) / (sqrt(v/bc2) + eps), with bc1 = 1-b1^step and bc2 = 1-b2^step from the host
// (computed in float64 and rounded once, as the CPU does).
extern "C" __global__ void adam_update(float* p, const float* g, float* m, float* v, int n, float lr,
                                       float b1, float b2, float eps, float wd, float bc1, float bc2) {
	float c1 = __fsub_rn(1.0f, b1), c2 = __fsub_rn(1.0f, b2);
	for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
		float pi = p[i];
		float gi = __fadd_rn(g[i], __fmul_rn(wd, pi));
		float mi = __fadd_rn(__fmul_rn(b1, m[i]), __fmul_rn(c1, gi));
		float vi = __fadd_rn(__fmul_rn(b2, v[i]), __fmul_rn(c2, __fmul_rn(gi, gi)));
		m[i] = mi;
		v[i] = vi;
		float den = __fadd_rn(__fsqrt_rn(__fdiv_rn(vi, bc2)), eps);
		p[i] = __fsub_rn(pi, __fdiv_rn(__fmul_rn(lr, __fdiv_rn(mi, bc1)), den));
	}
}

// sgd_update: g' = g + wd*p; vel = momentum*vel + g'; p -= lr * (nesterov ? g' + momentum*vel : vel).
extern "C" __global__ void sgd_update(float* p, const float* g, float* vel, int n, float lr, float momentum,
                                      float wd, int nesterov) {
	for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
		float pi = p[i];
		float gi = __fadd_rn(g[i], __fmul_rn(wd, pi));
		float vi = __fadd_rn(__fmul_rn(momentum, vel[i]), gi);
		vel[i] = vi;
		float step = nesterov ? __fadd_rn(gi, __fmul_rn(momentum, vi)) : vi;
		p[i] = __fsub_rn(pi, __fmul_rn(lr, step));
	}
}
