//go:build !nocuda

package kernels

// The host build of philox.cuh: the same C, compiled by cgo's C compiler, so that a test compares
// the CUDA twin of package rng with rng itself on any machine, no GPU needed. It lives in this
// package (not a test file, where cgo is not allowed) because philox.cuh is embedded here, which
// makes the Go build cache rebuild it whenever the header changes.

/*
#cgo CFLAGS: -O1
#define __device__
#define __forceinline__ static inline
static unsigned int __umulhi(unsigned int a, unsigned int b) {
	return (unsigned int)(((unsigned long long)a * b) >> 32);
}
static float __fmul_rn(float a, float b) { return a * b; }
#include "philox.cuh"

static void rout_philox_host(unsigned int k0, unsigned int k1, unsigned int c0, unsigned int c1,
                             unsigned int c2, unsigned int c3, unsigned int* out) {
	rout_u32x4 r = rout_philox(k0, k1, c0, c1, c2, c3);
	for (int i = 0; i < 4; i++) {
		out[i] = r.w[i];
	}
}

static float rout_symmetric_host(unsigned int x) { return rout_symmetric(x); }
*/
import "C"

// hostPhilox is philox.cuh's rout_philox of counter ctr under key, run on the host.
func hostPhilox(key [2]uint32, ctr [4]uint32) [4]uint32 {
	var out [4]C.uint
	C.rout_philox_host(C.uint(key[0]), C.uint(key[1]), C.uint(ctr[0]), C.uint(ctr[1]), C.uint(ctr[2]), C.uint(ctr[3]), &out[0])
	return [4]uint32{uint32(out[0]), uint32(out[1]), uint32(out[2]), uint32(out[3])}
}

// hostSymmetric is philox.cuh's rout_symmetric, run on the host.
func hostSymmetric(x uint32) float32 { return float32(C.rout_symmetric_host(C.uint(x))) }
