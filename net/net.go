package net

import (
	"fmt"
	"strings"
)

// Net is a network built from a Spec on a backend, for one batch size: every tensor a training
// step touches is allocated by Build, so Forward and Backward only queue backend operations.
type Net struct {
	Spec    *Spec
	Batch   int
	In      [3]int // C, H, W
	Classes int

	Input   *Tensor // Batch x C x H x W: the trainer fills it (GatherBatch writes into it)
	Labels  *Tensor // Batch x 1 x 1 x 1: class indices as float32, negative = ignored
	Logits  *Tensor // Batch x Classes x 1 x 1
	DLogits *Tensor // the loss's gradient with respect to Logits, written by the trainer's loss op
	// Params holds every trainable parameter (P x 1 x 1 x 1), so an optimiser step is one fused
	// operation; each layer's weights, bias and batch-norm scale and shift are Views into it,
	// laid out in spec order (weights, bias, gamma, beta per layer).
	Params *Tensor
	Grads  *Tensor // same layout as Params
	// State is the non-trainable state: each batch-norm layer's running mean then running
	// variance, in spec order. nil when the network has no batch norm.
	State *Tensor
	// Weights lists every conv and dense weight tensor as a filter group, for initialisation.
	// A group's Layer word is the layer's pre-order index in the spec, so it does not change
	// with the batch size, the input shape or the backend.
	Weights *FilterTable
	Layers  []LayerInfo // for summaries

	b       Backend
	plan    *plan
	layers  []layer
	gammas  []*Tensor // batch-norm scales (initialised to 1)
	runVars []*Tensor // batch-norm running variances (initialised to 1)
}

// Build plans spec for batch examples of shape in (C, H, W) and classes classes, and allocates
// its tensors on b. Shape errors name the layer.
func Build(b Backend, spec *Spec, batch int, in [3]int, classes int) (*Net, error) {
	if batch < 1 {
		return nil, fmt.Errorf("%s: batch size %d: want at least 1", spec.Name, batch)
	}
	p, err := newPlan(spec, in, classes)
	if err != nil {
		return nil, err
	}
	n := &Net{Spec: spec, Batch: batch, In: in, Classes: classes, Layers: p.summary.Layers, b: b, plan: p,
		Weights: NewFilterTable(append([]FilterGroup(nil), p.groups...))}
	bd := &builder{b: b, batch: batch, net: n}
	n.Input = bd.alloc(batch, in)
	n.Labels = bd.alloc(batch, [3]int{1, 1, 1})
	n.Params = bd.alloc(p.params, [3]int{1, 1, 1})
	n.Grads = bd.alloc(p.params, [3]int{1, 1, 1})
	if p.state > 0 {
		n.State = bd.alloc(p.state, [3]int{1, 1, 1})
	}
	if bd.err != nil {
		return nil, bd.err
	}
	n.layers, n.Logits, n.DLogits, err = bd.seq(p.top, n.Input, nil, false, nil, nil)
	if err == nil {
		err = bd.err
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec.Name, err)
	}
	return n, nil
}

// ParamCount is the number of trainable parameters.
func (n *Net) ParamCount() int { return n.plan.params }

// FLOPs is the forward cost of one example under LayerInfo's counting rule.
func (n *Net) FLOPs() int64 { return n.plan.summary.FLOPs }

// Init sets the parameters for a run with seed initSeed: every conv and dense weight from its
// layer's initialiser through RedrawFilters (purpose 0), so the CPU and GPU draw identical
// weights; biases and batch-norm shifts 0, scales 1, running means 0 and variances 1.
func (n *Net) Init(initSeed uint64) {
	n.b.Fill(n.Params, 0)
	n.b.RedrawFilters(n.Weights, nil, Redraw{Seed: initSeed, Purpose: 0, Params: n.Params})
	for _, g := range n.gammas {
		n.b.Fill(g, 1)
	}
	if n.State != nil {
		n.b.Fill(n.State, 0)
		for _, v := range n.runVars {
			n.b.Fill(v, 1)
		}
	}
}

// Forward computes Logits from Input. training selects batch statistics in batch norm (and
// updates the running averages); without batch norm it changes nothing.
func (n *Net) Forward(training bool) {
	for _, l := range n.layers {
		l.forward(training)
	}
}

// Backward computes Grads from DLogits, after a Forward(true) of the same batch. Every entry of
// Grads is overwritten.
func (n *Net) Backward() {
	for i := len(n.layers) - 1; i >= 0; i-- {
		n.layers[i].backward()
	}
}

