// relu.cu: ReLU forward and backward on views of n samples of len contiguous elements each,
// consecutive samples a stride apart (a channel slice of a wider tensor has the wider tensor's
// stride).
// CPU twin: net/cpu/relu.go.
#include "common.cuh"

// relu_fwd: y = max(x, 0) (y may be x).
extern "C" __global__ void relu_fwd(const float* x, int xs, float* y, int ys, int n, int len) {
	int total = n * len;
	for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
		int s = i / len, j = i % len;
		float v = x[(long long)s * xs + j];
		y[(long long)s * ys + j] = v > 0.0f ? v : 0.0f;
	}
}

// relu_bwd: dx = dy where y > 0, else 0 (dx may be dy).
extern "C" __global__ void relu_bwd(const float* y, int ys, const float* dy, int dys, float* dx, int dxs,
                                    int n, int len) {
	int total = n * len;
	for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
		int s = i / len, j = i % len;
		dx[(long long)s * dxs + j] = y[(long long)s * ys + j] > 0.0f ? dy[(long long)s * dys + j] : 0.0f;
	}
}
