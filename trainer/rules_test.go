package trainer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
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

// refOutgoing is the float64 reference of every watched filter's mean |outgoing weight|.
func refOutgoing(p []float32) [][]float64 {
	var out [][]float64
	for g, k := range []int{4, 3, 2, 3} {
		m := make([]float64, k)
		for f := range k {
			idx := rsOutgoing(g, f)
			for _, i := range idx {
				m[f] += math.Abs(float64(p[i]))
			}
			m[f] /= float64(len(idx))
		}
		out = append(out, m)
	}
	return out
}

// TestCBPScoresAndDecisions runs continual backprop's bookkeeping for 30 steps on the concat net
// (new input each step) against a float64 reference: utilities, ages, accumulators, the filters
// replaced, and what a replacement writes (outgoing weights zeroed, then incoming weights
// re-drawn from fan-in's bound, so a re-draw wins over a zero; biases and moments zeroed).
func TestCBPScoresAndDecisions(t *testing.T) {
	r := newRulesRig(t)
	const decay, rate, maturity = 0.9, 0.2, 3
	cbp, err := NewCBP(r.b, r.n, r.ft, CBPOptions{Seed: 5, Rate: rate, Decay: decay, Maturity: maturity, Init: "fan-in", Moments: r.moments})
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{4, 3, 2, 3}
	util, age := make([][]float64, 4), make([][]float64, 4)
	for g, k := range sizes {
		util[g], age[g] = make([]float64, k), make([]float64, k)
	}
	acc := make([]float64, 4)
	replacedTotal := 0
	for step := range 30 {
		in := make([]float32, r.n.Input.Len())
		s := rng.NewStream(rng.KeyFromSeed(uint64(step)), 9, 9, 9)
		for i := range in {
			in[i] = 2*s.Float32() - 0.7
		}
		r.b.Upload(r.n.Input, in)
		r.n.Forward(true)
		cbp.AfterForward(step)
		means := r.refMeans(t)
		p0 := get(r.b, r.n.Params)
		m0 := get(r.b, r.moments[1])
		outs := refOutgoing(p0)
		cbp.AfterUpdate(step)

		want, wantM := slices.Clone(p0), slices.Clone(m0)
		var redraws [][2]int
		for g, k := range sizes {
			var mature []int
			for f := range k {
				age[g][f]++
				util[g][f] = decay*util[g][f] + (1-decay)*means[g][f]*outs[g][f]
				if age[g][f] > maturity {
					mature = append(mature, f)
				}
			}
			if len(mature) == 0 {
				continue
			}
			acc[g] += rate * float64(len(mature))
			n := math.Floor(acc[g])
			acc[g] -= n
			corrected := func(f int) float64 { return util[g][f] / (1 - math.Pow(decay, age[g][f])) }
			slices.SortStableFunc(mature, func(a, b int) int {
				switch ca, cb := corrected(a), corrected(b); {
				case ca < cb:
					return -1
				case ca > cb:
					return 1
				}
				return 0
			})
			for _, f := range mature[:min(int(n), len(mature))] {
				util[g][f], age[g][f] = 0, 0
				redraws = append(redraws, [2]int{g, f})
				for _, i := range rsOutgoing(g, f) {
					want[i], wantM[i] = 0, 0
				}
				replacedTotal++
			}
		}
		for _, gf := range redraws {
			g, f := gf[0], gf[1]
			ws, bias := rsIncoming(g, f)
			bound := float32(1 / math.Sqrt(float64(len(ws))))
			for j, i := range ws {
				want[i] = bound * rng.Symmetric(rng.Uint32(rng.KeyFromSeed(5), uint32(step+1), r.ft.Groups[g].Layer, uint32(f), j))
				wantM[i] = 0
			}
			want[bias], wantM[bias] = 0, 0
		}
		gotU, gotA, gotAcc := get(r.b, cbp.util), get(r.b, cbp.age), get(r.b, cbp.acc)
		f0 := 0
		for g, k := range sizes {
			for f := range k {
				if gotA[f0+f] != float32(age[g][f]) || math.Abs(float64(gotU[f0+f])-util[g][f]) > 1e-5*util[g][f]+1e-12 {
					t.Fatalf("step %d: group %d filter %d: utility %v age %v, reference %v %v", step, g, f, gotU[f0+f], gotA[f0+f], util[g][f], age[g][f])
				}
			}
			if math.Abs(float64(gotAcc[g])-acc[g]) > 1e-5 {
				t.Fatalf("step %d: group %d: accumulated %v, reference %v", step, g, gotAcc[g], acc[g])
			}
			f0 += k
		}
		got, gotM := get(r.b, r.n.Params), get(r.b, r.moments[1])
		for i := range want {
			if got[i] != want[i] || gotM[i] != wantM[i] {
				t.Fatalf("step %d: parameter %d is %v (moment %v), want %v (%v)", step, i, got[i], gotM[i], want[i], wantM[i])
			}
		}
	}
	reinits, _ := cbp.Counters()
	total := int64(0)
	for _, c := range reinits {
		total += c
	}
	if total != int64(replacedTotal) || replacedTotal < 5 {
		t.Errorf("replaced %d (counters %v), reference %d (want at least 5 for a meaningful test)", total, reinits, replacedTotal)
	}
}

