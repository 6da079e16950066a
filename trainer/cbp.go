package trainer

import (
	"fmt"

	"rout/net"
)

// CBPOptions configure continual backprop (Dohare et al., Nature 2024, "Loss of plasticity in
// deep continual learning").
type CBPOptions struct {
	// Seed keys the re-draws: a filter replaced after step s gets the draws of purpose s+1.
	Seed uint64
	// Rate is the filters replaced per mature filter per step; Decay the running utility's
	// decay; Maturity the steps a filter lives before it may be replaced.
	Rate, Decay float64
	Maturity    int
	// Init is what replaced filters' incoming weights are drawn from (layer, glorot, he, fan-in).
	Init string
	// Moments are the optimiser's state tensors, whose entries for every reset weight are zeroed.
	// Adam's step count is the run's and is not reset (the reference's AdamGnT resets a step per
	// weight).
	Moments []*net.Tensor
}

// CBP is continual backprop's generate-and-test, as the reference's convGnT runs it on conv
// layers: after every update each filter ages by one and its running utility, mean |activation|
// (taken beside the forward pass) times the mean |weight| of its outgoing connections, decays
// towards the step's value; each layer with mature filters accumulates Rate per mature filter
// and, once a whole filter's worth is due, replaces that many of its mature filters of least
// bias-corrected utility: outgoing weights zeroed, then incoming weights re-drawn and the bias
// zeroed (so a weight both zeroed and re-drawn ends re-drawn, as in convGnT), the optimiser's
// moments of all of those zeroed, batch norm reset, utility and age set to 0. See
// net.CBPParams for the exact arithmetic.
type CBP struct {
	b        net.Backend
	rt       *net.ReviveTable
	draw     *net.FilterTable
	acts     []*net.Tensor
	n        *net.Net
	o        CBPOptions
	means    *net.Tensor
	views    []*net.Tensor
	outMeans *net.Tensor
	util     *net.Tensor
	age      *net.Tensor
	mask     *net.Tensor
	deadMask *net.Tensor
	acc      *net.Tensor // per group: replacements accumulated and not yet made
	replaced *net.Tensor // per group: replaced so far
	dead     *net.Tensor // per group: filters whose activations were all zero at the last step
}

// NewCBP watches the conv filters of ft in network n.
func NewCBP(b net.Backend, n *net.Net, ft *net.FilterTable, o CBPOptions) (*CBP, error) {
	if !(o.Rate >= 0 && o.Rate <= 1) || !(o.Decay >= 0 && o.Decay < 1) || o.Maturity < 0 {
		return nil, fmt.Errorf("cbp: rate %v, decay %v, maturity %d: want a rate in [0, 1], a decay in [0, 1) and a maturity of 0 or more", o.Rate, o.Decay, o.Maturity)
	}
	w, err := newWatch(b, n, ft, o.Init)
	if err != nil {
		return nil, fmt.Errorf("cbp: %w", err)
	}
	c := &CBP{b: b, rt: w.rt, draw: w.draw, acts: w.acts, n: n, o: o}
	if c.means, c.views, err = w.allocMeans(); err != nil {
		return nil, fmt.Errorf("cbp: %w", err)
	}
	if err := allocAll(b, ft, []**net.Tensor{&c.outMeans, &c.util, &c.age, &c.mask, &c.deadMask},
		[]**net.Tensor{&c.acc, &c.replaced, &c.dead}); err != nil {
		return nil, fmt.Errorf("cbp: %w", err)
	}
	return c, nil
}

// Layers names the watched groups.
func (c *CBP) Layers() []string { return groupNames(c.rt.FilterTable) }

// AfterForward takes every step's activation statistics.
func (c *CBP) AfterForward(int) {
	for i, y := range c.acts {
		c.b.ActivationMeans(y, c.views[i])
	}
}

// AfterUpdate updates the utilities and ages and replaces the filters due.
func (c *CBP) AfterUpdate(step int) {
	ft := c.rt.FilterTable
	c.b.OutgoingMeans(c.rt, c.n.Params, c.outMeans)
	c.b.Fill(c.dead, 0)
	c.b.MarkDormant(ft, c.means, c.deadMask, c.dead, 0)
	c.b.CBPStep(ft, c.means, c.outMeans, c.util, c.age, c.acc, c.mask, c.replaced,
		net.CBPParams{Decay: float32(c.o.Decay), Rate: float32(c.o.Rate), Maturity: float32(c.o.Maturity)})
	c.b.ResetOutgoing(c.rt, c.mask, c.n.Params, c.n.State, c.o.Moments)
	c.b.RedrawFilters(c.draw, c.mask, net.Redraw{Seed: c.o.Seed, Purpose: uint32(step + 1), Params: c.n.Params,
		ZeroBias: true, Moments: c.o.Moments})
}

// Counters downloads the per-layer counters: replaced so far, and the filters whose activations
// were all zero at the last step.
func (c *CBP) Counters() (reinits, dead []int64) {
	return download(c.b, c.replaced), download(c.b, c.dead)
}

// State is what a checkpoint keeps: utilities, ages, the accumulators and the counters.
func (c *CBP) State() map[string]*net.Tensor {
	return map[string]*net.Tensor{"cbp.utility": c.util, "cbp.age": c.age, "cbp.accumulated": c.acc,
		"cbp.replaced": c.replaced, "cbp.dead": c.dead}
}
