// Command gorgonia-convnet times one training step of rout's "convnet-small" (3x32x32 input, 10
// classes) written with gorgonia.org/gorgonia, the Go library a user would otherwise reach for, so
// that rout's own CPU step can be compared with it in images per second (scripts/bench-cpu.sh runs
// both). It lives in its own module so that rout's module does not depend on gorgonia.
//
// The model: conv3x3/32 pad 1 + bias + ReLU, maxpool 2x2/2, conv3x3/64 pad 1 + bias + ReLU,
// maxpool 2x2/2, conv3x3/128 pad 1 + bias + ReLU, global average pool (8x8), dense 128->10 + bias,
// softmax cross-entropy averaged over the batch. One step is forward + backward + one optimiser
// update: plain SGD by default, Adam with -opt adam, or none with -opt none (forward + backward
// only, as rout's BenchmarkTrainStep times it; the gradients are still cleared every step).
//
// Before timing, the program trains the same fixed random batch for a few steps and fails unless
// the loss falls, so the timed step is a working one (main_test.go checks the gradients themselves
// against central finite differences in float64).
package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"slices"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Input geometry and class count of convnet-small as benchmarked in rout.
const (
	channels = 3
	side     = 32
	classes  = 10
)

// model is the compiled training graph of convnet-small for one batch size.
type model struct {
	g      *G.ExprGraph
	x, y   *G.Node // input batch (N x 3 x 32 x 32) and one-hot targets (N x 10)
	params G.Nodes // learnable tensors, weights and biases
	loss   *G.Node // mean softmax cross-entropy over the batch
	vm     G.VM
	bs     int
	dt     tensor.Dtype
}

// layerShapes lists the learnable tensors in order: conv weights K x C x 3 x 3 and their biases
// 1 x K x 1 x 1 (gorgonia broadcasts only between tensors of equal rank), then the dense
// weight 128 x 10 and its bias 1 x 10.
var layerShapes = []struct {
	name  string
	shape tensor.Shape
	fanIn int // 0 marks a bias (initialised to zero)
}{
	{"conv1.w", tensor.Shape{32, channels, 3, 3}, channels * 9},
	{"conv1.b", tensor.Shape{1, 32, 1, 1}, 0},
	{"conv2.w", tensor.Shape{64, 32, 3, 3}, 32 * 9},
	{"conv2.b", tensor.Shape{1, 64, 1, 1}, 0},
	{"conv3.w", tensor.Shape{128, 64, 3, 3}, 64 * 9},
	{"conv3.b", tensor.Shape{1, 128, 1, 1}, 0},
	{"fc.w", tensor.Shape{128, classes}, 128},
	{"fc.b", tensor.Shape{1, classes}, 0},
}

// newModel builds, differentiates and compiles the graph. Weights are He-uniform
// (bound sqrt(6/fanIn)) drawn from a PCG seeded with seed; biases are zero.
func newModel(dt tensor.Dtype, bs int, seed uint64) (*model, error) {
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("gorgonia-convnet: dtype %v: want float32 or float64", dt)
	}
	if bs < 1 {
		return nil, fmt.Errorf("gorgonia-convnet: batch size %d: want at least 1", bs)
	}
	g := G.NewGraph()
	m := &model{g: g, bs: bs, dt: dt}
	r := rand.New(rand.NewPCG(seed, 0x636f6e766e6574))
	for _, l := range layerShapes {
		vals := make([]float64, l.shape.TotalSize())
		if l.fanIn > 0 {
			bound := math.Sqrt(6 / float64(l.fanIn))
			for i := range vals {
				vals[i] = bound * (2*r.Float64() - 1)
			}
		}
		t := newDense(dt, l.shape, vals)
		m.params = append(m.params, G.NodeFromAny(g, t, G.WithName(l.name)))
	}
	m.x = G.NewTensor(g, dt, 4, G.WithShape(bs, channels, side, side), G.WithName("x"))
	m.y = G.NewMatrix(g, dt, G.WithShape(bs, classes), G.WithName("y"))

	var err error
	if m.loss, err = m.forward(); err != nil {
		return nil, err
	}
	if _, err = G.Grad(m.loss, m.params...); err != nil {
		return nil, fmt.Errorf("gorgonia-convnet: differentiating the loss: %w", err)
	}
	prog, locMap, err := G.Compile(g)
	if err != nil {
		return nil, fmt.Errorf("gorgonia-convnet: compiling the graph: %w", err)
	}
	m.vm = G.NewTapeMachine(g, G.WithPrecompiled(prog, locMap), G.BindDualValues(m.params...))
	return m, nil
}

