// Package report turns a seed sweep's folder into the statistics and pictures that answer "how
// often does this design fail to train, and does an arm (RandomOut, a variant) change that?":
// failure rates with Wilson intervals, accuracy distributions, paired differences against the
// first arm with bootstrap intervals and rank tests, and re-initialisations per layer. It reads
// only the files the trainer and `rout sweep` write (see Load), so a sweep still running can be
// reported at any time.
package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"rout/rng"
	"rout/runlog"
)

// DefaultResamples is the number of bootstrap resamples behind each interval.
const DefaultResamples = 10000

// bootstrapSeed keys the bootstrap's random stream, so the same sweep always gives the same
// report. Comparison i (arm i+1 against arm 0) draws from item i of this key's stream.
const bootstrapSeed = 0x524f555452455054 // "ROUTREPT"

// ArmStats is the summary of one arm over its finished runs.
type ArmStats struct {
	Arm              runlog.Arm
	Planned, Done    int
	Failed, Diverged int       // Failed counts status "failed" only; failures are Failed+Diverged
	Failures         int       // Failed + Diverged
	FailRate         float64   // Failures/Done (NaN when nothing is done)
	FailCI           Interval  // Wilson 95% interval of FailRate
	NoAccuracy       int       // finished runs without a score (see Score; excluded from All)
	All, Trained     Spread    // Score over finished runs / final test accuracy of runs with status ok
	Reinits          []float64 // mean re-inits per finished run, per layer of Report.Layers (NaN: not watched)
	ReinitsTotal     float64   // mean re-inits per finished run, all layers
	MeanWallSeconds  float64   // mean wall time of a finished run
	meanSteps        float64   // mean steps of a finished run
	ChanceAcc        float64   // from the runs' summaries (the last one read), 0 if none
	accBySeed        map[uint64]float64
	finalAcc, okAcc  []float64
}

// Comparison is an arm against the reference (first) arm: paired on seeds for the difference of
// medians and the signed-rank test, unpaired for Mann-Whitney and Fisher.
type Comparison struct {
	Arm, Ref    string
	Pairs       int      // seeds finished with an accuracy in both arms
	MedianDiff  float64  // median(arm) - median(ref) over the pairs, as a fraction
	CI          Interval // percentile bootstrap 95% interval of MedianDiff
	Wilcoxon    Test     // signed-rank test of the paired differences
	MannWhitney Test     // rank-sum test of all finished runs' accuracies
	FisherP     float64  // Fisher's exact test of failures/done in the two arms
	Notes       []string // why a statistic is missing
}

// Report is everything `rout report` shows, computed from a Sweep.
type Report struct {
	Sweep       *Sweep
	Done, Total int
	Unfinished  []string // "arm/seed", with " (claimed)" where a worker holds it
	Damaged     []Run    // runs whose files could not be read (Run.Err), left out of the statistics
	Layers      []string // conv layers in the order the runs list them
	Arms        []ArmStats
	Comparisons []Comparison
	Resamples   int
}

// Compute summarises the finished runs of sw. resamples is the bootstrap size (DefaultResamples
// if not positive).
func Compute(sw *Sweep, resamples int) *Report {
	if resamples <= 0 {
		resamples = DefaultResamples
	}
	r := &Report{Sweep: sw, Total: len(sw.Runs), Resamples: resamples}
	r.Layers = layerOrder(sw.Runs)
	for _, a := range sw.Plan.Arms {
		r.Arms = append(r.Arms, r.armStats(a))
	}
	for _, run := range sw.Runs {
		if run.Done() {
			r.Done++
			continue
		}
		if run.Err != nil {
			r.Damaged = append(r.Damaged, run)
			continue
		}
		name := run.Arm + "/" + strconv.FormatUint(run.Seed, 10)
		if run.Claimed {
			name += " (claimed)"
		}
		r.Unfinished = append(r.Unfinished, name)
	}
	for i := 1; i < len(r.Arms); i++ {
		r.Comparisons = append(r.Comparisons, compare(&r.Arms[0], &r.Arms[i], sw.Plan.Seeds, resamples, uint32(i-1)))
	}
	return r
}

