package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"time"

	"github.com/urfave/cli/v2"

	"rout/net"
	"rout/net/cpu"
	"rout/net/gpu"
	"rout/rng"
	"rout/trainer"
)

// benchCommand times whole training steps on synthetic data, without a revival rule and with each
// rule checking every step, so the cost of watching every filter every step can be read next to
// PyTorch's numbers (scripts/bench_torch.py prints the same table for plain and randomout).
func benchCommand() *cli.Command {
	return &cli.Command{
		Name:         "bench",
		Usage:        "time training steps of a model on synthetic data, without and with each revival rule",
		OnUsageError: commandUsageError,
		Description: "A step is what `rout train` runs: gather and normalise a batch from a uint8 dataset held\n" +
			"by the backend, forward, softmax cross-entropy (summed), backward, the optimiser's update,\n" +
			"and, in the randomout mode, RandomOut after every update (per-filter L1 gradient norms of\n" +
			"every conv filter, tau 1e-30, re-draw, optimiser state of re-drawn filters zeroed); in the\n" +
			"redo mode ReDo checking after every update (activation means beside the forward pass, tau\n" +
			"0.1, glorot re-draws); in the cbp mode continual backprop (utility, rate 1e-4, maturity 100;\n" +
			"redo and cbp without --pack). Every mode's timed runs start from the same weights.\n" +
			"After the warm-up (which also picks the convolution algorithms), each repeat times --steps\n" +
			"steps of each mode (CUDA events on the GPU, the wall clock on the CPU); the table gives the\n" +
			"median over the repeats.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Value: "inception28", Usage: "built-in model name or spec file (name@mult scales the widths)"},
			&cli.IntFlag{Name: "batch", Value: 128, Usage: "examples per step"},
			&cli.StringFlag{Name: "optimizer", Value: "adam", Usage: "adam (lr 1e-3, the paper's) or sgd (lr 0.01, momentum 0.9)"},
			&cli.IntFlag{Name: "steps", Value: 20, Usage: "steps per timed run"},
			&cli.IntFlag{Name: "warmup", Value: 10, Usage: "untimed steps first"},
			&cli.IntFlag{Name: "repeats", Value: 5, Usage: "timed runs of each mode (the median is reported)"},
			&cli.BoolFlag{Name: "tf32", Usage: "let cuDNN and cuBLAS use TF32 tensor cores (default: full fp32)"},
			&cli.StringFlag{Name: "device", Value: "auto", Usage: "auto (the GPU when usable), gpu or cpu"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "initialisation and re-draw seed"},
			&cli.BoolFlag{Name: "plans", Usage: "GPU: also list the convolution algorithms cuDNN chose, with its timings"},
			&cli.BoolFlag{Name: "cudnn-graph", Usage: "GPU: run the convolutions through cuDNN's graph API (its engines; 'algo' is then the engine index)"},
			&cli.BoolFlag{Name: "cuda-graph", Usage: "GPU: capture each step into a CUDA graph once and replay it"},
			&cli.IntFlag{Name: "pack", Value: 1, Usage: "train this many runs as one network (a pack, as rout sweep --pack does): each its own weights, seed, loss, update and RandomOut, all on the same batches; images/s counts every member's"},
			&cli.BoolFlag{Name: "cudnn-packed", Value: true, Usage: "GPU: give cuDNN's convolutions packed tensors only (channel slices copied through buffers), as rout train does; --cudnn-packed=false gives them channel slices"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError{fmt.Errorf("bench: unexpected argument %q (settings are flags: --model NAME)", c.Args().First())}
			}
			o := benchOptions{model: c.String("model"), batch: c.Int("batch"), optimizer: c.String("optimizer"),
				steps: c.Int("steps"), warmup: c.Int("warmup"), repeats: c.Int("repeats"), tf32: c.Bool("tf32"),
				device: c.String("device"), seed: c.Uint64("seed"), plans: c.Bool("plans"), graph: c.Bool("cudnn-graph"),
				stepGraphs: c.Bool("cuda-graph"), packed: c.Bool("cudnn-packed"), packedSet: c.IsSet("cudnn-packed"),
				members: c.Int("pack")}
			return runBench(c.App.Writer, o)
		},
	}
}

