package report

import (
	"fmt"
	"maps"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"

	"rout/rng"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) != math.IsNaN(want) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.10g, want %.10g (tolerance %g)", what, got, want, tol)
	}
}

func TestQuantileMatchesRType7(t *testing.T) {
	// R: quantile(1:10) -> 1.00 3.25 5.50 7.75 10.00; quantile(c(1, 2, 3, 4)) -> 1 1.75 2.5 3.25 4.
	ten := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, c := range []struct{ p, want float64 }{{0, 1}, {0.25, 3.25}, {0.5, 5.5}, {0.75, 7.75}, {1, 10}} {
		near(t, "quantile(1:10)", Quantile(ten, c.p), c.want, 1e-12)
	}
	four := []float64{1, 2, 3, 4}
	for _, c := range []struct{ p, want float64 }{{0.25, 1.75}, {0.5, 2.5}, {0.75, 3.25}} {
		near(t, "quantile(1:4)", Quantile(four, c.p), c.want, 1e-12)
	}
	if !math.IsNaN(Quantile(nil, 0.5)) {
		t.Error("quantile of an empty sample is not NaN")
	}
}

func TestDescribe(t *testing.T) {
	// Hand-computed: mean 40/8 = 5, sum of squares 32, sample sd sqrt(32/7); quartiles by
	// definition 7 at h = 1.75 and 5.25 of the sorted values.
	x := []float64{9, 4, 2, 4, 5, 4, 7, 5}
	s := Describe(x)
	near(t, "mean", s.Mean, 5, 1e-12)
	near(t, "sd", s.SD, math.Sqrt(32.0/7), 1e-12)
	near(t, "median", s.Median, 4.5, 1e-12)
	near(t, "Q1", s.Q1, 4, 1e-12)
	near(t, "Q3", s.Q3, 5.5, 1e-12)
	near(t, "IQR", s.IQR, 1.5, 1e-12)
	if s.N != 8 {
		t.Errorf("n = %d; want 8", s.N)
	}
	if x[0] != 9 {
		t.Error("Describe reordered its input")
	}
	one := Describe([]float64{0.7})
	if one.Median != 0.7 || one.Mean != 0.7 || !math.IsNaN(one.SD) {
		t.Errorf("one value: %+v, want median = mean = 0.7, SD NaN", one)
	}
	if empty := Describe(nil); empty.N != 0 || !math.IsNaN(empty.Median) {
		t.Errorf("empty sample: %+v", empty)
	}
}

func TestWilsonNewcombe1998(t *testing.T) {
	// Newcombe (1998), Statist. Med. 17:857-872, Table I, method 3 (score interval without
	// continuity correction), to the four decimals printed there.
	for _, c := range []struct {
		k, n   int
		lo, hi float64
	}{
		{81, 263, 0.2553, 0.3662},
		{15, 148, 0.0624, 0.1605},
		{0, 20, 0, 0.1611},
		{1, 29, 0.0061, 0.1718},
	} {
		iv := Wilson(c.k, c.n)
		near(t, "Wilson lo", iv.Lo, c.lo, 5e-5)
		near(t, "Wilson hi", iv.Hi, c.hi, 5e-5)
	}
	// All failures: the mirror image of 0/20.
	iv := Wilson(20, 20)
	near(t, "Wilson(20,20) lo", iv.Lo, 1-0.16112515805281938, 1e-12)
	near(t, "Wilson(20,20) hi", iv.Hi, 1, 0)
	if iv := Wilson(0, 0); !math.IsNaN(iv.Lo) {
		t.Errorf("Wilson(0, 0) = %+v, want NaN", iv)
	}
}