func (r *Report) armStats(a runlog.Arm) ArmStats {
	s := ArmStats{Arm: a, accBySeed: map[uint64]float64{}, Reinits: make([]float64, len(r.Layers))}
	layerIndex := map[string]int{}
	for i, l := range r.Layers {
		layerIndex[l] = i
	}
	var wall float64
	watched := make([]bool, len(r.Layers))
	for _, run := range r.Sweep.Runs {
		if run.Arm != a.Name {
			continue
		}
		s.Planned++
		sum := run.Summary
		if sum == nil {
			continue
		}
		s.Done++
		wall += sum.WallSeconds
		s.meanSteps += float64(sum.Steps)
		if sum.ChanceAcc > 0 {
			s.ChanceAcc = sum.ChanceAcc
		}
		switch sum.Status {
		case runlog.StatusFailed:
			s.Failed++
		case runlog.StatusDiverged:
			s.Diverged++
		}
		if acc, ok := Score(sum); ok {
			s.finalAcc = append(s.finalAcc, acc)
			s.accBySeed[run.Seed] = acc
			if sum.Status == runlog.StatusOK {
				s.okAcc = append(s.okAcc, acc)
			}
		} else {
			s.NoAccuracy++
		}
		for i, l := range sum.ReinitsPerLayer.Layers {
			s.Reinits[layerIndex[l]] += float64(sum.ReinitsPerLayer.Counts[i])
			watched[layerIndex[l]] = true
		}
		s.ReinitsTotal += float64(sum.ReinitsTotal)
	}
	s.Failures = s.Failed + s.Diverged
	s.FailRate = math.NaN()
	s.FailCI = Wilson(s.Failures, s.Done)
	s.MeanWallSeconds = math.NaN()
	if s.Done > 0 {
		s.FailRate = float64(s.Failures) / float64(s.Done)
		s.MeanWallSeconds = wall / float64(s.Done)
		s.meanSteps /= float64(s.Done)
		for i := range s.Reinits {
			s.Reinits[i] /= float64(s.Done)
			if !watched[i] {
				s.Reinits[i] = math.NaN() // shown as "-", not as a watched layer with no re-init
			}
		}
		s.ReinitsTotal /= float64(s.Done)
	} else {
		s.ReinitsTotal = math.NaN()
		for i := range s.Reinits {
			s.Reinits[i] = math.NaN()
		}
	}
	s.All = Describe(s.finalAcc)
	s.Trained = Describe(s.okAcc)
	return s
}

// Score is the accuracy a finished run counts with in every comparison of accuracies: its final
// test accuracy, or the chance accuracy for a diverged run, whose summary has none (its weights
// hold NaN or infinities, so it predicts no better than chance). Leaving diverged runs out would
// make an arm that diverges often look better than one that trains badly. ok is false for a run
// with neither (a run that made no evaluation).
func Score(sum *runlog.Summary) (acc float64, ok bool) {
	switch {
	case sum.FinalTestAcc != nil:
		return float64(*sum.FinalTestAcc), true
	case sum.Status == runlog.StatusDiverged && sum.ChanceAcc > 0:
		return sum.ChanceAcc, true
	}
	return math.NaN(), false
}

// pairedDifferenceResolution rounds paired differences of accuracies before ranking: accuracies are
// counts over a test set, so differences closer than this are equal, and rounding keeps
// floating-point noise from breaking (or inventing) ties in the signed-rank test.
const pairedDifferenceResolution = 1e-10

// minBootstrapPairs is the number of paired seeds below which the report warns that a percentile
// bootstrap (which can only recombine the few values seen) is too narrow.
const minBootstrapPairs = 6

func compare(ref, arm *ArmStats, seeds []uint64, resamples int, item uint32) Comparison {
	c := Comparison{Arm: arm.Arm.Name, Ref: ref.Arm.Name, MedianDiff: math.NaN(), CI: Interval{math.NaN(), math.NaN()}}
	c.Wilcoxon.P, c.MannWhitney.P, c.FisherP = math.NaN(), math.NaN(), math.NaN()
	var x, y, d []float64
	for _, s := range seeds {
		a, okA := arm.accBySeed[s]
		b, okB := ref.accBySeed[s]
		if okA && okB {
			x, y = append(x, a), append(y, b)
			d = append(d, math.Round((a-b)/pairedDifferenceResolution)*pairedDifferenceResolution)
		}
	}
	c.Pairs = len(x)
	stream := rng.NewStream(rng.KeyFromSeed(bootstrapSeed), 0, 0, item)
	if est, ci, err := BootstrapMedianDiff(x, y, resamples, stream); err == nil {
		c.MedianDiff, c.CI = est, ci
		if c.Pairs < minBootstrapPairs {
			c.Notes = append(c.Notes, fmt.Sprintf("only %d paired %s: the bootstrap interval understates the uncertainty, and no two-sided signed-rank p can fall below 0.05 with fewer than 6", c.Pairs, plural(c.Pairs, "seed", "seeds")))
		}
	} else {
		c.Notes = append(c.Notes, "no seed has finished with an accuracy in both arms")
	}
	if len(d) > 0 {
		if t, err := SignedRank(d); err == nil {
			c.Wilcoxon = t
		} else {
			c.Notes = append(c.Notes, "Wilcoxon: every paired difference is zero")
		}
	}
	if t, err := MannWhitney(arm.finalAcc, ref.finalAcc); err == nil {
		c.MannWhitney = t
	}
	if ref.Done > 0 && arm.Done > 0 {
		if p, err := FisherExact(ref.Failures, ref.Done-ref.Failures, arm.Failures, arm.Done-arm.Failures); err == nil {
			c.FisherP = p
		}
	}
	return c
}

