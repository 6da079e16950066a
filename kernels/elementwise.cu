// elementwise.cu: fill, copy, ReLU and the dense layer's bias, on views of n samples of len
// contiguous elements each, consecutive samples a stride apart (a channel slice of a wider tensor
// has the wider tensor's stride).
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

// bias_rows adds b[j] to element j of each of the n rows of y (o elements each, row stride ys):
// the dense layer's bias after its matrix product.
extern "C" __global__ void bias_rows(float* y, int ys, const float* b, int n, int o) {
	int total = n * o;
	for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
		int s = i / o, j = i % o;
		y[(long long)s * ys + j] += b[j];
	}
}

// col_sums: db[j] = the sum over the n rows of dy (row stride dys) of element j, summed in row
// order in double precision (as the CPU does): the dense layer's bias gradient. One thread per column.
extern "C" __global__ void col_sums(const float* dy, int dys, float* db, int n, int o) {
	for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < o; j += gridDim.x * blockDim.x) {
		double s = 0.0;
		for (int r = 0; r < n; r++) {
			s += (double)dy[(long long)r * dys + j];
		}
		db[j] = (float)s;
	}
}
