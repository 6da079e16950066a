// revive.cu: the activation-based revival rules on the device (ReDo, continual backprop): the
// activation statistics taken beside the forward pass, the rules' decisions, and the resets of
// the weights that read a revived filter's channel. The arithmetic follows the CPU backend's
// (net/cpu/revive.go): sums in double precision, every float32 product and sum rounded on its own.
//
// mark_dormant and cbp_step take a FilterTable (filters.cu's layout). outgoing_means and
// reset_outgoing take a revive table: ROUT_RV_WORDS int32 words per group (the fields below),
// then one word per filter giving its group's index, then ROUT_LINK_WORDS words per link.
// CPU twin: net/cpu/revive.go.
#include "common.cuh"

// The FilterTable words these kernels read, as filters.cu defines them (the same definitions, so
// that this file also compiles on its own).
#define ROUT_GROUP_WORDS 8
#define ROUT_G_FILTERS 2
#define ROUT_G_FIRST 5

#define ROUT_RV_WORDS 8
#define ROUT_RV_FIRST 0   // index of the group's first filter in the table's numbering
#define ROUT_RV_FILTERS 1 // filters in the group
#define ROUT_RV_LINKS 2   // links (consumer weight tensors) reading the group's channels
#define ROUT_RV_LINK0 3   // word index of the group's first link in the table
#define ROUT_RV_GAMMA 4   // offset of the batch-norm scale of filter 0 (shift at +filters), or -1
#define ROUT_RV_RUNMEAN 5 // offset of its running mean in the state tensor (variance at +filters), or -1

#define ROUT_LINK_WORDS 4
#define ROUT_L_WEIGHT 0 // the weight that reads filter 0 in row 0
#define ROUT_L_ROWS 1
#define ROUT_L_ROWSTRIDE 2
#define ROUT_L_LEN 3 // consecutive weights per row that read one channel

// activation_means: means[k] = mean over the batch and positions of |y| for channel k of y
// (n samples stride apart, c channels of hw values each), summed in double and rounded once.
// One block per channel.
extern "C" __global__ void activation_means(const float* y, int n, int hw, int stride, float* means) {
	__shared__ double scratch[ROUT_WARP];
	int k = blockIdx.x;
	double s = 0.0;
	for (long long e = threadIdx.x; e < (long long)n * hw; e += blockDim.x) {
		long long i = e / hw, p = e % hw;
		s += fabs((double)y[i * stride + (long long)k * hw + p]);
	}
	s = block_sum(s, scratch);
	if (threadIdx.x == 0) {
		means[k] = (float)(s / (double)((long long)n * hw));
	}
}

// mark_dormant: ReDo's decision. mask[f] = means[f] / (mean + 1e-9) <= tau, mean the group's mean
// of means (summed in double, rounded to float), one float add and one float division; counts[g]
// += the number marked. One block per group.
extern "C" __global__ void mark_dormant(const int* table, const float* means, float* mask, float* counts,
                                        float tau) {
	__shared__ double scratch[ROUT_WARP];
	const int* g = table + ROUT_GROUP_WORDS * blockIdx.x;
	int first = g[ROUT_G_FIRST], n = g[ROUT_G_FILTERS];
	double s = 0.0;
	for (int k = threadIdx.x; k < n; k += blockDim.x) {
		s += (double)means[first + k];
	}
	s = block_sum(s, scratch);
	float den = __fadd_rn((float)(s / (double)(n > 0 ? n : 1)), 1e-9f);
	double marked = 0.0;
	for (int k = threadIdx.x; k < n; k += blockDim.x) {
		float m = __fdiv_rn(means[first + k], den) <= tau ? 1.0f : 0.0f;
		mask[first + k] = m;
		marked += (double)m;
	}
	marked = block_sum(marked, scratch);
	if (threadIdx.x == 0) {
		counts[blockIdx.x] += (float)marked;
	}
}

// outgoing_means: out[f] = mean |w| over the weights that read filter f's channel (0 with none),
// summed in double. One block per filter.
extern "C" __global__ void outgoing_means(const int* rt, int groups, const float* params, float* out) {
	__shared__ double scratch[ROUT_WARP];
	int f = blockIdx.x;
	const int* g = rt + ROUT_RV_WORDS * rt[ROUT_RV_WORDS * groups + f];
	int k = f - g[ROUT_RV_FIRST];
	double s = 0.0, count = 0.0;
	const int* link = rt + g[ROUT_RV_LINK0];
	for (int l = 0; l < g[ROUT_RV_LINKS]; l++, link += ROUT_LINK_WORDS) {
		int rows = link[ROUT_L_ROWS], len = link[ROUT_L_LEN];
		long long base = link[ROUT_L_WEIGHT] + (long long)k * len;
		for (long long e = threadIdx.x; e < (long long)rows * len; e += blockDim.x) {
			s += fabs((double)params[base + (e / len) * link[ROUT_L_ROWSTRIDE] + e % len]);
		}
		count += (double)rows * len;
	}
	s = block_sum(s, scratch);
	if (threadIdx.x == 0) {
		out[f] = count > 0.0 ? (float)(s / count) : 0.0f;
	}
}