// layerOrder lists the layers named in the runs' summaries (re-inits per layer), falling back to
// the metrics of unfinished runs, in network order. Each run lists its watched layers in that
// order, but an arm with --randomout-layers watches only some of them, so the order comes from
// a summary's list of every conv layer (conv_layers) where there is one; otherwise the longest
// list goes first and the others add what it lacks.
func layerOrder(runs []Run) []string {
	var lists [][]string
	var network []string
	for _, run := range runs {
		if run.Summary != nil {
			lists = append(lists, run.Summary.ReinitsPerLayer.Layers)
			if len(run.Summary.ConvLayers) > len(network) {
				network = run.Summary.ConvLayers
			}
		}
	}
	for _, run := range runs {
		for _, m := range run.Metrics {
			lists = append(lists, m.Reinits.Layers)
		}
	}
	named := map[string]bool{}
	for _, l := range lists {
		for _, name := range l {
			named[name] = true
		}
	}
	slices.SortStableFunc(lists, func(a, b []string) int { return len(b) - len(a) })
	var order []string
	seen := map[string]bool{}
	for _, l := range append([][]string{network}, lists...) {
		for _, name := range l {
			if named[name] && !seen[name] {
				seen[name] = true
				order = append(order, name)
			}
		}
	}
	return order
}

// Table is a titled grid of cells, rendered as text, Markdown or HTML.
type Table struct {
	Title  string
	Header []string
	Rows   [][]string
	Notes  []string
}

// Tables returns the report's tables after the answer and the per-seed table, in reading order:
// failures, accuracy, paired differences, escape from the plateau, the arms' revival rules and
// their cost, re-inits per layer.
func (r *Report) Tables() []Table {
	fail := Table{
		Title:  "Runs and failures (status failed or diverged) over finished runs",
		Header: []string{"arm", "done", "failed", "diverged", "failure rate", "Wilson 95%", "mean wall (s)"},
	}
	acc := Table{
		Title:  "Final test accuracy (%)",
		Header: []string{"arm", "runs", "n", "median", "mean", "sd", "IQR", "Q1", "Q3"},
		Notes: []string{
			"all: every finished run (failed runs included; a diverged run counts at chance accuracy); trained: status ok only.",
			"Quartiles and medians by Hyndman & Fan definition 7 (R's default); sd with the n-1 denominator.",
		},
	}
	for _, a := range r.Arms {
		fail.Rows = append(fail.Rows, []string{
			a.Arm.Name, fmt.Sprintf("%d/%d", a.Done, a.Planned), strconv.Itoa(a.Failed), strconv.Itoa(a.Diverged),
			pct(a.FailRate, 1), interval(a.FailCI, 1, ""), num(a.MeanWallSeconds, 1),
		})
		for _, sub := range []struct {
			name string
			s    Spread
		}{{"all", a.All}, {"trained", a.Trained}} {
			acc.Rows = append(acc.Rows, []string{
				a.Arm.Name, sub.name, strconv.Itoa(sub.s.N), num(100*sub.s.Median, 2), num(100*sub.s.Mean, 2),
				num(100*sub.s.SD, 2), num(100*sub.s.IQR, 2), num(100*sub.s.Q1, 2), num(100*sub.s.Q3, 2),
			})
		}
		if a.NoAccuracy > 0 {
			acc.Notes = append(acc.Notes, fmt.Sprintf("%s: %d finished %s no evaluation and %s left out of \"all\" and of the comparisons.", a.Arm.Name, a.NoAccuracy, plural(a.NoAccuracy, "run made", "runs made"), plural(a.NoAccuracy, "is", "are")))
		}
	}
	tables := []Table{fail, acc}
	if len(r.Comparisons) > 0 {
		diff := Table{
			Title:  "Differences against " + r.Arms[0].Arm.Name + " (final test accuracy, all finished runs)",
			Header: []string{"arm", "paired seeds", "diff of medians (pp)", "bootstrap 95%", "Wilcoxon p", "Mann-Whitney p", "Fisher p (failures)"},
			Notes: []string{
				"Accuracies as in \"all\" above: a diverged run counts at chance accuracy.",
				"diff of medians: median(arm) - median(" + r.Arms[0].Arm.Name + ") over seeds finished in both arms, in percentage points;",
				fmt.Sprintf("bootstrap: %d paired resamples of seeds, percentile interval, fixed random stream (reproducible).", r.Resamples),
				"Wilcoxon: signed-rank on the paired differences, two-sided, zero differences dropped (Wilcoxon's convention), exact (ties included) for n < 50, else normal with tie and continuity corrections.",
				"Mann-Whitney: rank-sum on all finished runs, two-sided, exact (ties included) when both arms have fewer than 50, else normal with tie and continuity corrections. Fisher: two-sided exact test on failures/finished. * marks a p-value from the normal approximation.",
			},
		}
		for _, c := range r.Comparisons {
			diff.Rows = append(diff.Rows, []string{
				c.Arm, strconv.Itoa(c.Pairs), signed(100*c.MedianDiff, 2), interval(c.CI, 2, "signed"),
				pvalue(c.Wilcoxon.P, c.Wilcoxon.Exact), pvalue(c.MannWhitney.P, c.MannWhitney.Exact), pvalue(c.FisherP, true),
			})
			for _, n := range c.Notes {
				diff.Notes = append(diff.Notes, c.Arm+": "+n)
			}
		}
		tables = append(tables, diff)
	}
	re := Table{
		Title:  "Re-initialised (RandomOut), revived (ReDo) or replaced (continual backprop) filters per layer (mean per finished run)",
		Header: []string{"layer"},
	}
	for _, a := range r.Arms {
		re.Header = append(re.Header, a.Arm.Name)
	}
	for i, l := range r.Layers {
		row := []string{l}
		for _, a := range r.Arms {
			row = append(row, num(a.Reinits[i], 1))
		}
		re.Rows = append(re.Rows, row)
	}
	total := []string{"total"}
	for _, a := range r.Arms {
		total = append(total, num(a.ReinitsTotal, 1))
	}
	re.Rows = append(re.Rows, total)
	return append(tables, r.EscapeTable(), r.rulesTable(), re)
}

