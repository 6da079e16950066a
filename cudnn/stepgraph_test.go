//go:build !nocuda

package cudnn

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// stepContext is a context of its own with step graphs on (a shared test context would carry one
// test's graphs and counts into the next), closed when the test ends.
func stepContext(t *testing.T, o Options) *Context {
	t.Helper()
	fast(t) // skip early without a GPU
	o.StepGraphs, o.KernelCache = true, "off"
	c, err := NewContext(o)
	must(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// saxpyKernel compiles the tests' saxpy (--fmad=false: rounded as the host rounds a*x then +y).
func saxpyKernel(t *testing.T, c *Context) *Function {
	t.Helper()
	m, err := c.Compile(Program{Name: "saxpy.cu", Source: saxpySrc, Options: []string{"--fmad=false"}})
	must(t, err)
	t.Cleanup(func() { m.Close() })
	f, err := m.Function("saxpy")
	must(t, err)
	return f
}

// TestStepGraphs runs twelve steps of two shapes through RunStep: each step fills a buffer and
// launches saxpy with arguments that change every step (the scale, the input buffer, the tag),
// and every third step launches it once more. Each shape must run directly when first seen, be
// captured when seen again, and be replayed from then on with its changed arguments, so that
// the results equal those of the same launches made one by one.
func TestStepGraphs(t *testing.T) {
	c := stepContext(t, Options{})
	f := saxpyKernel(t, c)

	const n = 1000
	r := rand.New(rand.NewPCG(5, 6))
	xs := [2][]float32{randVec(r, n), randVec(r, n)}
	xb := [2]*Buffer[float32]{upload(t, c, xs[0]), upload(t, c, xs[1])}
	yb, zb := upload(t, c, make([]float32, n)), upload(t, c, make([]float32, n))
	tb, err := Alloc[uint32](c, n)
	must(t, err)
	defer tb.Free()

	want := make([]float32, n) // y, computed on the host launch by launch
	var lastTag uint32
	var args Args
	saxpy := func(a float32, x int, tag uint32) error {
		args.Reset().Float32(a).Ptr(xb[x].Ptr()).Ptr(yb.Ptr()).Int32(n).Uint32(tag).Ptr(tb.Ptr())
		return f.Launch(Dim3{X: Blocks(n, 256)}, Dim3{X: 256}, 0, &args)
	}
	hostSaxpy := func(a float32, x int, tag uint32) {
		for i := range want {
			p := float32(a * xs[x][i]) // rounded apart from the sum, as the kernel (--fmad=false)
			want[i] = p + want[i]
		}
		lastTag = tag
	}
	launches := func(k int) [][3]float32 {
		l := [][3]float32{{float32(k) * 0.25, float32(k % 2), float32(100 * k)}}
		if k%3 == 0 {
			l = append(l, [3]float32{-0.5, 0, float32(100*k + 1)})
		}
		return l
	}
	step := func(k int) func() error {
		return func() error {
			if err := zb.Fill(1); err != nil {
				return err
			}
			for _, l := range launches(k) {
				if err := saxpy(l[0], int(l[1]), uint32(l[2])); err != nil {
					return err
				}
			}
			return nil
		}
	}
	check := func(after string) {
		t.Helper()
		got := download(t, yb)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("after %s: y[%d] = %g, want %g", after, i, got[i], want[i])
			}
		}
		tags := make([]uint32, n)
		must(t, tb.Download(tags))
		if tags[n-1] != lastTag+n-1 {
			t.Fatalf("after %s: tag[%d] = %d, want %d", after, n-1, tags[n-1], lastTag+n-1)
		}
		if z := download(t, zb); z[0] != 1 || z[n-1] != 1 {
			t.Fatalf("after %s: the filled buffer holds %g ... %g", after, z[0], z[n-1])
		}
	}

	for k := 1; k <= 12; k++ {
		must(t, c.RunStep(step(k)))
		for _, l := range launches(k) {
			hostSaxpy(l[0], int(l[1]), uint32(l[2]))
		}
		if k == 2 || k == 12 {
			check("step " + itoa(k))
		}
	}
	// One launch shape runs at steps 1, 2, 4, 5, 7, 8, 10, 11 and the other at 3, 6, 9, 12: each
	// runs directly once, is captured at its second step and replayed from then on. Every replay
	// after the capturing one changes the scale of the first launch (and the tag of the second).
	st := c.StepStats()
	if want := (StepStats{Direct: 2, Captured: 2, Replayed: 10, Updated: 6 + 2*2}); st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}

	// Waiting for the device inside a step is refused, in the dry run already.
	buf := make([]float32, n)
	if err := c.RunStep(func() error { return yb.Download(buf) }); err == nil || !strings.Contains(err.Error(), "must not wait") {
		t.Fatalf("a download inside a step: %v", err)
	}

	// A failed capture turns step graphs off; the step then runs directly, as do later ones. This
	// step waits for the device in its capture (a function that is not the same each time), which
	// is refused there too.
	calls := 0
	failing := func() error {
		calls++
		if calls == 4 { // dry run, direct run, dry run, capture
			return yb.Download(buf)
		}
		for range 3 {
			if err := saxpy(2, 1, 5); err != nil {
				return err
			}
		}
		return nil
	}
	for range 2 {
		must(t, c.RunStep(failing))
		for range 3 {
			hostSaxpy(2, 1, 5)
		}
	}
	must(t, c.RunStep(step(13)))
	for _, l := range launches(13) {
		hostSaxpy(l[0], int(l[1]), uint32(l[2]))
	}
	check("the failed capture")
	st = c.StepStats()
	if !strings.Contains(st.Off, "must not wait") || st.Direct != 5 || st.Replayed != 10 || st.Captured != 2 {
		t.Fatalf("after the failed capture: stats %+v", st)
	}
}

