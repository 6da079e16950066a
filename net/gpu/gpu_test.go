//go:build !nocuda

package gpu

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"testing"

	"rout/net"
	"rout/net/cpu"
	"rout/rng"
)

// Every GPU operation is checked against the CPU backend (net/cpu), the reference, on the same
// inputs: views with gaps (channel slices of wider tensors, whose gaps must stay untouched),
// strides, padding, the ceil rule, accumulation, ignored labels.
//
// Tolerances, with TF32 off and cuDNN's deterministic algorithms:
//   - exact where both backends do the same float32 operations in the same order: copies, ReLU,
//     max pooling, average pooling (sums in window order, one division), the optimisers (every
//     product and sum rounded on its own, as in Go), RandomOut's decisions and re-draws, the
//     batch preparation, the loss's counts;
//   - 1e-6 relative where the CPU sums in float64 and the GPU too but in another order (filter
//     norms, the loss and its gradient): the float64 results differ far below float32's half-ulp;
//   - convolutions, dense layers and batch norm sum K products in float32 in an order cuDNN and
//     cuBLAS choose (the CPU: blocked GEMM, or float64). Each result's rounding error is at most
//     about K*2^-24 times the sum of |terms| (a few 1e-5 for K ~ 1000), typically sqrt(K) times
//     less; we bound |gpu-cpu| by 2e-4 times the largest |reference| value of the tensor.

// bothBackends opens the GPU backend in deterministic mode and the CPU reference. Without a
// usable GPU the test skips (fails with ROUT_REQUIRE_GPU=1).
func bothBackends(t *testing.T) (net.Backend, net.Backend) {
	t.Helper()
	return backendsWith(t, Options{Deterministic: true})
}

// backendsWith is bothBackends with the GPU backend opened with o.
func backendsWith(t *testing.T, o Options) (net.Backend, net.Backend) {
	t.Helper()
	g, err := New(o)
	if err != nil {
		if os.Getenv("ROUT_REQUIRE_GPU") == "1" {
			t.Fatalf("ROUT_REQUIRE_GPU=1 but the GPU backend with %+v is not usable: %v", o, err)
		}
		t.Skipf("no usable GPU (set ROUT_REQUIRE_GPU=1 to fail instead): %s", strings.SplitN(err.Error(), "\n", 2)[0])
	}
	c := cpu.New(cpu.Options{})
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Errorf("closing the GPU backend: %v", err)
		}
		c.Close()
	})
	return g, c
}

// env makes identical tensors on both backends.
type env struct {
	t    *testing.T
	g, c net.Backend
	rs   *rng.Stream
}

func newEnv(t *testing.T) *env { return newEnvWith(t, Options{Deterministic: true}) }

func newEnvWith(t *testing.T, o Options) *env {
	g, c := backendsWith(t, o)
	return &env{t: t, g: g, c: c, rs: rng.NewStream(rng.KeyFromSeed(42), rng.StreamData, 7, 0)}
}

// twin is the same view on both backends. whole is the tensor it is a channel slice of (the view
// itself when dense); c0 is the slice's first channel.
type twin struct {
	g, c           *net.Tensor
	wholeG, wholeC *net.Tensor
	c0             int
}

// optional is a k-element tensor (a bias or its gradient) when on, with its two sides; nils
// when off.
func (e *env) optional(on bool, k int) (*twin, *net.Tensor, *net.Tensor) {
	if !on {
		return nil, nil, nil
	}
	b := e.tensor(k, 1, 1, 1, false, 1)
	return b, b.g, b.c
}

// values draws n values uniform in [-scale, scale).
func (e *env) values(n int, scale float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = scale * rng.Symmetric(e.rs.Uint32())
	}
	return v
}

// tensor returns an n x c x h x w view with random contents in [-scale, scale), identical on
// both backends. With gap, it is channels [1, 1+c) of an n x (c+3) x h x w tensor whose other
// channels hold random values too (so that a write into a gap shows).
func (e *env) tensor(n, c, h, w int, gap bool, scale float32) *twin {
	e.t.Helper()
	wc, c0 := c, 0
	if gap {
		wc, c0 = c+3, 1
	}
	tw := &twin{c0: c0}
	var err error
	if tw.wholeG, err = e.g.Alloc(n, wc, h, w); err != nil {
		e.t.Fatal(err)
	}
	if tw.wholeC, err = e.c.Alloc(n, wc, h, w); err != nil {
		e.t.Fatal(err)
	}
	v := e.values(n*wc*h*w, scale)
	e.g.Upload(tw.wholeG, v)
	e.c.Upload(tw.wholeC, v)
	tw.g, tw.c = tw.wholeG.Channels(c0, c0+c), tw.wholeC.Channels(c0, c0+c)
	return tw
}

