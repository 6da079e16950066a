package report

import (
	"math"

	"rout/runlog"
)

// ArmRule is the revival rule an arm runs, as its settings (the plan's flags, then the arm's
// overrides) say: --revive, or randomout where --randomout is set, else none; and what revived
// filters are re-drawn from (--revive-init, or the rule's reference).
func ArmRule(p *runlog.Plan, a runlog.Arm) (rule, init string) {
	get := func(key string) (string, bool) {
		if v, ok := a.Overrides[key]; ok {
			return v, true
		}
		if v, ok := p.Flags[key]; ok {
			return v, true
		}
		return "", false
	}
	rule = "none"
	if v, ok := get("revive"); ok && v != "" {
		rule = v
	}
	if v, _ := get("randomout"); v == "true" {
		rule = "randomout"
	}
	init, _ = get("revive-init")
	if init == "" {
		init = map[string]string{"randomout": "layer", "redo": "glorot", "cbp": "fan-in"}[rule]
	}
	if rule == "none" {
		init = "-"
	}
	return rule, init
}

// rulesTable names each arm's rule and what it costs: revivals per finished run and the mean
// wall time per step (training and evaluation, as summary.json records it) against the first
// arm's. On a machine shared with other work the step times are only indicative; `rout bench`
// measures a rule's cost side by side.
func (r *Report) rulesTable() Table {
	t := Table{
		Title:  "Revival rules and their cost",
		Header: []string{"arm", "rule", "re-draws from", "revived per run", "ms per step", "step time vs " + r.Arms[0].Arm.Name},
		Notes: []string{
			"rule: none (dead filters only measured), randomout (gradient norm), redo (dormant activations) or cbp (continual backprop's utility); re-draws from: the initialiser of a revived filter's incoming weights (layer: the layer's own).",
			"ms per step: mean over finished runs of wall time / steps, evaluations included; on a shared machine indicative only (rout bench times the rules side by side).",
		},
	}
	ref := math.NaN()
	for i, a := range r.Arms {
		rule, init := ArmRule(&r.Sweep.Plan, a.Arm)
		ms := 1e3 * a.MeanWallSeconds / a.meanSteps
		if i == 0 {
			ref = ms
		}
		vs := "-"
		if i > 0 && ref > 0 && !math.IsNaN(ms) {
			vs = signed(100*(ms/ref-1), 1) + "%"
		}
		t.Rows = append(t.Rows, []string{a.Arm.Name, rule, init, num(a.ReinitsTotal, 1), num(ms, 1), vs})
	}
	return t
}
