//go:build !nocuda

package cudnn

/*
#include "rout_cuda.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"unsafe"
)

// Step graphs. A training step makes the same few hundred calls every time; only some kernel
// arguments change from step to step (the batch's position, the learning rate, the step number).
// RunStep captures a step's stream work into a CUDA graph once and from then on launches the
// graph, after giving its kernels the arguments that changed, instead of making every call
// again: the host's cost per call (cuDNN's, the driver's, cgo's) goes, and with it the gaps
// between kernels when the host cannot keep ahead of the device.
//
// To learn what a step would queue without queueing it, RunStep runs the step's function twice
// at most: first as a dry run, in which every call that queues stream work records its kind and
// fixed operands (the step's shape) and a kernel launch its arguments, and queues nothing. A graph
// captured from a step of the same shape is then launched. Otherwise the function runs again, for
// real: directly the first time a shape is seen (it may be a warm-up that searches algorithms,
// allocates or uploads), and under capture the second time.

// stepMode says what a call that queues stream work does with it.
type stepMode int

const (
	direct    stepMode = iota // queue it: no step is being run by RunStep
	dryRun                    // record it, queue nothing
	rerun                     // queue it, in the second run of a step (not counted again in Plans)
	capturing                 // queue it into the graph being captured
)

// Operation codes of the step shape.
const (
	opLaunch uint64 = iota + 1
	opMemset8
	opMemset32
	opCopy
	opEvent
	opAddTensor
	opConvBias
	opActivation
	opActivationBackward
	opPool
	opPoolBackward
	opBatchNormTraining
	opBatchNormInference
	opBatchNormBackward
	opSgemm
	opConv
	opGraphConv
)

// maxStepGraphs bounds the graphs kept (a step has a few shapes: with and without RandomOut's
// check, say); the least recently used goes first. Step graphs turn themselves off after
// maxSeenShapes shapes that were seen once and never again (the steps do not repeat), and after
// maxDirectRuns steps in a row that had to run directly (a step that uploads every time, say).
const (
	maxStepGraphs = 8
	maxSeenShapes = 16
	maxDirectRuns = 16
)

// StepStats count what RunStep did.
type StepStats struct {
	Direct   int // steps run without a graph (a new shape, a warm-up, or step graphs off)
	Captured int // graphs captured
	Replayed int // steps run by launching a graph
	Updated  int // kernel argument updates made before those launches
	// Off says why step graphs were turned off for the rest of the context's life (a capture or
	// a replay failed, or the steps did not repeat), or is "".
	Off string
}

// stepLog is what a dry run recorded, or what a capture queued.
type stepLog struct {
	shape   []uint64 // every call's operation code and fixed operands, in order
	args    []byte   // every launch's arguments, in order
	argEnds []int    // where each launch's arguments end in args
	direct  string   // why the step must run directly this time ("": it may use a graph)
}

func (l *stepLog) reset() {
	l.shape, l.args, l.argEnds, l.direct = l.shape[:0], l.args[:0], l.argEnds[:0], ""
}

// launchArgs is launch i's arguments.
func (l *stepLog) launchArgs(i int) []byte {
	start := 0
	if i > 0 {
		start = l.argEnds[i-1]
	}
	return l.args[start:l.argEnds[i]]
}

// stepGraph is one captured step shape, instantiated.
type stepGraph struct {
	shape   []uint64
	graph   C.rc_CUgraph
	exec    C.rc_CUgraphExec
	kernels []capturedKernel // in launch order
}

// capturedKernel is a kernel node of a step graph and the launch it holds now.
type capturedKernel struct {
	node        C.rc_CUgraphNode
	f           *Function
	grid, block Dim3
	shared      int
	args        []byte
}

// stepGraphs is a Context's step-graph state.
type stepGraphs struct {
	mode   stepMode
	log    stepLog
	graphs []*stepGraph // most recently used first
	seen   [][]uint64   // shapes run once directly: the second sighting is captured
	// directRuns counts the steps in a row whose dry run asked to run directly.
	directRuns int
	capture    *stepGraph // the graph being captured
	captureLog stepLog    // what the capture queued, to compare with the dry run
	stats      StepStats
}

// StepStats reports what RunStep has done so far.
func (c *Context) StepStats() StepStats { return c.steps.stats }

// RunStep runs f, which queues one step's work through this context and returns the first error
// it met, through step graphs (see the top of this file) when Options.StepGraphs is set, else
// directly. f must queue the same work whenever it queues work of the same shape, and must not
// wait for the device (Download, Sync, event waits); it may be run twice, so it must not change
// host state that the second run would see. If a capture or a replay fails, step graphs are
// turned off for the rest of the context's life (StepStats.Off says why) and the step runs
// directly.
func (c *Context) RunStep(f func() error) error {
	s := &c.steps
	if !c.opts.StepGraphs || s.stats.Off != "" {
		s.stats.Direct++
		return f()
	}
	if s.mode != direct {
		return errors.New("cudnn: RunStep inside a step")
	}
	s.log.reset()
	err := c.runAs(dryRun, f)
	if err != nil {
		return err
	}
	if why := c.useGraph(f); why == "" {
		return nil
	} else if why != "direct" {
		s.stats.Off = why
	}
	s.stats.Direct++
	return c.runAs(rerun, f)
}

// runAs runs f with the calls in mode m.
func (c *Context) runAs(m stepMode, f func() error) error {
	c.steps.mode = m
	defer func() { c.steps.mode = direct }()
	return f()
}

// useGraph runs the step of the dry run just made through a graph where it can: it returns ""
// when it did, "direct" when the step should run directly this time, and otherwise why step
// graphs must be turned off.
func (c *Context) useGraph(f func() error) string {
	s := &c.steps
	shape := s.log.shape
	if s.log.direct != "" {
		// A warm-up does its once-only work in the dry run and then runs directly; a step that
		// does it every time would pay for a dry run forever.
		if s.directRuns++; s.directRuns > maxDirectRuns {
			return fmt.Sprintf("%d steps in a row had to run directly (the last for %s)", s.directRuns, s.log.direct)
		}
		return "direct"
	}
	s.directRuns = 0
	if i := slices.IndexFunc(s.graphs, func(g *stepGraph) bool { return slices.Equal(g.shape, shape) }); i >= 0 {
		g := s.graphs[i]
		copy(s.graphs[1:i+1], s.graphs[:i])
		s.graphs[0] = g
		if err := c.replay(g); err != nil {
			c.dropStepGraphs()
			return "replaying a step graph: " + err.Error()
		}
		return ""
	}
	i := slices.IndexFunc(s.seen, func(seen []uint64) bool { return slices.Equal(seen, shape) })
	switch {
	case i < 0 && len(s.seen) < maxSeenShapes:
		s.seen = append(s.seen, slices.Clone(shape))
		return "direct"
	case i < 0:
		// Each new shape costs a dry run on top of the step: stop paying it.
		return fmt.Sprintf("the steps' shapes do not repeat (%d different ones seen)", len(s.seen)+1)
	}
	s.seen = slices.Delete(s.seen, i, i+1)
	g, err := c.captureStep(f)
	if err != nil {
		return err.Error()
	}
	c.keep(g)
	if err := c.replay(g); err != nil {
		c.dropStepGraphs()
		return "replaying a step graph: " + err.Error()
	}
	return ""
}

// keep adds g to the graphs, dropping the least recently used one when there are too many.
func (c *Context) keep(g *stepGraph) {
	s := &c.steps
	if len(s.graphs) == maxStepGraphs {
		c.destroyGraphs(s.graphs[len(s.graphs)-1:])
		s.graphs = s.graphs[:len(s.graphs)-1]
	}
	s.graphs = slices.Insert(s.graphs, 0, g)
}

// captureStep runs f under stream capture, checks that it queued what the dry run recorded, and
// instantiates the graph. The capture is thread-local: a call on this thread that cannot be
// captured (an allocation inside cuDNN or cuBLAS, say) fails it rather than running once
// outside the graph. deviceWide is held, so that no other context's algorithm search (which
// synchronises) or closing runs meanwhile.
func (c *Context) captureStep(f func() error) (_ *stepGraph, err error) {
	s := &c.steps
	deviceWide.Lock()
	defer deviceWide.Unlock()
	done, err := c.bind() // the capture begins and ends on this OS thread
	if err != nil {
		return nil, err
	}
	defer done()
	g := &stepGraph{shape: slices.Clone(s.log.shape)}
	defer func() {
		if err != nil {
			g.destroy()
		}
	}()
	if err := cuErr("cuStreamBeginCapture_v2", C.rc_cuStreamBeginCapture_v2(c.stream, C.RC_CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)); err != nil {
		return nil, fmt.Errorf("cudnn: capturing a step: %w", err)
	}
	s.capture, s.captureLog = g, stepLog{}
	var endErr error
	ferr := func() error {
		defer func() {
			// Whatever f did, end the capture, so that the stream is usable again.
			s.capture = nil
			endErr = cuErr("cuStreamEndCapture", C.rc_cuStreamEndCapture(c.stream, &g.graph))
		}()
		return c.runAs(capturing, f)
	}()
	if err := errors.Join(ferr, endErr); err != nil {
		return nil, fmt.Errorf("cudnn: capturing a step: %w", err)
	}
	if !slices.Equal(s.captureLog.shape, s.log.shape) || !slices.Equal(s.captureLog.args, s.log.args) {
		return nil, errors.New("cudnn: capturing a step: it queued other work than its dry run (the step function is not deterministic)")
	}
	if len(g.kernels) != len(s.log.argEnds) {
		return nil, fmt.Errorf("cudnn: capturing a step: %d kernel nodes for the dry run's %d launches", len(g.kernels), len(s.log.argEnds))
	}
	if err := cuErr("cuGraphInstantiateWithFlags", C.rc_cuGraphInstantiateWithFlags(&g.exec, g.graph, 0)); err != nil {
		return nil, fmt.Errorf("cudnn: instantiating a step graph: %w", err)
	}
	s.stats.Captured++
	return g, nil
}

// replay gives g's kernels the arguments of the dry run just made, where they differ, and
// launches g.
func (c *Context) replay(g *stepGraph) error {
	s := &c.steps
	done, err := c.bind()
	if err != nil {
		return err
	}
	defer done()
	for i := range g.kernels {
		k := &g.kernels[i]
		args := s.log.launchArgs(i)
		if slices.Equal(k.args, args) {
			continue
		}
		gx, gy, gz := k.grid.c()
		bx, by, bz := k.block.c()
		var p unsafe.Pointer
		if len(args) > 0 {
			p = unsafe.Pointer(&args[0])
		}
		if err := cuErr("cuGraphExecKernelNodeSetParams_v2", C.rc_set_kernel_args(g.exec, k.node, k.f.f, gx, gy, gz, bx, by, bz,
			C.uint(k.shared), p, C.int(len(args)/8))); err != nil {
			return fmt.Errorf("kernel %s: %w", k.f.Name, err)
		}
		k.args = append(k.args[:0], args...)
		s.stats.Updated++
	}
	if err := cuErr("cuGraphLaunch", C.rc_cuGraphLaunch(g.exec, c.stream)); err != nil {
		return err
	}
	s.stats.Replayed++
	return nil
}

func (g *stepGraph) destroy() {
	if g.exec != nil {
		C.rc_cuGraphExecDestroy(g.exec)
		g.exec = nil
	}
	if g.graph != nil {
		C.rc_cuGraphDestroy(g.graph)
		g.graph = nil
	}
}

// dropStepGraphs destroys every step graph: when the workspace they use moves, when a module
// whose kernels they launch is unloaded, and at Close.
func (c *Context) dropStepGraphs() {
	c.destroyGraphs(c.steps.graphs)
	c.steps.graphs, c.steps.seen = nil, nil
}

// destroyGraphs destroys gs with the context bound.
func (c *Context) destroyGraphs(gs []*stepGraph) {
	if len(gs) == 0 {
		return
	}
	done, err := c.bind()
	if err != nil {
		return // a closed context: its graphs went with it
	}
	defer done()
	for _, g := range gs {
		g.destroy()
	}
}

// enqueue is how every call that queues stream work queues it (kernel launches aside: see
// queueLaunch), so that the rule of step graphs holds in one place: record before you queue. The
// call is recorded first, as op and the operands that fix what it does (the step's shape); in a
// dry run that is all, and run is not called. Otherwise run queues the work, with the context
// bound to this thread; under capture the record is compared with the dry run's afterwards.
func (c *Context) enqueue(op uint64, fixed []uint64, run func() error) error {
	if l := c.steps.recording(); l != nil {
		l.shape = append(append(l.shape, op), fixed...)
		if c.steps.mode == dryRun {
			return nil
		}
	}
	done, err := c.bind()
	if err != nil {
		return err
	}
	defer done()
	return run()
}

// queueLaunch is enqueue's record for a kernel launch, whose arguments are recorded apart from
// the shape: it reports whether Launch should queue the launch.
func (c *Context) queueLaunch(f *Function, grid, block Dim3, shared int, args []byte) bool {
	l := c.steps.recording()
	if l == nil {
		return true
	}
	l.shape = append(l.shape, opLaunch, ptrWord(unsafe.Pointer(f.f)), uint64(grid.X), uint64(grid.Y), uint64(grid.Z),
		uint64(block.X), uint64(block.Y), uint64(block.Z), uint64(shared), uint64(len(args)))
	l.args = append(l.args, args...)
	l.argEnds = append(l.argEnds, len(l.args))
	return c.steps.mode != dryRun
}

// recording is the log that calls are recorded in now, or nil.
func (s *stepGraphs) recording() *stepLog {
	switch s.mode {
	case dryRun:
		return &s.log
	case capturing:
		return &s.captureLog
	}
	return nil
}

// captured notes the kernel launch just queued under capture as a node of the graph.
func (c *Context) captured(f *Function, grid, block Dim3, shared int, args []byte) error {
	s := &c.steps
	if s.mode != capturing {
		return nil
	}
	var node C.rc_CUgraphNode
	var status C.rc_CUstreamCaptureStatus
	var deps C.size_t
	if err := cuErr("cuStreamGetCaptureInfo_v3", C.rc_captured_node(c.stream, &node, &status, &deps)); err != nil {
		return err
	}
	// One stream captures one chain: the launch's node is the only dependency of the next call.
	if status != C.RC_CU_STREAM_CAPTURE_STATUS_ACTIVE || deps != 1 || node == nil {
		return fmt.Errorf("cudnn: after capturing kernel %s: capture status %d with %d dependencies, want %d (active) with 1",
			f.Name, int(status), int(deps), int(C.RC_CU_STREAM_CAPTURE_STATUS_ACTIVE))
	}
	s.capture.kernels = append(s.capture.kernels, capturedKernel{node: node, f: f, grid: grid, block: block, shared: shared,
		args: slices.Clone(args)})
	return nil
}

// runDirect notes, in a dry run, that the step must run directly this time: it does something
// that is done once (an algorithm search, an allocation, an upload), which the dry run therefore
// does for real. Under capture such a call is refused.
func (c *Context) runDirect(why string) error {
	switch c.steps.mode {
	case dryRun:
		if c.steps.log.direct == "" {
			c.steps.log.direct = why
		}
	case capturing:
		return fmt.Errorf("cudnn: %s inside a step capture", why)
	}
	return nil
}

// mayWait refuses a call that waits for the device inside a step run by RunStep.
func (c *Context) mayWait(call string) error {
	if m := c.steps.mode; m == dryRun || m == capturing {
		return fmt.Errorf("cudnn: %s inside a step run by RunStep, which must not wait for the device", call)
	}
	return nil
}

// counting reports whether a call should be counted in Plans' statistics: not in the second run
// of a step, whose dry run counted it.
func (c *Context) counting() bool { return c.steps.mode == direct || c.steps.mode == dryRun }

// The descriptors' words in a step's shape: their addresses.
func (t *TensorDesc) word() uint64     { return ptrWord(unsafe.Pointer(t.d)) }
func (f *FilterDesc) word() uint64     { return ptrWord(unsafe.Pointer(f.d)) }
func (d *ConvDesc) word() uint64       { return ptrWord(unsafe.Pointer(d.d)) }
func (a *ActivationDesc) word() uint64 { return ptrWord(unsafe.Pointer(a.d)) }
func (p *PoolingDesc) word() uint64    { return ptrWord(unsafe.Pointer(p.d)) }

func ptrWord(p unsafe.Pointer) uint64 { return uint64(uintptr(p)) }
func f32Word(v float32) uint64        { return uint64(math.Float32bits(v)) }

func boolWord(v bool) uint64 {
	if v {
		return 1
	}
	return 0
}