// Progress is the line that says how far the sweep is.
func (r *Report) Progress() string {
	arms, seeds := len(r.Sweep.Plan.Arms), len(r.Sweep.Plan.Seeds)
	s := fmt.Sprintf("%d of %d runs done (%d %s x %d %s)", r.Done, r.Total, arms, plural(arms, "arm", "arms"), seeds, plural(seeds, "seed", "seeds"))
	if len(r.Unfinished) > 0 {
		s += fmt.Sprintf("; unfinished: %s", joinShort(r.Unfinished, 12))
	}
	return s
}

func joinShort(xs []string, limit int) string {
	var s string
	for i, x := range xs {
		if i == limit {
			return s + fmt.Sprintf(", and %d more", len(xs)-limit)
		}
		if i > 0 {
			s += ", "
		}
		s += x
	}
	return s
}

// num formats v with the given decimals, or "-" when v is NaN.
func num(v float64, decimals int) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', decimals, 64)
}

// signed formats v with a sign and the given decimals, "-" when v is NaN; a v that rounds to
// zero prints as 0 without a sign (the difference of two equal medians can come out as -1e-17).
func signed(v float64, decimals int) string {
	if math.IsNaN(v) {
		return "-"
	}
	s := fmt.Sprintf("%+.*f", decimals, v)
	if z := strings.TrimLeft(s[1:], "0."); z == "" {
		return s[1:]
	}
	return s
}

// plural is one when n is 1, else many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func pct(v float64, decimals int) string {
	if math.IsNaN(v) {
		return "-"
	}
	return num(100*v, decimals) + "%"
}

// interval formats a fraction interval in percent ("" style) or as signed percentage points.
func interval(iv Interval, decimals int, style string) string {
	if math.IsNaN(iv.Lo) || math.IsNaN(iv.Hi) {
		return "-"
	}
	if style == "signed" {
		return "[" + signed(100*iv.Lo, decimals) + ", " + signed(100*iv.Hi, decimals) + "]"
	}
	return "[" + num(100*iv.Lo, decimals) + "%, " + num(100*iv.Hi, decimals) + "%]"
}

// pvalue formats a p-value to three significant digits, starred when from an approximation, or
// "-" when NaN (not computable).
func pvalue(p float64, exact bool) string {
	if math.IsNaN(p) {
		return "-"
	}
	s := strconv.FormatFloat(p, 'g', 3, 64)
	if !exact {
		s += "*"
	}
	return s
}
