// filters.cu: RandomOut on the device. Per-filter gradient norms, the below-threshold decision and
// the masked re-initialisation, each over every filter of a FilterTable in one launch.
//
// A FilterTable is uploaded once as int32 words: ROUT_GROUP_WORDS words per group (the fields
// below), then one word per filter giving its group's index.
// CPU twin: net/cpu/filters.go.
#include "common.cuh"
#include "philox.cuh"

#define ROUT_GROUP_WORDS 8
#define ROUT_G_WEIGHT 0 // offset of the group's first weight in the flat tensor
#define ROUT_G_BIAS 1   // offset of its first bias, or -1
#define ROUT_G_FILTERS 2
#define ROUT_G_LEN 3    // weights per filter
#define ROUT_G_LAYER 4  // rng group word
#define ROUT_G_FIRST 5  // index of the group's first filter in the table's numbering
#define ROUT_G_BOUND 6  // the initialiser's bound, as float32 bits

// filter_norms: norms[f] = sum |g| (kind 0) or sqrt(sum g^2) (kind 1) over filter f's weights in
// grads, summed in double precision and rounded once (as the CPU does). One warp per filter;
// launch with ceil(filters / (blockDim.x/32)) blocks.
extern "C" __global__ void filter_norms(const int* table, int groups, int filters, const float* grads,
                                        float* norms, int kind) {
	int f = blockIdx.x * (blockDim.x / ROUT_WARP) + threadIdx.x / ROUT_WARP;
	int lane = threadIdx.x % ROUT_WARP;
	if (f >= filters) {
		return; // whole warps leave together
	}
	const int* g = table + ROUT_GROUP_WORDS * table[ROUT_GROUP_WORDS * groups + f];
	int len = g[ROUT_G_LEN];
	const float* w = grads + g[ROUT_G_WEIGHT] + (long long)(f - g[ROUT_G_FIRST]) * len;
	double acc = 0.0;
	if (kind == 0) {
		for (int j = lane; j < len; j += ROUT_WARP) {
			acc += fabs((double)w[j]);
		}
	} else {
		for (int j = lane; j < len; j += ROUT_WARP) {
			double v = (double)w[j];
			acc += v * v;
		}
	}
	acc = warp_sum(acc);
	if (lane == 0) {
		norms[f] = (float)(kind == 0 ? acc : sqrt(acc));
	}
}

// mark_below: mask[f] = norms[f] < tau (times the group's mean norm when relative: the mean
// summed in double, rounded to float, then one float multiply, as the CPU does; a group whose
// mean is zero is marked whole when tau > 0, since every filter of it is dead), and
// counts[g] += the number marked in group g (counts may be null). One block per group, so each
// count is added once, by one thread: no atomics and no order dependence.
extern "C" __global__ void mark_below(const int* table, const float* norms, float* mask, float* counts,
                                      float tau, int relative) {
	__shared__ double scratch[ROUT_WARP];
	const int* g = table + ROUT_GROUP_WORDS * blockIdx.x;
	int first = g[ROUT_G_FIRST], n = g[ROUT_G_FILTERS];
	float limit = tau;
	int all_dead = 0;
	if (relative) {
		double s = 0.0;
		for (int k = threadIdx.x; k < n; k += blockDim.x) {
			s += (double)norms[first + k];
		}
		s = block_sum(s, scratch);
		if (n > 0) {
			float mean = (float)(s / (double)n);
			limit = __fmul_rn(tau, mean);
			all_dead = tau > 0.0f && mean == 0.0f;
		}
	}
	double marked = 0.0;
	for (int k = threadIdx.x; k < n; k += blockDim.x) {
		float m = (norms[first + k] < limit || all_dead) ? 1.0f : 0.0f;
		mask[first + k] = m;
		marked += (double)m;
	}
	marked = block_sum(marked, scratch);
	if (threadIdx.x == 0 && counts != 0) {
		counts[blockIdx.x] += (float)marked;
	}
}

// redraw_filters re-initialises every filter f with mask[f] != 0 (every filter when mask is null):
// weight j of filter k of group g becomes bound * rout_symmetric(draw j of (key, purpose, layer, k)),
// and the filter's entries in up to four optimiser-state tensors m0..m3 (null when unused; laid out
// like params) become 0. With zero_bias, the filter's bias and its state entries become 0 too.
// counts[g] (may be null) gets the number of filters re-drawn added. With params null it only
// clears state, which is how more than four state tensors are handled (one more launch).
// One block per filter; launch with as many blocks as the table has filters.
extern "C" __global__ void redraw_filters(const int* table, int groups, const float* mask, float* params,
                                          unsigned int key0, unsigned int key1, unsigned int purpose,
                                          int zero_bias, float* m0, float* m1, float* m2, float* m3,
                                          float* counts) {
	int f = blockIdx.x;
	if (mask != 0 && mask[f] == 0.0f) { // as the CPU: any non-zero mask value re-draws
		return;
	}
	int gi = table[ROUT_GROUP_WORDS * groups + f];
	const int* g = table + ROUT_GROUP_WORDS * gi;
	int k = f - g[ROUT_G_FIRST], len = g[ROUT_G_LEN];
	long long off = g[ROUT_G_WEIGHT] + (long long)k * len;
	unsigned int layer = (unsigned int)g[ROUT_G_LAYER];
	float bound = __int_as_float(g[ROUT_G_BOUND]);
	float* m[4] = {m0, m1, m2, m3};
	for (int b = threadIdx.x; b < (len + 3) / 4; b += blockDim.x) {
		rout_u32x4 r;
		if (params != 0) {
			r = rout_philox(key0, key1, (unsigned int)b, (unsigned int)k, layer, purpose);
		}
		for (int w = 0; w < 4; w++) {
			int j = 4 * b + w;
			if (j >= len) {
				break;
			}
			if (params != 0) {
				// One correctly rounded multiply of two exact operands: the CPU's bound*Symmetric.
				params[off + j] = __fmul_rn(bound, rout_symmetric(r.w[w]));
			}
			for (int s = 0; s < 4; s++) {
				if (m[s] != 0) {
					m[s][off + j] = 0.0f;
				}
			}
		}
	}
	if (threadIdx.x == 0) {
		int bias = g[ROUT_G_BIAS];
		if (zero_bias && bias >= 0) {
			if (params != 0) {
				params[bias + k] = 0.0f;
			}
			for (int s = 0; s < 4; s++) {
				if (m[s] != 0) {
					m[s][bias + k] = 0.0f;
				}
			}
		}
		if (counts != 0) {
			atomicAdd(&counts[gi], 1.0f); // integer-valued sums below 2^24 are exact in any order
		}
	}
}