// set uploads the same values into the view on both backends.
func (e *env) set(tw *twin, v []float32) {
	e.g.Upload(tw.g, v)
	e.c.Upload(tw.c, v)
}

// download reads a tensor from a backend, failing on the backend's error.
func download(t *testing.T, b net.Backend, x *net.Tensor) []float32 {
	t.Helper()
	v := make([]float32, x.Len())
	b.Download(x, v)
	if err := b.Sync(); err != nil {
		t.Fatalf("%s backend: %v", b.Name(), err)
	}
	return v
}

// check compares a twin after an operation: inside the view within tol times the largest
// |reference| value (tol 0: bit for bit), and the gaps around it unchanged and identical.
func (e *env) check(what string, tw *twin, tol float64) {
	e.t.Helper()
	gv, cv := download(e.t, e.g, tw.wholeG), download(e.t, e.c, tw.wholeC)
	plane := tw.g.H * tw.g.W
	inView := func(i int) bool {
		ch := (i / plane) % tw.wholeG.C
		return ch >= tw.c0 && ch < tw.c0+tw.g.C
	}
	var ref float64
	for i, v := range cv {
		if inView(i) {
			ref = math.Max(ref, math.Abs(float64(v)))
		}
	}
	worst, at := 0.0, -1
	for i := range cv {
		if !inView(i) {
			if math.Float32bits(gv[i]) != math.Float32bits(cv[i]) {
				e.t.Fatalf("%s: element %d outside the view changed: gpu %v, cpu %v", what, i, gv[i], cv[i])
			}
			continue
		}
		if tol == 0 {
			if math.Float32bits(gv[i]) != math.Float32bits(cv[i]) && !(gv[i] == 0 && cv[i] == 0) {
				e.t.Fatalf("%s: element %d: gpu %v (%#x), cpu %v (%#x), want identical", what, i, gv[i], math.Float32bits(gv[i]), cv[i], math.Float32bits(cv[i]))
			}
			continue
		}
		if math.IsNaN(float64(gv[i])) != math.IsNaN(float64(cv[i])) {
			e.t.Fatalf("%s: element %d: gpu %v, cpu %v", what, i, gv[i], cv[i])
		}
		if d := math.Abs(float64(gv[i]) - float64(cv[i])); d > worst {
			worst, at = d, i
		}
	}
	if ref > 0 && worst > tol*ref {
		e.t.Fatalf("%s: element %d: gpu %v, cpu %v: difference %.3g > %.3g (tol %g x max |ref| %.4g)",
			what, at, gv[at], cv[at], worst, tol*ref, tol, ref)
	}
	if tol > 0 {
		e.t.Logf("%s: max |gpu-cpu| = %.3g (%.3g of max |ref|)", what, worst, worst/math.Max(ref, 1e-30))
	}
}

const (
	exact  = 0
	sums64 = 1e-6 // float64 sums in another order
	dots   = 2e-4 // float32 dot products in another order (see the top of the file)
)

func TestCopyFillUpload(t *testing.T) {
	e := newEnv(t)
	src := e.tensor(3, 4, 5, 6, true, 1)
	dst := e.tensor(3, 4, 5, 6, true, 1)
	e.g.Copy(dst.g, src.g)
	e.c.Copy(dst.c, src.c)
	e.check("copy strided -> strided", dst, exact)
	dense := e.tensor(3, 4, 5, 6, false, 1)
	e.g.Copy(dense.g, src.g)
	e.c.Copy(dense.c, src.c)
	e.check("copy strided -> dense", dense, exact)
	e.g.Fill(src.g, 2.5)
	e.c.Fill(src.c, 2.5)
	e.check("fill", src, exact)
	v := e.values(src.g.Len(), 3)
	e.set(src, v)
	e.check("upload", src, exact)
	got := download(t, e.g, src.g)
	for i := range v {
		if got[i] != v[i] {
			t.Fatalf("download of a strided view: element %d is %v, uploaded %v", i, got[i], v[i])
		}
	}
}

func TestReLU(t *testing.T) {
	e := newEnv(t)
	x := e.tensor(2, 5, 7, 3, true, 1)
	y := e.tensor(2, 5, 7, 3, true, 1)
	e.g.ReLUForward(x.g, y.g)
	e.c.ReLUForward(x.c, y.c)
	e.check("relu forward", y, exact)
	dy := e.tensor(2, 5, 7, 3, true, 1)
	dx := e.tensor(2, 5, 7, 3, false, 1)
	e.g.ReLUBackward(y.g, dy.g, dx.g)
	e.c.ReLUBackward(y.c, dy.c, dx.c)
	e.check("relu backward", dx, exact)
	e.g.ReLUBackward(y.g, dy.g, dy.g)
	e.c.ReLUBackward(y.c, dy.c, dy.c)
	e.check("relu backward in place", dy, exact)
}

