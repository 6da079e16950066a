package net

import (
	"fmt"
)

// Pack is K copies of one network (its members) trained as a single network on one backend:
// the members see the same input batch and keep separate weights, gradients and losses.
//
// Layout: layers before the first convolution (pooling, ReLU) run once on the shared input; the
// first convolution is one convolution of K*F filters over it; every later convolution is
// grouped with K groups; pooling and ReLU run over all K*C channels at once; a dense layer is
// K products, one per member; an inception block's branches are concatenated member by member,
// so that each member's channels stay contiguous for the next grouped convolution. Every
// activation tensor holds member m's channels at [m*C, (m+1)*C).
//
// Parameters are laid out segment by segment: each segment of a member's flat parameter tensor
// (a layer's weights, a layer's bias; see Segments) becomes K consecutive copies, member by
// member. So member m's filters of a layer are the m-th block of the packed weight tensor, as a
// grouped convolution wants them, and a member's share of the packed tensor is a list of
// contiguous views (Scatter, Gather, MemberTable).
//
// On the CPU backend each member computes bit for bit what its network computes alone: a
// grouped convolution runs each group exactly as the ungrouped convolution of that group, the
// shared first convolution's GEMM sums each filter in an order that depends only on its own
// length, and the dense layers, the loss and the optimiser run per member. The CPU's GEMM sums
// each output element in the order of k alone, whatever the operands' offsets and alignment, so
// a member's stretch of a packed tensor computes what it computes alone.
type Pack struct {
	Spec    *Spec
	K       int
	Batch   int
	In      [3]int
	Classes int

	Input   *Tensor // Batch x C x H x W, shared by the members
	Labels  *Tensor // Batch x 1 x 1 x 1
	Logits  *Tensor // Batch x K*Classes x 1 x 1: member m's logits are channels [m*Classes, (m+1)*Classes)
	DLogits *Tensor
	Params  *Tensor // K times a member's parameter count, laid out as described above
	Grads   *Tensor

	b      Backend
	plan   *plan
	layers []layer
	segs   []Segment
}

// Segment is a contiguous stretch of a member's flat parameter tensor that the pack keeps as K
// consecutive copies: at K*Offset + m*Len for member m.
type Segment struct {
	Offset, Len int
}

// BuildPack builds k members of spec for batch examples of shape in (C, H, W) and classes
// classes on b. It refuses networks it cannot pack: batch norm, or a dense layer or block
// before the first convolution.
func BuildPack(b Backend, spec *Spec, batch int, in [3]int, classes, k int) (*Pack, error) {
	if k < 1 {
		return nil, fmt.Errorf("%s: pack of %d members: want at least 1", spec.Name, k)
	}
	if batch < 1 {
		return nil, fmt.Errorf("%s: batch size %d: want at least 1", spec.Name, batch)
	}
	p, err := newPlan(spec, in, classes)
	if err != nil {
		return nil, err
	}
	if p.state > 0 {
		return nil, fmt.Errorf("%s: batch norm cannot be packed yet: train its runs one by one (--pack 1)", spec.Name)
	}
	pk := &Pack{Spec: spec, K: k, Batch: batch, In: in, Classes: classes, b: b, plan: p}
	for _, g := range p.groups {
		pk.segs = append(pk.segs, Segment{g.Weight, g.Filters * g.FilterLen})
		if g.Bias >= 0 {
			pk.segs = append(pk.segs, Segment{g.Bias, g.Filters})
		}
	}
	bd := &builder{b: b, batch: batch, net: &Net{}}
	pk.Input = bd.alloc(batch, in)
	pk.Labels = bd.alloc(batch, [3]int{1, 1, 1})
	pk.Params = bd.alloc(k*p.params, [3]int{1, 1, 1})
	pk.Grads = bd.alloc(k*p.params, [3]int{1, 1, 1})
	if bd.err != nil {
		return nil, bd.err
	}
	pb := &packBuilder{bd: bd, k: k, params: pk.Params, grads: pk.Grads}
	var shared bool
	pk.layers, pk.Logits, pk.DLogits, shared, err = pb.seq(p.top, pk.Input, nil, false, true)
	if err == nil && shared {
		err = fmt.Errorf("no convolution: the members would share every layer")
	}
	if err == nil {
		err = bd.err
	}
	if err != nil {
		return nil, fmt.Errorf("%s: packing %d members: %w", spec.Name, k, err)
	}
	return pk, nil
}

// ParamCount is one member's number of trainable parameters.
func (pk *Pack) ParamCount() int { return pk.plan.params }

// Segments are the stretches of a member's flat parameter tensor, in order; they cover it.
func (pk *Pack) Segments() []Segment { return pk.segs }

// Forward computes every member's logits from Input.
func (pk *Pack) Forward(training bool) {
	for _, l := range pk.layers {
		l.forward(training)
	}
}

// Backward computes Grads from DLogits, after a Forward(true) of the same batch.
func (pk *Pack) Backward() {
	for i := len(pk.layers) - 1; i >= 0; i-- {
		pk.layers[i].backward()
	}
}

