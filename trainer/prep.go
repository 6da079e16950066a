package trainer

import (
	"fmt"
	"math"

	"rout/data"
	"rout/net"
)

// preprocessing is what GatherBatch needs besides the images: the crop and the statistics of
// the training split (in the scaled pixel units the network sees). A checkpoint keeps it, so
// that `rout eval` prepares images exactly as training did, whatever data it is given.
type preprocessing struct {
	cropH, cropW int
	mean         []float32 // C x cropH x cropW, or nil
	chanMean     []float32 // per channel, or nil
	chanInvStd   []float32
	meanT        *net.Tensor
}

// newPreprocessing computes the crop and statistics a config asks for from the training split.
func newPreprocessing(cfg *Config, train *data.Split) (preprocessing, error) {
	p := preprocessing{cropH: train.H, cropW: train.W}
	if cfg.Crop > 0 {
		p.cropH, p.cropW = cfg.Crop, cfg.Crop
	}
	if p.cropH > train.H+2*cfg.Pad || p.cropW > train.W+2*cfg.Pad {
		return p, fmt.Errorf("setting crop: %d does not fit %dx%d images padded by %d", cfg.Crop, train.H, train.W, cfg.Pad)
	}
	scale := float32(cfg.Scale)
	if cfg.MeanImage {
		if err := train.CheckCrop(p.cropH, p.cropW); err != nil {
			return p, fmt.Errorf("setting mean-image needs the crop inside the unpadded image: %w", err)
		}
		p.mean = train.MeanImage(p.cropH, p.cropW)
		for i := range p.mean {
			p.mean[i] *= scale
		}
	}
	if cfg.Standardize {
		mean, std := train.ChannelStats()
		p.chanMean = make([]float32, len(mean))
		p.chanInvStd = make([]float32, len(std))
		for c := range mean {
			if !(std[c] > 0) {
				return p, fmt.Errorf("setting standardize: channel %d of the training images is constant", c)
			}
			p.chanMean[c] = float32(mean[c] * cfg.Scale)
			p.chanInvStd[c] = float32(1 / (std[c] * cfg.Scale))
		}
	}
	return p, nil
}

// upload puts the mean image on the device.
func (p *preprocessing) upload(b net.Backend) error {
	if p.mean == nil {
		return nil
	}
	c := len(p.mean) / (p.cropH * p.cropW)
	t, err := b.Alloc(1, c, p.cropH, p.cropW)
	if err != nil {
		return fmt.Errorf("device %s: mean image: %w", b.Name(), err)
	}
	b.Upload(t, p.mean)
	p.meanT = t
	return nil
}

// augment is the batch preparation for training (random crops and flips as configured) or
// evaluation (centred, never flipped).
func (p *preprocessing) augment(cfg *Config, training bool) net.Augment {
	a := net.Augment{CropH: p.cropH, CropW: p.cropW, Pad: cfg.Pad, Seed: cfg.DataSeed,
		Scale: float32(cfg.Scale), Mean: p.meanT, ChanMean: p.chanMean, ChanInvStd: p.chanInvStd}
	if training {
		a.RandomCrop, a.Flip = cfg.RandomCrop, cfg.Flip
	}
	return a
}

// tensors are the preprocessing statistics as checkpoint tensors.
func (p *preprocessing) tensors() map[string]tensorData {
	m := map[string]tensorData{}
	if p.mean != nil {
		c := len(p.mean) / (p.cropH * p.cropW)
		m["prep.mean_image"] = tensorData{Shape: []uint64{1, uint64(c), uint64(p.cropH), uint64(p.cropW)}, Data: p.mean}
	}
	if p.chanMean != nil {
		c := uint64(len(p.chanMean))
		m["prep.channel_mean"] = tensorData{Shape: []uint64{1, c, 1, 1}, Data: p.chanMean}
		m["prep.channel_inv_std"] = tensorData{Shape: []uint64{1, c, 1, 1}, Data: p.chanInvStd}
	}
	return m
}

// restorePreprocessing reads the statistics back from checkpoint tensors, for the training
// images' C, H, W (the checkpoint's image) cropped as cfg says (crop 0 takes H x W whole, so
// other data is centre-cropped to the size the network was trained on).
func restorePreprocessing(cfg *Config, ts map[string]tensorData, image [3]int) (preprocessing, error) {
	c, h, w := image[0], image[1], image[2]
	p := preprocessing{cropH: h, cropW: w}
	if cfg.Crop > 0 {
		p.cropH, p.cropW = cfg.Crop, cfg.Crop
	}
	get := func(name string, n int) ([]float32, error) {
		t, ok := ts[name]
		if !ok {
			return nil, fmt.Errorf("tensor %s is missing", name)
		}
		if len(t.Data) != n {
			return nil, fmt.Errorf("tensor %s has %d values, want %d (the training images are %dx%dx%d)", name, len(t.Data), n, c, h, w)
		}
		for _, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("tensor %s holds %v", name, v)
			}
		}
		return t.Data, nil
	}
	var err error
	if cfg.MeanImage {
		if p.mean, err = get("prep.mean_image", c*p.cropH*p.cropW); err != nil {
			return p, err
		}
	}
	if cfg.Standardize {
		if p.chanMean, err = get("prep.channel_mean", c); err != nil {
			return p, err
		}
		if p.chanInvStd, err = get("prep.channel_inv_std", c); err != nil {
			return p, err
		}
	}
	return p, nil
}
