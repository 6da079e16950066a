//go:build !nocuda

package gpu

import (
	"fmt"
	"testing"

	"rout/net"
	"rout/net/cpu"
)

// reviveSpec is a small net with batch norm and a concat block whose pool branch carries conv1's
// channels to conv3 behind the block's conv branches.
const reviveSpec = `
name = "revive"
input = [2, 6, 6]
init = "he"

[[layer]]
type = "conv"
name = "conv1"
filters = 5
kernel = 3
pad = 1
bn = true

[[layer]]
type = "concat"
name = "b"
branches = [
  [{ type = "conv", name = "1x1", filters = 3, kernel = 1 }],
  [{ type = "conv", name = "3x3", filters = 40, kernel = 3, pad = 1, bn = true }],
  [{ type = "maxpool", name = "pool", kernel = 3, stride = 1, pad = 1 }],
]

[[layer]]
type = "conv"
name = "conv3"
filters = 6
kernel = 3
stride = 2

[[layer]]
type = "avgpool"
name = "gap"
global = true

[[layer]]
type = "dense"
name = "fc"
units = "classes"
`

// reviveTables plans reviveSpec (on a CPU backend: the tables are plain data) and returns its
// conv layers' filter and revive tables and the parameter and state sizes.
func reviveTables(t *testing.T) (*net.FilterTable, *net.ReviveTable, int, int) {
	t.Helper()
	spec, err := net.ParseSpec([]byte(reviveSpec), "revive.toml")
	if err != nil {
		t.Fatal(err)
	}
	c := cpu.New(cpu.Options{Threads: 1})
	t.Cleanup(func() { c.Close() })
	n, err := net.Build(c, spec, 2, [3]int{2, 6, 6}, 3)
	if err != nil {
		t.Fatal(err)
	}
	ft, err := n.ConvTable(nil)
	if err != nil {
		t.Fatal(err)
	}
	rt, _, err := n.ReviveTable(ft)
	if err != nil {
		t.Fatal(err)
	}
	return ft, rt, n.ParamCount(), n.State.Len()
}

// TestRevivalStatistics compares the activation means (a channel slice with gaps), ReDo's
// decision and the outgoing weights' means with the CPU's.
func TestRevivalStatistics(t *testing.T) {
	e := newEnv(t)
	ft, rt, total, _ := reviveTables(t)
	y := e.tensor(7, 5, 9, 11, true, 1)
	means := e.tensor(5, 1, 1, 1, false, 1)
	e.g.ActivationMeans(y.g, means.g)
	e.c.ActivationMeans(y.c, means.c)
	e.check("activation means", means, sums64)

	all := e.tensor(ft.Filters, 1, 1, 1, false, 1)
	v := e.values(ft.Filters, 1)
	for i := range v {
		v[i] = v[i] * v[i] // non-negative, as means are
	}
	v[1], v[7] = 0, 0 // dead filters
	for i := 0; i < ft.Groups[2].Filters; i++ {
		v[ft.Filters-1-i] = 0 // a whole dead layer: every filter is dormant
	}
	e.set(all, v)
	for _, tau := range []float32{0, 0.1, 0.5} {
		mask := e.tensor(ft.Filters, 1, 1, 1, false, 1)
		counts := e.tensor(len(ft.Groups), 1, 1, 1, false, 0)
		e.set(counts, []float32{1, 2, 3, 4})
		e.g.MarkDormant(ft, all.g, mask.g, counts.g, tau)
		e.c.MarkDormant(ft, all.c, mask.c, counts.c, tau)
		e.check(fmt.Sprintf("dormant mask (tau %v)", tau), mask, exact)
		e.check(fmt.Sprintf("dormant counts (tau %v)", tau), counts, exact)
	}

	params := e.tensor(total, 1, 1, 1, false, 1)
	out := e.tensor(ft.Filters, 1, 1, 1, false, 1)
	e.g.OutgoingMeans(rt, params.g, out.g)
	e.c.OutgoingMeans(rt, params.c, out.c)
	e.check("outgoing means", out, sums64)
}

// TestResetOutgoingAndCBPStep compares the reset of revived filters' outgoing weights, batch
// norm and state (five state tensors: two launches), and continual backprop's step over several
// steps, with the CPU's, bit for bit.
func TestResetOutgoingAndCBPStep(t *testing.T) {
	e := newEnv(t)
	ft, rt, total, nState := reviveTables(t)
	params := e.tensor(total, 1, 1, 1, false, 1)
	state := e.tensor(nState, 1, 1, 1, false, 1)
	var mg, mc []*net.Tensor
	var moments []*twin
	for range 5 {
		m := e.tensor(total, 1, 1, 1, false, 1)
		moments = append(moments, m)
		mg, mc = append(mg, m.g), append(mc, m.c)
	}
	mask := e.tensor(ft.Filters, 1, 1, 1, false, 1)
	mv := make([]float32, ft.Filters)
	for i := range mv {
		if i%4 == 1 || i == ft.Filters-1 {
			mv[i] = 1
		}
	}
	e.set(mask, mv)
	e.g.ResetOutgoing(rt, mask.g, params.g, state.g, mg)
	e.c.ResetOutgoing(rt, mask.c, params.c, state.c, mc)
	e.check("params after reset", params, exact)
	e.check("state after reset", state, exact)
	for i, m := range moments {
		e.check(fmt.Sprintf("moments %d after reset", i), m, exact)
	}

	util := e.tensor(ft.Filters, 1, 1, 1, false, 0)
	age := e.tensor(ft.Filters, 1, 1, 1, false, 0)
	acc := e.tensor(len(ft.Groups), 1, 1, 1, false, 0)
	counts := e.tensor(len(ft.Groups), 1, 1, 1, false, 0)
	p := net.CBPParams{Decay: 0.9, Rate: 0.15, Maturity: 2}
	for step := range 12 {
		means := e.tensor(ft.Filters, 1, 1, 1, false, 1)
		outs := e.tensor(ft.Filters, 1, 1, 1, false, 1)
		e.g.CBPStep(ft, means.g, outs.g, util.g, age.g, acc.g, mask.g, counts.g, p)
		e.c.CBPStep(ft, means.c, outs.c, util.c, age.c, acc.c, mask.c, counts.c, p)
		for name, tw := range map[string]*twin{"utility": util, "age": age, "accumulated": acc, "mask": mask, "replaced": counts} {
			e.check(fmt.Sprintf("step %d: %s", step, name), tw, exact)
		}
	}
	if c := download(t, e.c, counts.c); c[1] == 0 {
		t.Errorf("no replacement in 12 steps (%v): the test does not cover the selection", c)
	}
}