// TestStepGraphsConvolution runs four steps that each add a convolution into y through RunStep,
// with the legacy and the graph API: the first dry run meets the convolution's algorithm search,
// which must be made for real (it synchronises, frees and grows the workspace), and every step
// must add the convolution once, the third step being captured and replayed with the fourth.
func TestStepGraphsConvolution(t *testing.T) {
	for _, graphConv := range []bool{false, true} {
		t.Run(map[bool]string{false: "legacy", true: "graph"}[graphConv], func(t *testing.T) {
			c := stepContext(t, Options{GraphConv: graphConv, Deterministic: true})
			cc := convCase{N: 2, C: 3, H: 7, W: 6, K: 4, KH: 3, KW: 3, p: ConvParams{PadH: 1, PadW: 1, StrideH: 1, StrideW: 1}}
			r := rand.New(rand.NewPCG(7, 8))
			xv := view{cc.N, cc.C, cc.H, cc.W, cc.C, 0}
			yv := view{cc.N, cc.K, cc.H, cc.W, cc.K, 0}
			x, w, y0 := randVec(r, xv.len()), randVec(r, cc.K*cc.C*cc.KH*cc.KW), randVec(r, yv.len())
			xb, wb, yb := upload(t, c, x), upload(t, c, w), upload(t, c, y0)
			xd, yd := xv.desc(t, c), yv.desc(t, c)
			wd, err := c.NewFilter(cc.K, cc.C, cc.KH, cc.KW)
			must(t, err)
			defer wd.Close()
			cv, err := c.NewConv(cc.p)
			must(t, err)
			defer cv.Close()

			const steps = 4
			for range steps {
				must(t, c.RunStep(func() error { return c.ConvForward(1, xd, xb.Ptr(), wd, wb.Ptr(), cv, 1, yd, yb.Ptr()) }))
			}
			once := make([]float64, yv.len())
			convRef(once, x, xv, w, cc.K, cc.KH, cc.KW, cc.p, yv)
			want := widen(y0)
			for i := range want {
				want[i] += steps * once[i]
			}
			near(t, "y", download(t, yb), want, steps*2e-5*float64(cc.C*cc.KH*cc.KW), 1e-5)
			st := c.StepStats()
			t.Logf("stats %+v", st)
			if want := (StepStats{Direct: 2, Captured: 1, Replayed: 2}); st != want {
				t.Errorf("stats %+v, want %+v: the first two steps run directly (a search, then a first sighting), the third is captured", st, want)
			}
		})
	}
}

