package net

import "fmt"

// GraphLayer is a planned layer as another framework needs it to rebuild the network: its
// settings resolved (defaults filled in, names given, "classes" replaced by the count). A block's
// branches hold their layers, each named by its last component (the block's name is the
// prefix), so that a framework nesting modules by name gets the same dotted names.
type GraphLayer struct {
	Name     string         `json:"name"`  // full dotted name, as in summaries and logs
	Local    string         `json:"local"` // the name within its block (Name without the block's prefix)
	Type     string         `json:"type"`  // conv, maxpool, avgpool, dense, relu, concat
	Filters  int            `json:"filters,omitempty"`
	Units    int            `json:"units,omitempty"`
	Kernel   [2]int         `json:"kernel,omitempty"`
	Stride   [2]int         `json:"stride,omitempty"`
	Pad      [2]int         `json:"pad,omitempty"`
	Ceil     bool           `json:"ceil,omitempty"`
	Global   bool           `json:"global,omitempty"`
	ReLU     bool           `json:"relu,omitempty"`
	Bias     bool           `json:"bias,omitempty"`
	BN       bool           `json:"bn,omitempty"`
	BNEps    float64        `json:"bn_eps,omitempty"`
	In       [3]int         `json:"in"`
	Out      [3]int         `json:"out"`
	Branches [][]GraphLayer `json:"branches,omitempty"`
}

// ParamView is one tensor of a layer inside the flat Params (or State) tensor, named and shaped
// as PyTorch names and shapes it: conv weights [F, C, KH, KW], dense weights [units, inputs]
// (the input flattened as C, H, W), biases [F]; batch norm's scale and shift as NAME.bn.weight and
// NAME.bn.bias, its running statistics (in State) as NAME.bn.running_mean and running_var.
type ParamView struct {
	Name   string
	Shape  []int
	State  bool // in the State tensor, else in Params
	Offset int
}

// Len is the number of values of the view.
func (v ParamView) Len() int {
	n := 1
	for _, d := range v.Shape {
		n *= d
	}
	return n
}

// Graph plans spec for an input and class count and returns its layers and its tensors'
// views, in spec order, without allocating anything.
func Graph(spec *Spec, in [3]int, classes int) ([]GraphLayer, []ParamView, error) {
	p, err := newPlan(spec, in, classes)
	if err != nil {
		return nil, nil, err
	}
	var views []ParamView
	layers := graphOf(p.top, "", spec.BatchNorm.Eps, &views)
	if len(views) == 0 {
		return nil, nil, fmt.Errorf("%s: no parameters", spec.Name)
	}
	return layers, views, nil
}

func graphOf(nodes []*node, prefix string, eps float64, views *[]ParamView) []GraphLayer {
	var out []GraphLayer
	for _, n := range nodes {
		g := GraphLayer{Name: n.name, Local: n.name[len(prefix):], Type: n.spec.Type, In: n.in, Out: n.out}
		switch n.spec.Type {
		case TypeConv, TypeDense:
			g.ReLU, g.Bias, g.BN = n.relu, n.bias, n.bn
			shape := []int{n.units, n.in[0] * n.in[1] * n.in[2]}
			if n.spec.Type == TypeConv {
				g.Filters = n.units
				g.Kernel = [2]int{n.kh, n.kw}
				g.Stride = [2]int{n.conv.StrideH, n.conv.StrideW}
				g.Pad = [2]int{n.conv.PadH, n.conv.PadW}
				shape = []int{n.units, n.in[0], n.kh, n.kw}
			} else {
				g.Units = n.units
			}
			*views = append(*views, ParamView{Name: n.name + ".weight", Shape: shape, Offset: n.wOff})
			if n.bias {
				*views = append(*views, ParamView{Name: n.name + ".bias", Shape: []int{n.units}, Offset: n.bOff})
			}
			if n.bn {
				g.BNEps = eps
				k := []int{n.units}
				*views = append(*views,
					ParamView{Name: n.name + ".bn.weight", Shape: k, Offset: n.gOff},
					ParamView{Name: n.name + ".bn.bias", Shape: k, Offset: n.gOff + n.units},
					ParamView{Name: n.name + ".bn.running_mean", Shape: k, State: true, Offset: n.sOff},
					ParamView{Name: n.name + ".bn.running_var", Shape: k, State: true, Offset: n.sOff + n.units})
			}
		case TypeMaxPool, TypeAvgPool:
			g.Kernel = [2]int{n.pool.KH, n.pool.KW}
			g.Stride = [2]int{n.pool.StrideH, n.pool.StrideW}
			g.Pad = [2]int{n.pool.PadH, n.pool.PadW}
			g.Ceil, g.Global = n.pool.Ceil, n.spec.Global
		case TypeConcat:
			g.Branches = make([][]GraphLayer, len(n.branches))
			for i, br := range n.branches {
				g.Branches[i] = graphOf(br, n.name+".", eps, views)
				if g.Branches[i] == nil {
					g.Branches[i] = []GraphLayer{} // an empty branch passes its input through
				}
			}
		}
		out = append(out, g)
	}
	return out
}