// forward adds the network and its loss to the graph.
func (m *model) forward() (*G.Node, error) {
	p := m.params
	h := m.x
	var err error
	for i := 0; i < 3; i++ {
		if h, err = convBiasReLU(h, p[2*i], p[2*i+1]); err != nil {
			return nil, fmt.Errorf("gorgonia-convnet: conv%d: %w", i+1, err)
		}
		if i < 2 {
			if h, err = G.MaxPool2D(h, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2}); err != nil {
				return nil, fmt.Errorf("gorgonia-convnet: pool%d: %w", i+1, err)
			}
		}
	}
	// Global average pooling over the 8x8 map: reshape to N x C x 64 and take the mean over the
	// last axis. The direct routes are broken in gorgonia v0.9.18: GlobalAveragePool2D has no
	// gradient (its op implements neither SymDiff nor DoDiff); AveragePool2D divides each window's
	// sum by the input width instead of the window area (8 times too large here); and Mean(h, 2, 3)
	// returns the per-channel means in the wrong places. main_test.go checks this route against a
	// plain float64 reference.
	sh := h.Shape()
	if h, err = G.Reshape(h, tensor.Shape{sh[0], sh[1], sh[2] * sh[3]}); err != nil {
		return nil, fmt.Errorf("gorgonia-convnet: global average pool: %w", err)
	}
	if h, err = G.Mean(h, 2); err != nil {
		return nil, fmt.Errorf("gorgonia-convnet: global average pool: %w", err)
	}
	if h, err = G.Mul(h, p[6]); err != nil {
		return nil, fmt.Errorf("gorgonia-convnet: dense: %w", err)
	}
	if h, err = G.BroadcastAdd(h, p[7], nil, []byte{0}); err != nil {
		return nil, fmt.Errorf("gorgonia-convnet: dense bias: %w", err)
	}
	// Cross-entropy = -sum(y * log softmax(z)) / N with one-hot y.
	logp, err := G.LogSoftMax(h)
	if err != nil {
		return nil, fmt.Errorf("gorgonia-convnet: log-softmax: %w", err)
	}
	picked, err := G.HadamardProd(logp, m.y)
	if err != nil {
		return nil, fmt.Errorf("gorgonia-convnet: loss: %w", err)
	}
	sum, err := G.Sum(picked)
	if err != nil {
		return nil, fmt.Errorf("gorgonia-convnet: loss: %w", err)
	}
	var negInvN *G.Node
	if m.dt == tensor.Float32 {
		negInvN = G.NewConstant(float32(-1 / float64(m.bs)))
	} else {
		negInvN = G.NewConstant(-1 / float64(m.bs))
	}
	loss, err := G.Mul(sum, negInvN)
	if err != nil {
		return nil, fmt.Errorf("gorgonia-convnet: loss: %w", err)
	}
	return loss, nil
}

// convBiasReLU is a 3x3 convolution with padding 1 and stride 1, plus a per-channel bias, then ReLU.
func convBiasReLU(x, w, b *G.Node) (*G.Node, error) {
	c, err := G.Conv2d(x, w, tensor.Shape{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1})
	if err != nil {
		return nil, err
	}
	if c, err = G.BroadcastAdd(c, b, nil, []byte{0, 2, 3}); err != nil {
		return nil, fmt.Errorf("bias: %w", err)
	}
	return G.Rectify(c)
}

