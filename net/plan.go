package net

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// LayerInfo describes one layer of a planned network, for summaries and logs.
type LayerInfo struct {
	Name   string // unique, e.g. "s1.3x3"
	Type   string // conv, maxpool, avgpool, dense, relu, concat, identity
	Detail string // e.g. "3x3/2 pad 1, bn, relu"
	Depth  int    // 0 for a top-level layer, 1 inside a block's branch, ...
	Out    [3]int // output C, H, W
	Params int
	// FLOPs is the forward cost per example under rout's counting rule: 2 per multiply-add of a
	// conv or dense layer's weights (2*K*C*KH*KW*OH*OW, 2*D*O); bias additions, activations,
	// pooling, batch norm and concatenation count 0. (For inception28 this gives the paper's
	// 408,439,360 exactly.)
	FLOPs int64
}

// Summary is a planned network's layers and totals.
type Summary struct {
	Spec    *Spec
	In      [3]int
	Classes int
	Layers  []LayerInfo // in spec order, a block before its branches' layers
	Params  int
	FLOPs   int64 // per example, forward
}

// Summarize plans spec for an input and class count without allocating anything.
func Summarize(spec *Spec, in [3]int, classes int) (*Summary, error) {
	p, err := newPlan(spec, in, classes)
	if err != nil {
		return nil, err
	}
	return p.summary, nil
}

// node is one planned layer: its resolved settings, shapes and parameter offsets.
type node struct {
	spec     *LayerSpec
	name     string
	index    uint32 // pre-order position in the spec: the rng group word
	in, out  [3]int
	relu     bool
	bias     bool
	bn       bool
	conv     ConvParams
	kh, kw   int
	pool     PoolParams
	units    int // dense outputs (conv: filters)
	wOff     int // weights
	bOff     int // bias, -1 when none
	gOff     int // batch-norm gamma then beta (2*units values)
	sOff     int // batch-norm running mean then variance in the state tensor
	bound    float32
	branches [][]*node // concat
	chans    []int     // concat: each branch's output channel count
}

type plan struct {
	spec    *Spec
	classes int
	top     []*node
	params  int
	state   int
	groups  []FilterGroup // conv and dense weights, in spec order
	isConv  []bool        // per group
	summary *Summary
}