func TestPool(t *testing.T) {
	cases := []struct {
		name       string
		h, w       int
		p          net.PoolParams
		accumulate bool
	}{
		{"max 3x3/2 ceil (28->14)", 28, 28, net.PoolParams{Mode: net.MaxPool, KH: 3, KW: 3, StrideH: 2, StrideW: 2, Ceil: true}, false},
		{"max 3x3/2 ceil odd (14->7) accumulate", 14, 15, net.PoolParams{Mode: net.MaxPool, KH: 3, KW: 3, StrideH: 2, StrideW: 2, Ceil: true}, true},
		{"max 2x2/2 floor", 9, 8, net.PoolParams{Mode: net.MaxPool, KH: 2, KW: 2, StrideH: 2, StrideW: 2}, false},
		{"max 3x2/1 pad 1", 6, 7, net.PoolParams{Mode: net.MaxPool, KH: 3, KW: 2, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, true},
		{"avg 7x7 global", 7, 7, net.PoolParams{Mode: net.AvgPool, KH: 7, KW: 7, StrideH: 7, StrideW: 7}, false},
		{"avg 3x3/2 pad 1 ceil", 10, 11, net.PoolParams{Mode: net.AvgPool, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1, Ceil: true}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			oh, ow := tc.p.OutSize(tc.h, tc.w)
			x := e.tensor(3, 4, tc.h, tc.w, true, 1)
			if tc.p.Mode == net.MaxPool {
				// Ties, so that "first maximal element" matters.
				v := e.values(x.g.Len(), 1)
				for i := range v {
					v[i] = float32(math.Round(float64(v[i]) * 3))
				}
				e.set(x, v)
			}
			y := e.tensor(3, 4, oh, ow, true, 1)
			e.g.PoolForward(x.g, y.g, tc.p)
			e.c.PoolForward(x.c, y.c, tc.p)
			tol := float64(exact)
			if tc.p.Mode == net.AvgPool {
				tol = sums64 // the same float32 sums in the same order: exact expected, last ulp allowed
			}
			e.check("forward", y, tol)
			dy := e.tensor(3, 4, oh, ow, true, 1)
			dx := e.tensor(3, 4, tc.h, tc.w, true, 1)
			e.g.PoolBackward(x.g, y.g, dy.g, dx.g, tc.p, tc.accumulate)
			e.c.PoolBackward(x.c, y.c, dy.c, dx.c, tc.p, tc.accumulate)
			e.check("backward", dx, tol)
		})
	}
}

func TestConv(t *testing.T) {
	cases := []convCase{
		{"3x3 pad 1, strided views, accumulate", 3, 5, 9, 8, 6, 3, 3, net.ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, true, true, true},
		{"3x3 stride 2 pad 1", 2, 4, 11, 10, 7, 3, 3, net.ConvParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, true, true, false},
		{"1x1 dense, no bias", 4, 6, 5, 5, 3, 1, 1, net.ConvParams{StrideH: 1, StrideW: 1}, false, false, false},
		{"1x1 strided views, accumulate", 5, 7, 6, 5, 4, 1, 1, net.ConvParams{StrideH: 1, StrideW: 1}, true, true, true},
		{"5x3 stride 2x1 pad 2x0", 2, 3, 12, 9, 4, 5, 3, net.ConvParams{StrideH: 2, StrideW: 1, PadH: 2}, true, false, true},
		{"3 groups, 3x3 pad 1, strided views, accumulate", 3, 6, 7, 7, 9, 3, 3, net.ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, Groups: 3}, true, true, true},
		{"4 groups, 1x1", 2, 8, 5, 5, 4, 1, 1, net.ConvParams{StrideH: 1, StrideW: 1, Groups: 4}, true, false, false},
	}
	apis := []struct {
		name string
		o    Options
	}{{"legacy", Options{Deterministic: true}}, {"graph", Options{Deterministic: true, GraphConv: true}},
		{"packed", Options{Deterministic: true, PackedConv: true}}, {"graph-packed", Options{Deterministic: true, GraphConv: true, PackedConv: true}}}
	for _, api := range apis {
		for _, tc := range cases {
			t.Run(api.name+"/"+tc.name, func(t *testing.T) { testConvCase(newEnvWith(t, api.o), tc) })
		}
	}
}

// convCase is one TestConv shape.
type convCase struct {
	name           string
	n, c, h, w, k  int
	kh, kw         int
	p              net.ConvParams
	bias, gap, acc bool
}

