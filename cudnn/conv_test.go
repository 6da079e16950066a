//go:build !nocuda

package cudnn

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// view is a channel slice [c0, c0+C) of an N x Ctot x H x W dense buffer.
type view struct{ N, C, H, W, Ctot, c0 int }

func (v view) at(n, c, h, w int) int { return ((n*v.Ctot+v.c0+c)*v.H+h)*v.W + w }
func (v view) len() int              { return v.N * v.Ctot * v.H * v.W }

func (v view) desc(t *testing.T, c *Context) *TensorDesc {
	t.Helper()
	d, err := c.NewTensorStrided(v.N, v.C, v.H, v.W, v.Ctot*v.H*v.W, v.H*v.W, v.W, 1)
	must(t, err)
	t.Cleanup(func() { d.Close() })
	return d
}

func (v view) ptr(b *Buffer[float32]) DevicePtr { return b.At(v.c0 * v.H * v.W) }

// convRef is the float64 cross-correlation of x (view xv) with w (K x C x KH x KW), added into
// out (laid out as view yv).
func convRef(out []float64, x []float32, xv view, w []float32, K, KH, KW int, p ConvParams, yv view) {
	for n := 0; n < xv.N; n++ {
		for k := 0; k < K; k++ {
			for oh := 0; oh < yv.H; oh++ {
				for ow := 0; ow < yv.W; ow++ {
					s := 0.0
					for c := 0; c < xv.C; c++ {
						for i := 0; i < KH; i++ {
							for j := 0; j < KW; j++ {
								h, ww := oh*p.StrideH-p.PadH+i, ow*p.StrideW-p.PadW+j
								if h < 0 || h >= xv.H || ww < 0 || ww >= xv.W {
									continue
								}
								s += float64(x[xv.at(n, c, h, ww)]) * float64(w[((k*xv.C+c)*KH+i)*KW+j])
							}
						}
					}
					out[yv.at(n, k, oh, ow)] += s
				}
			}
		}
	}
}