// reset_outgoing: for every filter f with mask[f] != 0, the weights that read its channel become
// 0, as do their entries in up to four optimiser-state tensors m0..m3 (null when unused); its
// batch-norm scale becomes 1 and shift 0 (their state entries 0), its running mean 0 and variance
// 1. With params null it only clears state (further launches for more than four tensors). One
// block per filter.
extern "C" __global__ void reset_outgoing(const int* rt, int groups, const float* mask, float* params, float* state,
                                          float* m0, float* m1, float* m2, float* m3) {
	int f = blockIdx.x;
	if (mask[f] == 0.0f) {
		return;
	}
	const int* g = rt + ROUT_RV_WORDS * rt[ROUT_RV_WORDS * groups + f];
	int k = f - g[ROUT_RV_FIRST], filters = g[ROUT_RV_FILTERS];
	float* m[4] = {m0, m1, m2, m3};
	const int* link = rt + g[ROUT_RV_LINK0];
	for (int l = 0; l < g[ROUT_RV_LINKS]; l++, link += ROUT_LINK_WORDS) {
		int rows = link[ROUT_L_ROWS], len = link[ROUT_L_LEN];
		long long base = link[ROUT_L_WEIGHT] + (long long)k * len;
		for (long long e = threadIdx.x; e < (long long)rows * len; e += blockDim.x) {
			long long i = base + (e / len) * link[ROUT_L_ROWSTRIDE] + e % len;
			if (params != 0) {
				params[i] = 0.0f;
			}
			for (int s = 0; s < 4; s++) {
				if (m[s] != 0) {
					m[s][i] = 0.0f;
				}
			}
		}
	}
	if (threadIdx.x == 0) {
		int gamma = g[ROUT_RV_GAMMA], run = g[ROUT_RV_RUNMEAN];
		if (gamma >= 0) {
			if (params != 0) {
				params[gamma + k] = 1.0f;
				params[gamma + filters + k] = 0.0f;
			}
			for (int s = 0; s < 4; s++) {
				if (m[s] != 0) {
					m[s][gamma + k] = 0.0f;
					m[s][gamma + filters + k] = 0.0f;
				}
			}
		}
		if (run >= 0 && params != 0) {
			state[run + k] = 0.0f;
			state[run + filters + k] = 1.0f;
		}
	}
}

// cbp_step: continual backprop's step for one group per block (net.CBPParams): every filter ages
// by one and its utility becomes decay*u + ((1-decay)*mean)*out_mean; then the group's
// accumulator gains rate times its mature filters (age > maturity), and floor(acc) of them (all
// when fewer), those of least bias-corrected utility u / (1 - decay^age) in double (ties to the
// lower index), get mask 1, utility 0 and age 0, every other filter mask 0; counts[g] gains the
// number replaced. Replacements are rare and groups small, so one thread picks them.
extern "C" __global__ void cbp_step(const int* table, const float* means, const float* out_means, float* util,
                                    float* age, float* acc, float* mask, float* counts, float decay, float rate,
                                    float maturity) {
	const int* g = table + ROUT_GROUP_WORDS * blockIdx.x;
	int first = g[ROUT_G_FIRST], n = g[ROUT_G_FILTERS];
	float keep = __fsub_rn(1.0f, decay);
	for (int k = threadIdx.x; k < n; k += blockDim.x) {
		int f = first + k;
		age[f] = __fadd_rn(age[f], 1.0f);
		util[f] = __fadd_rn(__fmul_rn(decay, util[f]), __fmul_rn(__fmul_rn(keep, means[f]), out_means[f]));
		mask[f] = 0.0f;
	}
	__syncthreads();
	if (threadIdx.x != 0) {
		return;
	}
	int mature = 0;
	for (int k = 0; k < n; k++) {
		mature += age[first + k] > maturity;
	}
	if (mature == 0) {
		return;
	}
	float a = __fadd_rn(acc[blockIdx.x], __fmul_rn(rate, (float)mature));
	float due = floorf(a);
	acc[blockIdx.x] = __fsub_rn(a, due);
	int replace = due < (float)mature ? (int)due : mature;
	for (int r = 0; r < replace; r++) {
		int best = -1;
		double bestU = 0.0;
		for (int k = 0; k < n; k++) {
			int f = first + k;
			if (!(age[f] > maturity) || mask[f] != 0.0f) {
				continue;
			}
			double u = (double)util[f] / (1.0 - pow((double)decay, (double)age[f]));
			if (best < 0 || u < bestU) {
				best = f;
				bestU = u;
			}
		}
		mask[best] = 1.0f;
	}
	for (int k = 0; k < n; k++) {
		int f = first + k;
		if (mask[f] != 0.0f) {
			util[f] = 0.0f;
			age[f] = 0.0f;
		}
	}
	counts[blockIdx.x] += (float)replace;
}