// TestStepGraphsShapesThatDoNotRepeat: a step that fills a buffer with its own number has a new
// shape every time (a memset's value is part of it), so no graph is ever captured, and after
// maxSeenShapes of them step graphs turn themselves off instead of paying a dry run per step.
func TestStepGraphsShapesThatDoNotRepeat(t *testing.T) {
	c := stepContext(t, Options{})
	b := upload(t, c, make([]float32, 10))
	const steps = maxSeenShapes + 4
	for k := 1; k <= steps; k++ {
		must(t, c.RunStep(func() error { return b.Fill(float32(k)) }))
		if got := download(t, b); got[9] != float32(k) {
			t.Fatalf("step %d: the buffer holds %g", k, got[9])
		}
	}
	st := c.StepStats()
	if st.Direct != steps || st.Captured != 0 || !strings.Contains(st.Off, "do not repeat") {
		t.Fatalf("stats %+v: want %d steps run directly, none captured, and graphs off", st, steps)
	}
}

// TestStepGraphsEviction: nine shapes (one to nine launches), three rounds. The first round runs
// each directly, the second captures each, the ninth capture evicting the least recently used
// graph (the first shape's), and the third replays all but the first shape, which is run
// directly again as if new; each replay of the third round updates every launch's scale.
func TestStepGraphsEviction(t *testing.T) {
	c := stepContext(t, Options{})
	f := saxpyKernel(t, c)
	const n = 100
	x := make([]float32, n)
	for i := range x {
		x[i] = 1
	}
	xb, yb := upload(t, c, x), upload(t, c, make([]float32, n))
	tb, err := Alloc[uint32](c, n)
	must(t, err)
	defer tb.Free()
	var args Args
	want := float32(0)
	const shapes = maxStepGraphs + 1
	for round := 1; round <= 3; round++ {
		for s := 1; s <= shapes; s++ {
			must(t, c.RunStep(func() error {
				for range s {
					args.Reset().Float32(float32(round)).Ptr(xb.Ptr()).Ptr(yb.Ptr()).Int32(n).Uint32(uint32(s)).Ptr(tb.Ptr())
					if err := f.Launch(Dim3{X: 1}, Dim3{X: 128}, 0, &args); err != nil {
						return err
					}
				}
				return nil
			}))
			want += float32(round * s)
		}
	}
	if got := download(t, yb); got[0] != want || got[n-1] != want {
		t.Fatalf("y = %g ... %g, want %g", got[0], got[n-1], want)
	}
	st := c.StepStats()
	if want := (StepStats{Direct: shapes + 1, Captured: shapes, Replayed: shapes + shapes - 1, Updated: shapes*(shapes+1)/2 - 1}); st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
}

