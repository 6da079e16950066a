package cpu

import (
	"math"
	"testing"

	"rout/net"
)

// ceRef is the float64 cross-entropy of each counted example, summed.
func ceRef(n, k int, logits []float64, labels []int) float64 {
	s := 0.0
	for i := 0; i < n; i++ {
		if labels[i] < 0 {
			continue
		}
		z := 0.0
		for _, v := range logits[i*k : (i+1)*k] {
			z += math.Exp(v)
		}
		s += math.Log(z) - logits[i*k+labels[i]]
	}
	return s
}

func TestSoftmaxCrossEntropy(t *testing.T) {
	b := newBackend(t, 2)
	r := newRand(8)
	const n, k = 6, 5
	labs := []int{3, -1, 0, 4, 4, 2}
	for _, sliced := range []bool{false, true} {
		for _, red := range []net.Reduction{net.ReduceSum, net.ReduceMean} {
			logits := randTensor(t, b, r, n, k, 1, 1, sliced)
			// Large logits: the log-sum-exp must not overflow.
			l64 := scaled(get64(b, logits), 40)
			put64(b, logits, l64)
			l64 = get64(b, logits)
			labels, _ := b.Alloc(n, 1, 1, 1)
			lf := make([]float32, n)
			for i, l := range labs {
				lf[i] = float32(l)
			}
			b.Upload(labels, lf)
			stats, _ := b.Alloc(1, 3, 1, 1)
			b.Upload(stats, []float32{1, 2, 3})
			dl := randTensor(t, b, r, n, k, 1, 1, sliced)
			before := raw(b, dl)
			b.SoftmaxCrossEntropy(logits, labels, dl, stats, red)
			checkOutside(t, "dlogits", before, raw(b, dl), dl)

			correct := 0
			for i, l := range labs {
				if l < 0 {
					continue
				}
				best := 0
				for c := 1; c < k; c++ {
					if l64[i*k+c] > l64[i*k+best] {
						best = c
					}
				}
				if best == l {
					correct++
				}
			}
			near(t, "stats", get64(b, stats), []float64{1 + ceRef(n, k, l64, labs), 2 + float64(correct), 3 + 5}, 1e-6)
			g := numGrad(l64, 1e-5, func(v []float64) float64 { return ceRef(n, k, v, labs) })
			if red == net.ReduceMean {
				g = scaled(g, 1.0/5)
			}
			near(t, "dlogits", get64(b, dl), g, 1e-5)
		}
	}
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestSoftmaxCorrectTies(t *testing.T) {
	b := newBackend(t, 1)
	logits, _ := b.Alloc(4, 3, 1, 1)
	b.Upload(logits, []float32{
		1, 2, 2, // label 1 ties with 2: correct (the lowest index wins)
		1, 2, 2, // label 2 ties with 1: wrong
		5, 0, 0, // label 0 largest: correct
		0, 5, 0, // label 2: wrong
	})
	labels, _ := b.Alloc(4, 1, 1, 1)
	b.Upload(labels, []float32{1, 2, 0, 2})
	stats, _ := b.Alloc(1, 3, 1, 1)
	b.SoftmaxCrossEntropy(logits, labels, nil, stats, net.ReduceSum)
	got := make([]float32, 3)
	b.Download(stats, got)
	if got[1] != 2 || got[2] != 4 {
		t.Fatalf("stats %v: want 2 correct of 4", got)
	}
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	// A label outside the classes is a data error, reported by Err; the example is ignored.
	b.Upload(labels, []float32{1, 3, 0, 2})
	b.Fill(stats, 0)
	b.SoftmaxCrossEntropy(logits, labels, nil, stats, net.ReduceSum)
	b.Download(stats, got)
	if got[2] != 3 || b.Err() == nil {
		t.Fatalf("label 3 of 3 classes: counted %v, Err %v; want 3 counted and an error", got[2], b.Err())
	}
}

// TestSoftmaxLarge checks the log-sum-exp with logits whose exponentials overflow float64.
func TestSoftmaxLarge(t *testing.T) {
	b := newBackend(t, 1)
	logits, _ := b.Alloc(2, 3, 1, 1)
	b.Upload(logits, []float32{1000, 0, -1000, 0, 1000, 999})
	labels, _ := b.Alloc(2, 1, 1, 1)
	b.Upload(labels, []float32{0, 0})
	stats, _ := b.Alloc(1, 3, 1, 1)
	dl, _ := b.Alloc(2, 3, 1, 1)
	b.SoftmaxCrossEntropy(logits, labels, dl, stats, net.ReduceMean)
	// Example 1's loss is log(e^0 + e^1000 + e^999) = 1000 + log(1 + e^-1 + e^-1000).
	want := 1000 + math.Log(1+math.Exp(-1))
	near(t, "stats", get64(b, stats), []float64{want, 1, 2}, 1e-6)
	p1, p2 := 1/(1+math.Exp(-1)), math.Exp(-1)/(1+math.Exp(-1))
	near(t, "dlogits", get64(b, dl), []float64{0, 0, 0, -0.5, p1 / 2, p2 / 2}, 1e-6)
}
