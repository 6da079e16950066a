package trainer

import (
	"fmt"

	"rout/net"
)

// Reviver is a filter-revival policy: the training loop calls it after every optimiser update,
// and it decides on the device which filters are dead and what to do about them: RandomOut
// (gradient-based, this file), ReDo (activation-based, redo.go) and continual backprop
// (utility-based, cbp.go). A rule that needs activations also has an AfterForward method, which
// the loop calls right after the forward pass (activationWatcher).
//
// A Reviver runs only backend operations inside a step, so on the GPU it never waits on the
// host; its counters are read back only when the loop logs.
type Reviver interface {
	// Layers names the watched groups, in the order of the counters.
	Layers() []string
	// AfterUpdate runs after the optimiser's update of step (counting from 0).
	AfterUpdate(step int)
	// Counters downloads, per watched layer, the filters re-initialised so far and the filters
	// found dead at the last check.
	Counters() (reinits, dead []int64)
	// State is the device state a checkpoint must keep (the counters, and a rule's own state
	// such as continual backprop's utilities and ages), by name.
	State() map[string]*net.Tensor
}

// RandomOutOptions configure RandomOut (Cohen, Lo & Ding 2016).
type RandomOutOptions struct {
	// Enabled re-draws the dead filters; when false the policy only measures them, which is
	// the baseline arm's view of the filter lottery.
	Enabled bool
	// Seed keys the re-draws: a filter re-drawn after step s gets the draws of purpose s+1.
	Seed uint64
	// Every checks after every Every-th update (1: every update).
	Every int
	// Norm is the per-filter gradient norm (the paper: L1).
	Norm net.NormKind
	// Threshold is tau, absolute or relative to the layer's mean norm.
	Threshold net.Threshold
	// ZeroBias also zeroes a re-drawn filter's bias.
	ZeroBias bool
	// Moments, when set, are the optimiser state tensors whose entries for a re-drawn filter
	// are zeroed (its bias entries too with ZeroBias).
	Moments []*net.Tensor
	// Draw is the table re-draws use, ft with other bounds (--revive-init); nil: ft, each
	// layer's own initialiser (the paper).
	Draw *net.FilterTable
}

// randomOutOptions are the RandomOut settings of a config; moments are the optimiser's state
// tensors, zeroed for a re-drawn filter when the scope includes the optimiser.
func randomOutOptions(cfg *Config, moments []*net.Tensor) RandomOutOptions {
	o := RandomOutOptions{Enabled: cfg.Rule() == RuleRandomOut, Seed: cfg.Seed, Every: cfg.RandomOutEvery,
		Norm: net.NormL1, Threshold: net.Threshold{Tau: float32(cfg.Tau), Relative: cfg.TauMode == "relative"}}
	if cfg.RandomOutNorm == "l2" {
		o.Norm = net.NormL2
	}
	switch cfg.RandomOutScope {
	case "weights+bias":
		o.ZeroBias = true
	case "weights+bias+optimizer":
		o.ZeroBias = true
		o.Moments = moments
	}
	return o
}

// RandomOut re-draws, from the layer's own initialiser, every watched filter whose gradient
// norm is below tau after an update: FilterNorms -> MarkBelow -> RedrawFilters.
type RandomOut struct {
	b             net.Backend
	ft            *net.FilterTable
	params, grads *net.Tensor
	o             RandomOutOptions
	norms, mask   *net.Tensor
	dead, reinits *net.Tensor // per group: marked at the last check; re-drawn so far
}

// NewRandomOut watches the filters of ft in the flat params and grads tensors.
func NewRandomOut(b net.Backend, ft *net.FilterTable, params, grads *net.Tensor, o RandomOutOptions) (*RandomOut, error) {
	if o.Every < 1 {
		return nil, fmt.Errorf("randomout: check interval %d, want 1 or more", o.Every)
	}
	r := &RandomOut{b: b, ft: ft, params: params, grads: grads, o: o}
	if len(ft.Groups) == 0 {
		// A network without conv layers trains as a baseline, with nothing watched; RandomOut
		// re-draws conv filters, so asking for it there is a mistake worth naming.
		if o.Enabled {
			return nil, fmt.Errorf("randomout: the network has no conv layer, and RandomOut re-draws conv filters: train it without randomout (the baseline)")
		}
		return r, nil
	}
	var err error
	for _, t := range []struct {
		p *(*net.Tensor)
		n int
	}{{&r.norms, ft.Filters}, {&r.mask, ft.Filters}, {&r.dead, len(ft.Groups)}, {&r.reinits, len(ft.Groups)}} {
		if *t.p, err = b.Alloc(t.n, 1, 1, 1); err != nil {
			return nil, fmt.Errorf("randomout: allocating counters: %w", err)
		}
	}
	return r, nil
}

// Layers names the watched groups.
func (r *RandomOut) Layers() []string {
	ls := make([]string, len(r.ft.Groups))
	for i, g := range r.ft.Groups {
		ls[i] = g.Name
	}
	return ls
}

// AfterUpdate measures the filters after every Every-th update and, when enabled, re-draws
// those below tau with the draws of purpose step+1.
func (r *RandomOut) AfterUpdate(step int) {
	if (step+1)%r.o.Every != 0 || len(r.ft.Groups) == 0 {
		return
	}
	r.b.FilterNorms(r.ft, r.grads, r.norms, r.o.Norm)
	r.b.Fill(r.dead, 0)
	r.b.MarkBelow(r.ft, r.norms, r.mask, r.dead, r.o.Threshold)
	if !r.o.Enabled {
		return
	}
	draw := r.ft
	if r.o.Draw != nil {
		draw = r.o.Draw
	}
	r.b.RedrawFilters(draw, r.mask, net.Redraw{
		Seed: r.o.Seed, Purpose: uint32(step + 1), Params: r.params,
		ZeroBias: r.o.ZeroBias, Moments: r.o.Moments, Counts: r.reinits,
	})
}

// Counters downloads the per-layer counters (a sync on a device backend).
func (r *RandomOut) Counters() (reinits, dead []int64) {
	if len(r.ft.Groups) == 0 {
		return nil, nil
	}
	return download(r.b, r.reinits), download(r.b, r.dead)
}

// State is the counters a checkpoint keeps.
func (r *RandomOut) State() map[string]*net.Tensor {
	if len(r.ft.Groups) == 0 {
		return map[string]*net.Tensor{}
	}
	return map[string]*net.Tensor{"randomout.reinits": r.reinits, "randomout.dead": r.dead}
}

// download reads a small counter tensor as integers (counts are exact in float32 below 2^24).
func download(b net.Backend, t *net.Tensor) []int64 {
	f := make([]float32, t.Len())
	b.Download(t, f)
	out := make([]int64, len(f))
	for i, v := range f {
		out[i] = int64(v)
	}
	return out
}
