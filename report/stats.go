package report

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"rout/rng"
)

// z975 is the 0.975 quantile of the standard normal distribution, the z of a two-sided 95% interval.
const z975 = 1.959963984540054

// Interval is a closed interval [Lo, Hi]; NaN bounds mean "not computable" (too few observations).
type Interval struct{ Lo, Hi float64 }

// Spread summarises a sample: its size, centre and spread. Median and quartiles use
// Quantile (Hyndman & Fan definition 7); Mean and SD come from gonum's stat.MeanStdDev (SD with
// the n-1 denominator). Statistics a sample is too small for are NaN (SD needs two values).
type Spread struct {
	N                int
	Median, Mean, SD float64
	Q1, Q3, IQR      float64
}

// Describe returns the Spread of x. x is not modified.
func Describe(x []float64) Spread {
	s := Spread{N: len(x)}
	if len(x) == 0 {
		nan := math.NaN()
		s.Median, s.Mean, s.SD, s.Q1, s.Q3, s.IQR = nan, nan, nan, nan, nan, nan
		return s
	}
	sorted := slices.Clone(x)
	slices.Sort(sorted)
	s.Median = Quantile(sorted, 0.5)
	s.Q1 = Quantile(sorted, 0.25)
	s.Q3 = Quantile(sorted, 0.75)
	s.IQR = s.Q3 - s.Q1
	if len(x) >= 2 {
		s.Mean, s.SD = stat.MeanStdDev(x, nil)
	} else {
		s.Mean, s.SD = x[0], math.NaN()
	}
	return s
}

