package cpu

import (
	"fmt"
	"testing"

	"rout/net"
	"rout/rng"
)

// testImages is 5 images of 2 x 4 x 5 whose pixel (i, c, y, x) is 100i + 20c + 5y + x.
func testImages() ([]uint8, []int32) {
	var px []uint8
	for i := 0; i < 5; i++ {
		for c := 0; c < 2; c++ {
			for y := 0; y < 4; y++ {
				for x := 0; x < 5; x++ {
					px = append(px, uint8(100*i+20*c+5*y+x))
				}
			}
		}
	}
	return px, []int32{7, 1, 0, 3, 9}
}

func pixel(i, c, y, x int) float32 { return float32(uint8(100*i + 20*c + 5*y + x)) }

func gather(t *testing.T, b *Backend, set net.ImageSet, start, batch int, a net.Augment) ([]float32, []float32) {
	t.Helper()
	x, _ := b.Alloc(batch, 2, a.CropH, a.CropW)
	b.Fill(x, 99)
	lab, _ := b.Alloc(batch, 1, 1, 1)
	b.GatherBatch(set, start, x, lab, a)
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	xs, ls := make([]float32, x.Len()), make([]float32, lab.Len())
	b.Download(x, xs)
	b.Download(lab, ls)
	return xs, ls
}

func TestGatherBatchCentre(t *testing.T) {
	b := newBackend(t, 2)
	px, labels := testImages()
	set, err := b.NewImageSet(px, labels, 5, 2, 4, 5)
	if err != nil {
		t.Fatal(err)
	}
	b.SetOrder(set, []int32{3, 0, 4})
	mean, _ := b.Alloc(1, 2, 2, 3)
	mv := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	b.Upload(mean, mv)
	a := net.Augment{CropH: 2, CropW: 3, Scale: 0.5, Mean: mean, ChanMean: []float32{1, -2}, ChanInvStd: []float32{2, 0.25}}
	xs, ls := gather(t, b, set, 1, 3, a) // positions 1, 2 and 3 (past the end)
	if fmt.Sprint(ls) != "[7 9 -1]" {
		t.Fatalf("labels %v, want [7 9 -1]", ls)
	}
	// Centre crop of 4x5 to 2x3: offsets (1, 1).
	for n, img := range []int{0, 4} {
		for c := 0; c < 2; c++ {
			for y := 0; y < 2; y++ {
				for x := 0; x < 3; x++ {
					o := ((n*2+c)*2+y)*3 + x
					want := (pixel(img, c, y+1, x+1)*0.5 - mv[(c*2+y)*3+x] - a.ChanMean[c]) * a.ChanInvStd[c]
					if xs[o] != want {
						t.Fatalf("example %d (%d,%d,%d) = %v, want %v", n, c, y, x, xs[o], want)
					}
				}
			}
		}
	}
	for i, v := range xs[24:] {
		if v != 0 {
			t.Fatalf("padding example element %d = %v, want 0", i, v)
		}
	}

	// Scale 0 means 1, and without statistics the pixels come through unchanged.
	xs, _ = gather(t, b, set, 0, 1, net.Augment{CropH: 2, CropW: 3})
	for c := 0; c < 2; c++ {
		for y := 0; y < 2; y++ {
			for x := 0; x < 3; x++ {
				if got, want := xs[(c*2+y)*3+x], pixel(3, c, y+1, x+1); got != want {
					t.Fatalf("plain crop (%d,%d,%d) = %v, want %v", c, y, x, got, want)
				}
			}
		}
	}
}

func TestGatherBatchAugment(t *testing.T) {
	b := newBackend(t, 2)
	px, labels := testImages()
	set, err := b.NewImageSet(px, labels, 5, 2, 4, 5)
	if err != nil {
		t.Fatal(err)
	}
	order := []int32{2, 4, 1, 0, 3}
	b.SetOrder(set, order)
	const seed, epoch = 77, 3
	a := net.Augment{CropH: 3, CropW: 4, Pad: 2, RandomCrop: true, Flip: true, Seed: seed, Epoch: epoch,
		Scale: 1.0 / 255, ChanMean: []float32{0.5, 0.25}, ChanInvStd: []float32{4, 0.5}}
	flips, offsets := 0, map[[2]int]bool{}
	for e := uint32(0); e < 8; e++ { // enough epochs to see flips and several offsets
		a.Epoch = epoch + e
		xs, ls := gather(t, b, set, 0, 5, a)
		for n, idx := range order {
			if ls[n] != float32(labels[idx]) {
				t.Fatalf("label %d = %v, want %v", n, ls[n], labels[idx])
			}
			d := func(i int) uint32 {
				return rng.Uint32(rng.KeyFromSeed(seed), rng.StreamAugment, a.Epoch, uint32(idx), i)
			}
			offY := int(uint64(d(0)) * uint64(4+4-3+1) >> 32)
			offX := int(uint64(d(1)) * uint64(5+4-4+1) >> 32)
			flip := d(2)&(1<<31) != 0
			offsets[[2]int{offY, offX}] = true
			if flip {
				flips++
			}
			for c := 0; c < 2; c++ {
				for y := 0; y < 3; y++ {
					for x := 0; x < 4; x++ {
						sx := x
						if flip {
							sx = 3 - x // the crop is mirrored: column CropW-1-x
						}
						sy, sx := y+offY-2, sx+offX-2
						p := float32(0) // padding is 0 before normalisation
						if sy >= 0 && sy < 4 && sx >= 0 && sx < 5 {
							p = float32(pixel(int(idx), c, sy, sx) * a.Scale)
						}
						want := float32(p-a.ChanMean[c]) * a.ChanInvStd[c]
						if got := xs[((n*2+c)*3+y)*4+x]; got != want {
							t.Fatalf("epoch %d example %d (offsets %d,%d flip %v) at (%d,%d,%d) = %v, want %v", a.Epoch, idx, offY, offX, flip, c, y, x, got, want)
						}
					}
				}
			}
		}
	}
	if flips == 0 || flips == 40 || len(offsets) < 5 {
		t.Fatalf("%d flips of 40 and %d distinct offsets: the draws do not vary", flips, len(offsets))
	}
}

func TestImageSetErrors(t *testing.T) {
	b := newBackend(t, 1)
	px, labels := testImages()
	if _, err := b.NewImageSet(px[:10], labels, 5, 2, 4, 5); err == nil {
		t.Fatal("short pixels accepted")
	}
	if _, err := b.NewImageSet(px, labels[:4], 5, 2, 4, 5); err == nil {
		t.Fatal("short labels accepted")
	}
	if _, err := b.NewImageSet(px, []int32{1, 2, -3, 4, 5}, 5, 2, 4, 5); err == nil {
		t.Fatal("negative label accepted")
	}
	set, err := b.NewImageSet(px, labels, 5, 2, 4, 5)
	if err != nil {
		t.Fatal(err)
	}
	b.SetOrder(set, []int32{0, 5})
	if b.Err() == nil {
		t.Fatal("order with example 5 of 5 accepted")
	}
}
