// common.cuh: what every rout kernel file shares.
//
// The kernels include no CUDA header: NVRTC provides the built-in variables (threadIdx, ...),
// the execution-space keywords and the device functions without any include, and the prelude
// below declares the same things for clang's device-only compile check
// (clang -x cuda -nocudainc -nocudalib), so CI can compile-check the kernels with no CUDA SDK.
#ifndef ROUT_COMMON_CUH
#define ROUT_COMMON_CUH

#if !defined(__CUDACC_RTC__) && defined(__clang__)
#include <__clang_cuda_builtin_vars.h>
#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __shared__ __attribute__((shared))
#define __forceinline__ __attribute__((always_inline)) inline
__device__ float __shfl_xor_sync(unsigned int mask, float v, int laneMask, int width = 32);
__device__ int __shfl_xor_sync(unsigned int mask, int v, int laneMask, int width = 32);
__device__ double __shfl_xor_sync(unsigned int mask, double v, int laneMask, int width = 32);
__device__ float atomicAdd(float* address, float v);
__device__ unsigned int __umulhi(unsigned int a, unsigned int b);
__device__ float __fmul_rn(float a, float b);
__device__ float __fadd_rn(float a, float b);
__device__ float __fsub_rn(float a, float b);
__device__ float __int_as_float(int v);
__device__ float __fdiv_rn(float a, float b);
__device__ float __fsqrt_rn(float a);
extern "C" __device__ double exp(double);
extern "C" __device__ double log(double);
extern "C" __device__ double fabs(double);
extern "C" __device__ double sqrt(double);
extern "C" __device__ double pow(double, double);
extern "C" __device__ float floorf(float);
#endif

// Every launch uses blocks of a multiple of 32 threads and at most 1024 of them.
#define ROUT_WARP 32

// warp_sum returns the sum of v over the 32 lanes of a warp, in the same tree order on every
// lane. The reductions are in double precision: the CPU backend sums in float64 too.
__device__ __forceinline__ double warp_sum(double v) {
	for (int o = 16; o > 0; o >>= 1) {
		v += __shfl_xor_sync(0xffffffffu, v, o);
	}
	return v;
}

// block_sum returns the sum of v over the block to every thread, in an order fixed by the block
// size. scratch holds at least 32 doubles; the function synchronises the block, so every thread
// must call it.
__device__ __forceinline__ double block_sum(double v, double* scratch) {
	int lane = threadIdx.x % ROUT_WARP, warp = threadIdx.x / ROUT_WARP;
	int warps = (blockDim.x + ROUT_WARP - 1) / ROUT_WARP;
	v = warp_sum(v);
	__syncthreads(); // scratch may still be read by an earlier call
	if (lane == 0) {
		scratch[warp] = v;
	}
	__syncthreads();
	v = lane < warps ? scratch[lane] : 0.0;
	return warp_sum(v);
}

#endif