type benchOptions struct {
	model, optimizer, device string
	batch, steps, warmup     int
	repeats                  int
	members                  int // --pack
	tf32, plans, graph       bool
	stepGraphs, packed       bool
	packedSet                bool // --cudnn-packed given (its default is on, and means nothing on the CPU)
	seed                     uint64
}

func (o benchOptions) check() error {
	switch {
	case o.batch < 1:
		return usageError{fmt.Errorf("bench: --batch %d: want at least 1", o.batch)}
	case o.steps < 1:
		return usageError{fmt.Errorf("bench: --steps %d: want at least 1", o.steps)}
	case o.warmup < 0:
		return usageError{fmt.Errorf("bench: --warmup %d: want 0 or more", o.warmup)}
	case o.stepGraphs && o.warmup < 3:
		return usageError{fmt.Errorf("bench: --warmup %d with --cuda-graph: want at least 3, so that each mode's graph is captured before the timing (a step shape runs directly twice, then is captured)", o.warmup)}
	case o.members < 1:
		return usageError{fmt.Errorf("bench: --pack %d: want 1 (one run) or more", o.members)}
	case o.repeats < 1:
		return usageError{fmt.Errorf("bench: --repeats %d: want at least 1", o.repeats)}
	case o.optimizer != "adam" && o.optimizer != "sgd":
		return usageError{fmt.Errorf("bench: --optimizer %q: want adam or sgd", o.optimizer)}
	case o.device != "auto" && o.device != "gpu" && o.device != "cpu":
		return usageError{fmt.Errorf("bench: --device %q: want auto, gpu or cpu", o.device)}
	}
	return nil
}

// openBenchBackend opens the backend --device names. The benchmark lets cuDNN pick its fastest
// algorithms (no deterministic mode); TF32 only with --tf32; cuDNN's graph API with --cudnn-graph;
// packed convolution tensors unless --cudnn-packed=false; CUDA graphs with --cuda-graph.
func openBenchBackend(o benchOptions) (net.Backend, error) {
	if o.device == "cpu" || o.device == "auto" && gpu.Available() != nil {
		if o.graph || o.tf32 || o.stepGraphs || o.packed && o.packedSet {
			return nil, usageError{fmt.Errorf("bench: --cudnn-graph, --cudnn-packed, --cuda-graph and --tf32 are GPU settings; the benchmark would run on the CPU")}
		}
		return cpu.New(cpu.Options{}), nil
	}
	b, err := gpu.New(gpu.Options{AllowTF32: o.tf32, GraphConv: o.graph, StepGraphs: o.stepGraphs, PackedConv: o.packed})
	if err != nil {
		return nil, fmt.Errorf("bench: --device %s: %w", o.device, err)
	}
	return b, nil
}

// deviceTimer is implemented by backends that time queued work on the device (the GPU backend,
// with CUDA events).
type deviceTimer interface {
	// Time runs f, which queues work, and returns how long the device took to run it.
	Time(f func()) (time.Duration, error)
}

// timeSteps is the device time of f: CUDA events where the backend has them, else the wall
// clock from an idle backend to the end of f's work.
func timeSteps(b net.Backend, f func()) (time.Duration, error) {
	if t, ok := b.(deviceTimer); ok {
		return t.Time(f)
	}
	if err := b.Sync(); err != nil {
		return 0, err
	}
	start := time.Now()
	f()
	err := b.Sync()
	return time.Since(start), err
}