// newDense makes a tensor of dtype dt holding vals.
func newDense(dt tensor.Dtype, shape tensor.Shape, vals []float64) *tensor.Dense {
	if dt == tensor.Float64 {
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(slices.Clone(vals)))
	}
	f := make([]float32, len(vals))
	for i, v := range vals {
		f[i] = float32(v)
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f))
}

// batch is a fixed input batch and its one-hot targets.
type batch struct {
	x, y *tensor.Dense
}

// randomBatch draws standard-normal images and uniform labels for bs examples.
func randomBatch(dt tensor.Dtype, bs int, seed uint64) batch {
	r := rand.New(rand.NewPCG(seed, 0x62617463680a))
	xs := make([]float64, bs*channels*side*side)
	for i := range xs {
		xs[i] = r.NormFloat64()
	}
	ys := make([]float64, bs*classes)
	for n := 0; n < bs; n++ {
		ys[n*classes+r.IntN(classes)] = 1
	}
	return batch{
		x: newDense(dt, tensor.Shape{bs, channels, side, side}, xs),
		y: newDense(dt, tensor.Shape{bs, classes}, ys),
	}
}

// run computes the loss and the gradients of every parameter for b, leaving the gradients in the
// parameters' dual values, and returns the loss.
func (m *model) run(b batch) (float64, error) {
	if err := G.Let(m.x, b.x); err != nil {
		return 0, fmt.Errorf("gorgonia-convnet: binding the input: %w", err)
	}
	if err := G.Let(m.y, b.y); err != nil {
		return 0, fmt.Errorf("gorgonia-convnet: binding the targets: %w", err)
	}
	defer m.vm.Reset()
	if err := m.vm.RunAll(); err != nil {
		return 0, fmt.Errorf("gorgonia-convnet: running the graph: %w", err)
	}
	switch v := m.loss.Value().Data().(type) {
	case float32:
		return float64(v), nil
	case float64:
		return v, nil
	default:
		return 0, fmt.Errorf("gorgonia-convnet: loss has type %T, want a float scalar", v)
	}
}

// step is one training step: forward, backward and the solver's update.
func (m *model) step(b batch, s G.Solver) (float64, error) {
	loss, err := m.run(b)
	if err != nil {
		return 0, err
	}
	if err := s.Step(G.NodesToValueGrads(m.params)); err != nil {
		return 0, fmt.Errorf("gorgonia-convnet: solver step: %w", err)
	}
	return loss, nil
}

// newSolver returns the named optimiser. The loss is already a batch mean, so the solvers'
// own batch-size scaling stays at its default of 1.
func newSolver(name string, lr float64) (G.Solver, error) {
	switch name {
	case "none":
		return clearGrads{}, nil
	case "sgd":
		return G.NewVanillaSolver(G.WithLearnRate(lr)), nil
	case "adam":
		return G.NewAdamSolver(G.WithLearnRate(lr)), nil
	default:
		return nil, fmt.Errorf("gorgonia-convnet: -opt %q: want none, sgd or adam", name)
	}
}

// clearGrads is the "none" optimiser: it leaves the weights alone and only zeroes the gradients,
// which gorgonia's tape machine would otherwise add to on the next run (the real solvers zero
// them after their update).
type clearGrads struct{}

// Step zeroes every gradient in model.
func (clearGrads) Step(model []G.ValueGrad) error {
	for _, n := range model {
		g, err := n.Grad()
		if err != nil {
			return fmt.Errorf("gradient of %v: %w", n, err)
		}
		d, ok := g.(*tensor.Dense)
		if !ok {
			return fmt.Errorf("gradient of %v is a %T, want a *tensor.Dense", n, g)
		}
		d.Zero()
	}
	return nil
}