func TestSignedRankExactRExample(t *testing.T) {
	// R's ?wilcox.test, Hollander & Wolfe (1973) p. 29 depression scores:
	// wilcox.test(x, y, paired = TRUE, alternative = "greater") gives V = 40, p-value = 0.01953.
	// Two-sided: 2 * 10/512 = 0.0390625 (the 10 subsets of 1..9 with sum <= 5).
	x := []float64{1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30}
	y := []float64{0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29}
	d := make([]float64, len(x))
	for i := range x {
		d[i] = x[i] - y[i]
	}
	r, err := SignedRank(d)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Exact || r.N != 9 || r.Statistic != 40 {
		t.Errorf("got %+v, want exact, n 9, V 40", r)
	}
	near(t, "p", r.P, 20.0/512, 1e-12)
	near(t, "one-sided p (R prints 0.01953)", r.P/2, 0.01953, 5e-6)

	// Hand-computed, n = 4: V = 8 of a maximum 10; P(V >= 8) = P(V <= 2) = 3/16; two-sided 3/8.
	r, err = SignedRank([]float64{0.0999, 0.5905, -0.524, 0.6102})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "V", r.Statistic, 8, 0)
	near(t, "p", r.P, 0.375, 1e-12)
	// Mirror image: the same p-value.
	r, _ = SignedRank([]float64{-0.0999, -0.5905, 0.524, -0.6102})
	near(t, "V mirrored", r.Statistic, 2, 0)
	near(t, "p mirrored", r.P, 0.375, 1e-12)
}

func TestSignedRankExactWithTiesAndZero(t *testing.T) {
	// The zero is dropped (Wilcoxon's convention), n = 7; |d| = 1 1 2 2 3 4 5 get ranks 1.5 1.5
	// 3.5 3.5 5 6 7; V = 26.5 of 28. Of the 2^7 sign patterns, 3 give V >= 26.5 (all positive,
	// or one rank-1.5 difference negative): p = 2 * 3/128.
	r, err := SignedRank([]float64{1, 2, 2, 3, -1, 4, 0, 5})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Exact || r.N != 7 || r.Statistic != 26.5 {
		t.Errorf("got %+v, want exact, n 7, V 26.5", r)
	}
	near(t, "p", r.P, 6.0/128, 1e-12)

	// Five tied differences of one sign: the rarest pattern there is, p = 2/32. (R's normal
	// approximation gives 0.0369.)
	r, _ = SignedRank([]float64{0.1, 0.1, 0.1, 0.1, 0.1})
	near(t, "p of five tied positive differences", r.P, 2.0/32, 1e-12)

	if _, err := SignedRank([]float64{0, 0}); err == nil {
		t.Error("all-zero differences: no error")
	}
}

func TestSignedRankNormal(t *testing.T) {
	// Hand-computed for the case above: E V = 14; Var V = 7*8*15/24 - (6+6)/48 = 34.75;
	// z = (12.5 - 0.5)/sqrt(34.75) = 2.0356534; p = 2(1 - Phi(z)) = 0.04178517, as R's
	// wilcox.test gives (with its warnings about ties and zeros).
	near(t, "p", signedRankNormal(26.5, 7, []int{2, 2}), 0.0417851684039221, 1e-9)
	// At n = 60 SignedRank takes this path.
	d := make([]float64, 60)
	for i := range d {
		d[i] = float64(i%7 - 2)
	}
	r, err := SignedRank(d)
	if err != nil {
		t.Fatal(err)
	}
	nz := d[:0:0]
	for _, v := range d {
		if v != 0 {
			nz = append(nz, math.Abs(v))
		}
	}
	_, ties := midranks(nz)
	if r.Exact || r.N != len(nz) {
		t.Errorf("n = 60: got %+v, want the normal approximation over %d differences", r, len(nz))
	}
	near(t, "p at n = 60", r.P, signedRankNormal(r.Statistic, len(nz), ties), 0)
}