// benchRig is a network with its optimiser, the revival rules and a synthetic dataset on one
// backend.
type benchRig struct {
	b        net.Backend
	model    benchModel
	set      net.ImageSet
	aug      net.Augment
	batches  int // batches in the synthetic set
	stats    *net.Tensor
	update   func(step int)
	modes    []string            // plain, then each rule the rig runs
	rules    [][]trainer.Reviver // per mode, one per member (none for plain)
	init     func()              // sets the weights and clears the optimiser's state
	step     int
	params   int
	describe string
	memory   int64 // bytes of the tensors the rig allocated
	gather   func()
	loss     func()
}

// benchModel is what a step runs: one network, or a pack of them (one per member).
type benchModel interface {
	Forward(training bool)
	Backward()
}

// benchSetBatches is the size of the synthetic dataset in batches: enough that a step does not
// read the same images as the one before it.
const benchSetBatches = 8

func newBenchRig(real net.Backend, o benchOptions) (*benchRig, error) {
	spec, err := net.LoadSpec(o.model)
	if err != nil {
		return nil, fmt.Errorf("bench: --model: %w", err)
	}
	const classes = 10
	b := &allocCounter{Backend: real}
	r := &benchRig{b: real, batches: benchSetBatches}
	k := o.members
	// The network (or pack), its flat parameters and gradients, each member's logits and the
	// table of each member's conv filters that its RandomOut watches.
	var (
		input, labels, params, grads *net.Tensor
		logits, dlogits              []*net.Tensor
		tables                       []*net.FilterTable
		single                       *net.Net // the network, without --pack
		initWeights                  func()
	)
	if k == 1 {
		n, err := net.Build(b, spec, o.batch, spec.Input, classes)
		if err != nil {
			return nil, fmt.Errorf("bench: building %s on %s: %w", spec.Name, real.Name(), err)
		}
		r.model, r.params = n, n.ParamCount()
		input, labels, params, grads = n.Input, n.Labels, n.Params, n.Grads
		logits, dlogits = []*net.Tensor{n.Logits}, []*net.Tensor{n.DLogits}
		ft, err := n.ConvTable(nil)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		tables = []*net.FilterTable{ft}
		r.describe = fmt.Sprintf("%s (%d parameters)", spec.Name, n.ParamCount())
		single = n
		initWeights = func() { n.Init(o.seed) }
	} else {
		pk, err := net.BuildPack(b, spec, o.batch, spec.Input, classes, k)
		if err != nil {
			return nil, fmt.Errorf("bench: building a pack of %d %s on %s: %w", k, spec.Name, real.Name(), err)
		}
		// The conv table of one member's own network, mapped onto each member's stretch.
		one, err := net.Build(real, spec, 1, spec.Input, classes)
		if err != nil {
			return nil, fmt.Errorf("bench: building %s on %s: %w", spec.Name, real.Name(), err)
		}
		ft, err := one.ConvTable(nil)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		r.model, r.params = pk, pk.ParamCount()
		input, labels, params, grads = pk.Input, pk.Labels, pk.Params, pk.Grads
		for m := 0; m < k; m++ {
			l, dl := pk.MemberLogits(m)
			logits, dlogits = append(logits, l), append(dlogits, dl)
			tables = append(tables, pk.MemberTable(ft, m))
		}
		initWeights = func() {
			real.Fill(pk.Params, 0)
			for m := 0; m < k; m++ {
				real.RedrawFilters(pk.MemberTable(one.Weights, m), nil, net.Redraw{Seed: o.seed + uint64(m), Params: pk.Params})
			}
		}
		r.describe = fmt.Sprintf("%s (%d parameters), a pack of %d", spec.Name, pk.ParamCount(), k)
	}

	// Synthetic uint8 images 4 pixels larger than the model's input, centre-cropped and
	// mean-subtracted as in the paper's protocol, with uniformly drawn labels.
	c, h, w := spec.Input[0], spec.Input[1]+4, spec.Input[2]+4
	count := r.batches * o.batch
	pixels := make([]uint8, count*c*h*w)
	labelv := make([]int32, count)
	s := rng.NewStream(rng.KeyFromSeed(o.seed), rng.StreamData, 0, 0)
	for i := range pixels {
		pixels[i] = uint8(s.Uint32() >> 24)
	}
	for i := range labelv {
		labelv[i] = int32(s.Intn(classes))
	}
	if r.set, err = b.NewImageSet(pixels, labelv, count, c, h, w); err != nil {
		return nil, fmt.Errorf("bench: synthetic images: %w", err)
	}
	order := make([]int32, count)
	for i, p := range s.Perm(count) {
		order[i] = int32(p)
	}
	b.SetOrder(r.set, order)
	mean, err := b.Alloc(1, c, spec.Input[1], spec.Input[2])
	if err != nil {
		return nil, fmt.Errorf("bench: mean image: %w", err)
	}
	b.Fill(mean, 127.5)
	r.aug = net.Augment{CropH: spec.Input[1], CropW: spec.Input[2], Mean: mean, Seed: o.seed}
	if r.stats, err = b.Alloc(1, 3, 1, 1); err != nil {
		return nil, fmt.Errorf("bench: loss statistics: %w", err)
	}

	alloc := func() (*net.Tensor, error) { return b.Alloc(params.N, 1, 1, 1) }
	// The members share the optimiser's settings: one update over every member's parameters, as
	// rout sweep --pack does then.
	var moments []*net.Tensor
	switch o.optimizer {
	case "adam":
		m, err1 := alloc()
		v, err2 := alloc()
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bench: adam state: %w", firstErr(err1, err2))
		}
		moments = []*net.Tensor{m, v}
		r.update = func(step int) {
			b.AdamUpdate(params, grads, m, v, net.AdamParams{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: step + 1})
		}
	default:
		vel, err := alloc()
		if err != nil {
			return nil, fmt.Errorf("bench: sgd state: %w", err)
		}
		moments = []*net.Tensor{vel}
		r.update = func(int) { b.SGDUpdate(params, grads, vel, net.SGDParams{LR: 0.01, Momentum: 0.9}) }
	}
	var ros []trainer.Reviver
	for m, ft := range tables {
		ro, err := trainer.NewRandomOut(b, ft, params, grads, trainer.RandomOutOptions{Enabled: true, Seed: o.seed + uint64(m),
			Every: 1, Norm: net.NormL1, Threshold: net.Threshold{Tau: 1e-30}, Moments: moments})
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		ros = append(ros, ro)
	}
	r.modes, r.rules = []string{"plain", "randomout"}, [][]trainer.Reviver{nil, ros}
	if single != nil {
		redo, err := trainer.NewReDo(b, single, tables[0], trainer.ReDoOptions{Seed: o.seed, Every: 1, Tau: 0.1, Init: "glorot", Moments: moments})
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		cbp, err := trainer.NewCBP(b, single, tables[0], trainer.CBPOptions{Seed: o.seed, Rate: 1e-4, Decay: 0.99, Maturity: 100, Init: "fan-in", Moments: moments})
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		r.modes = append(r.modes, "redo", "cbp")
		r.rules = append(r.rules, []trainer.Reviver{redo}, []trainer.Reviver{cbp})
	}
	r.init = func() {
		initWeights()
		for _, t := range moments {
			real.Fill(t, 0)
		}
	}
	r.init()
	r.gather = func() { b.GatherBatch(r.set, (r.step%r.batches)*o.batch, input, labels, r.aug) }
	r.loss = func() {
		for m := range logits {
			b.SoftmaxCrossEntropy(logits[m], labels, dlogits[m], r.stats, net.ReduceSum)
		}
	}
	r.memory = b.bytes
	return r, real.Sync()
}