// testConvCase runs one convolution shape forward and in both backward directions on both
// backends and compares them.
func testConvCase(e *env, tc convCase) {
	oh, ow := tc.p.OutSize(tc.h, tc.w, tc.kh, tc.kw)
	x := e.tensor(tc.n, tc.c, tc.h, tc.w, tc.gap, 1)
	wc := tc.c / tc.p.GroupCount() // a grouped convolution's filters see one group's channels
	w := e.tensor(tc.k, wc, tc.kh, tc.kw, false, 0.5)
	_, bg, bc := e.optional(tc.bias, tc.k)
	y := e.tensor(tc.n, tc.k, oh, ow, tc.gap, 1)
	e.g.ConvForward(x.g, w.g, bg, y.g, tc.p)
	e.c.ConvForward(x.c, w.c, bc, y.c, tc.p)
	e.check("forward", y, dots)

	dy := e.tensor(tc.n, tc.k, oh, ow, tc.gap, 1)
	dx := e.tensor(tc.n, tc.c, tc.h, tc.w, tc.gap, 1)
	e.g.ConvBackwardData(dy.g, w.g, dx.g, tc.p, tc.acc)
	e.c.ConvBackwardData(dy.c, w.c, dx.c, tc.p, tc.acc)
	e.check("backward data", dx, dots)

	dw := e.tensor(tc.k, wc, tc.kh, tc.kw, false, 1)
	db, dbg, dbc := e.optional(tc.bias, tc.k)
	e.g.ConvBackwardFilter(x.g, dy.g, dw.g, dbg, tc.p)
	e.c.ConvBackwardFilter(x.c, dy.c, dw.c, dbc, tc.p)
	e.check("backward filter", dw, dots)
	if tc.bias {
		e.check("backward bias", db, dots)
	}
}

func TestDense(t *testing.T) {
	for _, gap := range []bool{false, true} {
		t.Run(fmt.Sprintf("strided=%v", gap), func(t *testing.T) {
			e := newEnv(t)
			n, c, h, w, o := 5, 6, 3, 2, 7
			x := e.tensor(n, c, h, w, gap, 1)
			wt := e.tensor(o, c*h*w, 1, 1, false, 0.5)
			b := e.tensor(o, 1, 1, 1, false, 1)
			y := e.tensor(n, o, 1, 1, gap, 1)
			e.g.DenseForward(x.g, wt.g, b.g, y.g)
			e.c.DenseForward(x.c, wt.c, b.c, y.c)
			e.check("forward", y, dots)
			e.g.DenseForward(x.g, wt.g, nil, y.g)
			e.c.DenseForward(x.c, wt.c, nil, y.c)
			e.check("forward without bias", y, dots)
			dy := e.tensor(n, o, 1, 1, gap, 1)
			dx := e.tensor(n, c, h, w, gap, 1)
			e.g.DenseBackwardData(dy.g, wt.g, dx.g, gap)
			e.c.DenseBackwardData(dy.c, wt.c, dx.c, gap)
			e.check("backward data", dx, dots)
			dw := e.tensor(o, c*h*w, 1, 1, false, 1)
			db := e.tensor(o, 1, 1, 1, false, 1)
			e.g.DenseBackwardFilter(x.g, dy.g, dw.g, db.g)
			e.c.DenseBackwardFilter(x.c, dy.c, dw.c, db.c)
			e.check("backward filter", dw, dots)
			e.check("backward bias", db, sums64)
		})
	}
}

func TestBatchNorm(t *testing.T) {
	e := newEnv(t)
	n, c, h, w := 4, 3, 5, 6
	x := e.tensor(n, c, h, w, false, 2)
	y := e.tensor(n, c, h, w, false, 1)
	scale := e.tensor(1, c, 1, 1, false, 1)
	bias := e.tensor(1, c, 1, 1, false, 1)
	rm := e.tensor(1, c, 1, 1, false, 1)
	rv := e.tensor(1, c, 1, 1, false, 1)
	e.set(rv, []float32{1, 0.5, 2})
	sm := e.tensor(1, c, 1, 1, false, 1)
	si := e.tensor(1, c, 1, 1, false, 1)
	p := net.BatchNormParams{Training: true, Momentum: 0.1, Eps: 1e-5}
	e.g.BatchNormForward(x.g, y.g, scale.g, bias.g, rm.g, rv.g, sm.g, si.g, p)
	e.c.BatchNormForward(x.c, y.c, scale.c, bias.c, rm.c, rv.c, sm.c, si.c, p)
	e.check("training forward", y, dots)
	e.check("running mean", rm, dots)
	e.check("running variance", rv, dots)
	e.check("saved mean", sm, dots)
	e.check("saved 1/std", si, dots)
	dy := e.tensor(n, c, h, w, false, 1)
	dx := e.tensor(n, c, h, w, false, 1)
	ds := e.tensor(1, c, 1, 1, false, 1)
	dbias := e.tensor(1, c, 1, 1, false, 1)
	e.g.BatchNormBackward(x.g, dy.g, dx.g, scale.g, ds.g, dbias.g, sm.g, si.g, p)
	e.c.BatchNormBackward(x.c, dy.c, dx.c, scale.c, ds.c, dbias.c, sm.c, si.c, p)
	e.check("backward", dx, dots)
	e.check("backward scale", ds, dots)
	e.check("backward bias", dbias, dots)
	p.Training = false
	e.g.BatchNormForward(x.g, y.g, scale.g, bias.g, rm.g, rv.g, nil, nil, p)
	e.c.BatchNormForward(x.c, y.c, scale.c, bias.c, rm.c, rv.c, nil, nil, p)
	e.check("inference forward", y, dots)
}

