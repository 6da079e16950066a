// batch.cu: batch preparation on the device, from a uint8 dataset held there (net.Augment).
// CPU twin: net/cpu/batch.go.
#include "common.cuh"
#include "philox.cuh"

#define ROUT_STREAM_AUGMENT 0xFFFF0002u // rng.StreamAugment

// gather_batch fills batch example b (x at x + b*xs, its label at labels_out[b*ls]) with the
// dataset example at position start+b of order, prepared as net.Augment says:
//
//	out(c, y, x) = ((float(pixel) * scale - mean[c, y, x]) - chan_mean[c]) * chan_inv_std[c]
//
// pixel being source pixel (c, y+off_y-pad, x'+off_x-pad) (0 outside the image), x' = crop_w-1-x
// when the example is flipped, else x. The offsets are centred, or drawn with random_crop from
// word 0 and 1 of the Philox block (key, {0, example index, epoch, StreamAugment}); flip uses
// word 2's top bit. mean, chan_mean and chan_inv_std may be null (0, 0 and 1). Positions past the
// end of order give zero images with label -1. Each operation is rounded on its own, in the CPU
// backend's order, so the two agree bit for bit. One block per batch example.
extern "C" __global__ void gather_batch(const unsigned char* pixels, const int* set_labels, const int* order,
                                        int order_len, int start, int c, int h, int w, float* x, int xs,
                                        float* labels_out, int ls, int crop_h, int crop_w, int pad,
                                        int random_crop, int flip, unsigned int key0, unsigned int key1,
                                        unsigned int epoch, float scale, const float* mean,
                                        const float* chan_mean, const float* chan_inv_std) {
	int b = blockIdx.x, pos = start + b;
	float* out = x + (long long)b * xs;
	int len = c * crop_h * crop_w;
	if (pos < 0 || pos >= order_len) {
		for (int i = threadIdx.x; i < len; i += blockDim.x) {
			out[i] = 0.0f;
		}
		if (threadIdx.x == 0) {
			labels_out[(long long)b * ls] = -1.0f;
		}
		return;
	}
	int idx = order[pos];
	int range_y = h + 2 * pad - crop_h, range_x = w + 2 * pad - crop_w;
	int off_y = range_y / 2, off_x = range_x / 2, flipped = 0;
	if (random_crop || flip) {
		rout_u32x4 d = rout_philox(key0, key1, 0u, (unsigned int)idx, epoch, ROUT_STREAM_AUGMENT);
		if (random_crop) {
			off_y = (int)__umulhi(d.w[0], (unsigned int)(range_y + 1));
			off_x = (int)__umulhi(d.w[1], (unsigned int)(range_x + 1));
		}
		flipped = flip && (d.w[2] >> 31) == 1u;
	}
	if (threadIdx.x == 0) {
		labels_out[(long long)b * ls] = (float)set_labels[idx];
	}
	const unsigned char* img = pixels + (long long)idx * c * h * w;
	for (int i = threadIdx.x; i < len; i += blockDim.x) {
		int ox = i % crop_w, oy = (i / crop_w) % crop_h, ch = i / (crop_w * crop_h);
		int sy = oy + off_y - pad;
		int sx = (flipped ? crop_w - 1 - ox : ox) + off_x - pad;
		float v = 0.0f;
		if (sy >= 0 && sy < h && sx >= 0 && sx < w) {
			v = __fmul_rn((float)img[((long long)ch * h + sy) * w + sx], scale);
		}
		if (mean != 0) {
			v = __fsub_rn(v, mean[i]);
		}
		if (chan_mean != 0) {
			v = __fsub_rn(v, chan_mean[ch]);
		}
		if (chan_inv_std != 0) {
			v = __fmul_rn(v, chan_inv_std[ch]);
		}
		out[i] = v;
	}
}