func widen(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

type convCase struct {
	N, C, H, W, K, KH, KW int
	p                     ConvParams
	xTot, x0, yTot, y0    int // channel slices: total channels and first channel (0, 0 = dense)
}

func TestConvolutionAgainstFloat64(t *testing.T) {
	cases := []convCase{
		{N: 2, C: 3, H: 7, W: 6, K: 4, KH: 3, KW: 3, p: ConvParams{PadH: 1, PadW: 1, StrideH: 1, StrideW: 1}},
		{N: 2, C: 5, H: 9, W: 8, K: 3, KH: 3, KW: 3, p: ConvParams{PadH: 1, PadW: 1, StrideH: 2, StrideW: 2}, xTot: 8, x0: 2, yTot: 7, y0: 3},
		{N: 3, C: 4, H: 5, W: 5, K: 6, KH: 1, KW: 1, p: ConvParams{StrideH: 1, StrideW: 1}, yTot: 10, y0: 4},
		{N: 1, C: 2, H: 8, W: 7, K: 2, KH: 3, KW: 2, p: ConvParams{PadH: 0, PadW: 1, StrideH: 2, StrideW: 1}, xTot: 3, x0: 1},
	}
	modes := []struct {
		name string
		o    Options
	}{
		{"parity", Options{Deterministic: true}},
		{"default", Options{}},
		{"graph", Options{GraphConv: true}},
		{"graph-parity", Options{GraphConv: true, Deterministic: true}},
		{"graph-tf32", Options{GraphConv: true, AllowTF32: true}},
	}
	for _, mode := range modes {
		for i, cc := range cases {
			t.Run(fmt.Sprintf("%s/%d", mode.name, i), func(t *testing.T) {
				testConv(t, gpu(t, mode.o), cc, mode.o.Deterministic)
			})
		}
	}
}

func testConv(t *testing.T, c *Context, cc convCase, parityMode bool) {
	r := rand.New(rand.NewPCG(uint64(cc.N*100+cc.C), uint64(cc.K)))
	if cc.xTot == 0 {
		cc.xTot = cc.C
	}
	if cc.yTot == 0 {
		cc.yTot = cc.K
	}
	oh, ow := (cc.H+2*cc.p.PadH-cc.KH)/cc.p.StrideH+1, (cc.W+2*cc.p.PadW-cc.KW)/cc.p.StrideW+1
	xv := view{cc.N, cc.C, cc.H, cc.W, cc.xTot, cc.x0}
	yv := view{cc.N, cc.K, oh, ow, cc.yTot, cc.y0}
	x, w := randVec(r, xv.len()), randVec(r, cc.K*cc.C*cc.KH*cc.KW)
	bias, y0 := randVec(r, cc.K), randVec(r, yv.len())
	xb, wb, bb, yb := upload(t, c, x), upload(t, c, w), upload(t, c, bias), upload(t, c, y0)

	xd, yd := xv.desc(t, c), yv.desc(t, c)
	wd, err := c.NewFilter(cc.K, cc.C, cc.KH, cc.KW)
	must(t, err)
	defer wd.Close()
	bd, err := c.NewTensor(1, cc.K, 1, 1)
	must(t, err)
	defer bd.Close()
	cv, err := c.NewConv(cc.p)
	must(t, err)
	defer cv.Close()
	if n, k, h, ww, err := cv.OutputDim(xd, wd); err != nil || n != cc.N || k != cc.K || h != oh || ww != ow {
		t.Fatalf("OutputDim = %d %d %d %d (%v), want %d %d %d %d", n, k, h, ww, err, cc.N, cc.K, oh, ow)
	}
	if !c.opts.GraphConv {
		plan, err := c.PlanConv(xd, wd, cv, yd)
		must(t, err)
		checkChoices(t, c, plan, parityMode)
		t.Logf("plan %+v", *plan)
		if c.Device().Name == "Mock GPU" {
			// The stand-in's Find puts tensor cores, then non-deterministic 0 first; its heuristics
			// rank deterministic 4 above 1: the deterministic mode must follow the heuristics.
			want := 0
			if parityMode {
				want = 4
			}
			for _, a := range []AlgoChoice{plan.Forward, plan.BackwardData, plan.BackwardFilter} {
				if a.Algo != want {
					t.Errorf("the stand-in's algorithm %d was chosen, want %d", a.Algo, want)
				}
			}
		}
	}
	atol := 2e-5 * float64(cc.C*cc.KH*cc.KW)

	// Forward into the y slice (other channels keep y0), then + bias, then accumulate again.
	must(t, c.ConvForward(1, xd, xv.ptr(xb), wd, wb.Ptr(), cv, 0, yd, yv.ptr(yb)))
	want := widen(y0)
	for n := 0; n < cc.N; n++ {
		for k := 0; k < cc.K; k++ {
			for i := 0; i < oh*ow; i++ {
				want[yv.at(n, k, 0, 0)+i] = 0
			}
		}
	}
	convRef(want, x, xv, w, cc.K, cc.KH, cc.KW, cc.p, yv)
	near(t, "forward", download(t, yb), want, atol, 1e-5)
	must(t, c.AddTensor(1, bd, bb.Ptr(), 1, yd, yv.ptr(yb)))
	must(t, c.ConvForward(0.5, xd, xv.ptr(xb), wd, wb.Ptr(), cv, 1, yd, yv.ptr(yb)))
	half := make([]float64, len(want))
	convRef(half, x, xv, w, cc.K, cc.KH, cc.KW, cc.p, yv)
	for n := 0; n < cc.N; n++ {
		for k := 0; k < cc.K; k++ {
			for i := 0; i < oh*ow; i++ {
				j := yv.at(n, k, 0, 0) + i
				want[j] += float64(bias[k]) + 0.5*half[j]
			}
		}
	}
	near(t, "forward + bias + accumulate", download(t, yb), want, atol, 1e-5)

	// Backward data into a dx slice whose other channels hold other values: overwritten, then
	// accumulated (the two calls a block's branches make).
	dy := randVec(r, yv.len())
	dyb := upload(t, c, dy)
	dx0 := randVec(r, xv.len())
	dxb := upload(t, c, dx0)
	must(t, c.ConvBackwardData(1, wd, wb.Ptr(), yd, yv.ptr(dyb), cv, 0, xd, xv.ptr(dxb)))
	must(t, c.ConvBackwardData(1, wd, wb.Ptr(), yd, yv.ptr(dyb), cv, 1, xd, xv.ptr(dxb)))
	wantDx := widen(dx0)
	for n := 0; n < cc.N; n++ {
		for ch := 0; ch < cc.C; ch++ {
			for i := 0; i < cc.H*cc.W; i++ {
				wantDx[xv.at(n, ch, 0, 0)+i] = 0
			}
		}
	}
	for n := 0; n < cc.N; n++ {
		for k := 0; k < cc.K; k++ {
			for o := 0; o < oh; o++ {
				for q := 0; q < ow; q++ {
					g := float64(dy[yv.at(n, k, o, q)])
					for ch := 0; ch < cc.C; ch++ {
						for i := 0; i < cc.KH; i++ {
							for j := 0; j < cc.KW; j++ {
								h, ww := o*cc.p.StrideH-cc.p.PadH+i, q*cc.p.StrideW-cc.p.PadW+j
								if h >= 0 && h < cc.H && ww >= 0 && ww < cc.W {
									wantDx[xv.at(n, ch, h, ww)] += 2 * g * float64(w[((k*cc.C+ch)*cc.KH+i)*cc.KW+j])
								}
							}
						}
					}
				}
			}
		}
	}
	near(t, "backward data (overwritten, then accumulated)", download(t, dxb), wantDx, 2*atol, 1e-5)

	// Backward filter (overwrite) and bias gradient.
	dwb := upload(t, c, randVec(r, len(w)))
	must(t, c.ConvBackwardFilter(1, xd, xv.ptr(xb), yd, yv.ptr(dyb), cv, 0, wd, dwb.Ptr()))
	wantDw := make([]float64, len(w))
	wantDb := make([]float64, cc.K)
	for n := 0; n < cc.N; n++ {
		for k := 0; k < cc.K; k++ {
			for o := 0; o < oh; o++ {
				for q := 0; q < ow; q++ {
					g := float64(dy[yv.at(n, k, o, q)])
					wantDb[k] += g
					for ch := 0; ch < cc.C; ch++ {
						for i := 0; i < cc.KH; i++ {
							for j := 0; j < cc.KW; j++ {
								h, ww := o*cc.p.StrideH-cc.p.PadH+i, q*cc.p.StrideW-cc.p.PadW+j
								if h >= 0 && h < cc.H && ww >= 0 && ww < cc.W {
									wantDw[((k*cc.C+ch)*cc.KH+i)*cc.KW+j] += g * float64(x[xv.at(n, ch, h, ww)])
								}
							}
						}
					}
				}
			}
		}
	}
	near(t, "backward filter", download(t, dwb), wantDw, 2e-5*float64(cc.N*oh*ow), 1e-5)
	dbb := upload(t, c, []float32{9, 9, 9, 9, 9, 9}[:cc.K])
	must(t, c.ConvBackwardBias(1, yd, yv.ptr(dyb), 0, bd, dbb.Ptr()))
	near(t, "bias gradient", download(t, dbb), wantDb, 2e-5*float64(cc.N*oh*ow), 1e-5)
	if c.opts.GraphConv {
		checkGraphPlans(t, c, xd, wd, cv, yd, parityMode)
	}
}

// checkChoices checks a plan's algorithms against the context's rules.
func checkChoices(t *testing.T, c *Context, plan *ConvPlan, parityMode bool) {
	t.Helper()
	for _, a := range []AlgoChoice{plan.Forward, plan.BackwardData, plan.BackwardFilter} {
		if a.TensorOps && !c.TF32() {
			t.Errorf("algorithm %+v uses tensor cores without TF32 allowed", a)
		}
		if parityMode && !a.Deterministic {
			t.Errorf("parity mode chose non-deterministic %+v", a)
		}
		if a.Workspace > c.WorkspaceBytes() {
			t.Errorf("workspace %d < %d needed by %+v", c.WorkspaceBytes(), a.Workspace, a)
		}
	}
}

// checkGraphPlans checks what Plans reports for this test's shape with GraphConv: the calls made
// (forward and backward data twice, backward filter once) summed over the graph API and the
// legacy path that scaled calls and shapes without a usable engine take, the choices against the context's rules and, on the CPU stand-in, the very engines
// and fallbacks its heuristics make right (see testdata/mockcuda.c).
func checkGraphPlans(t *testing.T, c *Context, x *TensorDesc, w *FilterDesc, cv *ConvDesc, y *TensorDesc, parityMode bool) {
	t.Helper()
	shape := keyOf(x, w, cv, y).String()
	plans := map[string]ConvPlan{}
	var calls [3]int
	for _, p := range c.Plans() {
		if p.Shape == shape {
			plans[p.API] = p.ConvPlan
			for i := range calls {
				calls[i] += p.Calls[i]
			}
		}
	}
	if calls != [3]int{2, 2, 1} {
		t.Errorf("calls %v over %d APIs, want [2 2 1] (forward and backward data twice, backward filter once)", calls, len(plans))
	}
	if g, ok := plans["graph"]; ok {
		checkChoices(t, c, &g, parityMode)
		// Only the unscaled, overwriting call of each direction may take the graph API.
		if g.Calls[0] > 1 || g.Calls[1] > 1 || g.Calls[2] > 1 {
			t.Errorf("graph-API calls %v: the scaled forward or the accumulating backward data went through the graph API", g.Calls)
		}
	}
	t.Logf("plans %+v", plans)
	if c.Device().Name != "Mock GPU" {
		return
	}
	// The stand-in: engine 4 is compiled at run time (never), 0 uses tensor cores (only with
	// TF32, and then fastest), 2 is not deterministic and otherwise fastest; in parity mode the
	// heuristics' first acceptable engine, 5, wins though 1 is faster; 1, 2 and 5 refuse stride 2.
	// The scaled forward and the accumulating backward data take the legacy path either way.
	want, legacyCalls := 2, [3]int{1, 1, 0}
	switch {
	case c.TF32():
		want = 0
	case cv.P.StrideH > 1 || cv.P.StrideW > 1:
		legacyCalls = [3]int{2, 2, 1}
	case parityMode:
		want = 5
	}
	if got := plans["legacy"].Calls; got != legacyCalls {
		t.Errorf("legacy calls %v, want %v", got, legacyCalls)
	}
	if legacyCalls[2] > 0 {
		return
	}
	g := plans["graph"]
	for _, a := range []AlgoChoice{g.Forward, g.BackwardData, g.BackwardFilter} {
		if a.Algo != want || a.Candidates == 0 {
			t.Errorf("the stand-in's engine %d was chosen among %d, want %d", a.Algo, a.Candidates, want)
		}
	}
}
