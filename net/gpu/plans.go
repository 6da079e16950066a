//go:build !nocuda

package gpu

import (
	"fmt"
	"io"
)

// WriteConvPlans prints the convolution algorithms chosen so far, one row per shape: the algorithm
// number of each direction (cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t), the time cuDNN
// measured for it when choosing, and how often each direction ran per step over the last steps
// steps. The closing line weighs each measured time by its calls: an estimate of the
// convolutions' share of a step, for a benchmark to set against the whole step's time.
func (b *Backend) WriteConvPlans(w io.Writer, steps int) {
	if steps < 1 {
		steps = 1
	}
	fmt.Fprintln(w, "| shape | fwd algo | ms | bwd data algo | ms | bwd filter algo | ms | calls/step f/d/w |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---|")
	var total float64
	for _, p := range b.ctx.Plans() {
		per := [3]float64{}
		for i, n := range p.Calls {
			per[i] = float64(n) / float64(steps)
		}
		total += per[0]*float64(p.Forward.TimeMs) + per[1]*float64(p.BackwardData.TimeMs) + per[2]*float64(p.BackwardFilter.TimeMs)
		fmt.Fprintf(w, "| %s | %d | %.3f | %d | %.3f | %d | %.3f | %.2g/%.2g/%.2g |\n", p.Shape,
			p.Forward.Algo, p.Forward.TimeMs, p.BackwardData.Algo, p.BackwardData.TimeMs,
			p.BackwardFilter.Algo, p.BackwardFilter.TimeMs, per[0], per[1], per[2])
	}
	fmt.Fprintf(w, "\nconvolutions by cuDNN's own timings: %.3f ms per step\n", total)
}