// TestRankTestsMatchEnumeration checks the exact p-values, ties included, against a direct
// enumeration of every sign pattern (signed rank) and every split of the ranks (rank sum).
func TestRankTestsMatchEnumeration(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 0))
	// The probability of a statistic at least as far from the centre as the observed one.
	tail := func(stats []float64, obs, centre float64) float64 {
		var k int
		for _, s := range stats {
			if math.Abs(s-centre) >= math.Abs(obs-centre)-1e-9 {
				k++
			}
		}
		return float64(k) / float64(len(stats))
	}
	draw := func(n int) []float64 { // few distinct values, so ties are common
		v := make([]float64, n)
		for i := range v {
			v[i] = float64(r.IntN(7) - 3)
		}
		return v
	}
	for trial := 0; trial < 200; trial++ {
		d := draw(1 + r.IntN(12))
		got, err := SignedRank(d)
		if err != nil {
			continue // all zero
		}
		var nz []float64
		for _, v := range d {
			if v != 0 {
				nz = append(nz, v)
			}
		}
		abs := make([]float64, len(nz))
		for i, v := range nz {
			abs[i] = math.Abs(v)
		}
		ranks, _ := midranks(abs)
		var stats []float64
		for mask := 0; mask < 1<<len(nz); mask++ {
			var v float64
			for i := range nz {
				if mask&(1<<i) != 0 {
					v += ranks[i]
				}
			}
			stats = append(stats, v)
		}
		n := float64(len(nz))
		near(t, fmt.Sprintf("signed-rank p of %v", d), got.P, tail(stats, got.Statistic, n*(n+1)/4), 1e-12)

		x, y := draw(1+r.IntN(6)), draw(1+r.IntN(6)) // unequal sizes with ties: not symmetric
		got, _ = MannWhitney(x, y)
		all := append(slices.Clone(x), y...)
		ranks, _ = midranks(all)
		stats = stats[:0]
		for mask := 0; mask < 1<<len(all); mask++ {
			if bits.OnesCount(uint(mask)) != len(x) {
				continue
			}
			var w float64
			for i := range all {
				if mask&(1<<i) != 0 {
					w += ranks[i]
				}
			}
			stats = append(stats, w-float64(len(x)*(len(x)+1))/2)
		}
		near(t, fmt.Sprintf("rank-sum p of %v against %v", x, y), got.P, tail(stats, got.Statistic, float64(len(x)*len(y))/2), 1e-12)
	}
}

func TestMannWhitneyExactRExample(t *testing.T) {
	// R's ?wilcox.test, Hollander & Wolfe (1973) p. 69: wilcox.test(x, y, alternative = "g")
	// gives W = 35, p-value = 0.1272. Two-sided (by enumerating all C(15, 5) rank sets):
	// 2 * 381/3003 = 0.2544122544.
	x := []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46}
	y := []float64{1.15, 0.88, 0.90, 0.74, 1.21}
	r, err := MannWhitney(x, y)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Exact || r.Statistic != 35 {
		t.Errorf("got %+v, want exact, W 35", r)
	}
	near(t, "p", r.P, 0.2544122544122544, 1e-12)
	near(t, "one-sided p (R prints 0.1272)", r.P/2, 0.1272, 5e-5)
	// Swapping the samples gives W' = 50 - 35 and the same p-value.
	r, _ = MannWhitney(y, x)
	near(t, "W swapped", r.Statistic, 15, 0)
	near(t, "p swapped", r.P, 0.2544122544122544, 1e-12)
}

func TestMannWhitneyWithTies(t *testing.T) {
	// x = 1 2 2 3, y = 2 3 4 4 5: W = 0 + 0.5 + 0.5 + 1.5 = 2.5 of 20, 7.5 below its mean 10. Of
	// the C(9, 4) = 126 splits of the mid-ranks, 11 are as far from the mean (7 below, 4 above:
	// with ties and unequal samples the distribution is not symmetric): p = 11/126.
	r, err := MannWhitney([]float64{1, 2, 2, 3}, []float64{2, 3, 4, 4, 5})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Exact || r.Statistic != 2.5 {
		t.Errorf("got %+v, want exact, W 2.5", r)
	}
	near(t, "p", r.P, 11.0/126, 1e-12)
	// A statistic at its mean is no evidence at all: p = 1 (twice a tail gave 0.857 here).
	if r, _ := MannWhitney([]float64{3, 0}, []float64{2, 1, 2, 2, 2, 2}); r.Statistic != 6 || r.P != 1 {
		t.Errorf("W at its mean: %+v, want W 6, p 1", r)
	}
	// Hand-computed normal approximation of the same (R's wilcox.test): E W = 10; tie groups of
	// 3, 2, 2 give sum(t^3 - t) = 36; Var W = 20/12 * (10 - 36/72) = 15.8333;
	// z = (-7.5 + 0.5)/sqrt(15.8333) = -1.7591864; p = 2 Phi(z) = 0.07854585.
	near(t, "normal p", mannWhitneyNormal(2.5, 4, 5, []int{3, 2, 2}), 0.0785458509511907, 1e-9)
	if _, err := MannWhitney(nil, []float64{1}); err == nil {
		t.Error("empty sample: no error")
	}
}

