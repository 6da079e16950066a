//go:build !nocuda

package gpu

import (
	"fmt"
	"io"
)

// WriteConvPlans prints the convolution algorithms chosen so far, one row per shape and API: the
// algorithm of each direction (legacy: cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t; graph:
// the engine's global index; with two graph plans for one direction, data alignments apart, the
// last chosen), the time measured for it when choosing, how often each direction ran per step over
// steps steps, and the wall time of the graph API's searches. The closing line weighs each
// measured time by its calls: an estimate of the convolutions' share of a step, for a benchmark
// to set against the whole step's time.
func (b *Backend) WriteConvPlans(w io.Writer, steps int) {
	if steps < 1 {
		steps = 1
	}
	fmt.Fprintln(w, "| shape | API | fwd algo | ms | bwd data algo | ms | bwd filter algo | ms | calls/step f/d/w | search ms (engines timed) |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---|---:|")
	var total float64
	for _, p := range b.ctx.Plans() {
		per := [3]float64{}
		for i, n := range p.Calls {
			per[i] = float64(n) / float64(steps)
		}
		total += per[0]*float64(p.Forward.TimeMs) + per[1]*float64(p.BackwardData.TimeMs) + per[2]*float64(p.BackwardFilter.TimeMs)
		search := "-" // the legacy search is not timed apart
		if p.API == "graph" {
			search = fmt.Sprintf("%.0f (%d/%d/%d)", p.Forward.SearchMs+p.BackwardData.SearchMs+p.BackwardFilter.SearchMs,
				p.Forward.Candidates, p.BackwardData.Candidates, p.BackwardFilter.Candidates)
		}
		fmt.Fprintf(w, "| %s | %s | %d | %.3f | %d | %.3f | %d | %.3f | %.2g/%.2g/%.2g | %s |\n", p.Shape, p.API,
			p.Forward.Algo, p.Forward.TimeMs, p.BackwardData.Algo, p.BackwardData.TimeMs,
			p.BackwardFilter.Algo, p.BackwardFilter.TimeMs, per[0], per[1], per[2], search)
	}
	fmt.Fprintf(w, "\nconvolutions by the searches' own timings: %.3f ms per step\n", total)
}
