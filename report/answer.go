package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"rout/runlog"
)

// escapeFraction: a run has left the plateau of an untrained network (a mean loss of
// ln(classes), the loss of a uniform guess) at its first log step whose loss is below this
// fraction of ln(classes).
const escapeFraction = 0.9

// classes is the run's class count: from config.json, else from the chance accuracy in its
// summary (1/classes on a balanced test split); 0 when neither says.
func (run *Run) classes() int {
	if run.Classes > 1 {
		return run.Classes
	}
	if run.Summary != nil && run.Summary.ChanceAcc > 0 {
		if c := int(math.Round(1 / run.Summary.ChanceAcc)); c > 1 {
			return c
		}
	}
	return 0
}

// EscapeStep is the run's first log step whose training loss is below 0.9 ln(classes); ok is
// false when no log line is (the run never left the plateau, or has not yet) or the class count
// is unknown.
func (run *Run) EscapeStep() (step int, ok bool) {
	c := run.classes()
	if c == 0 {
		return 0, false
	}
	limit := escapeFraction * math.Log(float64(c))
	for _, m := range run.Metrics {
		if m.Kind == "log" && float64(m.Loss) < limit {
			return m.Step, true
		}
	}
	return 0, false
}

// failedSeeds lists the finished runs of arm that failed or diverged: "7" or "7 diverged".
func (r *Report) failedSeeds(arm string) []string {
	var out []string
	for _, run := range r.Sweep.Runs {
		if run.Arm != arm || run.Summary == nil || !run.Summary.Failed() {
			continue
		}
		s := strconv.FormatUint(run.Seed, 10)
		if run.Summary.Status == runlog.StatusDiverged {
			s += " diverged"
		}
		out = append(out, s)
	}
	return out
}

// failureClause is "baseline failed 1 of 8 (seed 7)", with the unfinished runs said.
func (r *Report) failureClause(a ArmStats) string {
	s := fmt.Sprintf("%s failed %d of %d", a.Arm.Name, a.Failures, a.Done)
	if a.Done < a.Planned {
		s += " finished"
	}
	var why []string
	if seeds := r.failedSeeds(a.Arm.Name); len(seeds) > 0 {
		why = append(why, plural(len(seeds), "seed ", "seeds ")+strings.Join(seeds, ", "))
	}
	if a.Done < a.Planned {
		why = append(why, fmt.Sprintf("%d still to run", a.Planned-a.Done))
	}
	if len(why) > 0 {
		s += " (" + strings.Join(why, "; ") + ")"
	}
	return s
}

// Answer is the report's first words: a sentence per arm, the reference's failures first, then
// each arm's failures and its accuracy against the reference.
func (r *Report) Answer() []string {
	if len(r.Arms) == 0 {
		return nil
	}
	ref := r.Arms[0]
	first := r.failureClause(ref)
	if !math.IsNaN(ref.All.Median) {
		first += fmt.Sprintf("; its median final test accuracy is %s%%", num(100*ref.All.Median, 2))
	}
	lines := []string{first + "."}
	for i, c := range r.Comparisons {
		s := r.failureClause(r.Arms[i+1])
		if math.IsNaN(c.MedianDiff) {
			s += "; no seed has finished in both it and " + c.Ref + " yet"
		} else {
			s += fmt.Sprintf("; median %s points against %s (bootstrap 95%% %s, Wilcoxon p %s",
				signed(100*c.MedianDiff, 1), c.Ref, interval(c.CI, 1, "signed"), pvalue(c.Wilcoxon.P, c.Wilcoxon.Exact))
			if !math.IsNaN(c.FisherP) {
				s += ", failures Fisher p " + pvalue(c.FisherP, true)
			}
			s += fmt.Sprintf(", %d paired %s)", c.Pairs, plural(c.Pairs, "seed", "seeds"))
		}
		lines = append(lines, s+".")
	}
	return lines
}

