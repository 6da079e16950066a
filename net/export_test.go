package net

import (
	"slices"
	"strings"
	"testing"
)

// TestGraphViews: the views of inception28-bn at a quarter width cover every parameter and
// every state value exactly once, with PyTorch's shapes, and the graph names a block's layers
// by their local names.
func TestGraphViews(t *testing.T) {
	spec, err := LoadSpec("inception28-bn@0.25")
	if err != nil {
		t.Fatal(err)
	}
	in := [3]int{3, 28, 28}
	sum, err := Summarize(spec, in, 10)
	if err != nil {
		t.Fatal(err)
	}
	graph, views, err := Graph(spec, in, 10)
	if err != nil {
		t.Fatal(err)
	}
	var params, state []bool
	byName := map[string]ParamView{}
	for _, v := range views {
		if _, dup := byName[v.Name]; dup {
			t.Errorf("view %s named twice", v.Name)
		}
		byName[v.Name] = v
		cover := &params
		if v.State {
			cover = &state
		}
		if need := v.Offset + v.Len(); need > len(*cover) {
			*cover = append(*cover, make([]bool, need-len(*cover))...)
		}
		for i := v.Offset; i < v.Offset+v.Len(); i++ {
			if (*cover)[i] {
				t.Fatalf("view %s overlaps another at %d", v.Name, i)
			}
			(*cover)[i] = true
		}
	}
	if len(params) != sum.Params || slices.Contains(params, false) {
		t.Errorf("views cover %d values of the %d parameters, or leave gaps", len(params), sum.Params)
	}
	if slices.Contains(state, false) || len(state) == 0 {
		t.Errorf("views of the state leave gaps (%d values)", len(state))
	}
	// conv1: 3x3 over RGB, 96/4 = 24 filters; the dense layer reads the pooled channels.
	for name, want := range map[string][]int{
		"conv1.weight": {24, 3, 3, 3}, "conv1.bias": {24}, "conv1.bn.running_var": {24},
		"s1.1x1.weight": {8, 24, 1, 1}, "s1.3x3.weight": {8, 24, 3, 3},
	} {
		if v, ok := byName[name]; !ok || !slices.Equal(v.Shape, want) {
			t.Errorf("%s: %+v, want shape %v", name, v, want)
		}
	}
	last := graph[len(graph)-1]
	if last.Type != TypeDense || last.Units != 10 || !strings.HasSuffix(views[len(views)-1].Name, ".bias") {
		t.Errorf("last layer %+v, last view %+v; want the 10-unit dense layer and its bias", last, views[len(views)-1])
	}
	var block *GraphLayer
	for i := range graph {
		if graph[i].Name == "s1" {
			block = &graph[i]
		}
	}
	if block == nil || len(block.Branches) != 2 || block.Branches[1][0].Local != "3x3" || block.Branches[1][0].Name != "s1.3x3" {
		t.Fatalf("block s1: %+v", block)
	}
	if !block.Branches[1][0].BN || block.Branches[1][0].BNEps != spec.BatchNorm.Eps {
		t.Errorf("s1.3x3: bn %v eps %g", block.Branches[1][0].BN, block.Branches[1][0].BNEps)
	}
}