// MemberLogits are member m's logits and their gradient (channel slices of Logits and DLogits).
func (pk *Pack) MemberLogits(m int) (logits, dlogits *Tensor) {
	c0, c1 := m*pk.Classes, (m+1)*pk.Classes
	return pk.Logits.Channels(c0, c1), pk.DLogits.Channels(c0, c1)
}

// MemberTable maps a filter table of a member's network (its Weights, or a ConvTable) onto the
// packed parameter tensor: the same groups, layer words and initialisers, with member m's
// offsets. RandomOut and initialisation then act on the member's filters in the pack exactly as
// they would on its network alone.
func (pk *Pack) MemberTable(ft *FilterTable, m int) *FilterTable {
	groups := make([]FilterGroup, len(ft.Groups))
	for i, g := range ft.Groups {
		g.Weight = pk.K*g.Weight + m*g.Filters*g.FilterLen
		if g.Bias >= 0 {
			g.Bias = pk.K*g.Bias + m*g.Filters
		}
		groups[i] = g
	}
	return NewFilterTable(groups)
}

// MemberViews are member m's stretches of a packed flat tensor (Params, Grads, or optimiser
// state laid out like them), one per segment, and the matching stretches of a member's own flat
// tensor when own is not nil.
func (pk *Pack) MemberViews(packed, own *Tensor, m int) (in, mine []*Tensor) {
	for _, s := range pk.segs {
		in = append(in, packed.View(pk.K*s.Offset+m*s.Len, s.Len, 1, 1, 1))
		if own != nil {
			mine = append(mine, own.View(s.Offset, s.Len, 1, 1, 1))
		}
	}
	return in, mine
}

// Scatter copies a member's own flat tensor (its network's Params, or state laid out like them)
// into member m's place in a packed one.
func (pk *Pack) Scatter(packed, own *Tensor, m int) {
	pk.checkFlat(packed, own)
	in, mine := pk.MemberViews(packed, own, m)
	for i := range in {
		pk.b.Copy(in[i], mine[i])
	}
}

// Gather copies member m's place in a packed flat tensor into the member's own flat tensor.
func (pk *Pack) Gather(own, packed *Tensor, m int) {
	pk.checkFlat(packed, own)
	in, mine := pk.MemberViews(packed, own, m)
	for i := range in {
		pk.b.Copy(mine[i], in[i])
	}
}

func (pk *Pack) checkFlat(packed, own *Tensor) {
	if packed.Len() != pk.K*pk.plan.params || own.Len() != pk.plan.params {
		panic(fmt.Sprintf("net: pack of %d members of %d parameters: flat tensors %v and %v", pk.K, pk.plan.params, packed.Shape(), own.Shape()))
	}
}

// packBuilder turns a member's planned nodes into the pack's layers.
type packBuilder struct {
	bd            *builder
	k             int
	params, grads *Tensor
}

// seq builds a sequence reading x (shared: the members' common input, not yet split by
// member). It returns the layers, the output and its gradient, and whether the output is still
// shared.
func (pb *packBuilder) seq(nodes []*node, x, dx *Tensor, acc, shared bool) ([]layer, *Tensor, *Tensor, bool, error) {
	var layers []layer
	for i, nd := range nodes {
		outShared := shared && (nd.spec.Type == TypeMaxPool || nd.spec.Type == TypeAvgPool || nd.spec.Type == TypeReLU)
		if shared && !outShared && nd.spec.Type != TypeConv {
			return nil, nil, nil, false, fmt.Errorf("layer %s: a %s layer on the shared input: the first layer with weights must be a convolution", nd.name, nd.spec.Type)
		}
		out := nd.out
		if !outShared {
			out[0] *= pb.k
		}
		y, dy := pb.bd.alloc(pb.bd.batch, out), pb.bd.alloc(pb.bd.batch, out)
		if pb.bd.err != nil {
			return nil, nil, nil, false, pb.bd.err
		}
		l, err := pb.layer(nd, x, dx, acc && i == 0, y, dy, shared)
		if err != nil {
			return nil, nil, nil, false, err
		}
		layers = append(layers, l)
		x, dx, shared = y, dy, outShared
	}
	return layers, x, dx, shared, nil
}

