// dense.cu: the dense layer's bias and bias gradient, around cuBLAS's matrix products.
// CPU twin: net/cpu/dense.go.
#include "common.cuh"

// bias_rows adds bias[j] to element j of each of the n rows of y (o elements each, row stride ys):
// the dense layer's bias after its matrix product.
extern "C" __global__ void bias_rows(float* y, int ys, const float* bias, int n, int o) {
	int total = n * o;
	for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
		int s = i / o, j = i % o;
		y[(long long)s * ys + j] += bias[j];
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