// Quantile returns the p-quantile of sorted (ascending, non-empty) by Hyndman & Fan's definition 7,
// the default of R's quantile() and NumPy's percentile: linear interpolation between order
// statistics at h = (n-1)p. Its median is the usual middle value (mean of the two middle values for
// even n). gonum's stat.Quantile offers only definitions 1 and 4, whose 0.5-quantile of an
// even-sized sample is not the usual median, so rout uses this one for medians, quartiles and
// bootstrap percentiles alike.
func Quantile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 || !(p >= 0 && p <= 1) {
		return math.NaN()
	}
	h := float64(n-1) * p
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return sorted[n-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// Wilson returns the Wilson score 95% interval for a proportion of k successes in n trials
// (Wilson 1927; Newcombe 1998, method 3). Unlike the normal (Wald) interval it stays inside
// [0, 1] and is sensible at k = 0 and k = n, which a failure count over a few seeds often is.
func Wilson(k, n int) Interval {
	if n <= 0 || k < 0 || k > n {
		return Interval{math.NaN(), math.NaN()}
	}
	nf := float64(n)
	p := float64(k) / nf
	z2 := z975 * z975
	den := 1 + z2/nf
	centre := (p + z2/(2*nf)) / den
	half := z975 / den * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return Interval{math.Max(0, centre-half), math.Min(1, centre+half)}
}

// Test is the outcome of a two-sided hypothesis test.
type Test struct {
	Statistic float64 // V for the signed-rank test (sum of positive ranks), W = U of the first sample for Mann-Whitney
	P         float64 // two-sided p-value
	N         int     // observations used (pairs with a nonzero difference, or n1+n2)
	Exact     bool    // exact null distribution rather than the normal approximation
}

// ErrTooFew is returned by a test given too few observations to say anything.
var ErrTooFew = errors.New("too few observations")

// exactBelow is the sample size below which the rank tests count their null distribution
// exactly (R's wilcox.test uses the same limit, but only where there are no ties).
const exactBelow = 50

// SignedRank is the two-sided Wilcoxon signed-rank test of the paired differences d against a
// median of zero. As R's wilcox.test(paired = TRUE), zero differences are dropped before ranking
// (Wilcoxon's convention, not Pratt's) and the statistic V is the sum of the ranks of the positive
// differences, tied |d| sharing their mean rank. For n < 50 the p-value is exact: V's null
// distribution counted over all 2^n sign patterns of the observed ranks, ties and all. (R instead
// falls back to the normal approximation whenever ties or zeros occur, which at the few seeds
// of a sweep can give p below 0.05 where no sign pattern is that rare: five tied differences of
// one sign give R's 0.037 against the exact 2/32.) From 50 on, the normal approximation with the
// tie-corrected variance and a continuity correction of 1/2, as R. Equality of floating-point
// values is exact, so callers should round differences to their resolution first.
func SignedRank(d []float64) (Test, error) {
	var nz []float64
	for _, v := range d {
		if math.IsNaN(v) {
			return Test{}, fmt.Errorf("signed-rank: difference is NaN")
		}
		if v != 0 {
			nz = append(nz, v)
		}
	}
	n := len(nz)
	if n == 0 {
		return Test{}, fmt.Errorf("signed-rank: all %d differences are zero: %w", len(d), ErrTooFew)
	}
	abs := make([]float64, n)
	for i, v := range nz {
		abs[i] = math.Abs(v)
	}
	ranks, tieSizes := midranks(abs)
	var v float64
	for i, x := range nz {
		if x > 0 {
			v += ranks[i]
		}
	}
	t := Test{Statistic: v, N: n}
	if n < exactBelow {
		// Doubled, the mid-ranks are whole numbers; the doubled ranks sum to n(n+1).
		t.Exact = true
		t.P = exactTwoSided(subsetSumCounts(doubled(ranks), n), 2*v, float64(n*(n+1))/2)
		return t, nil
	}
	t.P = signedRankNormal(v, n, tieSizes)
	return t, nil
}

// signedRankNormal is the signed-rank test's p-value from the normal approximation: V has mean
// n(n+1)/4 and variance n(n+1)(2n+1)/24 less sum(t^3 - t)/48 over the groups of tied |d|.
func signedRankNormal(v float64, n int, tieSizes []int) float64 {
	nf := float64(n)
	variance := nf*(nf+1)*(2*nf+1)/24 - tieSum(tieSizes)/48
	return normalTwoSided(v-nf*(nf+1)/4, variance)
}

// MannWhitney is the two-sided Mann-Whitney U (Wilcoxon rank-sum) test of x against y, as R's
// wilcox.test(x, y): W counts the pairs (x_i, y_j) with x_i > y_j, ties counting 1/2. When both
// samples are smaller than 50 the p-value is exact: W's null distribution counted over all ways
// to split the observed (mid-)ranks between the samples, so ties are conditioned on, not
// approximated (R approximates whenever there are ties; see SignedRank). Otherwise it is the
// normal approximation with the tie-corrected variance and a continuity correction of 1/2, as R.
func MannWhitney(x, y []float64) (Test, error) {
	nx, ny := len(x), len(y)
	if nx == 0 || ny == 0 {
		return Test{}, fmt.Errorf("mann-whitney: samples of %d and %d: %w", nx, ny, ErrTooFew)
	}
	all := append(slices.Clone(x), y...)
	for _, v := range all {
		if math.IsNaN(v) {
			return Test{}, fmt.Errorf("mann-whitney: value is NaN")
		}
	}
	ranks, tieSizes := midranks(all)
	var rx float64
	for i := range nx {
		rx += ranks[i]
	}
	w := rx - float64(nx*(nx+1))/2
	t := Test{Statistic: w, N: nx + ny}
	if nx < exactBelow && ny < exactBelow {
		// The distribution of the smaller sample's doubled rank sum, centred on k(n+1); the
		// two-sided p-value is the same from either sample's side.
		k, sum := nx, 2*rx
		if ny < nx {
			k, sum = ny, float64((nx+ny)*(nx+ny+1))-2*rx
		}
		t.Exact = true
		t.P = exactTwoSided(subsetSumCounts(doubled(ranks), k), sum, float64(k*(nx+ny+1)))
		return t, nil
	}
	t.P = mannWhitneyNormal(w, nx, ny, tieSizes)
	return t, nil
}

// mannWhitneyNormal is the rank-sum test's p-value from the normal approximation: W has mean
// nx ny/2 and variance nx ny/12 ((n+1) - sum(t^3 - t)/(n(n-1))) over the groups of tied values.
func mannWhitneyNormal(w float64, nx, ny int, tieSizes []int) float64 {
	n := float64(nx + ny)
	variance := float64(nx*ny) / 12 * ((n + 1) - tieSum(tieSizes)/(n*(n-1)))
	return normalTwoSided(w-float64(nx*ny)/2, variance)
}

// FisherExact is the two-sided p-value of Fisher's exact test on the 2x2 table [[a, b], [c, d]]
// (rows: arms; columns: failed, trained). Like R's fisher.test it sums the hypergeometric
// probabilities of every table with the observed margins that is no more likely than the
// observed one (with a relative tolerance of 1e-7 for rounding).
func FisherExact(a, b, c, d int) (float64, error) {
	if a < 0 || b < 0 || c < 0 || d < 0 {
		return math.NaN(), fmt.Errorf("fisher: negative count in [[%d %d] [%d %d]]", a, b, c, d)
	}
	row1, col1, n := a+b, a+c, a+b+c+d
	if n == 0 {
		return math.NaN(), fmt.Errorf("fisher: empty table: %w", ErrTooFew)
	}
	logP := func(x int) float64 { // log P(top-left = x) given the margins
		return logChoose(row1, x) + logChoose(n-row1, col1-x) - logChoose(n, col1)
	}
	obs := logP(a)
	var p float64
	for x := max(0, col1-(n-row1)); x <= min(row1, col1); x++ {
		if lp := logP(x); lp <= obs+math.Log1p(1e-7) {
			p += math.Exp(lp)
		}
	}
	return math.Min(1, p), nil
}

// BootstrapMedianDiff returns the difference of medians median(x) - median(y) of paired samples
// and its percentile bootstrap 95% interval: resamples draws of len(x) pairs with replacement
// (pairs stay together, so the seed-to-seed correlation is kept), each giving a difference of
// medians, and the interval is their 2.5% and 97.5% quantiles (definition 7). The draws come from
// s, so a fixed stream gives a reproducible interval.
func BootstrapMedianDiff(x, y []float64, resamples int, s *rng.Stream) (float64, Interval, error) {
	n := len(x)
	if n != len(y) {
		return math.NaN(), Interval{}, fmt.Errorf("bootstrap: %d values paired with %d", n, len(y))
	}
	if n == 0 || resamples < 1 {
		return math.NaN(), Interval{math.NaN(), math.NaN()}, fmt.Errorf("bootstrap: %d pairs, %d resamples: %w", n, resamples, ErrTooFew)
	}
	est := Describe(x).Median - Describe(y).Median
	diffs := bootstrapMedianDiffs(x, y, resamples, s)
	slices.Sort(diffs)
	return est, Interval{Quantile(diffs, 0.025), Quantile(diffs, 0.975)}, nil
}

// bootstrapMedianDiffs returns the difference of medians of each of resamples paired resamples.
func bootstrapMedianDiffs(x, y []float64, resamples int, s *rng.Stream) []float64 {
	n := len(x)
	diffs := make([]float64, resamples)
	bx, by := make([]float64, n), make([]float64, n)
	for r := range diffs {
		for i := range n {
			j := s.Intn(n)
			bx[i], by[i] = x[j], y[j]
		}
		slices.Sort(bx)
		slices.Sort(by)
		diffs[r] = Quantile(bx, 0.5) - Quantile(by, 0.5)
	}
	return diffs
}

// midranks returns the ranks of x (1-based, ties given their mean rank) and the sizes of the
// groups of tied values (only groups of two or more).
func midranks(x []float64) (ranks []float64, tieSizes []int) {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case x[a] < x[b]:
			return -1
		case x[a] > x[b]:
			return 1
		}
		return 0
	})
	ranks = make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i + 1
		for j < len(idx) && x[idx[j]] == x[idx[i]] {
			j++
		}
		r := float64(i+j+1) / 2 // mean of ranks i+1 .. j
		for k := i; k < j; k++ {
			ranks[idx[k]] = r
		}
		if j-i > 1 {
			tieSizes = append(tieSizes, j-i)
		}
		i = j
	}
	return ranks, tieSizes
}