// TestCBPReplacementCount: over many steps each layer replaces, within one, Rate times the sum
// over steps of its mature filters: Rate x filters x (steps - maturity) while the replaced
// filters stay mature (maturity 0), and the sum of the mature counts observed otherwise.
func TestCBPReplacementCount(t *testing.T) {
	for _, maturity := range []int{0, 20} {
		r := newRulesRig(t)
		const rate, steps = 0.013, 400
		cbp, err := NewCBP(r.b, r.n, r.ft, CBPOptions{Seed: 5, Rate: rate, Decay: 0.99, Maturity: maturity, Init: "layer"})
		if err != nil {
			t.Fatal(err)
		}
		matureSum := make([]float64, len(r.ft.Groups))
		r.n.Forward(true)
		for step := range steps {
			cbp.AfterForward(step)
			ages := get(r.b, cbp.age)
			f0 := 0
			for g, grp := range r.ft.Groups {
				for _, a := range ages[f0 : f0+grp.Filters] {
					if a+1 > float32(maturity) { // aged by this step's update
						matureSum[g]++
					}
				}
				f0 += grp.Filters
			}
			cbp.AfterUpdate(step)
		}
		reinits, _ := cbp.Counters()
		for g, grp := range r.ft.Groups {
			want := rate * matureSum[g]
			if maturity == 0 {
				want = rate * float64(grp.Filters) * float64(steps-maturity)
			}
			if math.Abs(float64(reinits[g])-want) > 1 {
				t.Errorf("maturity %d: %s replaced %d filters in %d steps, want %.2f within one", maturity, grp.Name, reinits[g], steps, want)
			}
			if reinits[g] == 0 {
				t.Errorf("maturity %d: %s replaced nothing", maturity, grp.Name)
			}
		}
	}
}

// TestRulesKillAndResume interrupts ReDo and continual backprop runs mid-epoch, resumes them and
// checks that the final weights, optimiser state, the rule's state (utilities, ages,
// accumulators, counters) and metrics equal an uninterrupted run's bit for bit.
func TestRulesKillAndResume(t *testing.T) {
	for _, rule := range []struct {
		set   func(*Config)
		state []string
	}{
		{func(c *Config) { c.Revive, c.RandomOutEvery, c.RedoTau = RuleReDo, 3, 0.5 }, []string{"redo.revived", "redo.dormant"}},
		{func(c *Config) { c.Revive, c.CBPMaturity, c.CBPRate = RuleCBP, 4, 0.05 },
			[]string{"cbp.utility", "cbp.age", "cbp.accumulated", "cbp.replaced", "cbp.dead"}},
	} {
		cfg := tinyConfig()
		rule.set(&cfg)
		ref := t.TempDir()
		want := mustRun(t, cfg, ref)
		if want.ReinitsTotal == 0 {
			t.Fatalf("%s: nothing revived: the test does not cover revivals", cfg.Revive)
		}
		wantMetrics := readMetrics(t, ref)
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		_, err := Run(ctx, cfg, dir, WithDataset(tinyData), WithObserver(&cancelAt{13, cancel}))
		cancel()
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("%s: err %v, want ErrInterrupted", cfg.Revive, err)
		}
		got, err := Run(context.Background(), cfg, dir, WithDataset(tinyData), Resume())
		if err != nil {
			t.Fatalf("%s: resume: %v", cfg.Revive, err)
		}
		for _, name := range append([]string{"params", "adam.m", "adam.v"}, rule.state...) {
			if !slices.Equal(finalTensor(t, ref, name), finalTensor(t, dir, name)) {
				t.Errorf("%s: final %s differs from the uninterrupted run's", cfg.Revive, name)
			}
		}
		if *got.FinalTestAcc != *want.FinalTestAcc || got.ReinitsTotal != want.ReinitsTotal {
			t.Errorf("%s: summary %+v, want %+v", cfg.Revive, got, want)
		}
		sameMetrics(t, cfg.Revive, dir, wantMetrics)
	}
}

