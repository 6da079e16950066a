//go:build !nocuda

package cudnn

/*
#include "rout_cuda.h"
*/
import "C"

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// AlgoChoice is the algorithm picked for one direction of one convolution shape.
type AlgoChoice struct {
	Algo          int     // cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t; with the graph API, the engine's global index
	TimeMs        float32 // measured during the search
	Workspace     int     // bytes
	Deterministic bool
	TensorOps     bool // uses tensor cores (TF32); never in a context without TF32
	// Candidates is how many algorithms or engines were timed, SearchMs the search's wall time
	// (graph API only: the legacy search times all three directions in one go).
	Candidates int
	SearchMs   float32
	math       C.rc_cudnnMathType_t
}

// ConvPlan holds the algorithms chosen for a convolution shape in all three directions.
type ConvPlan struct {
	Forward, BackwardData, BackwardFilter AlgoChoice
	// Calls counts the convolutions run with this plan, per direction (forward, backward data,
	// backward filter), so that a benchmark can weigh each shape's measured time by its use.
	Calls [3]int
}

// directionNames name the directions a ConvPlan holds, by index: 0, 1 and 2.
var directionNames = [3]string{"forward", "backward data", "backward filter"}

// direction is the choice for direction dir (0 forward, 1 backward data, 2 backward filter).
func (p *ConvPlan) direction(dir int) *AlgoChoice {
	return [3]*AlgoChoice{&p.Forward, &p.BackwardData, &p.BackwardFilter}[dir]
}

// ShapePlan is a plan with the shape it was chosen for, as Plans reports it.
type ShapePlan struct {
	Shape string // "x N,C,H,W w K,C,KH,KW pad/stride y N,C,H,W", strided views marked
	API   string // "legacy" (cudnnFind* algorithms) or "graph" (graph-API engines)
	ConvPlan
}

// Plans lists the choices made so far, one per convolution shape and API, in shape order. With
// GraphConv a shape is listed under "graph", and also under "legacy" if some of its calls were
// scaled or accumulating (alpha != 1 or beta != 0) or had no usable engine, and so took the
// legacy path.
func (c *Context) Plans() []ShapePlan {
	out := make([]ShapePlan, 0, len(c.algos)+len(c.graphInfo))
	for k, p := range c.algos {
		out = append(out, ShapePlan{Shape: k.String(), API: "legacy", ConvPlan: *p})
	}
	for k, p := range c.graphInfo {
		out = append(out, ShapePlan{Shape: k.String(), API: "graph", ConvPlan: *p})
	}
	slices.SortFunc(out, func(a, b ShapePlan) int {
		return cmp.Or(strings.Compare(a.Shape, b.Shape), strings.Compare(a.API, b.API))
	})
	return out
}

// String is the shape in a compact form: sizes, kernel, padding and stride, and "(strided)" for
// a tensor that is a channel slice of a larger one.
func (k convKey) String() string {
	view := func(t [8]int) string {
		s := fmt.Sprintf("%d,%d,%d,%d", t[0], t[1], t[2], t[3])
		if t[4] != t[1]*t[2]*t[3] {
			s += " (strided)"
		}
		return s
	}
	return fmt.Sprintf("x %s w %d,%d,%d,%d pad %d,%d stride %d,%d y %s", view(k.x), k.w[0], k.w[1], k.w[2], k.w[3],
		k.p.PadH, k.p.PadW, k.p.StrideH, k.p.StrideW, view(k.y))
}

// convKey identifies a convolution shape: descriptors with equal keys share a plan.
type convKey struct {
	x, y [8]int
	w    [4]int
	p    ConvParams
}

func keyOf(x *TensorDesc, w *FilterDesc, cv *ConvDesc, y *TensorDesc) convKey {
	return convKey{x: x.key(), y: y.key(), w: [4]int{w.K, w.C, w.H, w.W}, p: cv.P}
}

// deviceWide serialises, across the Contexts of a process (rout sweep --parallel trains several
// runs in one process, each with its own Context on the same GPU), what acts on the device as a
// whole or must not see another Context come or go: algorithm searches, step captures, and
// opening and closing Contexts. A search times kernels on the device, so searches side by side
// would skew each other's timings, and concurrent searches have failed inside cuDNN
// (docs/gpu-notes.md); opening and closing are serialised to rule out a suspected cause.
var deviceWide sync.Mutex