func TestSoftmaxCrossEntropy(t *testing.T) {
	for _, r := range []net.Reduction{net.ReduceSum, net.ReduceMean} {
		t.Run(fmt.Sprintf("reduction %d", r), func(t *testing.T) {
			e := newEnv(t)
			n, k := 37, 10
			logits := e.tensor(n, k, 1, 1, true, 4)
			v := e.values(n*k, 4)
			// Ties for the top logit in some rows: the lowest index wins.
			for i := 0; i < n; i += 3 {
				v[i*k+2], v[i*k+5] = 9, 9
			}
			e.set(logits, v)
			labels := e.tensor(n, 1, 1, 1, false, 1)
			lv := make([]float32, n)
			for i := range lv {
				lv[i] = float32(e.rs.Intn(k))
				if i%3 == 0 {
					lv[i] = float32([]int{2, 5}[i%2]) // tied rows: correct only for label 2
				}
				if i%7 == 4 {
					lv[i] = -1 // ignored
				}
			}
			e.set(labels, lv)
			dl := e.tensor(n, k, 1, 1, true, 1)
			stats := e.tensor(1, 3, 1, 1, false, 1)
			e.set(stats, []float32{1, 2, 3}) // the loss adds to stats
			e.g.SoftmaxCrossEntropy(logits.g, labels.g, dl.g, stats.g, r)
			e.c.SoftmaxCrossEntropy(logits.c, labels.c, dl.c, stats.c, r)
			e.check("dlogits", dl, sums64)
			gs, cs := download(t, e.g, stats.g), download(t, e.c, stats.c)
			if math.Abs(float64(gs[0]-cs[0])) > 1e-6*math.Abs(float64(cs[0])) || gs[1] != cs[1] || gs[2] != cs[2] {
				t.Fatalf("stats: gpu %v, cpu %v", gs, cs)
			}
			e.g.SoftmaxCrossEntropy(logits.g, labels.g, nil, stats.g, r)
			e.c.SoftmaxCrossEntropy(logits.c, labels.c, nil, stats.c, r)
			e.check("stats without dlogits", stats, sums64)
		})
	}
}

func TestOptimizers(t *testing.T) {
	e := newEnv(t)
	n := 10007
	p := e.tensor(n, 1, 1, 1, false, 1)
	g := e.tensor(n, 1, 1, 1, false, 0.01)
	m := e.tensor(n, 1, 1, 1, false, 0.001)
	v := e.tensor(n, 1, 1, 1, false, 0.0001)
	vv := download(t, e.c, v.c)
	for i := range vv {
		vv[i] = float32(math.Abs(float64(vv[i]))) // v is non-negative in real runs
	}
	e.set(v, vv)
	for step := 1; step <= 3; step++ {
		h := net.AdamParams{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 5e-4, Step: step}
		e.g.AdamUpdate(p.g, g.g, m.g, v.g, h)
		e.c.AdamUpdate(p.c, g.c, m.c, v.c, h)
	}
	e.check("adam params", p, sums64)
	e.check("adam m", m, sums64)
	e.check("adam v", v, sums64)
	for _, nesterov := range []bool{false, true} {
		h := net.SGDParams{LR: 0.01, Momentum: 0.9, WeightDecay: 1e-4, Nesterov: nesterov}
		for i := 0; i < 2; i++ {
			e.g.SGDUpdate(p.g, g.g, m.g, h)
			e.c.SGDUpdate(p.c, g.c, m.c, h)
		}
		e.check(fmt.Sprintf("sgd params (nesterov %v)", nesterov), p, sums64)
		e.check(fmt.Sprintf("sgd velocity (nesterov %v)", nesterov), m, sums64)
	}
}