// allocCounter counts the bytes of the tensors allocated through it (for bench's memory line).
type allocCounter struct {
	net.Backend
	bytes int64
}

func (a *allocCounter) Alloc(n, c, h, w int) (*net.Tensor, error) {
	t, err := a.Backend.Alloc(n, c, h, w)
	if err == nil {
		a.bytes += 4 * int64(t.Len())
	}
	return t, err
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// run queues steps training steps with the rules of mode (an index into r.modes), as the
// training loop runs them; a backend that runs whole steps (CUDA graphs) gets each step as one.
func (r *benchRig) run(steps int, mode int) {
	rules := r.rules[mode]
	work := func() {
		r.gather()
		r.model.Forward(true)
		for _, rule := range rules {
			if aw, ok := rule.(interface{ AfterForward(step int) }); ok {
				aw.AfterForward(r.step)
			}
		}
		r.loss()
		r.model.Backward()
		r.update(r.step)
		for _, rule := range rules {
			rule.AfterUpdate(r.step)
		}
	}
	for i := 0; i < steps; i++ {
		net.RunStep(r.b, work)
		r.step++
	}
}

// benchResult is one mode's median step time, on the device and on the host.
type benchResult struct {
	mode   string
	median time.Duration // per step
	// host is the median wall time the host took to queue a step. On a GPU, a host time close
	// to the step time means the step is bound by the host (launch overheads), not the device.
	host time.Duration
}

// convPlanWriter is implemented by the GPU backend: the convolution algorithms it chose.
type convPlanWriter interface {
	WriteConvPlans(w io.Writer, steps int)
}

func runBench(w io.Writer, o benchOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	b, err := openBenchBackend(o)
	if err != nil {
		return err
	}
	defer b.Close()
	r, err := newBenchRig(b, o)
	if err != nil {
		return err
	}
	// Warm-up: every mode, so that every algorithm choice, kernel load and (with --cuda-graph)
	// graph capture happens here. Every mode's runs start from the same weights (set untimed), so
	// that none times steps of a network that earlier steps drove somewhere else (a diverging one).
	for m := range r.modes {
		r.init()
		r.run(o.warmup, m)
	}
	if err := b.Sync(); err != nil {
		return fmt.Errorf("bench: warm-up on %s: %w", b.Name(), err)
	}
	b.Fill(r.stats, 0) // the check below is of the timed steps' losses
	modes := r.modes
	times := make([][]time.Duration, len(modes))
	hosts := make([][]time.Duration, len(modes))
	// The modes alternate within each repeat, so that a slow drift (clocks, other work) hits all.
	for rep := 0; rep < o.repeats; rep++ {
		for i, m := range modes {
			r.init()
			var host time.Duration
			d, err := timeSteps(b, func() {
				start := time.Now()
				r.run(o.steps, i)
				host = time.Since(start)
			})
			if err != nil {
				return fmt.Errorf("bench: %s run %d on %s: %w", m, rep+1, b.Name(), err)
			}
			times[i] = append(times[i], d/time.Duration(o.steps))
			hosts[i] = append(hosts[i], host/time.Duration(o.steps))
		}
	}
	idle, err := idleHostTime(b, r, o.repeats)
	if err != nil {
		return err
	}
	stats := make([]float32, 3)
	b.Download(r.stats, stats)
	if err := b.Err(); err != nil {
		return fmt.Errorf("bench: %s: %w", b.Name(), err)
	}
	if math.IsNaN(float64(stats[0])) || math.IsInf(float64(stats[0]), 0) {
		return fmt.Errorf("bench: %s: the loss became %v: the timings would not be of a real step", b.Name(), stats[0])
	}
	res := make([]benchResult, len(modes))
	for i, m := range modes {
		res[i] = benchResult{mode: m, median: median(times[i]), host: median(hosts[i])}
	}
	writeBench(w, o, b, r.describe, res)
	fmt.Fprintf(w, "tensors allocated: %.1f MiB (network, optimiser state, RandomOut, synthetic data; not the backend's workspaces)\n", float64(r.memory)/(1<<20))
	if idle > 0 {
		fmt.Fprintf(w, "host time to queue one plain step on an idle stream: %.3f ms (median of %d)\n", idle.Seconds()*1e3, o.repeats)
	}
	if sr, ok := b.(net.StepRunner); ok && o.stepGraphs {
		fmt.Fprintf(w, "\n%s\n", sr.StepReport())
	}
	if o.plans {
		fmt.Fprintln(w)
		if p, ok := b.(convPlanWriter); ok {
			p.WriteConvPlans(w, r.step)
		} else {
			fmt.Fprintf(w, "--plans: the %s backend has no convolution algorithms to list\n", b.Name())
		}
	}
	return nil
}

// idleHostTime is, on a device backend, the median host time of one plain step queued on an idle
// stream (0 on the CPU, where queueing is computing). With nothing queued before it, no time goes
// to waiting for room in the launch queue, which the host column includes when the device is the
// slower: so this is what the host needs per step, the floor of a step's time once the device
// is faster.
func idleHostTime(b net.Backend, r *benchRig, repeats int) (time.Duration, error) {
	if _, ok := b.(deviceTimer); !ok {
		return 0, nil
	}
	var ds []time.Duration
	for range repeats {
		if err := b.Sync(); err != nil {
			return 0, fmt.Errorf("bench: %s: %w", b.Name(), err)
		}
		start := time.Now()
		r.run(1, 0)
		ds = append(ds, time.Since(start))
	}
	if err := b.Sync(); err != nil {
		return 0, fmt.Errorf("bench: %s: %w", b.Name(), err)
	}
	return median(ds), nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// writeBench prints the table scripts/bench_torch.py prints too, with a column of its own: the
// host time to queue a step.
func writeBench(w io.Writer, o benchOptions, b net.Backend, model string, res []benchResult) {
	precision := "fp32 (TF32 off)"
	if o.tf32 {
		precision = "tf32"
	}
	p := b.Provenance()
	device := b.Name()
	if d := p["device"]; d != "" {
		device += " " + d
	}
	fmt.Fprintf(w, "rout bench: %s, batch %d, %s, %s, median of %d runs of %d steps after %d warm-up steps\n",
		model, o.batch, o.optimizer, precision, o.repeats, o.steps, o.warmup)
	if o.members > 1 {
		fmt.Fprintf(w, "images/s counts the %d members' images: %d per step\n", o.members, o.members*o.batch)
	}
	fmt.Fprintf(w, "device: %s\n\n", device)
	fmt.Fprintln(w, "| tool | mode | ms/step | images/s | host ms/step |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|")
	tool := "rout"
	if o.members > 1 {
		tool += fmt.Sprintf(", pack of %d", o.members)
	}
	if o.graph {
		tool += ", cuDNN graph"
	}
	if o.packed && b.Name() == "gpu" {
		tool += ", packed"
	}
	if o.stepGraphs {
		tool += ", CUDA graphs"
	}
	for _, r := range res {
		ms := r.median.Seconds() * 1e3
		fmt.Fprintf(w, "| %s | %s | %.3f | %.0f | %.3f |\n", tool, r.mode, ms, float64(o.members*o.batch)/r.median.Seconds(), r.host.Seconds()*1e3)
	}
	if len(res) > 1 && res[0].median > 0 {
		fmt.Fprintln(w)
		for _, r := range res[1:] {
			fmt.Fprintf(w, "%s overhead: %+.2f%% step time\n", ruleTitle(r.mode), 100*(r.median.Seconds()/res[0].median.Seconds()-1))
		}
	}
}

// ruleTitle is how the bench names a rule.
func ruleTitle(mode string) string {
	switch mode {
	case "randomout":
		return "RandomOut"
	case "redo":
		return "ReDo"
	case "cbp":
		return "Continual backprop"
	}
	return mode
}
