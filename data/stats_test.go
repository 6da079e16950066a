package data

import (
	"math"
	"slices"
	"testing"

	"rout/rng"
)

// randomSplit is n images of c x h x w with pseudo-random pixels and labels.
func randomSplit(n, c, h, w int) Split {
	st := rng.NewStream(rng.KeyFromSeed(99), 0, 0, 0)
	s := Split{N: n, C: c, H: h, W: w, Pixels: make([]uint8, n*c*h*w), Labels: make([]int32, n)}
	for i := range s.Pixels {
		s.Pixels[i] = uint8(st.Uint32())
	}
	for i := range s.Labels {
		s.Labels[i] = int32(st.Intn(10))
	}
	return s
}

func TestMeanImage(t *testing.T) {
	s := randomSplit(37, 3, 7, 6)
	for _, crop := range [][2]int{{7, 6}, {5, 4}, {4, 3}, {1, 1}} {
		ch, cw := crop[0], crop[1]
		got := s.MeanImage(ch, cw)
		if len(got) != 3*ch*cw {
			t.Fatalf("crop %v: %d values, want %d", crop, len(got), 3*ch*cw)
		}
		oy, ox := (7-ch)/2, (6-cw)/2
		for c := range 3 {
			for y := range ch {
				for x := range cw {
					var sum float64
					for i := range 37 {
						sum += float64(s.Pixels[((i*3+c)*7+oy+y)*6+ox+x])
					}
					want := sum / 37
					if g := float64(got[(c*ch+y)*cw+x]); math.Abs(g-want) > 1e-5*want+1e-6 {
						t.Fatalf("crop %v: mean[%d,%d,%d] = %v, want %v", crop, c, y, x, g, want)
					}
				}
			}
		}
	}
	if err := s.CheckCrop(8, 6); err == nil {
		t.Fatal("an 8x6 crop of 7x6 images passed CheckCrop")
	}
	if err := s.CheckCrop(0, 1); err == nil {
		t.Fatal("a 0x1 crop passed CheckCrop")
	}
}

func TestChannelStats(t *testing.T) {
	s := randomSplit(23, 3, 5, 4)
	for i := range s.Pixels[:len(s.Pixels)/2] {
		s.Pixels[i] /= 3 // make the channels differ
	}
	mean, std := s.ChannelStats()
	for c := range 3 {
		var vals []float64
		for i := range 23 {
			for _, p := range s.Image(i)[c*20 : (c+1)*20] {
				vals = append(vals, float64(p))
			}
		}
		var m, v float64
		for _, x := range vals {
			m += x
		}
		m /= float64(len(vals))
		for _, x := range vals {
			v += (x - m) * (x - m)
		}
		sd := math.Sqrt(v / float64(len(vals)))
		if math.Abs(mean[c]-m) > 1e-9 || math.Abs(std[c]-sd) > 1e-9 {
			t.Fatalf("channel %d: mean %v std %v, want %v %v", c, mean[c], std[c], m, sd)
		}
	}
}

func TestSubsetAndValidation(t *testing.T) {
	s := randomSplit(50, 2, 3, 3)
	sub := s.Subset([]int{4, 0, 4})
	if sub.N != 3 || sub.Labels[0] != s.Labels[4] || sub.Labels[1] != s.Labels[0] ||
		!slices.Equal(sub.Image(0), s.Image(4)) || !slices.Equal(sub.Image(1), s.Image(0)) || !slices.Equal(sub.Image(2), s.Image(4)) {
		t.Fatal("Subset did not copy the examples in the order given")
	}
	d := &Dataset{Name: "t", Train: s}
	train, val, err := d.CarveValidation(0.2, 5)
	if err != nil {
		t.Fatal(err)
	}
	if val.N != 10 || train.N != 40 {
		t.Fatalf("%d validation and %d training examples, want 10 and 40", val.N, train.N)
	}
	// Recover which examples went where (the images are distinct): a partition, each part in
	// the original order, and the validation part drawn by the StreamSplit permutation.
	index := func(img []uint8) int {
		for i := range 50 {
			if slices.Equal(s.Image(i), img) {
				return i
			}
		}
		t.Fatal("an image that is not in the training split")
		return -1
	}
	var seen []int
	var valIdx []int
	for _, part := range []Split{train, val} {
		prev := -1
		for k := range part.N {
			i := index(part.Image(k))
			if i <= prev || part.Labels[k] != s.Labels[i] {
				t.Fatalf("part out of order or mislabelled at %d", k)
			}
			prev = i
			seen = append(seen, i)
			if part.N == val.N {
				valIdx = append(valIdx, i)
			}
		}
	}
	slices.Sort(seen)
	for i, v := range seen {
		if v != i {
			t.Fatalf("training and validation do not partition the split: %v", seen)
		}
	}
	want := rng.NewStream(rng.KeyFromSeed(5), rng.StreamSplit, 0, 0).Perm(50)[:10]
	slices.Sort(want)
	if !slices.Equal(valIdx, want) {
		t.Fatalf("validation examples %v, want %v", valIdx, want)
	}
	train2, val2, _ := d.CarveValidation(0.2, 5)
	_, val3, _ := d.CarveValidation(0.2, 6)
	if !slices.Equal(train2.Pixels, train.Pixels) || !slices.Equal(val2.Pixels, val.Pixels) {
		t.Fatal("the same seed carved a different validation split")
	}
	if slices.Equal(val3.Pixels, val.Pixels) {
		t.Fatal("another seed carved the same validation split")
	}
	for _, f := range []float64{0, 1, -0.1, 1.5, math.NaN(), 0.001, 0.999} {
		if _, _, err := d.CarveValidation(f, 1); err == nil {
			t.Fatalf("fraction %v of 50 examples accepted", f)
		}
	}
}

func TestEpochOrder(t *testing.T) {
	a := EpochOrder(1000, 42, 3)
	want := rng.NewStream(rng.KeyFromSeed(42), rng.StreamShuffle, 3, 0).Perm(1000)
	for i := range a {
		if int(a[i]) != want[i] {
			t.Fatalf("position %d: %d, want %d", i, a[i], want[i])
		}
	}
	sorted := slices.Clone(a)
	slices.Sort(sorted)
	for i, v := range sorted {
		if int(v) != i {
			t.Fatal("not a permutation")
		}
	}
	if slices.Equal(a, EpochOrder(1000, 42, 4)) || slices.Equal(a, EpochOrder(1000, 43, 3)) {
		t.Fatal("the order does not change with the epoch or the data seed")
	}
	if !slices.Equal(a, EpochOrder(1000, 42, 3)) {
		t.Fatal("the same epoch and seed gave another order")
	}
}