// filterTable is three groups laid out in a flat tensor of total values, with biases.
func filterTable() (*net.FilterTable, int) {
	ft := net.NewFilterTable([]net.FilterGroup{
		{Name: "a", Layer: 1, Weight: 0, Bias: 5 * 27, Filters: 5, FilterLen: 27, Bound: 0.01},
		{Name: "b", Layer: 4, Weight: 5*27 + 5, Bias: -1, Filters: 40, FilterLen: 9, Bound: 0.3},
		{Name: "c", Layer: 7, Weight: 5*27 + 5 + 360, Bias: 5*27 + 5 + 360 + 3*1001, Filters: 3, FilterLen: 1001, Bound: 1.5},
	})
	return ft, 5*27 + 5 + 360 + 3*1001 + 3
}

func TestFilterNormsMarkBelow(t *testing.T) {
	e := newEnv(t)
	ft, total := filterTable()
	grads := e.tensor(total, 1, 1, 1, false, 1)
	v := e.values(total, 1)
	// Dead filters: all-zero gradients (the paper's tau 1e-30 catches exactly these).
	for _, f := range []struct{ off, len int }{{27, 27}, {5*27 + 5 + 9*3, 9}, {5*27 + 5 + 360 + 1001, 1001}} {
		for i := f.off; i < f.off+f.len; i++ {
			v[i] = 0
		}
	}
	e.set(grads, v)
	for _, kind := range []net.NormKind{net.NormL1, net.NormL2} {
		norms := e.tensor(ft.Filters, 1, 1, 1, false, 1)
		e.g.FilterNorms(ft, grads.g, norms.g, kind)
		e.c.FilterNorms(ft, grads.c, norms.c, kind)
		e.check(fmt.Sprintf("norms (kind %d)", kind), norms, sums64)
		// Decide on the CPU's norms on both sides, so that the decision is tested exactly; the
		// first group's filters all dead as well, the case a relative threshold must still mark.
		nv := download(t, e.c, norms.c)
		for i := range ft.Groups[0].Filters {
			nv[i] = 0
		}
		e.set(norms, nv)
		for _, th := range []net.Threshold{{Tau: 1e-30}, {Tau: 0.9, Relative: true}, {Tau: 2}} {
			mask := e.tensor(ft.Filters, 1, 1, 1, false, 1)
			counts := e.tensor(len(ft.Groups), 1, 1, 1, false, 0)
			e.set(counts, []float32{1, 2, 3})
			e.g.MarkBelow(ft, norms.g, mask.g, counts.g, th)
			e.c.MarkBelow(ft, norms.c, mask.c, counts.c, th)
			e.check(fmt.Sprintf("mask %+v", th), mask, exact)
			e.check(fmt.Sprintf("counts %+v", th), counts, exact)
		}
	}
}

func TestRedrawFilters(t *testing.T) {
	e := newEnv(t)
	ft, total := filterTable()
	params := e.tensor(total, 1, 1, 1, false, 1)
	var mg, mc []*net.Tensor
	var moments []*twin
	for i := 0; i < 5; i++ { // more than one launch's worth of state tensors
		m := e.tensor(total, 1, 1, 1, false, 1)
		moments = append(moments, m)
		mg, mc = append(mg, m.g), append(mc, m.c)
	}
	mask := e.tensor(ft.Filters, 1, 1, 1, false, 1)
	mv := make([]float32, ft.Filters)
	for i := range mv {
		if i%3 == 1 || i == ft.Filters-1 {
			mv[i] = 1
		}
	}
	e.set(mask, mv)
	counts := e.tensor(len(ft.Groups), 1, 1, 1, false, 0)
	e.set(counts, []float32{0, 10, 20})
	for _, zb := range []bool{false, true} {
		r := net.Redraw{Seed: 0x1234_5678_9abc, Purpose: 77, ZeroBias: zb}
		rg, rc := r, r
		rg.Params, rg.Moments, rg.Counts = params.g, mg, counts.g
		rc.Params, rc.Moments, rc.Counts = params.c, mc, counts.c
		e.g.RedrawFilters(ft, mask.g, rg)
		e.c.RedrawFilters(ft, mask.c, rc)
		e.check(fmt.Sprintf("params (zero bias %v)", zb), params, exact)
		for i, m := range moments {
			e.check(fmt.Sprintf("moments %d (zero bias %v)", i, zb), m, exact)
		}
		e.check("counts", counts, exact)
	}
	// Initialisation: every filter, no state.
	e.g.RedrawFilters(ft, nil, net.Redraw{Seed: 9, Params: params.g})
	e.c.RedrawFilters(ft, nil, net.Redraw{Seed: 9, Params: params.c})
	e.check("params (all filters)", params, exact)
}