// beginSearch takes deviceWide, binds the context and waits for the work queued so far
// (a search may free and grow the workspace it uses); the function it returns undoes the first
// two. Inside a step's dry run the search runs for real.
func (c *Context) beginSearch() (func(), error) {
	// A search met in a step's dry run is made for real (and the step then runs directly).
	if err := c.runDirect("an algorithm search"); err != nil {
		return nil, err
	}
	mode := c.steps.mode
	c.steps.mode = direct
	deviceWide.Lock()
	done, err := c.bind()
	if err == nil {
		err = cuErr("cuStreamSynchronize", C.rc_cuStreamSynchronize(c.stream))
		if err != nil {
			done()
		}
	}
	if err != nil {
		deviceWide.Unlock()
		c.steps.mode = mode
		return nil, err
	}
	return func() { done(); deviceWide.Unlock(); c.steps.mode = mode }, nil
}

// PlanConv chooses, by measurement (cudnnFind*Algorithm), the fastest acceptable algorithm for
// each direction of the convolution x (*) w -> y (in a Deterministic context, the acceptable one
// cuDNN's heuristics rank first: see rankAlgorithms), caches the choice for the shape, and grows
// the workspace to fit. Acceptable: it succeeded, needs at most Options.MaxWorkspace bytes, uses
// no tensor cores unless TF32 is allowed, and is deterministic in a Deterministic context.
//
// The search allocates and synchronises, so call PlanConv for every shape before the training
// loop (or graph capture); the convolution calls plan a shape they have not seen on first use.
func (c *Context) PlanConv(x *TensorDesc, w *FilterDesc, cv *ConvDesc, y *TensorDesc) (*ConvPlan, error) {
	k := keyOf(x, w, cv, y)
	if p, ok := c.algos[k]; ok {
		return p, nil
	}
	done, err := c.beginSearch()
	if err != nil {
		return nil, err
	}
	defer done()
	shape := fmt.Sprintf("x %v w %v %+v y %v", x.key(), k.w, cv.P, y.key())
	if err := cv.setMath(c.convMath()); err != nil {
		return nil, err
	}
	var p ConvPlan
	var perf [16]C.struct_rc_conv_perf

	for dir, name := range directionNames {
		n, err := c.rankAlgorithms(dir, x, w, cv, y, perf[:])
		if err != nil {
			err.(*Error).Detail = shape
			return nil, err
		}
		if *p.direction(dir), err = c.pick(name, shape, perf[:n]); err != nil {
			return nil, err
		}
	}

	// The workspace each choice needs with its own math type.
	var size C.size_t
	if err := cv.setMath(p.Forward.math); err != nil {
		return nil, err
	}
	if err := dnnErr("cudnnGetConvolutionForwardWorkspaceSize", C.rc_cudnnGetConvolutionForwardWorkspaceSize(c.dnn,
		x.d, w.d, cv.d, y.d, C.rc_cudnnConvolutionFwdAlgo_t(p.Forward.Algo), &size)); err != nil {
		return nil, err
	}
	p.Forward.Workspace = max(p.Forward.Workspace, int(size))
	if err := cv.setMath(p.BackwardData.math); err != nil {
		return nil, err
	}
	if err := dnnErr("cudnnGetConvolutionBackwardDataWorkspaceSize", C.rc_cudnnGetConvolutionBackwardDataWorkspaceSize(c.dnn,
		w.d, y.d, cv.d, x.d, C.rc_cudnnConvolutionBwdDataAlgo_t(p.BackwardData.Algo), &size)); err != nil {
		return nil, err
	}
	p.BackwardData.Workspace = max(p.BackwardData.Workspace, int(size))
	if err := cv.setMath(p.BackwardFilter.math); err != nil {
		return nil, err
	}
	if err := dnnErr("cudnnGetConvolutionBackwardFilterWorkspaceSize", C.rc_cudnnGetConvolutionBackwardFilterWorkspaceSize(c.dnn,
		x.d, y.d, cv.d, w.d, C.rc_cudnnConvolutionBwdFilterAlgo_t(p.BackwardFilter.Algo), &size)); err != nil {
		return nil, err
	}
	p.BackwardFilter.Workspace = max(p.BackwardFilter.Workspace, int(size))

	if err := c.growWorkspace(max(p.Forward.Workspace, p.BackwardData.Workspace, p.BackwardFilter.Workspace)); err != nil {
		return nil, err
	}
	c.algos[k] = &p
	return &p, nil
}