func newPlan(spec *Spec, in [3]int, classes int) (*plan, error) {
	where := spec.Name // errors name the file a user's network came from
	if spec.Source != "" && !strings.HasPrefix(spec.Source, "builtin:") {
		where = spec.Source
	}
	if classes < 1 {
		return nil, fmt.Errorf("%s: %d classes: want at least 1", where, classes)
	}
	if in[0] < 1 || in[1] < 1 || in[2] < 1 {
		return nil, fmt.Errorf("%s: input %dx%dx%d: every dimension must be at least 1", where, in[0], in[1], in[2])
	}
	if err := spec.Check(); err != nil {
		return nil, err
	}
	p := &plan{spec: spec, classes: classes, summary: &Summary{Spec: spec, In: in, Classes: classes}}
	var index uint32
	top, out, err := p.seq(spec.Layers, in, "", 0, "", &index, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if out != [3]int{classes, 1, 1} {
		return nil, fmt.Errorf("%s: the network's output is %s for input %s; it must be %dx1x1 (end with a dense layer with units = \"classes\")",
			where, shapeString(out), shapeString(in), classes)
	}
	if err := checkAccumulation(top, false, false); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	p.top = top
	var params, flops float64 // in float64, where an absurd network's int sums would overflow
	for _, l := range p.summary.Layers {
		p.summary.Params += l.Params
		p.summary.FLOPs += l.FLOPs
		params += float64(l.Params)
		flops += float64(l.FLOPs)
		if l.Params < 0 || l.FLOPs < 0 {
			params, flops = math.Inf(1), math.Inf(1)
		}
	}
	if params > MaxParams || flops > math.MaxInt64/2 {
		return nil, fmt.Errorf("%s: %.3g parameters and %.3g FLOPs per example: rout holds at most %d parameters (one flat float32 tensor, indexed by 32-bit integers on the GPU)",
			where, params, flops, MaxParams)
	}
	return p, nil
}

// seq plans a sequence of layers reading shape in. prefix is the enclosing block's name plus ".";
// where locates the sequence in error messages.
// taken holds the names already given in the enclosing block (nil: a fresh set), since the
// branches of a block share one namespace.
func (p *plan) seq(ls []LayerSpec, in [3]int, prefix string, depth int, where string, index *uint32, taken map[string]bool) ([]*node, [3]int, error) {
	if taken == nil {
		taken = explicitNames(ls)
	}
	names := autoNames(ls, prefix == "", taken)
	var nodes []*node
	for i := range ls {
		l := &ls[i]
		n := &node{spec: l, name: prefix + names[i], index: *index, in: in, bOff: -1, gOff: -1, sOff: -1}
		*index++
		loc := fmt.Sprintf("%slayer %d (%s)", where, i+1, n.name)
		info := LayerInfo{Name: n.name, Type: l.Type, Depth: depth}
		infoAt := len(p.summary.Layers)
		p.summary.Layers = append(p.summary.Layers, info)
		var err error
		switch l.Type {
		case TypeConv:
			err = p.planConv(n, l)
		case TypeMaxPool, TypeAvgPool:
			err = p.planPool(n, l)
		case TypeDense:
			err = p.planDense(n, l)
		case TypeReLU:
			n.out = in
		case TypeConcat:
			err = p.planConcat(n, l, depth, loc, index)
		default:
			err = fmt.Errorf("unknown type %q", l.Type)
		}
		if err != nil {
			if l.Type == TypeConcat { // located by the branch that failed
				return nil, in, err
			}
			return nil, in, fmt.Errorf("%s: %w", loc, err)
		}
		info = p.summary.Layers[infoAt]
		info.Out = n.out
		info.Detail, info.Params, info.FLOPs = n.describe()
		p.summary.Layers[infoAt] = info
		nodes = append(nodes, n)
		in = n.out
	}
	return nodes, in, nil
}

// MaxParams bounds a network's parameters: they live in one flat tensor, which the GPU kernels
// index with 32-bit integers.
const MaxParams = math.MaxInt32

// explicitNames is the set of the names given in the files to the layers of the sequences
// (one sequence, or the branches of a block).
func explicitNames(seqs ...[]LayerSpec) map[string]bool {
	taken := map[string]bool{}
	for _, ls := range seqs {
		for _, l := range ls {
			if l.Name != "" {
				taken[l.Name] = true
			}
		}
	}
	return taken
}

// autoNames names the unnamed layers of a sequence: at the top level "conv1", "maxpool2", ...
// (the count of that type so far), inside a branch "3x3" for a conv and the type otherwise; a
// name already in taken (the block's explicit names and those given so far, in any of its
// branches) gets "_2", "_3", ... Every name given is added to taken.
func autoNames(ls []LayerSpec, top bool, taken map[string]bool) []string {
	names := make([]string, len(ls))
	count := map[string]int{}
	for i, l := range ls {
		count[l.Type]++
		if l.Name != "" {
			names[i] = l.Name
			continue
		}
		base := l.Type
		switch {
		case top:
			base += strconv.Itoa(count[l.Type])
		case l.Type == TypeConv:
			base = fmt.Sprintf("%dx%d", l.Kernel[0], l.Kernel[1])
		}
		name := base
		for k := 2; taken[name]; k++ {
			name = base + "_" + strconv.Itoa(k)
		}
		taken[name] = true
		names[i] = name
	}
	return names
}

func (p *plan) initBound(l *LayerSpec, fanIn, fanOut int) float32 {
	s := l.Init
	if s == "" {
		s = p.spec.Init
	}
	in, _ := ParseInit(s) // checked by Spec.Check
	return in.BoundFor(fanIn, fanOut)
}

func (p *plan) planConv(n *node, l *LayerSpec) error {
	c, h, w := n.in[0], n.in[1], n.in[2]
	n.kh, n.kw = l.Kernel[0], l.Kernel[1]
	st := l.Stride
	if !st.set() {
		st = Pair{1, 1}
	}
	n.conv = ConvParams{StrideH: st[0], StrideW: st[1], PadH: l.Pad[0], PadW: l.Pad[1]}
	if h+2*l.Pad[0] < n.kh || w+2*l.Pad[1] < n.kw {
		return fmt.Errorf("a %dx%d kernel with pad %s does not fit the %s input", n.kh, n.kw, pairString(l.Pad[0], l.Pad[1]), shapeString(n.in))
	}
	oh, ow := n.conv.OutSize(h, w, n.kh, n.kw)
	n.units = l.Filters
	n.out = [3]int{l.Filters, oh, ow}
	n.relu = l.Act != "none"
	n.bias = l.Bias == nil || *l.Bias
	n.bn = l.BN
	fanIn := c * n.kh * n.kw
	n.bound = p.initBound(l, fanIn, l.Filters*n.kh*n.kw)
	p.addWeights(n, fanIn, true)
	return nil
}

func (p *plan) planDense(n *node, l *LayerSpec) error {
	n.units = int(l.Units)
	if n.units == 0 {
		n.units = p.classes
	}
	n.out = [3]int{n.units, 1, 1}
	n.relu = l.Act == "relu"
	n.bias = l.Bias == nil || *l.Bias
	fanIn := n.in[0] * n.in[1] * n.in[2]
	n.bound = p.initBound(l, fanIn, n.units)
	p.addWeights(n, fanIn, false)
	return nil
}

// addWeights lays out a layer's parameters in the flat tensor: weights, bias, then batch-norm
// gamma and beta; and its running statistics in the state tensor.
func (p *plan) addWeights(n *node, filterLen int, conv bool) {
	n.wOff = p.params
	p.params += n.units * filterLen
	if n.bias {
		n.bOff = p.params
		p.params += n.units
	}
	if n.bn {
		n.gOff = p.params
		p.params += 2 * n.units
		n.sOff = p.state
		p.state += 2 * n.units
	}
	p.groups = append(p.groups, FilterGroup{Name: n.name, Layer: n.index, Weight: n.wOff, Bias: n.bOff,
		Filters: n.units, FilterLen: filterLen, Bound: n.bound})
	p.isConv = append(p.isConv, conv)
}

func (p *plan) planPool(n *node, l *LayerSpec) error {
	c, h, w := n.in[0], n.in[1], n.in[2]
	mode := MaxPool
	if l.Type == TypeAvgPool {
		mode = AvgPool
	}
	if l.Global {
		n.pool = PoolParams{Mode: mode, KH: h, KW: w, StrideH: 1, StrideW: 1}
	} else {
		st := l.Stride
		if !st.set() {
			st = l.Kernel
		}
		n.pool = PoolParams{Mode: mode, KH: l.Kernel[0], KW: l.Kernel[1], StrideH: st[0], StrideW: st[1],
			PadH: l.Pad[0], PadW: l.Pad[1], Ceil: l.Ceil}
	}
	if h+2*n.pool.PadH < n.pool.KH || w+2*n.pool.PadW < n.pool.KW {
		return fmt.Errorf("a %dx%d window with pad %s does not fit the %s input", n.pool.KH, n.pool.KW, pairString(n.pool.PadH, n.pool.PadW), shapeString(n.in))
	}
	oh, ow := n.pool.OutSize(h, w)
	if oh < 1 || ow < 1 {
		return fmt.Errorf("output %dx%d from the %s input: below 1", oh, ow, shapeString(n.in))
	}
	n.out = [3]int{c, oh, ow}
	return nil
}

func (p *plan) planConcat(n *node, l *LayerSpec, depth int, loc string, index *uint32) error {
	var hw [2]int
	taken := explicitNames(l.Branches...)
	for b, br := range l.Branches {
		where := fmt.Sprintf("%s branch %d ", loc, b+1)
		nodes, out, err := p.seq(br, n.in, n.name+".", depth+1, where, index, taken)
		if err != nil {
			return err
		}
		if b == 0 {
			hw = [2]int{out[1], out[2]}
		} else if hw != [2]int{out[1], out[2]} {
			return fmt.Errorf("%s: branch %d gives %s but branch 1 gives %dx%d maps; every branch must give the same height and width",
				loc, b+1, shapeString(out), hw[0], hw[1])
		}
		n.branches = append(n.branches, nodes)
		n.chans = append(n.chans, out[0])
		n.out[0] += out[0]
	}
	n.out[1], n.out[2] = hw[0], hw[1]
	return nil
}

// describe gives the summary's detail column, parameter count and FLOPs of a planned layer.
func (n *node) describe() (string, int, int64) {
	var parts []string
	params := 0
	var flops int64
	switch n.spec.Type {
	case TypeConv:
		k := fmt.Sprintf("%dx%d", n.kh, n.kw)
		if n.conv.StrideH != 1 || n.conv.StrideW != 1 {
			k += "/" + pairString(n.conv.StrideH, n.conv.StrideW)
		}
		parts = append(parts, k)
		if n.conv.PadH != 0 || n.conv.PadW != 0 {
			parts = append(parts, "pad "+pairString(n.conv.PadH, n.conv.PadW))
		}
		fanIn := n.in[0] * n.kh * n.kw
		params = n.units * fanIn
		flops = 2 * int64(fanIn) * int64(n.out[0]*n.out[1]*n.out[2])
	case TypeDense:
		fanIn := n.in[0] * n.in[1] * n.in[2]
		params = n.units * fanIn
		flops = 2 * int64(fanIn) * int64(n.units)
	case TypeMaxPool, TypeAvgPool:
		if n.spec.Global {
			parts = append(parts, "global")
			break
		}
		k := fmt.Sprintf("%dx%d", n.pool.KH, n.pool.KW)
		if n.pool.StrideH != n.pool.KH || n.pool.StrideW != n.pool.KW {
			k += "/" + pairString(n.pool.StrideH, n.pool.StrideW)
		}
		parts = append(parts, k)
		if n.pool.PadH != 0 || n.pool.PadW != 0 {
			parts = append(parts, "pad "+pairString(n.pool.PadH, n.pool.PadW))
		}
		if n.pool.Ceil {
			parts = append(parts, "ceil")
		}
	case TypeConcat:
		var cs []string
		for _, c := range n.chans {
			cs = append(cs, strconv.Itoa(c))
		}
		parts = append(parts, strings.Join(cs, "+"))
	}
	if n.spec.Type == TypeConv || n.spec.Type == TypeDense {
		if n.bias {
			params += n.units
		} else {
			parts = append(parts, "no bias")
		}
		if n.bn {
			params += 2 * n.units
			parts = append(parts, "bn")
		}
		if n.relu {
			parts = append(parts, "relu")
		}
	}
	return strings.Join(parts, ", "), params, flops
}

func pairString(a, b int) string {
	if a == b {
		return strconv.Itoa(a)
	}
	return fmt.Sprintf("%dx%d", a, b)
}

func shapeString(s [3]int) string { return fmt.Sprintf("%dx%dx%d", s[0], s[1], s[2]) }
