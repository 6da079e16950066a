// loss.cu: softmax cross-entropy with its gradient and the batch's statistics, in one launch.
//
// As on the CPU, the log-sum-exp and the gradient are computed in double precision after
// subtracting the row's maximum, so the two backends agree to the last bit or two.
// CPU twin: net/cpu/loss.go.
#include "common.cuh"

// softmax_xent: logits is n x k (row i at logits + i*ls), labels n values (label i at labels[i*lbs]:
// class indices stored as floats). A label that is negative, not a whole number or not below k
// marks an ignored example. Adds [summed loss, correct, counted] to stats[0..2] and, when dlogits
// is not null, writes softmax - onehot (divided by the number counted when mean != 0; zero rows
// for ignored examples) into dlogits (row stride dls).
// Launch one block (the mean needs the whole batch's count), a warp per example.
extern "C" __global__ void softmax_xent(const float* logits, int ls, const float* labels, int lbs,
                                        float* dlogits, int dls, float* stats, int n, int k, int mean) {
	__shared__ double scratch[ROUT_WARP];
	int lane = threadIdx.x % ROUT_WARP, warp = threadIdx.x / ROUT_WARP;
	int warps = blockDim.x / ROUT_WARP;
	double counted = 0.0;
	for (int i = threadIdx.x; i < n; i += blockDim.x) {
		float l = labels[(long long)i * lbs];
		counted += (l >= 0.0f && l < (float)k && l == (float)(int)l) ? 1.0 : 0.0;
	}
	counted = block_sum(counted, scratch);
	double scale = (mean && counted > 0.0) ? 1.0 / counted : 1.0;
	double loss = 0.0, correct = 0.0; // lane 0's sums over its warp's examples
	for (int i = warp; i < n; i += warps) {
		const float* z = logits + (long long)i * ls;
		float* dz = dlogits != 0 ? dlogits + (long long)i * dls : 0;
		float lf = labels[(long long)i * lbs];
		if (!(lf >= 0.0f && lf < (float)k && lf == (float)(int)lf)) {
			if (dz != 0) {
				for (int j = lane; j < k; j += ROUT_WARP) {
					dz[j] = 0.0f;
				}
			}
			continue;
		}
		int label = (int)lf;
		// The maximum and its first index (ties to the lowest index).
		float best = z[0];
		int arg = 0;
		for (int j = lane; j < k; j += ROUT_WARP) {
			if (z[j] > best) {
				best = z[j];
				arg = j;
			}
		}
		for (int o = 16; o > 0; o >>= 1) {
			float ob = __shfl_xor_sync(0xffffffffu, best, o);
			int oa = __shfl_xor_sync(0xffffffffu, arg, o);
			if (ob > best || (ob == best && oa < arg)) {
				best = ob;
				arg = oa;
			}
		}
		double mx = (double)best, s = 0.0;
		for (int j = lane; j < k; j += ROUT_WARP) {
			s += exp((double)z[j] - mx);
		}
		s = warp_sum(s);
		if (dz != 0) {
			for (int j = lane; j < k; j += ROUT_WARP) {
				double pj = exp((double)z[j] - mx) / s;
				if (j == label) {
					pj -= 1.0;
				}
				dz[j] = (float)(pj * scale);
			}
		}
		if (lane == 0) {
			loss += (mx + log(s)) - (double)z[label];
			correct += arg == label ? 1.0 : 0.0;
		}
	}
	loss = block_sum(lane == 0 ? loss : 0.0, scratch);
	correct = block_sum(lane == 0 ? correct : 0.0, scratch);
	if (threadIdx.x == 0) {
		stats[0] += (float)loss;
		stats[1] += (float)correct;
		stats[2] += (float)counted;
	}
}