// rankAlgorithms fills perf with direction dir's algorithms (0 forward, 1 backward data,
// 2 backward filter) for the shape, best first, and returns how many: measured by cudnnFind*
// (fastest first), or in the deterministic mode ranked by cuDNN's heuristics (cudnnGet*_v7,
// no timing), so that reruns of a deterministic run choose the same algorithms.
func (c *Context) rankAlgorithms(dir int, x *TensorDesc, w *FilterDesc, cv *ConvDesc, y *TensorDesc,
	perf []C.struct_rc_conv_perf) (int, error) {
	var n C.int
	heur := c.opts.Deterministic
	var call string
	var st C.rc_cudnnStatus_t
	switch {
	case dir == 0 && heur:
		call, st = "cudnnGetConvolutionForwardAlgorithm_v7", C.rc_cudnnGetConvolutionForwardAlgorithm_v7(c.dnn,
			x.d, w.d, cv.d, y.d, C.RC_CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, &perf[0])
	case dir == 0:
		call, st = "cudnnFindConvolutionForwardAlgorithm", C.rc_cudnnFindConvolutionForwardAlgorithm(c.dnn,
			x.d, w.d, cv.d, y.d, C.RC_CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, &perf[0])
	case dir == 1 && heur:
		call, st = "cudnnGetConvolutionBackwardDataAlgorithm_v7", C.rc_cudnnGetConvolutionBackwardDataAlgorithm_v7(c.dnn,
			w.d, y.d, cv.d, x.d, C.RC_CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, &perf[0])
	case dir == 1:
		call, st = "cudnnFindConvolutionBackwardDataAlgorithm", C.rc_cudnnFindConvolutionBackwardDataAlgorithm(c.dnn,
			w.d, y.d, cv.d, x.d, C.RC_CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, &perf[0])
	case heur:
		call, st = "cudnnGetConvolutionBackwardFilterAlgorithm_v7", C.rc_cudnnGetConvolutionBackwardFilterAlgorithm_v7(c.dnn,
			x.d, y.d, cv.d, w.d, C.RC_CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, &perf[0])
	default:
		call, st = "cudnnFindConvolutionBackwardFilterAlgorithm", C.rc_cudnnFindConvolutionBackwardFilterAlgorithm(c.dnn,
			x.d, y.d, cv.d, w.d, C.RC_CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, &perf[0])
	}
	return int(n), dnnErr(call, st)
}

// pick returns the first acceptable result (Find sorts them by time, the heuristics by rank).
func (c *Context) pick(dir, shape string, perf []C.struct_rc_conv_perf) (AlgoChoice, error) {
	var seen []string
	for _, r := range perf {
		a := AlgoChoice{Algo: int(r.algo), TimeMs: float32(r.time), Workspace: int(r.memory),
			Deterministic: r.determinism == C.RC_CUDNN_DETERMINISTIC,
			TensorOps:     r.mathType == C.RC_CUDNN_TENSOR_OP_MATH || r.mathType == C.RC_CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION,
			math:          C.rc_cudnnMathType_t(r.mathType)}
		why := ""
		switch {
		case r.status != C.RC_CUDNN_STATUS_SUCCESS:
			why = "status " + dnnErr("", C.rc_cudnnStatus_t(r.status)).(*Error).Name
		case a.Workspace > c.opts.MaxWorkspace:
			why = fmt.Sprintf("workspace %d > %d", a.Workspace, c.opts.MaxWorkspace)
		case a.TensorOps && !c.TF32():
			why = "tensor cores"
		case !a.Deterministic && c.opts.Deterministic:
			why = "not deterministic"
		}
		if why == "" {
			if !c.TF32() {
				a.math = C.RC_CUDNN_FMA_MATH
			}
			return a, nil
		}
		seen = append(seen, fmt.Sprintf("algo %d: %s", a.Algo, why))
	}
	return AlgoChoice{}, fmt.Errorf("cudnn: no acceptable %s convolution algorithm for %s (deterministic %v, tf32 %v): %s",
		dir, shape, c.opts.Deterministic, c.TF32(), strings.Join(seen, "; "))
}

// growWorkspace makes the cuDNN workspace at least bytes long. It waits for the device.
func (c *Context) growWorkspace(bytes int) error {
	if bytes <= c.WorkspaceBytes() {
		return nil
	}
	if c.work != nil {
		if err := c.work.Free(); err != nil {
			return err
		}
		c.work = nil
		c.dropPacks()      // they name the old workspace
		c.dropStepGraphs() // so do they
	}
	w, err := Alloc[uint8](c, bytes)
	if err != nil {
		return fmt.Errorf("cudnn: convolution workspace: %w", err)
	}
	c.work = w
	return nil
}