// TestReviveSettings: --randomout is the shorthand of --revive randomout and conflicts with
// another rule; each rule's re-draw default; bad values name their setting.
func TestReviveSettings(t *testing.T) {
	c, _ := Preset("quick")
	if c.Rule() != RuleNone || c.reviveInit() != "layer" {
		t.Errorf("preset: rule %s init %s, want none and layer", c.Rule(), c.reviveInit())
	}
	for _, tc := range []struct{ overrides, rule, init, err string }{
		{"randomout=true", RuleRandomOut, "layer", ""},
		{"revive=randomout", RuleRandomOut, "layer", ""},
		{"randomout=true,revive=randomout,revive-init=he", RuleRandomOut, "he", ""},
		{"revive=redo", RuleReDo, "glorot", ""},
		{"revive=cbp", RuleCBP, "fan-in", ""},
		{"revive=cbp,revive-init=layer", RuleCBP, "layer", ""},
		{"randomout=true,revive=redo", "", "", "setting randomout"},
		{"revive=redo,redo-tau=-1", "", "", "setting redo-tau"},
		{"revive=cbp,cbp-decay=1", "", "", "setting cbp-decay"},
		{"revive=cbp,cbp-rate=2", "", "", "setting cbp-rate"},
		{"revive=cbp,cbp-maturity=-1", "", "", "setting cbp-maturity"},
		{"revive-every=0", "", "", "setting revive-every"},
	} {
		c, _ := Preset("quick")
		if err := c.Apply(tc.overrides); err != nil {
			t.Fatalf("%s: %v", tc.overrides, err)
		}
		err := c.Validate()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want an error naming %s", tc.overrides, err, tc.err)
			}
			continue
		}
		if err != nil || c.Rule() != tc.rule || c.reviveInit() != tc.init {
			t.Errorf("%s: rule %s init %s err %v, want %s and %s", tc.overrides, c.Rule(), c.reviveInit(), err, tc.rule, tc.init)
		}
	}
	if err := c.Apply("revive=sometimes"); err == nil || !strings.Contains(err.Error(), "revive") {
		t.Errorf("revive=sometimes: %v, want an error naming revive", err)
	}
	if err := c.Apply("randomout-every=4"); err != nil || c.RandomOutEvery != 4 {
		t.Errorf("the former key randomout-every: %v, interval %d", err, c.RandomOutEvery)
	}
}

// TestOldConfigsStillRead: a config recorded before the revival rules (randomout-every, none of
// the rules' keys) reads as the same run with the rules' defaults, so its checkpoint resumes
// under the config a sweep or the flags build now; unknown keys stay an error.
func TestOldConfigsStillRead(t *testing.T) {
	now, _ := Preset("quick")
	now.RandomOut, now.RandomOutEvery = true, 3
	b, err := json.Marshal(now)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["randomout-every"] = m["revive-every"]
	for _, k := range []string{"revive-every", "revive", "revive-init", "redo-tau", "cbp-rate", "cbp-decay", "cbp-maturity"} {
		delete(m, k)
	}
	old, _ := json.Marshal(m)
	var got Config
	dec := json.NewDecoder(bytes.NewReader(old))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if d := got.Diff(&now); len(d) > 0 || got.Rule() != RuleRandomOut {
		t.Errorf("old config reads with differences %v (rule %s)", d, got.Rule())
	}
	m["no-such-setting"] = 1
	bad, _ := json.Marshal(m)
	if err := json.Unmarshal(bad, &got); err == nil || !strings.Contains(err.Error(), "no-such-setting") {
		t.Errorf("unknown key: %v, want an error naming it", err)
	}
	m["revive-every"] = 2
	delete(m, "no-such-setting")
	both, _ := json.Marshal(m)
	if err := json.Unmarshal(both, &got); err == nil {
		t.Errorf("both revive-every and randomout-every were accepted")
	}
}

// TestRandomOutReviveInit: --revive-init changes what RandomOut re-draws from (here He's bound,
// sqrt(6/fan_in)), and nothing else.
func TestRandomOutReviveInit(t *testing.T) {
	r := newRulesRig(t)
	cfg, _ := Preset("quick")
	cfg.RandomOut, cfg.ReviveInit, cfg.Seed = true, "he", 3
	rev, err := newReviver(&cfg, r.b, r.n, r.ft, r.moments)
	if err != nil {
		t.Fatal(err)
	}
	r.b.Fill(r.n.Grads, 0) // every filter's gradient is zero: all are re-drawn
	rev.AfterUpdate(0)
	p := get(r.b, r.n.Params)
	for g, fanIn := range []int{18, 4, 36, 81} {
		grp := r.ft.Groups[g]
		bound := float32(math.Sqrt(6 / float64(fanIn)))
		ws, _ := rsIncoming(g, 1)
		for j, i := range ws {
			if want := bound * rng.Symmetric(rng.Uint32(rng.KeyFromSeed(3), 1, grp.Layer, 1, j)); p[i] != want {
				t.Fatalf("%s filter 1 weight %d: %v, want %v (He's bound %v)", grp.Name, j, p[i], want, bound)
			}
		}
	}
}
