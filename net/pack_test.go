package net_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"rout/net"
	"rout/net/cpu"
)

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: value %d is %v in the pack, %v alone", what, i, got[i], want[i])
		}
	}
}

// TestPackMatchesMembersAlone builds packs of 1, 2 and 5 members of the tiny network (every path
// the builder wires: S and D blocks, an identity branch, a nested block, a hidden dense layer)
// and checks that each member's logits and gradients are bit-identical to those of its own
// network, with its own initialisation drawn in the pack through MemberTable. One member's
// weights are NaN in the 5-member pack: the others must not see it.
func TestPackMatchesMembersAlone(t *testing.T) {
	// The counts are odd on purpose: a member's stretch of a tensor then starts at another
	// alignment in the pack than alone, which the GEMM's sum order must not depend on.
	spec, err := net.ParseSpec([]byte(tinySpec), "tiny.toml")
	if err != nil {
		t.Fatal(err)
	}
	const batch, classes = 6, 4
	in := [3]int{3, 12, 12}
	for _, k := range []int{1, 2, 5} {
		t.Run(fmt.Sprintf("K=%d", k), func(t *testing.T) {
			b := newCPU(t)
			pk, err := net.BuildPack(b, spec, batch, in, classes, k)
			if err != nil {
				t.Fatal(err)
			}
			x := uniform(1, 0, batch*3*12*12, 1)
			labels := []float32{0, 3, 1, 2, -1, 1}
			b.Upload(pk.Input, x)
			b.Upload(pk.Labels, labels)
			b.Fill(pk.Params, 0)
			nan := -1
			if k == 5 {
				nan = 2
			}
			alone := make([]*net.Net, k)
			for m := range alone {
				n, err := net.Build(b, spec, batch, in, classes)
				if err != nil {
					t.Fatal(err)
				}
				n.Init(uint64(100 + m))
				b.RedrawFilters(pk.MemberTable(n.Weights, m), nil, net.Redraw{Seed: uint64(100 + m), Params: pk.Params})
				if m == nan {
					v := download(b, n.Params)
					v[7] = float32(math.NaN())
					b.Upload(n.Params, v)
					pk.Scatter(pk.Params, n.Params, m)
				}
				b.Upload(n.Input, x)
				b.Upload(n.Labels, labels)
				alone[m] = n
			}
			pk.Forward(true)
			stats, _ := b.Alloc(1, 3, 1, 1)
			for m := 0; m < k; m++ {
				lg, dlg := pk.MemberLogits(m)
				b.SoftmaxCrossEntropy(lg, pk.Labels, dlg, stats, net.ReduceSum)
			}
			pk.Backward()
			for m, n := range alone {
				n.Forward(true)
				b.SoftmaxCrossEntropy(n.Logits, n.Labels, n.DLogits, stats, net.ReduceSum)
				n.Backward()
				own, _ := b.Alloc(n.ParamCount(), 1, 1, 1)
				pk.Gather(own, pk.Params, m)
				sameBits(t, fmt.Sprintf("member %d parameters", m), download(b, own), download(b, n.Params))
				lg, _ := pk.MemberLogits(m)
				got, want := download(b, lg), download(b, n.Logits)
				if m == nan {
					if !math.IsNaN(float64(got[0])) {
						t.Fatalf("member %d's NaN weight did not reach its logits: %v", m, got)
					}
					continue
				}
				sameBits(t, fmt.Sprintf("member %d logits", m), got, want)
				pk.Gather(own, pk.Grads, m)
				sameBits(t, fmt.Sprintf("member %d gradients", m), download(b, own), download(b, n.Grads))
			}
			if err := b.Sync(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// countingBackend counts the convolution calls that reach the backend.
type countingBackend struct {
	net.Backend
	convs int
}

func (c *countingBackend) ConvForward(x, w, b, y *net.Tensor, p net.ConvParams) {
	c.convs++
	c.Backend.ConvForward(x, w, b, y, p)
}

func (c *countingBackend) ConvBackwardData(dy, w, dx *net.Tensor, p net.ConvParams, acc bool) {
	c.convs++
	c.Backend.ConvBackwardData(dy, w, dx, p, acc)
}

func (c *countingBackend) ConvBackwardFilter(x, dy, dw, db *net.Tensor, p net.ConvParams) {
	c.convs++
	c.Backend.ConvBackwardFilter(x, dy, dw, db, p)
}

// TestPackConvCallsDoNotGrowWithK checks that a pack is one network, not K networks in turn: a
// forward and backward pass of inception28 makes as many convolution calls for 16 members as
// for one.
func TestPackConvCallsDoNotGrowWithK(t *testing.T) {
	spec, err := net.LoadSpec("inception28@0.125")
	if err != nil {
		t.Fatal(err)
	}
	calls := map[int]int{}
	for _, k := range []int{1, 4, 16} {
		cb := &countingBackend{Backend: cpu.New(cpu.Options{Threads: 2})}
		pk, err := net.BuildPack(cb, spec, 2, [3]int{3, 28, 28}, 10, k)
		if err != nil {
			t.Fatal(err)
		}
		pk.Forward(true)
		pk.Backward()
		calls[k] = cb.convs
		cb.Close()
	}
	// 19 convolutions: forward, weight gradient, and the input gradient of all but the first.
	if calls[1] != 19*3-1 || calls[4] != calls[1] || calls[16] != calls[1] {
		t.Fatalf("convolution calls per step by pack size: %v, want %d for every size", calls, 19*3-1)
	}
}

// TestBuildPackRefuses checks the networks a pack cannot hold.
func TestBuildPackRefuses(t *testing.T) {
	b := newCPU(t)
	for _, c := range []struct{ spec, want string }{
		{"[[layer]]\ntype = \"dense\"\nunits = \"classes\"\n", "must be a convolution"},
		{"[[layer]]\ntype = \"conv\"\nfilters = 2\nkernel = 3\nbn = true\n[[layer]]\ntype = \"dense\"\nunits = \"classes\"\n", "batch norm"},
	} {
		s, err := net.ParseSpec([]byte(c.spec), "refused.toml")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := net.BuildPack(b, s, 2, [3]int{1, 5, 5}, 3, 2); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one saying %q", c.spec, err, c.want)
		}
	}
}
