package data

import (
	"fmt"
	"math"
	"slices"

	"rout/rng"
)

// CheckCrop reports whether a cropH x cropW window fits the split's images; callers validate a
// configuration with it before MeanImage or batch preparation.
func (s *Split) CheckCrop(cropH, cropW int) error {
	if cropH < 1 || cropW < 1 || cropH > s.H || cropW > s.W {
		return fmt.Errorf("data: crop %dx%d does not fit %dx%d images", cropH, cropW, s.H, s.W)
	}
	return nil
}

// MeanImage is the per-pixel mean over the split of every image's centre cropH x cropW window
// (C*cropH*cropW values, channel-major): the "mean image" the paper subtracts. The window
// starts at ((H-cropH)/2, (W-cropW)/2), the centred offset net.Augment uses without padding.
// The crop must fit (see CheckCrop); an empty split gives zeros.
func (s *Split) MeanImage(cropH, cropW int) []float32 {
	if err := s.CheckCrop(cropH, cropW); err != nil {
		panic(err) // a programming error: configurations are checked with CheckCrop first
	}
	oy, ox := (s.H-cropH)/2, (s.W-cropW)/2
	sums := make([]uint64, s.C*cropH*cropW) // exact: 255 * N fits easily
	for i := 0; i < s.N; i++ {
		img := s.Image(i)
		k := 0
		for c := 0; c < s.C; c++ {
			for y := 0; y < cropH; y++ {
				row := img[(c*s.H+oy+y)*s.W+ox:][:cropW]
				for _, p := range row {
					sums[k] += uint64(p)
					k++
				}
			}
		}
	}
	mean := make([]float32, len(sums))
	if s.N == 0 {
		return mean
	}
	for k, v := range sums {
		mean[k] = float32(float64(v) / float64(s.N))
	}
	return mean
}

// ChannelStats are the mean and (population) standard deviation of each channel's pixel values,
// on the 0..255 scale, over every pixel of the split; the inputs of per-channel standardisation.
func (s *Split) ChannelStats() (mean, std []float64) {
	mean, std = make([]float64, s.C), make([]float64, s.C)
	plane := s.H * s.W
	sum := make([]uint64, s.C)
	sq := make([]uint64, s.C)
	for i := 0; i < s.N; i++ {
		img := s.Image(i)
		for c := 0; c < s.C; c++ {
			var a, b uint64
			for _, p := range img[c*plane : (c+1)*plane] {
				a += uint64(p)
				b += uint64(p) * uint64(p)
			}
			sum[c] += a
			sq[c] += b
		}
	}
	count := float64(s.N) * float64(plane)
	if count == 0 {
		return mean, std
	}
	for c := range mean {
		m := float64(sum[c]) / count
		mean[c] = m
		std[c] = math.Sqrt(max(0, float64(sq[c])/count-m*m))
	}
	return mean, std
}

// Histogram counts the split's examples of each of classes labels.
func (s *Split) Histogram(classes int) []int {
	h := make([]int, classes)
	for _, l := range s.Labels {
		if l >= 0 && int(l) < classes {
			h[l]++
		}
	}
	return h
}

// Subset copies the examples at idx, in that order, into a new split. Indices must lie in
// [0, N) (a programming error otherwise).
func (s *Split) Subset(idx []int) Split {
	n := s.ImageLen()
	out := Split{Pixels: make([]uint8, len(idx)*n), Labels: make([]int32, len(idx)),
		N: len(idx), C: s.C, H: s.H, W: s.W}
	for k, i := range idx {
		copy(out.Pixels[k*n:(k+1)*n], s.Image(i))
		out.Labels[k] = s.Labels[i]
	}
	return out
}

// CarveValidation sets aside round(fraction*N) training examples, chosen by a permutation drawn
// from seed on the rng.StreamSplit stream, as a validation split. Both parts keep the original
// order of their examples, so the result depends on the seed alone. It copies: the caller may
// drop d.Train afterwards. Stratification is not attempted.
func (d *Dataset) CarveValidation(fraction float64, seed uint64) (train, val Split, err error) {
	n := d.Train.N
	if !(fraction > 0 && fraction < 1) {
		return Split{}, Split{}, fmt.Errorf("data: %s: validation fraction %v, want a number in (0, 1)", d.Name, fraction)
	}
	nVal := int(math.Round(fraction * float64(n)))
	if nVal == 0 || nVal == n {
		return Split{}, Split{}, fmt.Errorf("data: %s: validation fraction %v of %d training examples leaves %d for validation and %d for training; both must be non-empty",
			d.Name, fraction, n, nVal, n-nVal)
	}
	perm := rng.NewStream(rng.KeyFromSeed(seed), rng.StreamSplit, 0, 0).Perm(n)
	v, t := perm[:nVal], perm[nVal:]
	slices.Sort(v)
	slices.Sort(t)
	return d.Train.Subset(t), d.Train.Subset(v), nil
}

// EpochOrder is the order in which an epoch visits n training examples: a permutation drawn
// from the data seed (not the initialisation seed) and the epoch number, so every run with the
// same data seed sees the same batches whatever its initialisation.
func EpochOrder(n int, dataSeed uint64, epoch int) []int32 {
	p := rng.NewStream(rng.KeyFromSeed(dataSeed), rng.StreamShuffle, uint32(epoch), 0).Perm(n)
	out := make([]int32, n)
	for i, v := range p {
		out[i] = int32(v)
	}
	return out
}