// Key says in plain words what each statistic of the answer and the tables means.
func (r *Report) Key() []string {
	key := []string{
		"Failed: the final test accuracy is within the fail margin of chance (the network did not train); diverged: the loss became NaN or infinite (counted at chance accuracy).",
	}
	if len(r.Comparisons) == 0 {
		return key
	}
	return append(key,
		"Median ... points: the median final test accuracy of the arm minus the reference's, in percentage points, over the seeds finished in both.",
		"Bootstrap 95%: the range that difference is likely to lie in, from resampling the seeds; one that excludes 0 says the arm differs.",
		"Wilcoxon p (signed-rank): how often a difference of accuracies this consistent in sign and size over the paired seeds would arise if the arm changed nothing; small (below 0.05) means the arm changed the accuracy. With fewer than 6 seeds it cannot fall below 0.05.",
		"Mann-Whitney p (rank-sum): the same question without pairing the seeds: whether one arm's accuracies tend to rank above the other's.",
		"Fisher p: whether the arms fail at different rates, from the counts of failed and trained runs alone. It is 1 when the arms failed equally often, however different the accuracies of their runs; so it can be 1 while the rank tests, which compare every run's accuracy, are small.",
		"Escape step: the first logged step whose training loss is below 0.9 ln(classes), where ln(classes) is the loss of a network that has learnt nothing; how long a run stays on that plateau is the filter lottery's own measure.",
	)
}

// SeedTable is the seed x arm grid of every run's final test accuracy, status and re-draws.
func (r *Report) SeedTable() Table {
	t := Table{Title: "Every run: final test accuracy (%), status and filters re-drawn, per seed", Header: []string{"seed"}}
	for _, a := range r.Arms {
		t.Header = append(t.Header, a.Arm.Name+" %", "status", "re-draws")
	}
	byPair := map[string]*Run{}
	for i := range r.Sweep.Runs {
		run := &r.Sweep.Runs[i]
		byPair[run.Arm+"/"+strconv.FormatUint(run.Seed, 10)] = run
	}
	for _, seed := range r.Sweep.Plan.Seeds {
		row := []string{strconv.FormatUint(seed, 10)}
		for _, a := range r.Arms {
			run := byPair[a.Arm.Name+"/"+strconv.FormatUint(seed, 10)]
			switch {
			case run == nil || run.Summary == nil && run.Claimed:
				row = append(row, "", "running", "")
			case run.Summary == nil:
				row = append(row, "", "to run", "")
			default:
				acc := "-"
				if run.Summary.FinalTestAcc != nil {
					acc = num(100*float64(*run.Summary.FinalTestAcc), 2)
				}
				row = append(row, acc, run.Summary.Status, strconv.FormatInt(run.Summary.ReinitsTotal, 10))
			}
		}
		t.Rows = append(t.Rows, row)
	}
	t.Notes = []string{"\"running\": a worker holds the run; \"to run\": not started or interrupted. A diverged run has no accuracy (-)."}
	return t
}

// EscapeTable is the distribution per arm of the step where runs left the loss plateau.
func (r *Report) EscapeTable() Table {
	t := Table{
		Title:  "Escape from the plateau: first logged step with training loss below 0.9 ln(classes)",
		Header: []string{"arm", "escaped", "never", "min", "Q1", "median", "Q3", "max"},
		Notes:  []string{"Over finished runs; quartiles by definition 7 as above. \"never\": finished without leaving the plateau (a failed run never leaves it; a slow one may not within its steps)."},
	}
	for _, a := range r.Arms {
		var steps []float64
		never := 0
		for _, run := range r.Sweep.Runs {
			if run.Arm != a.Arm.Name || run.Summary == nil || run.classes() == 0 {
				continue
			}
			if s, ok := run.EscapeStep(); ok {
				steps = append(steps, float64(s))
			} else {
				never++
			}
		}
		d := Describe(steps)
		lo, hi := math.NaN(), math.NaN()
		if len(steps) > 0 {
			lo, hi = slices.Min(steps), slices.Max(steps)
		}
		t.Rows = append(t.Rows, []string{a.Arm.Name, strconv.Itoa(len(steps)), strconv.Itoa(never),
			num(lo, 0), num(d.Q1, 0), num(d.Median, 0), num(d.Q3, 0), num(hi, 0)})
	}
	return t
}
