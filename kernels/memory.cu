// memory.cu: fill and copy on views of n samples of len contiguous elements each, consecutive
// samples a stride apart (a channel slice of a wider tensor has the wider tensor's stride); dense
// tensors go through the driver's memset and copy instead.
// CPU twin: net/cpu/backend.go (Fill, Copy).
#include "common.cuh"

// fill sets every element of the view y to v.
extern "C" __global__ void fill(float* y, int ys, int n, int len, float v) {
	int total = n * len;
	for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
		y[(long long)(i / len) * ys + i % len] = v;
	}
}

// copy_strided copies the view src into the view dst (same n and len).
extern "C" __global__ void copy_strided(float* dst, int ds, const float* src, int ss, int n, int len) {
	int total = n * len;
	for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
		int s = i / len, j = i % len;
		dst[(long long)s * ds + j] = src[(long long)s * ss + j];
	}
}
