package cpu

import (
	"fmt"

	"rout/net"
	"rout/rng"
)

// imageSet is a dataset in host memory. It keeps the caller's pixel slice without copying it
// (CIFAR-10 is 150 MB), so the caller must not modify it while the set is in use.
type imageSet struct {
	pixels     []uint8
	labels     []int32
	n, c, h, w int
	order      []int32
}

func (s *imageSet) Len() int { return s.n }

// NewImageSet keeps pixels without copying them (see imageSet) and a copy of labels.
func (b *Backend) NewImageSet(pixels []uint8, labels []int32, n, c, h, w int) (net.ImageSet, error) {
	if n < 0 || c <= 0 || h <= 0 || w <= 0 {
		return nil, fmt.Errorf("cpu: image set of %d images of %dx%dx%d: bad shape", n, c, h, w)
	}
	if len(pixels) != n*c*h*w {
		return nil, fmt.Errorf("cpu: image set: %d pixels for %d images of %dx%dx%d, want %d", len(pixels), n, c, h, w, n*c*h*w)
	}
	if len(labels) != n {
		return nil, fmt.Errorf("cpu: image set: %d labels for %d images", len(labels), n)
	}
	for i, l := range labels {
		if l < 0 {
			return nil, fmt.Errorf("cpu: image set: image %d has negative label %d", i, l)
		}
	}
	return &imageSet{pixels: pixels, labels: append([]int32(nil), labels...), n: n, c: c, h: h, w: w}, nil
}

func imageSetOf(op string, set net.ImageSet) *imageSet {
	s, ok := set.(*imageSet)
	if !ok {
		panic(fmt.Sprintf("cpu: %s: image set %T does not belong to the CPU backend", op, set))
	}
	return s
}

// SetOrder copies order.
func (b *Backend) SetOrder(set net.ImageSet, order []int32) {
	s := imageSetOf("set order", set)
	for i, v := range order {
		if v < 0 || int(v) >= s.n {
			b.setErr(fmt.Errorf("cpu: set order: position %d holds example %d, want 0..%d", i, v, s.n-1))
			return
		}
	}
	s.order = append(s.order[:0], order...)
}

type gatherJob struct {
	s              *imageSet
	start          int
	x, lab         []float32
	xt, lt         *net.Tensor
	a              net.Augment
	scale          float32
	mean           []float32
	rangeY, rangeX int // H+2*Pad-CropH, W+2*Pad-CropW
}

// GatherBatch prepares one example per task, rounding each operation on its own in the order
// kernels/batch.cu does, so that the two agree bit for bit.
func (b *Backend) GatherBatch(set net.ImageSet, start int, x, labels *net.Tensor, a net.Augment) {
	s := imageSetOf("gather batch", set)
	if err := net.CheckGather("cpu: gather batch", s.c, s.h, s.w, x, labels, a); err != nil {
		b.setErr(err)
		return
	}
	j := &b.gather
	*j = gatherJob{s: s, start: start, x: data(x), lab: data(labels), xt: x, lt: labels, a: a, scale: a.Scale,
		rangeY: s.h + 2*a.Pad - a.CropH, rangeX: s.w + 2*a.Pad - a.CropW}
	if j.scale == 0 {
		j.scale = 1
	}
	if a.Mean != nil {
		j.mean = flat(a.Mean, "gather batch mean image")
	}
	b.pool.do(j, x.N)
	*j = gatherJob{}
}

func (j *gatherJob) run(_, i int) {
	s, a := j.s, &j.a
	out := sample(j.x, j.xt, i)
	lab := sample(j.lab, j.lt, i)
	pos := j.start + i
	if pos < 0 || pos >= len(s.order) {
		zero(out)
		lab[0] = -1
		return
	}
	idx := s.order[pos]
	lab[0] = float32(s.labels[idx])
	offY, offX := j.rangeY/2, j.rangeX/2
	flip := false
	if a.RandomCrop || a.Flip {
		key := rng.KeyFromSeed(a.Seed)
		d := rng.Block(key, rng.Counter{0, uint32(idx), a.Epoch, rng.StreamAugment})
		if a.RandomCrop {
			offY = int((uint64(d[0]) * uint64(j.rangeY+1)) >> 32)
			offX = int((uint64(d[1]) * uint64(j.rangeX+1)) >> 32)
		}
		flip = a.Flip && d[2]>>31 == 1
	}
	img := s.pixels[int(idx)*s.c*s.h*s.w:]
	ch, cw := a.CropH, a.CropW
	for c := 0; c < s.c; c++ {
		cm, ci := float32(0), float32(1)
		if len(a.ChanMean) > 0 {
			cm = a.ChanMean[c]
		}
		if len(a.ChanInvStd) > 0 {
			ci = a.ChanInvStd[c]
		}
		for y := 0; y < ch; y++ {
			sy := y + offY - a.Pad
			row := out[(c*ch+y)*cw : (c*ch+y+1)*cw]
			for x := range row {
				sx := x
				if flip {
					sx = cw - 1 - x
				}
				sx += offX - a.Pad
				var v float32
				if sy >= 0 && sy < s.h && sx >= 0 && sx < s.w {
					v = float32(float32(img[(c*s.h+sy)*s.w+sx]) * j.scale) // rounded: never fused with the next subtraction
				}
				if j.mean != nil {
					v -= j.mean[(c*ch+y)*cw+x]
				}
				row[x] = float32(v-cm) * ci
			}
		}
	}
}