// sanityCheck trains on b for steps steps and fails unless the loss falls to at most 80% of its
// first value: a broken backward pass or update does not memorise a fixed batch.
func sanityCheck(m *model, b batch, s G.Solver, steps int) (first, last float64, err error) {
	for i := 0; i < steps; i++ {
		l, err := m.step(b, s)
		if err != nil {
			return 0, 0, err
		}
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return 0, 0, fmt.Errorf("gorgonia-convnet: sanity check: loss %v at step %d", l, i)
		}
		if i == 0 {
			first = l
		}
		last = l
	}
	if !(last <= 0.8*first) {
		return first, last, fmt.Errorf("gorgonia-convnet: sanity check: loss went %.4f -> %.4f in %d steps, want a fall of at least 20%%", first, last, steps)
	}
	return first, last, nil
}

func main() {
	if err := mainErr(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func mainErr() error {
	bs := flag.Int("bs", 128, "batch size")
	warmup := flag.Int("warmup", 2, "untimed steps before the timed runs")
	steps := flag.Int("steps", 5, "timed steps per run")
	runs := flag.Int("runs", 5, "timed runs; the median run is reported")
	opt := flag.String("opt", "sgd", "update in the timed step: sgd (plain, no momentum), adam, or none (forward + backward only)")
	lr := flag.Float64("lr", 0, "learning rate (0: 0.01 for sgd, 1e-3 for adam)")
	check := flag.Int("check", 10, "sanity-check steps on a fixed batch before timing (0: skip)")
	seed := flag.Uint64("seed", 1, "seed of the weights and the random batch")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the timed runs to this file")
	flag.Parse()
	if *warmup < 0 || *steps < 1 || *runs < 1 || *check < 0 {
		return errors.New("gorgonia-convnet: want -warmup >= 0, -steps >= 1, -runs >= 1, -check >= 0")
	}
	if *lr == 0 {
		*lr = map[string]float64{"sgd": 0.01, "adam": 1e-3}[*opt]
	}
	// The sanity check needs an update; with -opt none it uses plain SGD.
	checkOpt, checkLR := *opt, *lr
	if checkOpt == "none" {
		checkOpt, checkLR = "sgd", 0.01
	}
	if *check > 0 {
		m, err := newModel(tensor.Float32, *bs, *seed)
		if err != nil {
			return err
		}
		s, err := newSolver(checkOpt, checkLR)
		if err != nil {
			return err
		}
		first, last, err := sanityCheck(m, randomBatch(tensor.Float32, *bs, *seed), s, *check)
		if err != nil {
			return err
		}
		fmt.Printf("gorgonia sanity: loss %.4f -> %.4f over %d %s steps on one random batch\n", first, last, *check, checkOpt)
		m.vm.Close()
	}

	m, err := newModel(tensor.Float32, *bs, *seed)
	if err != nil {
		return err
	}
	defer m.vm.Close()
	s, err := newSolver(*opt, *lr)
	if err != nil {
		return err
	}
	b := randomBatch(tensor.Float32, *bs, *seed+1)
	for i := 0; i < *warmup; i++ {
		if _, err := m.step(b, s); err != nil {
			return err
		}
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return fmt.Errorf("gorgonia-convnet: -cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("gorgonia-convnet: -cpuprofile %s: %w", *cpuprofile, err)
		}
		defer pprof.StopCPUProfile()
	}
	rates := make([]float64, *runs)
	for r := range rates {
		start := time.Now()
		for i := 0; i < *steps; i++ {
			if _, err := m.step(b, s); err != nil {
				return err
			}
		}
		sec := time.Since(start).Seconds()
		rates[r] = float64(*bs**steps) / sec
		fmt.Printf("gorgonia run %d: %d steps in %.3fs, %.1f img/s\n", r+1, *steps, sec, rates[r])
	}
	sorted := slices.Clone(rates)
	slices.Sort(sorted)
	fmt.Printf("gorgonia convnet-small bs%d (%s): median %.1f img/s over %d runs (%.1f..%.1f)\n",
		*bs, *opt, median(sorted), *runs, sorted[0], sorted[len(sorted)-1])
	return nil
}

// median of an ascending slice.
func median(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
