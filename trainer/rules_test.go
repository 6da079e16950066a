package trainer

import (
	"math"
	"slices"
	"testing"

	"rout/net"
	"rout/net/cpu"
	"rout/rng"
)

// rulesSpec is a small net with a concat block whose third branch carries conv1's channels
// through a pool to conv3, behind the block's two conv branches (channel offset 5), and conv3
// read by the dense layer through a global pool.
const rulesSpec = `
name = "rules"
input = [2, 6, 6]
init = "he"

[[layer]]
type = "conv"
name = "conv1"
filters = 4
kernel = 3
pad = 1

[[layer]]
type = "concat"
name = "b"
branches = [
  [{ type = "conv", name = "1x1", filters = 3, kernel = 1 }],
  [{ type = "conv", name = "3x3", filters = 2, kernel = 3, pad = 1 }],
  [{ type = "maxpool", name = "pool", kernel = 3, stride = 1, pad = 1 }],
]

[[layer]]
type = "conv"
name = "conv3"
filters = 3
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

// Parameter layout of rulesSpec (3 classes), written out by hand: each layer's weights then bias.
const (
	rsConv1W, rsConv1B = 0, 72   // 4 x 2 x 3 x 3
	rsB1W, rsB1B       = 76, 88  // 3 x 4 x 1 x 1
	rsB3W, rsB3B       = 91, 163 // 2 x 4 x 3 x 3
	rsConv3W, rsConv3B = 165, 408
	rsFcW, rsFcB       = 411, 420 // 3 x 3
	rsParams           = 423
)

// rsOutgoing lists, by hand from the spec, the parameters that read filter k of watched group g
// (conv1, b.1x1, b.3x3, conv3).
func rsOutgoing(g, k int) []int {
	var idx []int
	span := func(base, rows, rowStride, n int) {
		for r := range rows {
			for j := range n {
				idx = append(idx, base+r*rowStride+j)
			}
		}
	}
	switch g {
	case 0: // conv1 -> b.1x1, b.3x3, and conv3 through the pool at channel 5+k
		span(rsB1W+k, 3, 4, 1)
		span(rsB3W+k*9, 2, 36, 9)
		span(rsConv3W+(5+k)*9, 3, 81, 9)
	case 1: // b.1x1 -> conv3 channel k
		span(rsConv3W+k*9, 3, 81, 9)
	case 2: // b.3x3 -> conv3 channel 3+k
		span(rsConv3W+(3+k)*9, 3, 81, 9)
	case 3: // conv3 -> fc column k
		span(rsFcW+k, 3, 3, 1)
	}
	return idx
}

// rsIncoming are the weights and the bias of filter k of watched group g.
func rsIncoming(g, k int) (weights []int, bias int) {
	w := []struct{ w, b, n int }{{rsConv1W, rsConv1B, 18}, {rsB1W, rsB1B, 4}, {rsB3W, rsB3B, 36}, {rsConv3W, rsConv3B, 81}}[g]
	for j := range w.n {
		weights = append(weights, w.w+k*w.n+j)
	}
	return weights, w.b + k
}

type rulesRig struct {
	b       *cpu.Backend
	n       *net.Net
	ft      *net.FilterTable
	moments []*net.Tensor
}

// newRulesRig builds rulesSpec for a batch of 5, initialised with seed 7, fills its input, and
// kills conv1's filter 1 and b.3x3's filter 0 with a large negative bias.
func newRulesRig(t *testing.T) *rulesRig {
	t.Helper()
	spec, err := net.ParseSpec([]byte(rulesSpec), "rules.toml")
	if err != nil {
		t.Fatal(err)
	}
	b := cpu.New(cpu.Options{Threads: 2})
	t.Cleanup(func() { b.Close() })
	n, err := net.Build(b, spec, 5, [3]int{2, 6, 6}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if n.ParamCount() != rsParams {
		t.Fatalf("%d parameters, the hand layout has %d", n.ParamCount(), rsParams)
	}
	n.Init(7)
	pf := get(b, n.Params)
	pf[rsConv1B+1] = -100
	pf[rsB3B] = -100
	for i := range pf[rsB1B : rsB1B+3] { // keep the rest alive
		pf[rsB1B+i] = 0.5
	}
	b.Upload(n.Params, pf)
	in := make([]float32, n.Input.Len())
	s := rng.NewStream(rng.KeyFromSeed(3), 1, 2, 3)
	for i := range in {
		in[i] = 2*s.Float32() - 0.5
	}
	b.Upload(n.Input, in)
	ft, err := n.ConvTable(nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &rulesRig{b: b, n: n, ft: ft}
	for i := range 2 {
		m, err := b.Alloc(rsParams, 1, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		mv := make([]float32, rsParams)
		for j := range mv {
			mv[j] = float32(i+1) + float32(j)/1000
		}
		b.Upload(m, mv)
		r.moments = append(r.moments, m)
	}
	return r
}

func get(b net.Backend, t *net.Tensor) []float32 {
	d := make([]float32, t.Len())
	b.Download(t, d)
	return d
}

// refMeans is the float64 reference of every watched filter's mean |activation|.
func (r *rulesRig) refMeans(t *testing.T) [][]float64 {
	_, acts, err := r.n.ReviveTable(r.ft)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]float64
	for _, y := range acts {
		// Download gives y's own elements, sample-major, even for a channel slice.
		v := get(r.b, y)
		m := make([]float64, y.C)
		hw := y.H * y.W
		for n := range y.N {
			for k := range y.C {
				for _, a := range v[(n*y.C+k)*hw : (n*y.C+k+1)*hw] {
					m[k] += math.Abs(float64(a))
				}
			}
		}
		for k := range m {
			m[k] /= float64(y.N * hw)
		}
		out = append(out, m)
	}
	return out
}

// TestReDoScoresDecisionsAndOutput checks ReDo on a net with a concat block against a float64
// reference: the dormant filters, every parameter and moment a revival touches (incoming weights
// re-drawn from glorot, bias and outgoing weights zero, zero winning over a re-draw), nothing
// else touched, and the defining property: the network's output right after the revival is the
// pre-revival network's with the revived filters' outgoing weights zeroed, and the pre-revival
// output itself, bit for bit, when only dead filters were revived.
func TestReDoScoresDecisionsAndOutput(t *testing.T) {
	for _, tau := range []float64{0, 0.1, 0.9} {
		r := newRulesRig(t)
		r.n.Forward(true)
		out0 := get(r.b, r.n.Logits)
		p0 := get(r.b, r.n.Params)
		m0 := get(r.b, r.moments[0])
		means := r.refMeans(t)
		redo, err := NewReDo(r.b, r.n, r.ft, ReDoOptions{Seed: 11, Every: 3, Tau: tau, Init: "glorot", Moments: r.moments})
		if err != nil {
			t.Fatal(err)
		}
		const step = 5 // a check step: (5+1) % 3 == 0
		redo.AfterForward(step)
		redo.AfterUpdate(step)

		// Reference decisions.
		var dormant [][]bool
		onlyDead := true
		for _, m := range means {
			var mean float64
			for _, v := range m {
				mean += v
			}
			mean /= float64(len(m))
			d := make([]bool, len(m))
			for k, v := range m {
				d[k] = v/(mean+1e-9) <= tau
				onlyDead = onlyDead && (!d[k] || v == 0)
			}
			dormant = append(dormant, d)
		}
		if !dormant[0][1] || !dormant[2][0] {
			t.Fatalf("tau %v: the dead filters (conv1 1, b.3x3 0) are not dormant: %v", tau, dormant)
		}
		_, dead := redo.Counters()
		reinits, _ := redo.Counters()
		for g, d := range dormant {
			count := int64(0)
			for _, x := range d {
				if x {
					count++
				}
			}
			if dead[g] != count || reinits[g] != count {
				t.Errorf("tau %v: group %d: counters dormant %d revived %d, reference %d", tau, g, dead[g], reinits[g], count)
			}
		}

		// Reference parameters: re-draw, then zero (zero wins).
		want := slices.Clone(p0)
		touched := map[int]bool{}
		for g, d := range dormant {
			grp := r.ft.Groups[g]
			rg := []int{18 + 36, 4 + 3, 36 + 18, 81 + 27}[g] // fan_in + fan_out (K*KH*KW)
			bound := float32(math.Sqrt(6 / float64(rg)))
			for k, x := range d {
				if !x {
					continue
				}
				ws, bias := rsIncoming(g, k)
				for j, i := range ws {
					want[i] = bound * rng.Symmetric(rng.Uint32(rng.KeyFromSeed(11), step+1, grp.Layer, uint32(k), j))
					touched[i] = true
				}
				want[bias], touched[bias] = 0, true
			}
		}
		zeroed := slices.Clone(p0)
		for g, d := range dormant {
			for k, x := range d {
				if !x {
					continue
				}
				for _, i := range rsOutgoing(g, k) {
					want[i], zeroed[i], touched[i] = 0, 0, true
				}
			}
		}
		got := get(r.b, r.n.Params)
		gotM := get(r.b, r.moments[0])
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("tau %v: parameter %d is %v, want %v", tau, i, got[i], want[i])
			}
			if wm := map[bool]float32{true: 0, false: m0[i]}[touched[i]]; gotM[i] != wm {
				t.Fatalf("tau %v: moment %d is %v, want %v", tau, i, gotM[i], wm)
			}
		}

		// The property.
		r.n.Forward(true)
		out1 := get(r.b, r.n.Logits)
		r.b.Upload(r.n.Params, zeroed)
		r.n.Forward(true)
		if out2 := get(r.b, r.n.Logits); !slices.Equal(out1, out2) {
			t.Errorf("tau %v: output after the revival %v, the pre-revival net with the outgoing weights zeroed gives %v", tau, out1, out2)
		}
		if onlyDead && !slices.Equal(out1, out0) {
			t.Errorf("tau %v: only dead filters were revived, but the output moved from %v to %v", tau, out0, out1)
		}
		if tau == 0.9 && onlyDead {
			t.Errorf("tau %v revived dead filters only: the test does not cover live ones", tau)
		}
	}
}