// TestStepGraphsLibraryCalls runs the same four steps of cuBLAS and cuDNN calls (a matrix
// product accumulated into its output, a broadcast bias added, ReLU, max pooling, batch norm
// forward and backward with their running statistics, a device copy) on two sets of buffers of
// one context: on one through RunStep (the first step directly, the second captured, every
// step from the second replayed), on the other call by call. Every output must agree bit for
// bit.
func TestStepGraphsLibraryCalls(t *testing.T) {
	c := stepContext(t, Options{Deterministic: true})
	const N, C, H, W = 2, 3, 4, 6 // the product's 6 x 24 output read as N x C x H x W
	r := rand.New(rand.NewPCG(9, 10))
	a, b, bias, dy := randVec(r, 6*5), randVec(r, 5*24), randVec(r, C), randVec(r, N*C*H*W)
	x4 := dense(t, c, N, C, H, W)
	bd := dense(t, c, 1, C, 1, 1)
	pooled := dense(t, c, N, C, H/2, W/2)
	relu, err := c.NewActivation(ActivationReLU, 0)
	must(t, err)
	defer relu.Close()
	pool, err := c.NewPooling(PoolMax, 2, 2, 0, 0, 2, 2)
	must(t, err)
	defer pool.Close()
	pd, err := c.NewBatchNormParams(x4)
	must(t, err)
	defer pd.Close()

	// set is one copy of every buffer the step reads or writes.
	type set struct {
		a, b, bias, dy, prod, act, pool, norm, dx, copied *Buffer[float32]
		bn                                                BatchNorm
	}
	newSet := func() *set {
		s := &set{a: upload(t, c, a), b: upload(t, c, b), bias: upload(t, c, bias), dy: upload(t, c, dy)}
		for _, p := range []**Buffer[float32]{&s.prod, &s.act, &s.norm, &s.dx} {
			*p = upload(t, c, make([]float32, N*C*H*W))
		}
		s.pool, s.copied = upload(t, c, make([]float32, N*C*H*W/4)), upload(t, c, make([]float32, N*C*H*W/4))
		ones := []float32{1, 1, 1}
		s.bn = BatchNorm{Param: pd, Eps: 1e-5, Momentum: 0.1, Scale: upload(t, c, ones).Ptr(), Bias: upload(t, c, make([]float32, C)).Ptr(),
			RunMean: upload(t, c, make([]float32, C)).Ptr(), RunVar: upload(t, c, ones).Ptr(), SaveMean: upload(t, c, make([]float32, C)).Ptr(),
			SaveInvStd: upload(t, c, make([]float32, C)).Ptr(), DScale: upload(t, c, make([]float32, C)).Ptr(), DBias: upload(t, c, make([]float32, C)).Ptr()}
		return s
	}
	step := func(s *set) error {
		return errors.Join(
			c.Sgemm(false, false, 6, 24, 5, 1, s.a.Ptr(), 6, s.b.Ptr(), 5, 1, s.prod.Ptr(), 6),
			c.AddTensor(1, bd, s.bias.Ptr(), 1, x4, s.prod.Ptr()),
			c.ActivationForward(relu, 1, x4, s.prod.Ptr(), 0, x4, s.act.Ptr()),
			c.PoolingForward(pool, 1, x4, s.act.Ptr(), 0, pooled, s.pool.Ptr()),
			c.BatchNormForwardTraining(x4, s.act.Ptr(), x4, s.norm.Ptr(), &s.bn),
			c.BatchNormBackward(x4, s.act.Ptr(), x4, s.dy.Ptr(), x4, s.dx.Ptr(), &s.bn, true),
			c.CopyDevice(s.copied.Ptr(), s.pool.Ptr(), 4*N*C*H*W/4))
	}
	graphed, direct := newSet(), newSet()
	for range 4 {
		must(t, c.RunStep(func() error { return step(graphed) }))
		must(t, step(direct))
	}
	for _, o := range []struct {
		name string
		g, d *Buffer[float32]
	}{{"product", graphed.prod, direct.prod}, {"relu", graphed.act, direct.act}, {"pool", graphed.pool, direct.pool},
		{"norm", graphed.norm, direct.norm}, {"norm dx", graphed.dx, direct.dx}, {"copy", graphed.copied, direct.copied}} {
		g, d := download(t, o.g), download(t, o.d)
		for i := range g {
			if math.Float32bits(g[i]) != math.Float32bits(d[i]) {
				t.Fatalf("%s[%d]: %g through graphs, %g call by call", o.name, i, g[i], d[i])
			}
		}
	}
	if st, want := c.StepStats(), (StepStats{Direct: 1, Captured: 1, Replayed: 3}); st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
}