func (pb *packBuilder) layer(nd *node, x, dx *Tensor, acc bool, y, dy *Tensor, shared bool) (layer, error) {
	b, k := pb.bd.b, pb.k
	switch nd.spec.Type {
	case TypeConv:
		if nd.bn {
			return nil, fmt.Errorf("layer %s: batch norm cannot be packed yet", nd.name)
		}
		p := nd.conv
		if !shared {
			p.Groups = k // each member's filters read its own channels
		}
		l := &convLayer{b: b, p: p, x: x, dx: dx, y: y, dy: dy, relu: nd.relu, acc: acc,
			w:  pb.params.View(k*nd.wOff, k*nd.units, nd.in[0], nd.kh, nd.kw),
			dw: pb.grads.View(k*nd.wOff, k*nd.units, nd.in[0], nd.kh, nd.kw)}
		if nd.bias {
			l.bias, l.db = pb.params.View(k*nd.bOff, k*nd.units, 1, 1, 1), pb.grads.View(k*nd.bOff, k*nd.units, 1, 1, 1)
		}
		return l, nil
	case TypeDense:
		c, d := nd.in[0], nd.in[0]*nd.in[1]*nd.in[2]
		l := &packedDense{}
		for m := 0; m < k; m++ {
			ml := &denseLayer{b: b, x: x.Channels(m*c, (m+1)*c), y: y.Channels(m*nd.units, (m+1)*nd.units),
				dy: dy.Channels(m*nd.units, (m+1)*nd.units), relu: nd.relu, acc: acc,
				w:  pb.params.View(k*nd.wOff+m*nd.units*d, nd.units, d, 1, 1),
				dw: pb.grads.View(k*nd.wOff+m*nd.units*d, nd.units, d, 1, 1)}
			if dx != nil {
				ml.dx = dx.Channels(m*c, (m+1)*c)
			}
			if nd.bias {
				ml.bias = pb.params.View(k*nd.bOff+m*nd.units, nd.units, 1, 1, 1)
				ml.db = pb.grads.View(k*nd.bOff+m*nd.units, nd.units, 1, 1, 1)
			}
			l.members = append(l.members, ml)
		}
		return l, nil
	case TypeMaxPool, TypeAvgPool:
		return &poolLayer{b: b, p: nd.pool, x: x, dx: dx, y: y, dy: dy, acc: acc}, nil
	case TypeReLU:
		return &reluLayer{b: b, x: x, dx: dx, y: y, dy: dy}, nil
	case TypeConcat:
		if shared {
			return nil, fmt.Errorf("block %s on the shared input: the first layer with weights must be a convolution", nd.name)
		}
		return pb.concat(nd, x, dx, acc, y, dy)
	}
	return nil, fmt.Errorf("layer %s: unknown type %q", nd.name, nd.spec.Type)
}

// packedDense is a dense layer as K products, one per member, on the members' channel slices.
type packedDense struct {
	members []*denseLayer
}

func (l *packedDense) forward(training bool) {
	for _, m := range l.members {
		m.forward(training)
	}
}

func (l *packedDense) backward() {
	for _, m := range l.members {
		m.backward()
	}
}

// packedConcat runs a block's branches, each into a tensor of its own (K*chans channels, member
// by member), and copies them into the block's output member by member. Seen as N*K samples of
// one member each, the output is a plain concatenation, so each branch is one copy whatever K.
type packedConcat struct {
	b        Backend
	branches [][]layer // in backward order
	outs     []*Tensor // each branch's output, as N*K samples
	douts    []*Tensor // its gradient, as N*K samples (the block's input gradient for an empty branch)
	slices   []*Tensor // the branch's channels of the block's output, as N*K samples
	dslices  []*Tensor
}

func (l *packedConcat) forward(training bool) {
	for i, br := range l.branches {
		for _, x := range br {
			x.forward(training)
		}
		l.b.Copy(l.slices[i], l.outs[i])
	}
}

func (l *packedConcat) backward() {
	for i, br := range l.branches {
		if l.douts[i] != nil {
			l.b.Copy(l.douts[i], l.dslices[i])
		}
		for j := len(br) - 1; j >= 0; j-- {
			br[j].backward()
		}
	}
}

// perMember views a tensor of K members' channels as N*K samples of one member each.
func perMember(t *Tensor, k int) *Tensor {
	if !t.Dense() || t.C%k != 0 {
		panic(fmt.Sprintf("net: %v is not K=%d members' dense channels", t.Shape(), k))
	}
	return t.Reshape(t.N*k, t.C/k, t.H, t.W)
}

func (pb *packBuilder) concat(nd *node, x, dx *Tensor, acc bool, y, dy *Tensor) (layer, error) {
	order := branchOrder(nd, dx != nil)
	c0 := make([]int, len(nd.branches))
	for i := 1; i < len(c0); i++ {
		c0[i] = c0[i-1] + nd.chans[i-1]
	}
	k := pb.k
	yv, dyv := perMember(y, k), perMember(dy, k)
	l := &packedConcat{b: pb.bd.b}
	for n, i := range order {
		bacc := acc || n > 0
		br, out, dout, _, err := pb.seq(nd.branches[i], x, dx, bacc, false)
		if err != nil {
			return nil, err
		}
		if len(nd.branches[i]) == 0 { // the block's input itself; its gradient goes to dx
			out, dout = x, dx
		}
		l.branches = append(l.branches, br)
		l.outs = append(l.outs, perMember(out, k))
		if dout != nil {
			dout = perMember(dout, k)
		}
		l.douts = append(l.douts, dout)
		l.slices = append(l.slices, yv.Channels(c0[i], c0[i]+nd.chans[i]))
		l.dslices = append(l.dslices, dyv.Channels(c0[i], c0[i]+nd.chans[i]))
	}
	return l, nil
}