func (c *Context) workspace() (DevicePtr, C.size_t) {
	if c.work == nil {
		return 0, 0
	}
	return c.work.ptr, C.size_t(c.work.Len())
}

// ConvForward computes y = alpha * (x (*) w) + beta * y. beta = 1 accumulates into y.
func (c *Context) ConvForward(alpha float32, x *TensorDesc, xp DevicePtr, w *FilterDesc, wp DevicePtr,
	cv *ConvDesc, beta float32, y *TensorDesc, yp DevicePtr) error {
	return c.conv(0, alpha, beta, x, xp, w, wp, cv, y, yp)
}

// ConvBackwardData computes dx = alpha * (gradient of the forward with respect to x, given dy)
// + beta * dx. beta = 1 accumulates (how a block's branch gradients sum).
func (c *Context) ConvBackwardData(alpha float32, w *FilterDesc, wp DevicePtr, dy *TensorDesc, dyp DevicePtr,
	cv *ConvDesc, beta float32, dx *TensorDesc, dxp DevicePtr) error {
	return c.conv(1, alpha, beta, dx, dxp, w, wp, cv, dy, dyp)
}

// ConvBackwardFilter computes dw = alpha * (gradient with respect to w, given x and dy)
// + beta * dw.
func (c *Context) ConvBackwardFilter(alpha float32, x *TensorDesc, xp DevicePtr, dy *TensorDesc, dyp DevicePtr,
	cv *ConvDesc, beta float32, dw *FilterDesc, dwp DevicePtr) error {
	return c.conv(2, alpha, beta, x, xp, dw, dwp, cv, dy, dyp)
}

// conv runs direction dir (0 forward, 1 backward data, 2 backward filter) of the convolution
// x (*) w -> y: x is dx and y is dy backward, w is dw for the filter gradient. With GraphConv an
// unscaled, overwriting call (alpha 1, beta 0) goes through the graph API; every other call (or
// one whose graph has no usable engine) goes through the legacy call with the algorithm
// PlanConv chose: graph-API engines have got scaling wrong where the legacy call did not
// (docs/gpu-notes.md).
func (c *Context) conv(dir int, alpha, beta float32, x *TensorDesc, xp DevicePtr, w *FilterDesc, wp DevicePtr,
	cv *ConvDesc, y *TensorDesc, yp DevicePtr) error {
	if c.opts.GraphConv && alpha == 1 && beta == 0 {
		if err := c.graphConv(dir, x, xp, w, wp, cv, y, yp); err != errLegacy {
			return err
		}
	}
	p, err := c.PlanConv(x, w, cv, y)
	if err != nil {
		return err
	}
	choice := p.direction(dir)
	ws, wsSize := c.workspace()
	if c.counting() {
		p.Calls[dir]++
	}
	return c.enqueue(opConv, []uint64{uint64(dir), uint64(choice.Algo), uint64(choice.math), f32Word(alpha), f32Word(beta), x.word(),
		uint64(xp), w.word(), uint64(wp), cv.word(), y.word(), uint64(yp), uint64(ws), uint64(wsSize)}, func() error {
		if err := cv.setMath(choice.math); err != nil {
			return err
		}
		a, b := scalars(alpha, beta)
		switch dir {
		case 0:
			return dnnErr("cudnnConvolutionForward", C.rc_cudnnConvolutionForward(c.dnn, a, x.d, xp.c(), w.d, wp.c(),
				cv.d, C.rc_cudnnConvolutionFwdAlgo_t(choice.Algo), ws.c(), wsSize, b, y.d, yp.c()))
		case 1:
			return dnnErr("cudnnConvolutionBackwardData", C.rc_cudnnConvolutionBackwardData(c.dnn, a, w.d, wp.c(), y.d, yp.c(),
				cv.d, C.rc_cudnnConvolutionBwdDataAlgo_t(choice.Algo), ws.c(), wsSize, b, x.d, xp.c()))
		default:
			return dnnErr("cudnnConvolutionBackwardFilter", C.rc_cudnnConvolutionBackwardFilter(c.dnn, a, x.d, xp.c(), y.d, yp.c(),
				cv.d, C.rc_cudnnConvolutionBwdFilterAlgo_t(choice.Algo), ws.c(), wsSize, b, w.d, wp.c()))
		}
	})
}