// ConvTable returns the filter groups of the named conv layers (every conv layer when layers is
// empty), in spec order, with the same Layer words as Weights: the table RandomOut watches.
func (n *Net) ConvTable(layers []string) (*FilterTable, error) {
	want := map[string]bool{}
	for _, l := range layers {
		want[l] = true
	}
	var groups []FilterGroup
	var valid []string
	for i, g := range n.plan.groups {
		if !n.plan.isConv[i] {
			continue
		}
		valid = append(valid, g.Name)
		if len(layers) == 0 || want[g.Name] {
			groups = append(groups, g)
			delete(want, g.Name)
		}
	}
	for _, l := range layers {
		if want[l] {
			return nil, fmt.Errorf("%s: no conv layer %q (conv layers: %s)", n.Spec.Name, l, strings.Join(valid, ", "))
		}
	}
	return NewFilterTable(groups), nil
}

// builder turns planned nodes into layers with their tensors.
type builder struct {
	b     Backend
	batch int
	net   *Net
	err   error
}

func (bd *builder) alloc(n int, s [3]int) *Tensor {
	if bd.err != nil {
		return nil
	}
	t, err := bd.b.Alloc(n, s[0], s[1], s[2])
	if err != nil {
		bd.err = fmt.Errorf("allocating %dx%dx%dx%d: %w", n, s[0], s[1], s[2], err)
	}
	return t
}

// seq builds a sequence reading x (gradient dx, nil when not needed; acc: the first layer adds
// into dx). The last layer writes into dst/ddst when given (a channel slice of a block's output
// and its gradient), else into new tensors. It returns the layers and the output and its gradient.
func (bd *builder) seq(nodes []*node, x, dx *Tensor, acc bool, dst, ddst *Tensor) ([]layer, *Tensor, *Tensor, error) {
	var layers []layer
	for i, nd := range nodes {
		var y, dy *Tensor
		if i == len(nodes)-1 && dst != nil {
			y, dy = dst, ddst
		} else {
			y, dy = bd.alloc(bd.batch, nd.out), bd.alloc(bd.batch, nd.out)
		}
		if bd.err != nil {
			return nil, nil, nil, bd.err
		}
		l, err := bd.layer(nd, x, dx, acc && i == 0, y, dy)
		if err != nil {
			return nil, nil, nil, err
		}
		layers = append(layers, l)
		x, dx = y, dy
	}
	return layers, x, dx, nil
}

func (bd *builder) layer(nd *node, x, dx *Tensor, acc bool, y, dy *Tensor) (layer, error) {
	b, params, grads := bd.b, bd.net.Params, bd.net.Grads
	switch nd.spec.Type {
	case TypeConv:
		l := &convLayer{b: b, p: nd.conv, x: x, dx: dx, y: y, dy: dy, relu: nd.relu, acc: acc,
			w:  params.View(nd.wOff, nd.units, nd.in[0], nd.kh, nd.kw),
			dw: grads.View(nd.wOff, nd.units, nd.in[0], nd.kh, nd.kw)}
		if nd.bias {
			l.bias, l.db = params.View(nd.bOff, nd.units, 1, 1, 1), grads.View(nd.bOff, nd.units, 1, 1, 1)
		}
		if nd.bn {
			l.bn = bd.bn(nd)
		}
		return l, bd.err
	case TypeDense:
		d := nd.in[0] * nd.in[1] * nd.in[2]
		l := &denseLayer{b: b, x: x, dx: dx, y: y, dy: dy, relu: nd.relu, acc: acc,
			w: params.View(nd.wOff, nd.units, d, 1, 1), dw: grads.View(nd.wOff, nd.units, d, 1, 1)}
		if nd.bias {
			l.bias, l.db = params.View(nd.bOff, nd.units, 1, 1, 1), grads.View(nd.bOff, nd.units, 1, 1, 1)
		}
		return l, nil
	case TypeMaxPool, TypeAvgPool:
		return &poolLayer{b: b, p: nd.pool, x: x, dx: dx, y: y, dy: dy, acc: acc}, nil
	case TypeReLU:
		return &reluLayer{b: b, x: x, dx: dx, y: y, dy: dy}, nil
	case TypeConcat:
		return bd.concat(nd, x, dx, acc, y, dy)
	}
	return nil, fmt.Errorf("layer %s: unknown type %q", nd.name, nd.spec.Type)
}