// tieSum is sum(t^3 - t) over the tie groups, the term both tests subtract from their variance.
func tieSum(tieSizes []int) float64 {
	var s float64
	for _, t := range tieSizes {
		tf := float64(t)
		s += tf*tf*tf - tf
	}
	return s
}

// normalTwoSided is the two-sided p-value of a statistic whose centred value is dev, under a normal
// null with the given variance and a continuity correction of 1/2 towards the centre.
func normalTwoSided(dev, variance float64) float64 {
	if variance <= 0 {
		return 1 // every observation tied: no evidence either way
	}
	z := (dev - math.Copysign(0.5, dev)) / math.Sqrt(variance)
	if dev == 0 {
		z = 0
	}
	p := 2 * math.Min(distuv.UnitNormal.CDF(z), distuv.UnitNormal.Survival(z))
	return math.Min(1, p)
}

// exactTwoSided turns counts[k] = number of equally likely outcomes with statistic k into the
// two-sided p-value of the observed statistic: the probability of a statistic at least as far
// from the centre as the observed one. Where the null distribution is symmetric (the
// signed-rank test always; the rank-sum test without ties or with equal samples) this is R's
// twice the smaller tail; the rank-sum distribution of unequal samples with ties is not
// symmetric, and there only this rule gives a statistic at its centre p = 1.
func exactTwoSided(counts []float64, stat, centre float64) float64 {
	var total, far float64
	dev := math.Abs(stat-centre) - 1e-9 // statistics and centre are whole or half numbers
	for k, c := range counts {
		total += c
		if math.Abs(float64(k)-centre) >= dev {
			far += c
		}
	}
	return math.Min(1, far/total)
}

// doubled returns twice each mid-rank, which is a whole number.
func doubled(ranks []float64) []int {
	d := make([]int, len(ranks))
	for i, r := range ranks {
		d[i] = int(math.Round(2 * r))
	}
	return d
}

// subsetSumCounts[s] is the number of k-element subsets of w (non-negative weights, the doubled
// ranks) whose sum is s. With k = len(w) every subset counts: the signed-rank null distribution,
// where each rank is in the sum or not; with k < len(w), the rank-sum null distribution. The
// counts are float64: exact below 2^53 (every subset of 49 ranks), and to rounding beyond.
func subsetSumCounts(w []int, k int) []float64 {
	total := 0
	for _, r := range w {
		total += r
	}
	if k == len(w) {
		c := make([]float64, total+1)
		c[0] = 1
		for _, r := range w {
			for s := total; s >= r; s-- {
				c[s] += c[s-r]
			}
		}
		return c
	}
	// ways[j][s]: j-element subsets of the weights seen so far with sum s.
	ways := make([][]float64, k+1)
	for j := range ways {
		ways[j] = make([]float64, total+1)
	}
	ways[0][0] = 1
	for i, r := range w {
		for j := min(i+1, k); j >= 1; j-- {
			for s := total; s >= r; s-- {
				ways[j][s] += ways[j-1][s-r]
			}
		}
	}
	return ways[k]
}

// logChoose is log C(n, k).
func logChoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}
