package net

import "fmt"

// Argument checks that both backends make, written once. A mismatch is a programming error, so
// they panic (see Backend); op names the backend and operation, e.g. "cpu: pool forward".

// CheckPool panics unless p is a valid window and y has the shape of x pooled by p.
func CheckPool(op string, x, y *Tensor, p PoolParams) {
	if p.KH <= 0 || p.KW <= 0 || p.StrideH <= 0 || p.StrideW <= 0 || p.PadH < 0 || p.PadW < 0 {
		panic(fmt.Sprintf("%s: bad parameters %+v", op, p))
	}
	oh, ow := p.OutSize(x.H, x.W)
	if y.N != x.N || y.C != x.C || y.H != oh || y.W != ow {
		panic(fmt.Sprintf("%s: x %v and y %v do not match %+v (%dx%d)", op, x.Shape(), y.Shape(), p, oh, ow))
	}
}

// CheckGather panics unless x, labels and a's mean image and channel statistics fit a batch of
// c x h x w images cropped as a says. It returns an error, which the backend keeps for Err, when
// the crop does not fit the padded images: that comes from the run's settings, not the code.
func CheckGather(op string, c, h, w int, x, labels *Tensor, a Augment) error {
	if x.C != c || x.H != a.CropH || x.W != a.CropW || labels.N != x.N || labels.SampleLen() != 1 {
		panic(fmt.Sprintf("%s: x %v, labels %v for %dx%dx%d images cropped to %dx%d",
			op, x.Shape(), labels.Shape(), c, h, w, a.CropH, a.CropW))
	}
	if (len(a.ChanMean) != 0 && len(a.ChanMean) != c) || (len(a.ChanInvStd) != 0 && len(a.ChanInvStd) != c) {
		panic(fmt.Sprintf("%s: %d channel means and %d inverse deviations for %d channels", op, len(a.ChanMean), len(a.ChanInvStd), c))
	}
	if a.Mean != nil && (a.Mean.Len() != c*a.CropH*a.CropW || !a.Mean.Dense()) {
		panic(fmt.Sprintf("%s: mean image %v, want 1x%dx%dx%d", op, a.Mean, c, a.CropH, a.CropW))
	}
	if h+2*a.Pad < a.CropH || w+2*a.Pad < a.CropW || a.Pad < 0 {
		return fmt.Errorf("%s: a %dx%d crop of %dx%d images padded by %d does not fit", op, a.CropH, a.CropW, h, w, a.Pad)
	}
	return nil
}
