package data

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"slices"
	"testing"
	"time"
)

func TestShapesDeterministic(t *testing.T) {
	a := Shapes(7, 60, 20)
	b := Shapes(7, 60, 20)
	if !bytes.Equal(a.Train.Pixels, b.Train.Pixels) || !bytes.Equal(a.Test.Pixels, b.Test.Pixels) {
		t.Fatal("the same seed drew different images")
	}
	// Image i does not depend on the split sizes.
	big := Shapes(7, 100, 5)
	if !bytes.Equal(big.Train.Pixels[:len(a.Train.Pixels)], a.Train.Pixels) || !bytes.Equal(big.Test.Pixels, a.Test.Pixels[:len(big.Test.Pixels)]) {
		t.Fatal("images change with the split sizes")
	}
	if bytes.Equal(Shapes(8, 60, 0).Train.Pixels, a.Train.Pixels) {
		t.Fatal("another seed drew the same images")
	}
	if bytes.Equal(a.Test.Pixels, a.Train.Pixels[:len(a.Test.Pixels)]) {
		t.Fatal("the test split repeats the training split")
	}
	for i, l := range a.Train.Labels {
		if int(l) != i%10 {
			t.Fatalf("label %d is %d, want %d", i, l, i%10)
		}
	}
	if a.Name != "shapes" || a.Source != "shapes:7" || !slices.Equal(a.Classes, ShapesClasses) || a.Train.C != 3 || a.Train.H != 32 || a.Train.W != 32 {
		t.Fatalf("%s %s %q %dx%dx%d", a.Name, a.Source, a.Classes, a.Train.C, a.Train.H, a.Train.W)
	}
	// Integer rendering: the same bytes on every machine. This pins the drawing; a deliberate
	// change to it must update the digest (and say so, since it changes every shapes result).
	sum := sha256.Sum256(Shapes(1, 100, 0).Train.Pixels)
	if got := hex.EncodeToString(sum[:]); got != shapesDigest {
		t.Fatalf("shapes:1 first 100 images have SHA-256 %s, want %s", got, shapesDigest)
	}
}

const shapesDigest = "addf6dc261ebced24788866f8781cc4252d37bfbcb0c118bdef6029138c53ba3"

// TestShapesMasks checks the ten shapes' geometry at a large size without rotation: each is
// distinct from the others and covers the area its formula says.
func TestShapesMasks(t *testing.T) {
	const n = 201 // grid over [-1.2, 1.2]^2 of the half-size
	rs, th := int64(1000), int64(300)
	wantArea := []float64{ // in units of rs^2
		math.Pi, 1.7 * 1.7, 1.6 * 1.9 / 2, 4*0.3 - 0.09, math.Pi * (1 - 0.7*0.7),
		2 * 0.3, 2 * 0.3, 2, 1.8 * 1.8 * 5 / 9, 2*(2*0.3) - 0.09,
	}
	masks := make([][]bool, 10)
	for label := range 10 {
		count := 0
		for j := range n {
			for i := range n {
				u := int64((float64(i)/(n-1)*2.4 - 1.2) * float64(rs))
				v := int64((float64(j)/(n-1)*2.4 - 1.2) * float64(rs))
				in := inside(label, u, v, rs, th)
				masks[label] = append(masks[label], in)
				if in {
					count++
				}
			}
		}
		area := float64(count) * (2.4 / (n - 1)) * (2.4 / (n - 1))
		if math.Abs(area-wantArea[label]) > 0.06*wantArea[label]+0.03 {
			t.Errorf("%s: area %.3f rs^2, want %.3f", ShapesClasses[label], area, wantArea[label])
		}
		for other := range label {
			diff := 0
			for k := range masks[label] {
				if masks[label][k] != masks[other][k] {
					diff++
				}
			}
			if diff < n*n/50 {
				t.Errorf("%s and %s differ in only %d of %d points", ShapesClasses[label], ShapesClasses[other], diff, n*n)
			}
		}
	}
}

// TestShapesStatistics checks that the images use the pixel range (varied colours and
// backgrounds, not a constant) and that generating the default set is fast.
func TestShapesStatistics(t *testing.T) {
	start := time.Now()
	d := Shapes(DefaultShapesSeed, DefaultShapesTrain, DefaultShapesTest)
	t.Logf("drew %d + %d images in %v", d.Train.N, d.Test.N, time.Since(start))
	mean, std := d.Train.ChannelStats()
	for c := range 3 {
		if mean[c] < 100 || mean[c] > 155 || std[c] < 50 {
			t.Fatalf("channel %d: mean %.1f std %.1f, want a mean near 128 and a wide spread", c, mean[c], std[c])
		}
	}
	h := d.Test.Histogram(10)
	for c, k := range h {
		if k != DefaultShapesTest/10 {
			t.Fatalf("class %d has %d test images, want %d", c, k, DefaultShapesTest/10)
		}
	}
}