func (bd *builder) bn(nd *node) *bnPart {
	c := nd.units
	params, grads, state := bd.net.Params, bd.net.Grads, bd.net.State
	p := &bnPart{
		p:          BatchNormParams{Momentum: bd.net.Spec.BatchNorm.Momentum, Eps: bd.net.Spec.BatchNorm.Eps},
		z:          bd.alloc(bd.batch, nd.out),
		dz:         bd.alloc(bd.batch, nd.out),
		gamma:      params.View(nd.gOff, 1, c, 1, 1),
		beta:       params.View(nd.gOff+c, 1, c, 1, 1),
		dGamma:     grads.View(nd.gOff, 1, c, 1, 1),
		dBeta:      grads.View(nd.gOff+c, 1, c, 1, 1),
		runMean:    state.View(nd.sOff, 1, c, 1, 1),
		runVar:     state.View(nd.sOff+c, 1, c, 1, 1),
		saveMean:   bd.alloc(1, [3]int{c, 1, 1}),
		saveInvStd: bd.alloc(1, [3]int{c, 1, 1}),
	}
	bd.net.gammas = append(bd.net.gammas, p.gamma)
	bd.net.runVars = append(bd.net.runVars, p.runVar)
	return p
}

// concat builds a block whose branches write their channel slices of y. The input gradient dx
// is the sum of the branches' contributions: the first branch run in backward replaces dx's
// contents (unless the block itself accumulates) and the others add to it. Only conv, pool and
// dense layers can add, so a branch starting with anything else (relu, an empty branch, a block
// that contains one) has to run first; the plan refused a block with two (checkAccumulation).
func (bd *builder) concat(nd *node, x, dx *Tensor, acc bool, y, dy *Tensor) (layer, error) {
	order := branchOrder(nd, dx != nil)
	c0 := make([]int, len(nd.branches))
	for i := 1; i < len(c0); i++ {
		c0[i] = c0[i-1] + nd.chans[i-1]
	}
	l := &concatLayer{}
	for k, i := range order {
		ys, dys := y.Channels(c0[i], c0[i]+nd.chans[i]), dy.Channels(c0[i], c0[i]+nd.chans[i])
		bacc := acc || k > 0
		if len(nd.branches[i]) == 0 {
			l.branches = append(l.branches, []layer{&identityLayer{b: bd.b, x: x, dx: dx, y: ys, dy: dys}})
			continue
		}
		br, _, _, err := bd.seq(nd.branches[i], x, dx, bacc, ys, dys)
		if err != nil {
			return nil, err
		}
		l.branches = append(l.branches, br)
	}
	return l, nil
}

// canAccumulate reports whether a branch's first layer can add its input gradient into an
// existing one.
func canAccumulate(br []*node) bool {
	if len(br) == 0 {
		return false
	}
	switch br[0].spec.Type {
	case TypeConv, TypeDense, TypeMaxPool, TypeAvgPool:
		return true
	case TypeConcat:
		for _, sub := range br[0].branches {
			if !canAccumulate(sub) {
				return false
			}
		}
		return true
	}
	return false
}

// branchOrder is the order a block's branches run in backward: the one that cannot add to the
// input gradient first, when the block needs one.
func branchOrder(nd *node, needDx bool) []int {
	order := make([]int, 0, len(nd.branches))
	if needDx {
		order = append(order, fixedBranches(nd)...)
	}
	for i := range nd.branches {
		if len(order) == 0 || order[0] != i {
			order = append(order, i)
		}
	}
	return order
}

// fixedBranches are the branches of a block that cannot add their input gradient to another's.
func fixedBranches(nd *node) []int {
	var fixed []int
	for i, br := range nd.branches {
		if !canAccumulate(br) {
			fixed = append(fixed, i)
		}
	}
	return fixed
}

// checkAccumulation refuses, before anything is built (so `rout model summary` does too), a block
// whose input gradient would need two branches that cannot add to it, or one in a block that
// must itself add (one that starts a branch run after another). nodes is a sequence whose first
// layer needs an input gradient when needDx and adds to it when acc.
func checkAccumulation(nodes []*node, needDx, acc bool) error {
	for i, nd := range nodes {
		needDx, acc := needDx || i > 0, acc && i == 0
		if nd.spec.Type != TypeConcat {
			continue
		}
		if fixed := fixedBranches(nd); needDx && (len(fixed) > 1 || len(fixed) == 1 && acc) {
			return fmt.Errorf("block %s: branches %v start with a layer whose input gradient cannot be summed with the other branches' (relu, an empty branch); "+
				"at most one branch per block may, and none in a block that starts a branch of an outer block: start them with a conv or pool",
				nd.name, oneBased(fixed))
		}
		for k, b := range branchOrder(nd, needDx) {
			if err := checkAccumulation(nd.branches[b], needDx, acc || k > 0); err != nil {
				return err
			}
		}
	}
	return nil
}

func oneBased(idx []int) []int {
	out := make([]int, len(idx))
	for i, v := range idx {
		out[i] = v + 1
	}
	return out
}
