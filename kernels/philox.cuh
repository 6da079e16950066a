// philox.cuh: Philox4x32-10, the CUDA twin of rng/philox.go.
//
// Draw i of the item addressed by (key, purpose, group, item) is word i%4 of
// rout_philox(key, {i/4, item, group, purpose}), exactly as rng.Uint32 computes it, so a kernel
// and the CPU backend draw bit-identical numbers. The file is also valid C (with __device__ and
// __forceinline__ defined away and __umulhi, __fmul_rn given host definitions), which is how a host
// test compares it with rng.Block without a GPU.
#ifndef ROUT_PHILOX_CUH
#define ROUT_PHILOX_CUH

#define ROUT_PHILOX_M0 0xD2511F53u
#define ROUT_PHILOX_M1 0xCD9E8D57u
#define ROUT_PHILOX_W0 0x9E3779B9u
#define ROUT_PHILOX_W1 0xBB67AE85u

typedef struct {
	unsigned int w[4];
} rout_u32x4;

// rout_philox is Philox4x32-10 of counter (c0, c1, c2, c3) under key (k0, k1): rng.Block.
__device__ __forceinline__ rout_u32x4 rout_philox(unsigned int k0, unsigned int k1, unsigned int c0,
                                                  unsigned int c1, unsigned int c2, unsigned int c3) {
	for (int i = 0; i < 10; i++) {
		unsigned int hi0 = __umulhi(ROUT_PHILOX_M0, c0), lo0 = ROUT_PHILOX_M0 * c0;
		unsigned int hi1 = __umulhi(ROUT_PHILOX_M1, c2), lo1 = ROUT_PHILOX_M1 * c2;
		c0 = hi1 ^ c1 ^ k0;
		c1 = lo1;
		c2 = hi0 ^ c3 ^ k1;
		c3 = lo0;
		k0 += ROUT_PHILOX_W0;
		k1 += ROUT_PHILOX_W1;
	}
	rout_u32x4 r;
	r.w[0] = c0;
	r.w[1] = c1;
	r.w[2] = c2;
	r.w[3] = c3;
	return r;
}

// rout_symmetric is rng.Symmetric: the top 24 bits of x as a float in [-1, 1). Both steps are
// exact (an integer below 2^24 converts exactly; the scale is a power of two), so the result is
// the same on every device.
__device__ __forceinline__ float rout_symmetric(unsigned int x) {
	return __fmul_rn((float)((int)(x >> 8) - (1 << 23)), 1.0f / 8388608.0f);
}

#endif