func TestGatherBatch(t *testing.T) {
	e := newEnv(t)
	n, c, h, w := 50, 3, 9, 8
	pixels := make([]uint8, n*c*h*w)
	for i := range pixels {
		pixels[i] = uint8(e.rs.Uint32())
	}
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(e.rs.Intn(10))
	}
	sg, err := e.g.NewImageSet(pixels, labels, n, c, h, w)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := e.c.NewImageSet(pixels, labels, n, c, h, w)
	if err != nil {
		t.Fatal(err)
	}
	order := make([]int32, 45) // shorter than the set
	for i, p := range e.rs.Perm(n)[:len(order)] {
		order[i] = int32(p)
	}
	e.g.SetOrder(sg, order)
	e.c.SetOrder(sc, order)
	const b, ch, cw = 8, 7, 6
	mean := e.tensor(1, c, ch, cw, false, 50)
	augs := []net.Augment{
		{CropH: ch, CropW: cw},
		{CropH: ch, CropW: cw, Pad: 2, RandomCrop: true, Flip: true, Seed: 5, Epoch: 3, Scale: 1.0 / 255,
			ChanMean: []float32{0.5, 0.4, 0.3}, ChanInvStd: []float32{4, 5, 6}},
		{CropH: ch, CropW: cw, Pad: 1, RandomCrop: true, Flip: true, Seed: 6, Epoch: 0, Mean: mean.g},
	}
	for i, a := range augs {
		for _, start := range []int{0, 40} { // 40: positions past the end of the order
			x := e.tensor(b, c, ch, cw, false, 1)
			lab := e.tensor(b, 1, 1, 1, false, 1)
			ac := a
			if a.Mean != nil {
				ac.Mean = mean.c
			}
			e.g.GatherBatch(sg, start, x.g, lab.g, a)
			e.c.GatherBatch(sc, start, x.c, lab.c, ac)
			e.check(fmt.Sprintf("augment %d from %d: images", i, start), x, exact)
			e.check(fmt.Sprintf("augment %d from %d: labels", i, start), lab, exact)
		}
	}
}

