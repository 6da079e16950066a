package net

import (
	"fmt"
	"math"
)

// Reviving is the part of Backend that the activation-based revival rules use (ReDo, continual
// backprop): statistics of a layer's output taken beside the forward pass, the rules' decisions,
// and the resets of a filter's outgoing weights. Like RandomOut's operations they only queue
// work, so a device backend never waits on the host inside a step.
type Reviving interface {
	// ActivationMeans writes, for every channel k of y (N x K x H x W, possibly a channel slice),
	// the mean of |y| over the batch and positions into means (K values, dense).
	ActivationMeans(y, means *Tensor)
	// MarkDormant is ReDo's decision: per group g of ft, score[f] = means[f] / (mean_g + 1e-9),
	// mean_g the mean of the group's means (summed in float64, rounded to float32; the score a
	// float32 division); mask[f] = 1 where score[f] <= Tau, else 0. The number marked in each
	// group is added to counts (len(ft.Groups) values).
	MarkDormant(ft *FilterTable, means, mask, counts *Tensor, tau float32)
	// OutgoingMeans writes, for every filter of rt, the mean |w| over the consumer weights that
	// read its channel (every row of every link) into out (rt.Filters values; 0 with no link).
	OutgoingMeans(rt *ReviveTable, params, out *Tensor)
	// ResetOutgoing, for every filter of rt whose mask is 1, zeroes the consumer weights that
	// read its channel and their entries in moments, and resets its batch-norm scale to 1 and
	// shift to 0 (their moments to 0) and its running mean to 0 and variance to 1 (in state,
	// which may be nil when no group has batch norm).
	ResetOutgoing(rt *ReviveTable, mask, params, state *Tensor, moments []*Tensor)
	// CBPStep is one step of continual backprop's bookkeeping and decision; see CBPParams.
	CBPStep(ft *FilterTable, means, outMeans, util, age, acc, mask, counts *Tensor, p CBPParams)
}

// CBPParams configure continual backprop's step (Dohare et al. 2024, convGnT's rule). Per filter
// f of group g, in order:
//
//	age[f] += 1
//	util[f] = Decay*util[f] + (1-Decay)*means[f]*outMeans[f]           (float32)
//	mature[f] = age[f] > Maturity
//
// then per group, when it has m > 0 mature filters: acc[g] += Rate*m (float32); n = floor(acc[g]);
// acc[g] -= n; the n mature filters of least bias-corrected utility util[f] / (1 - Decay^age[f])
// (computed in float64; ties to the lower index; all of them when n >= m) get mask 1, util 0
// and age 0; every other filter mask 0. counts[g] gets n (at most m) added.
type CBPParams struct {
	Decay    float32
	Rate     float32
	Maturity float32
}

// Link is one consumer weight tensor reading a filter group's channels: the weights of filter f
// of the group are, for every row r < Rows, Len consecutive values starting at
// Weight + f*Len + r*RowStride of the flat parameter tensor. A conv consumer with K filters over
// C input channels has Rows K, RowStride C*KH*KW and Len KH*KW; a dense consumer over a C x H x W
// input has Rows its units, RowStride C*H*W and Len H*W. Weight already includes the offset of
// the group's channels in the consumer's input (a block's concatenation, kept through pools).
type Link struct {
	Weight, Rows, RowStride, Len int
}

// ReviveGroup is what a reset touches beyond a filter's own weights and bias.
type ReviveGroup struct {
	Links []Link
	// Gamma is the offset of the batch-norm scale of filter 0 (the shift follows K later), -1
	// without batch norm; RunMean the offset of its running mean in the state tensor (the
	// variance follows K later).
	Gamma, RunMean int
	// FanOut is K*KH*KW, for the initialisers that need it (FanIn is the group's FilterLen).
	FanOut int
}

// ReviveTable is a FilterTable of watched conv layers with, per group, the consumers of its
// channels as the network plan lays them out. Backends may cache device copies in Impl.
type ReviveTable struct {
	*FilterTable
	Groups []ReviveGroup // parallel to FilterTable.Groups
	Impl   any
}