func TestFisherExactRExamples(t *testing.T) {
	// R's ?fisher.test. TeaTasting [[3 1] [1 3]]: the tables' probabilities are 1, 16, 36, 16, 1
	// over 70, so the two-sided p is 34/70 = 0.4857 (R prints p-value = 0.4857).
	p, err := FisherExact(3, 1, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "tea tasting", p, 34.0/70, 1e-12)
	// Convictions [[2 10] [15 3]] (R's matrix(c(2, 10, 15, 3), nrow = 2) is column-major):
	// two-sided p = 0.0005367241 (summed exactly with rational arithmetic; R prints
	// p-value = 0.0005367), one-sided "less" 0.0004652 in R's documentation.
	p, err = FisherExact(2, 15, 10, 3)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "convictions", p, 0.0005367241191434358, 1e-12)
	// Identical rows: p = 1.
	p, _ = FisherExact(2, 2, 2, 2)
	near(t, "identical rows", p, 1, 1e-12)
	if _, err := FisherExact(0, 0, 0, 0); err == nil {
		t.Error("empty table: no error")
	}
}

func TestBootstrapMedianDiff(t *testing.T) {
	key := rng.KeyFromSeed(7)
	x := []float64{0.61, 0.58, 0.10, 0.64, 0.60}
	y := []float64{0.70, 0.69, 0.71, 0.10, 0.68}
	est, ci, err := BootstrapMedianDiff(x, y, 10000, rng.NewStream(key, 0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	near(t, "estimate", est, 0.60-0.69, 1e-12)
	if !(ci.Lo <= est && est <= ci.Hi) {
		t.Errorf("interval %+v does not hold the estimate %g", ci, est)
	}
	// Reproducible: the same stream gives the same interval.
	_, ci2, _ := BootstrapMedianDiff(x, y, 10000, rng.NewStream(key, 0, 0, 0))
	if ci != ci2 {
		t.Errorf("same stream, different intervals: %+v and %+v", ci, ci2)
	}

	// Against the exact bootstrap distribution: all 5^5 equally likely index tuples. At every
	// atom of that distribution, the Monte Carlo CDF from 20,000 resamples must be within five
	// binomial standard errors of the exact CDF; resampling x and y separately (unpaired), or a
	// biased index draw, moves it by far more.
	exact := map[float64]float64{}
	idx := make([]int, 5)
	bx, by := make([]float64, 5), make([]float64, 5)
	for code := range 3125 {
		c := code
		for i := range idx {
			idx[i] = c % 5
			c /= 5
		}
		for i, j := range idx {
			bx[i], by[i] = x[j], y[j]
		}
		slices.Sort(bx)
		slices.Sort(by)
		exact[bx[2]-by[2]] += 1.0 / 3125
	}
	const draws = 20000
	mc := bootstrapMedianDiffs(x, y, draws, rng.NewStream(key, 0, 0, 2))
	atoms := slices.Sorted(maps.Keys(exact))
	var cdf float64
	for _, a := range atoms {
		cdf += exact[a]
		var below float64
		for _, v := range mc {
			if v <= a {
				below++
			}
		}
		se := math.Sqrt(cdf * (1 - cdf) / draws)
		if got := below / draws; math.Abs(got-cdf) > 5*se+1e-9 {
			t.Errorf("P(diff <= %.2f): bootstrap %.4f, exact %.4f (5 se = %.4f)", a, got, cdf, 5*se)
		}
	}

	// A constant paired shift has a degenerate interval at the shift.
	shifted := make([]float64, len(x))
	for i := range x {
		shifted[i] = x[i] + 0.25
	}
	est, ci, _ = BootstrapMedianDiff(shifted, x, 1000, rng.NewStream(key, 0, 0, 1))
	near(t, "shift estimate", est, 0.25, 1e-12)
	near(t, "shift lo", ci.Lo, 0.25, 1e-12)
	near(t, "shift hi", ci.Hi, 0.25, 1e-12)

	if _, _, err := BootstrapMedianDiff(x, y[:3], 10, rng.NewStream(key, 0, 0, 0)); err == nil {
		t.Error("unpaired lengths: no error")
	}
	if _, _, err := BootstrapMedianDiff(nil, nil, 10, rng.NewStream(key, 0, 0, 0)); err == nil {
		t.Error("no pairs: no error")
	}
}
