// pool.cu: max and average pooling with any output rule (net.PoolParams: the caller passes the
// output size, so MXNet's "ceil" rule, whose last window hangs over the edge, is just a larger
// oh/ow), on channel-slice views (x, y, dy, dx each with its own sample stride).
//
// A window covers input rows oy*sh-ph .. oy*sh-ph+kh-1 (columns likewise); only its elements
// inside the input count: a max window's value is its first maximal element in row-major order,
// an average window divides by the number of its elements inside the input.
// CPU twin: net/cpu/pool.go.
#include "common.cuh"

// pool_argmax returns the row-major index (iy*w+ix) of the first maximal element of the window at
// (y0, x0) within the h x w plane xc, or -1 when no element of the window is inside the plane.
__device__ __forceinline__ int pool_argmax(const float* xc, int h, int w, int y0, int x0, int kh, int kw) {
	int ya = y0 < 0 ? 0 : y0, yb = y0 + kh < h ? y0 + kh : h;
	int xa = x0 < 0 ? 0 : x0, xb = x0 + kw < w ? x0 + kw : w;
	int arg = -1;
	float best = 0.0f;
	for (int iy = ya; iy < yb; iy++) {
		for (int ix = xa; ix < xb; ix++) {
			float v = xc[iy * w + ix];
			if (arg < 0 || v > best) {
				best = v;
				arg = iy * w + ix;
			}
		}
	}
	return arg;
}

// pool_count is the number of the window's elements inside the h x w plane.
__device__ __forceinline__ int pool_count(int h, int w, int y0, int x0, int kh, int kw) {
	int ya = y0 < 0 ? 0 : y0, yb = y0 + kh < h ? y0 + kh : h;
	int xa = x0 < 0 ? 0 : x0, xb = x0 + kw < w ? x0 + kw : w;
	return (yb > ya && xb > xa) ? (yb - ya) * (xb - xa) : 0;
}

// pool_fwd: y = pool(x); mode 0 is max, 1 average. One thread per output element.
extern "C" __global__ void pool_fwd(const float* x, int xs, float* y, int ys, int n, int c, int h, int w,
                                    int oh, int ow, int kh, int kw, int sh, int sw, int ph, int pw, int mode) {
	int total = n * c * oh * ow;
	for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
		int ox = i % ow, oy = (i / ow) % oh, ch = (i / (ow * oh)) % c, s = i / (ow * oh * c);
		const float* xc = x + (long long)s * xs + (long long)ch * h * w;
		int y0 = oy * sh - ph, x0 = ox * sw - pw;
		float out = 0.0f;
		if (mode == 0) {
			int a = pool_argmax(xc, h, w, y0, x0, kh, kw);
			out = a >= 0 ? xc[a] : 0.0f;
		} else {
			int ya = y0 < 0 ? 0 : y0, yb = y0 + kh < h ? y0 + kh : h;
			int xa = x0 < 0 ? 0 : x0, xb = x0 + kw < w ? x0 + kw : w;
			float sum = 0.0f;
			for (int iy = ya; iy < yb; iy++) {
				for (int ix = xa; ix < xb; ix++) {
					sum += xc[iy * w + ix];
				}
			}
			int cnt = pool_count(h, w, y0, x0, kh, kw);
			out = cnt > 0 ? sum / (float)cnt : 0.0f;
		}
		y[(long long)s * ys + ((long long)ch * oh + oy) * ow + ox] = out;
	}
}

// pool_bwd: dx (+)= the gradient of pool with respect to x. One thread per input element, which
// gathers from the windows that contain it in row-major window order (starting from dx's old
// value with accumulate): no atomics, and the same sums as a scatter over windows in order.
// A max window's gradient goes to its first maximal element, found again from x.
extern "C" __global__ void pool_bwd(const float* x, int xs, const float* dy, int dys, float* dx, int dxs,
                                    int n, int c, int h, int w, int oh, int ow, int kh, int kw, int sh, int sw,
                                    int ph, int pw, int mode, int accumulate) {
	int total = n * c * h * w;
	for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
		int ix = i % w, iy = (i / w) % h, ch = (i / (w * h)) % c, s = i / (w * h * c);
		const float* xc = x + (long long)s * xs + (long long)ch * h * w;
		const float* dyc = dy + (long long)s * dys + (long long)ch * oh * ow;
		float* d = dx + (long long)s * dxs + ((long long)ch * h + iy) * w + ix;
		// Windows oy with oy*sh-ph <= iy < oy*sh-ph+kh, clipped to the output.
		int ny = iy + ph - kh + 1, nx = ix + pw - kw + 1;
		int oya = ny <= 0 ? 0 : (ny + sh - 1) / sh, oyb = (iy + ph) / sh;
		int oxa = nx <= 0 ? 0 : (nx + sw - 1) / sw, oxb = (ix + pw) / sw;
		if (oyb > oh - 1) {
			oyb = oh - 1;
		}
		if (oxb > ow - 1) {
			oxb = ow - 1;
		}
		float acc = accumulate ? *d : 0.0f;
		for (int oy = oya; oy <= oyb; oy++) {
			for (int ox = oxa; ox <= oxb; ox++) {
				int y0 = oy * sh - ph, x0 = ox * sw - pw;
				float g = dyc[oy * ow + ox];
				if (mode == 0) {
					if (pool_argmax(xc, h, w, y0, x0, kh, kw) == iy * w + ix) {
						acc += g;
					}
				} else {
					acc += g / (float)pool_count(h, w, y0, x0, kh, kw);
				}
			}
		}
		*d = acc;
	}
}