// ReviveTable returns the consumers of the filters of ft (groups of n's conv layers, as
// ConvTable gives them) and, per group, the tensor holding its filters' activations (its output
// after batch norm and ReLU, which may be a channel slice of a block's output).
func (n *Net) ReviveTable(ft *FilterTable) (*ReviveTable, []*Tensor, error) {
	nodes := map[uint32]*node{}
	var walkNodes func([]*node)
	walkNodes = func(ns []*node) {
		for _, nd := range ns {
			nodes[nd.index] = nd
			for _, br := range nd.branches {
				walkNodes(br)
			}
		}
	}
	walkNodes(n.plan.top)
	links := map[uint32][]Link{}
	consumers(n.plan.top, []chanSrc{{layer: noLayer, count: n.In[0]}}, links)
	acts := map[int]*Tensor{}
	convOutputs(n.layers, n.Params.Offset, acts)
	rt := &ReviveTable{FilterTable: ft, Groups: make([]ReviveGroup, len(ft.Groups))}
	ys := make([]*Tensor, len(ft.Groups))
	for i, g := range ft.Groups {
		nd := nodes[g.Layer]
		if nd == nil || nd.spec.Type != TypeConv || nd.wOff != g.Weight {
			return nil, nil, fmt.Errorf("%s: group %s is not a conv layer of the network", n.Spec.Name, g.Name)
		}
		rg := ReviveGroup{Links: links[g.Layer], Gamma: nd.gOff, RunMean: nd.sOff, FanOut: nd.units * nd.kh * nd.kw}
		if len(rg.Links) == 0 {
			return nil, nil, fmt.Errorf("%s: conv layer %s feeds no weight (the output layer is never revived)", n.Spec.Name, g.Name)
		}
		rt.Groups[i] = rg
		if ys[i] = acts[g.Weight]; ys[i] == nil {
			return nil, nil, fmt.Errorf("%s: conv layer %s was not built", n.Spec.Name, g.Name)
		}
	}
	return rt, ys, nil
}

// chanSrc says which conv layer wrote a run of a tensor's channels: count filters from first
// on of the layer with rng word layer.
type chanSrc struct {
	layer        uint32
	first, count int
}

// consumers follows the channels of every conv layer through the sequence nodes, whose input
// channels come from in (in channel order; noLayer marks the network's input), and records in links the weights that read them. It returns the
// sequence's output channels.
func consumers(nodes []*node, in []chanSrc, links map[uint32][]Link) []chanSrc {
	for _, nd := range nodes {
		switch nd.spec.Type {
		case TypeConv, TypeDense:
			length, rowStride := nd.kh*nd.kw, nd.in[0]*nd.kh*nd.kw
			if nd.spec.Type == TypeDense {
				length = nd.in[1] * nd.in[2]
				rowStride = nd.in[0] * length
			}
			c := 0
			for _, s := range in {
				if s.layer != noLayer {
					links[s.layer] = append(links[s.layer], Link{Weight: nd.wOff + (c-s.first)*length,
						Rows: nd.units, RowStride: rowStride, Len: length})
				}
				c += s.count
			}
			in = []chanSrc{{layer: nd.index, count: nd.units}}
			if nd.spec.Type == TypeDense {
				in[0].layer = noLayer // a dense layer is never watched
			}
		case TypeConcat:
			var out []chanSrc
			for _, br := range nd.branches {
				out = append(out, consumers(br, in, links)...)
			}
			in = out
		}
		// pools and ReLUs keep the channels where they are
	}
	return in
}

// noLayer marks channels that no watched layer wrote (the network's input).
const noLayer = math.MaxUint32

// convOutputs records, by weight offset in the parameter tensor, the output tensor of every conv
// layer among ls.
func convOutputs(ls []layer, paramsOffset int, out map[int]*Tensor) {
	for _, l := range ls {
		switch l := l.(type) {
		case *convLayer:
			out[l.w.Offset-paramsOffset] = l.y
		case *concatLayer:
			for _, br := range l.branches {
				convOutputs(br, paramsOffset, out)
			}
		}
	}
}