// TestNetwork builds one small network on both backends from the same seed and runs a training
// step: the initial weights must be identical, the logits, loss and gradients close.
func TestNetwork(t *testing.T) {
	g, c := bothBackends(t)
	spec, err := net.LoadSpec("inception28@0.0625")
	if err != nil {
		t.Fatal(err)
	}
	const batch = 4
	in := [3]int{3, 28, 28}
	ng, err := net.Build(g, spec, batch, in, 10)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Build(c, spec, batch, in, 10)
	if err != nil {
		t.Fatal(err)
	}
	ng.Init(11)
	nc.Init(11)
	pg, pc := download(t, g, ng.Params), download(t, c, nc.Params)
	for i := range pc {
		if math.Float32bits(pg[i]) != math.Float32bits(pc[i]) {
			t.Fatalf("initial parameter %d: gpu %v, cpu %v", i, pg[i], pc[i])
		}
	}
	// The paper's init (U(-0.01, 0.01)) shrinks the signal ~20-fold per layer; for a check whose
	// every layer carries an O(1) signal, give both the same He-uniform weights and small biases.
	rs := rng.NewStream(rng.KeyFromSeed(3), rng.StreamData, 0, 0)
	params := append([]float32(nil), pc...)
	for _, grp := range nc.Weights.Groups {
		bound := float32(math.Sqrt(6 / float64(grp.FilterLen)))
		for i := grp.Weight; i < grp.Weight+grp.Filters*grp.FilterLen; i++ {
			params[i] = bound * rng.Symmetric(rs.Uint32())
		}
		if grp.Bias >= 0 {
			for i := grp.Bias; i < grp.Bias+grp.Filters; i++ {
				params[i] = 0.1 * rng.Symmetric(rs.Uint32())
			}
		}
	}
	x := make([]float32, ng.Input.Len())
	for i := range x {
		x[i] = rng.Symmetric(rs.Uint32())
	}
	labels := []float32{1, 7, -1, 3}
	for _, b := range []struct {
		b net.Backend
		n *net.Net
	}{{g, ng}, {c, nc}} {
		b.b.Upload(b.n.Params, params)
		b.b.Upload(b.n.Input, x)
		b.b.Upload(b.n.Labels, labels)
	}
	sg, _ := g.Alloc(1, 3, 1, 1)
	sc, _ := c.Alloc(1, 3, 1, 1)
	ng.Forward(true)
	nc.Forward(true)
	g.SoftmaxCrossEntropy(ng.Logits, ng.Labels, ng.DLogits, sg, net.ReduceSum)
	c.SoftmaxCrossEntropy(nc.Logits, nc.Labels, nc.DLogits, sc, net.ReduceSum)
	ng.Backward()
	nc.Backward()
	compare := func(what string, a, b []float32, tol float64) {
		t.Helper()
		var ref, worst float64
		at := 0
		for i := range b {
			ref = math.Max(ref, math.Abs(float64(b[i])))
			if d := math.Abs(float64(a[i]) - float64(b[i])); d > worst || math.IsNaN(d) {
				worst, at = d, i
			}
		}
		if !(worst <= tol*ref) {
			t.Fatalf("%s: element %d: gpu %v, cpu %v (max |ref| %.4g, tol %g)", what, at, a[at], b[at], ref, tol)
		}
		t.Logf("%s: max |gpu-cpu| = %.3g of max |ref| %.4g", what, worst/ref, ref)
	}
	compare("logits", download(t, g, ng.Logits), download(t, c, nc.Logits), 1e-3)
	lg, lc := download(t, g, sg), download(t, c, sc)
	if math.Abs(float64(lg[0]-lc[0])) > 1e-4*math.Abs(float64(lc[0])) || lg[2] != lc[2] || lg[2] != 3 {
		t.Fatalf("loss stats: gpu %v, cpu %v", lg, lc)
	}
	// Gradients pass through 19 layers of float32 sums in different orders, and through ReLU
	// gates and max-pool choices: a pre-activation within float32 noise of 0 (or a near tie in a
	// pool window) may take the other branch on the other backend, which moves one position's
	// contribution to a weight gradient (about 1/sqrt(positions) of its size) while everything
	// else agrees to ~1e-6. So each layer's weight and bias gradients are compared in relative
	// L2 norm, within 1e-2; a wrong layout, stride or accumulation gives O(1).
	gg, gc := download(t, g, ng.Grads), download(t, c, nc.Grads)
	norm := func(what string, a, b []float32) {
		t.Helper()
		var d2, r2 float64
		for i := range b {
			d := float64(a[i]) - float64(b[i])
			d2 += d * d
			r2 += float64(b[i]) * float64(b[i])
		}
		rel := math.Sqrt(d2 / r2)
		if d2 == 0 {
			rel = 0 // also when both are all zero
		}
		if !(rel <= 1e-2) {
			t.Fatalf("%s: |gpu-cpu| / |cpu| = %.3g (|cpu| = %.4g), want <= 1e-2", what, rel, math.Sqrt(r2))
		}
		t.Logf("%s: |gpu-cpu| / |cpu| = %.3g", what, rel)
	}
	for _, grp := range nc.Weights.Groups {
		w := grp.Weight + grp.Filters*grp.FilterLen
		norm(grp.Name+" weight gradients", gg[grp.Weight:w], gc[grp.Weight:w])
		if grp.Bias >= 0 {
			norm(grp.Name+" bias gradients", gg[grp.Bias:grp.Bias+grp.Filters], gc[grp.Bias:grp.Bias+grp.Filters])
		}
	}
}

// TestFilterNormsTime prints the per-filter norm kernel's time for all 1,712 filters of
// inception28 (CUDA events around single launches, median of many).
func TestFilterNormsTime(t *testing.T) {
	g, _ := bothBackends(t)
	spec, err := net.LoadSpec("inception28")
	if err != nil {
		t.Fatal(err)
	}
	n, err := net.Build(g, spec, 1, [3]int{3, 28, 28}, 10)
	if err != nil {
		t.Fatal(err)
	}
	ft, err := n.ConvTable(nil)
	if err != nil {
		t.Fatal(err)
	}
	if ft.Filters != 1712 {
		t.Fatalf("inception28 has %d conv filters, want 1712", ft.Filters)
	}
	norms, err := g.Alloc(ft.Filters, 1, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	gb := g.(*Backend)
	launch := func() { g.FilterNorms(ft, n.Grads, norms, net.NormL1) }
	launch() // uploads the table
	const runs = 501
	times := make([]float64, runs)
	for i := range times {
		d, err := gb.Time(launch)
		if err != nil {
			t.Fatal(err)
		}
		times[i] = d.Seconds() * 1e6
	}
	sort.Float64s(times)
	t.Logf("filter_norms, all %d filters of inception28 (%d gradients): median %.2f us, min %.2f us over %d launches",
		ft.Filters, n.Params.Len(), times[runs/2], times[0], runs)
	fmt.Printf("filter-norms-time: median %.2f us (inception28, %d filters)\n", times[runs/2], ft.Filters)
}
