package trainer

import (
	"fmt"

	"rout/net"
)

// ReDoOptions configure ReDo (Sokar et al., ICML 2023, "The Dormant Neuron Phenomenon in Deep
// Reinforcement Learning").
type ReDoOptions struct {
	// Seed keys the re-draws: a filter revived after step s gets the draws of purpose s+1.
	Seed uint64
	// Every checks after every Every-th update.
	Every int
	// Tau: a filter is dormant when its mean |activation| over its layer's mean is at most Tau.
	Tau float64
	// Init is what revived filters' incoming weights are drawn from (layer, glorot, he, fan-in).
	Init string
	// Moments are the optimiser's state tensors, whose entries for every reset weight are zeroed.
	Moments []*net.Tensor
}

// ReDo revives dormant filters: every Every steps, the filters whose mean |activation| over the
// batch (taken beside that step's forward pass) is at most Tau times their layer's mean get new
// incoming weights, a zero bias and zero outgoing weights (in every consumer of their channel),
// with the optimiser's moments of all of those zeroed. A weight both re-drawn (its filter
// revived) and zeroed (the filter it reads revived) ends zero, as in the reference code
// (dopamine's labs/redo), so the revived filters start without changing the network's output.
type ReDo struct {
	b       net.Backend
	rt      *net.ReviveTable
	draw    *net.FilterTable
	acts    []*net.Tensor
	n       *net.Net
	o       ReDoOptions
	means   *net.Tensor
	views   []*net.Tensor // per group, its slice of means
	mask    *net.Tensor
	dormant *net.Tensor // per group: dormant at the last check
	revived *net.Tensor // per group: revived so far
}

// NewReDo watches the conv filters of ft in network n.
func NewReDo(b net.Backend, n *net.Net, ft *net.FilterTable, o ReDoOptions) (*ReDo, error) {
	if o.Every < 1 {
		return nil, fmt.Errorf("redo: check interval %d, want 1 or more", o.Every)
	}
	w, err := newWatch(b, n, ft, o.Init)
	if err != nil {
		return nil, fmt.Errorf("redo: %w", err)
	}
	r := &ReDo{b: b, rt: w.rt, draw: w.draw, acts: w.acts, n: n, o: o}
	if r.means, r.views, err = w.allocMeans(); err != nil {
		return nil, fmt.Errorf("redo: %w", err)
	}
	if err := allocAll(b, ft, []**net.Tensor{&r.mask}, []**net.Tensor{&r.dormant, &r.revived}); err != nil {
		return nil, fmt.Errorf("redo: %w", err)
	}
	return r, nil
}

func (r *ReDo) checks(step int) bool { return (step+1)%r.o.Every == 0 }

// Layers names the watched groups.
func (r *ReDo) Layers() []string { return groupNames(r.rt.FilterTable) }

// AfterForward takes the activation statistics of a step that ends with a check.
func (r *ReDo) AfterForward(step int) {
	if r.checks(step) {
		for i, y := range r.acts {
			r.b.ActivationMeans(y, r.views[i])
		}
	}
}

// AfterUpdate revives the dormant filters after every Every-th update: re-draw, then zero the
// outgoing weights (so that zero wins).
func (r *ReDo) AfterUpdate(step int) {
	if !r.checks(step) {
		return
	}
	r.b.Fill(r.dormant, 0)
	r.b.MarkDormant(r.rt.FilterTable, r.means, r.mask, r.dormant, float32(r.o.Tau))
	r.b.RedrawFilters(r.draw, r.mask, net.Redraw{Seed: r.o.Seed, Purpose: uint32(step + 1), Params: r.n.Params,
		ZeroBias: true, Moments: r.o.Moments, Counts: r.revived})
	r.b.ResetOutgoing(r.rt, r.mask, r.n.Params, r.n.State, r.o.Moments)
}

// Counters downloads the per-layer counters: revived so far, dormant at the last check.
func (r *ReDo) Counters() (reinits, dead []int64) {
	return download(r.b, r.revived), download(r.b, r.dormant)
}

// State is the counters a checkpoint keeps.
func (r *ReDo) State() map[string]*net.Tensor {
	return map[string]*net.Tensor{"redo.revived": r.revived, "redo.dormant": r.dormant}
}
