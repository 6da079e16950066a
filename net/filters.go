package net

// RandomOut's types: the filter tables that Backend.FilterNorms, MarkBelow and RedrawFilters
// work on, and their options.

// NormKind is the per-filter gradient norm RandomOut compares with its threshold.
type NormKind int

const (
	NormL1 NormKind = iota // sum of |g|: the paper's CGN
	NormL2                 // sqrt of the sum of g^2
)

// Threshold is RandomOut's tau: absolute, or relative to the mean norm of the filter's group.
type Threshold struct {
	Tau      float32
	Relative bool
}

// Redraw says what RedrawFilters writes.
type Redraw struct {
	Seed    uint64  // the run's seed: the rng key
	Purpose uint32  // rng purpose word: 0 for initialisation, step+1 for a re-draw after step
	Params  *Tensor // the flat parameter tensor
	// ZeroBias also sets the re-drawn filters' biases to 0 (groups with a bias only).
	ZeroBias bool
	// Moments are optimiser state tensors laid out like Params (Adam's m and v, SGD's velocity);
	// the re-drawn filters' entries in them are set to 0 (their bias entries too with ZeroBias).
	Moments []*Tensor
	// Counts, when not nil (len(ft.Groups) x 1 x 1 x 1), gets the number of filters re-drawn in
	// each group added to it.
	Counts *Tensor
}

// FilterGroup is one weight tensor seen as filters: its place in the flat parameter tensor and
// its initialiser. Initialisation and RandomOut both work on groups.
type FilterGroup struct {
	Name      string  // the layer's name, for logs
	Layer     uint32  // rng group word: the layer's index in the network, fixed by the spec
	Weight    int     // offset of the first weight in the flat parameter tensor
	Bias      int     // offset of the first bias, or -1 when the layer has none
	Filters   int     // output filters (K)
	FilterLen int     // weights per filter (C*KH*KW, or D for a dense layer)
	Bound     float32 // the initialiser draws weights from U(-Bound, Bound)
}

// FilterTable is a list of filter groups with the filters numbered across groups in order
// (the layout of the norms and mask tensors). Backends may cache device copies in Impl.
type FilterTable struct {
	Groups  []FilterGroup
	Filters int // total filters over all groups
	Impl    any
}

// NewFilterTable numbers the filters of groups.
func NewFilterTable(groups []FilterGroup) *FilterTable {
	ft := &FilterTable{Groups: groups}
	for _, g := range groups {
		ft.Filters += g.Filters
	}
	return ft
}
