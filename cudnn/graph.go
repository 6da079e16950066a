//go:build !nocuda

package cudnn

/*
#include "rout_cuda.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unsafe"
)

// cuDNN's graph (backend) API for convolutions, used instead of the legacy calls when
// Options.GraphConv is set. The legacy cudnnFind* search chooses among the eight-or-so algorithms
// of the cudnnConvolution*Algo_t enums; the graph API's engine heuristics also offer the engines
// PyTorch's convolutions run on (the sm80_xmma implicit-GEMM kernels: on an H200, PyTorch's
// fp32 convolutions of inception28 take about 4.4 ms of a step, rout's legacy choices 6.5-8.6 ms
// and its graph-API choices on packed tensors 5.3 ms). A convolution shape, direction and data alignment make one operation graph, always
// unscaled (alpha 1, beta 0; see Context.conv); its candidate engine configurations are
// finalised into execution plans, run and timed on the device like cudnnFind's search, and the
// fastest acceptable one is kept (in the deterministic mode, the heuristics' first that runs). A
// call then needs only a variant pack (the data pointers and the workspace), made once per set
// of pointers.

// bdesc is one backend descriptor.
type bdesc struct{ d C.rc_cudnnBackendDescriptor_t }

func newBdesc(kind C.int, what string) (*bdesc, error) {
	b := &bdesc{}
	if err := dnnErr("cudnnBackendCreateDescriptor", C.rc_cudnnBackendCreateDescriptor(C.rc_cudnnBackendDescriptorType_t(kind), &b.d)); err != nil {
		err.(*Error).Detail = what
		return nil, err
	}
	return b, nil
}

func (b *bdesc) close() {
	if b != nil && b.d != nil {
		C.rc_cudnnBackendDestroyDescriptor(b.d)
		b.d = nil
	}
}

// set sets attribute name to count elements of type typ at p.
func (b *bdesc) set(name, typ C.int, count int, p unsafe.Pointer) error {
	err := dnnErr("cudnnBackendSetAttribute", C.rc_cudnnBackendSetAttribute(b.d, C.rc_cudnnBackendAttributeName_t(name),
		C.rc_cudnnBackendAttributeType_t(typ), C.int64_t(count), p))
	if err != nil {
		err.(*Error).Detail = fmt.Sprintf("attribute %d (type %d, %d elements)", int(name), int(typ), count)
	}
	return err
}

func (b *bdesc) setInt64s(name C.int, v ...int64) error {
	return b.set(name, C.RC_CUDNN_TYPE_INT64, len(v), unsafe.Pointer(&v[0]))
}

func (b *bdesc) setEnum(name, typ C.int, v C.int) error {
	return b.set(name, typ, 1, unsafe.Pointer(&v))
}

// setFloat sets a float scalar: the type of a float32 convolution's alpha and beta.
func (b *bdesc) setFloat(name C.int, v float32) error {
	f := C.float(v)
	return b.set(name, C.RC_CUDNN_TYPE_FLOAT, 1, unsafe.Pointer(&f))
}

func (b *bdesc) setDescs(name C.int, ds ...*bdesc) error {
	raw := make([]C.rc_cudnnBackendDescriptor_t, len(ds))
	for i, d := range ds {
		raw[i] = d.d
	}
	return b.set(name, C.RC_CUDNN_TYPE_BACKEND_DESCRIPTOR, len(raw), unsafe.Pointer(&raw[0]))
}

func (b *bdesc) setHandle(name C.int, h C.rc_cudnnHandle_t) error {
	return b.set(name, C.RC_CUDNN_TYPE_HANDLE, 1, unsafe.Pointer(&h))
}

func (b *bdesc) finalize(what string) error {
	err := dnnErr("cudnnBackendFinalize", C.rc_cudnnBackendFinalize(b.d))
	if err != nil {
		err.(*Error).Detail = what
	}
	return err
}

// get reads up to len elements of attribute name into p and returns how many there are.
func (b *bdesc) get(name, typ C.int, n int, p unsafe.Pointer) (int, error) {
	var got C.int64_t
	err := dnnErr("cudnnBackendGetAttribute", C.rc_cudnnBackendGetAttribute(b.d, C.rc_cudnnBackendAttributeName_t(name),
		C.rc_cudnnBackendAttributeType_t(typ), C.int64_t(n), &got, p))
	if err != nil {
		err.(*Error).Detail = fmt.Sprintf("attribute %d (type %d)", int(name), int(typ))
	}
	return int(got), err
}

// graphKey identifies one operation graph: a convolution shape in one direction with the
// alignment of each tensor's data (x, w, y).
type graphKey struct {
	k     convKey
	dir   int // 0 forward, 1 backward data, 2 backward filter
	align [3]int64
}

// graphPlan is the execution plan chosen for a graphKey.
type graphPlan struct {
	plan   *bdesc
	choice AlgoChoice // Algo is the engine's global index; TimeMs as measured here
	// release frees the descriptors the plan was made from (its engine configuration and the
	// operation graph with its tensors), kept while the plan lives as NVIDIA's frontend does.
	release func()
}

func (p *graphPlan) close() {
	if p != nil { // nil marks a graph that takes the legacy path
		p.plan.close()
		p.release()
	}
}

// packKey identifies a variant pack: the data and workspace pointers it names (a pack does not
// depend on the plan it is executed with).
type packKey struct {
	ptrs [3]DevicePtr // x, w, y (dx, w, dy backward data; x, dw, dy backward filter)
	ws   DevicePtr
}

// maxPacks bounds the variant-pack cache: a network's convolutions use a fixed set of buffers,
// so the cache only outgrows this when buffers come and go; it is then emptied.
const maxPacks = 4096

// errNoEngine marks a graph for which cuDNN offers no acceptable, working engine: that
// convolution then runs through the legacy API.
var errNoEngine = errors.New("no usable engine")

// errLegacy tells a convolution call to take the legacy path.
var errLegacy = errors.New("cudnn: this convolution runs through the legacy API")

// The tensors' unique ids in every graph.
const (
	uidX = 'x'
	uidW = 'w'
	uidY = 'y'
)

// uid2index is the operand index (0 x, 1 w, 2 y) of a unique id.
func uid2index(uid int64) int { return map[int64]int{uidX: 0, uidW: 1, uidY: 2}[uid] }

// graphRuns is how often each candidate plan is timed (after one untimed run); maxCandidates
// bounds the plans finalised and timed per graph (heuristics A's first, then the fallback's).
const (
	graphRuns     = 3
	maxCandidates = 10
)

// graphConv runs one unscaled, overwriting convolution through the graph API: dir 0 is
// y = conv(x, w), 1 is x = convT(y, w), 2 is w = dW(x, y). (The operations are built with alpha 1
// and beta 0; conv sends scaled calls to the legacy API.) It returns errLegacy when cuDNN has no
// usable engine for the graph, and the caller then uses the legacy call.
func (c *Context) graphConv(dir int, x *TensorDesc, xp DevicePtr, w *FilterDesc, wp DevicePtr,
	cv *ConvDesc, y *TensorDesc, yp DevicePtr) error {
	ptrs := [3]DevicePtr{xp, wp, yp}
	gk := graphKey{k: keyOf(x, w, cv, y), dir: dir, align: [3]int64{alignment(xp), alignment(wp), alignment(yp)}}
	p, ok := c.graphs[gk]
	if !ok {
		var err error
		p, err = c.planGraph(gk, x, w, cv, y, ptrs)
		switch {
		case errors.Is(err, errNoEngine):
			p = nil // remembered: this graph takes the legacy path
		case err != nil:
			return err
		}
		c.graphs[gk] = p
	}
	if p == nil {
		return errLegacy
	}
	if c.counting() {
		c.graphReport(gk.k).Calls[dir]++
	}
	ws, _ := c.workspace()
	pk := packKey{ptrs: ptrs, ws: ws}
	vp, ok := c.packs[pk]
	if !ok {
		if len(c.packs) >= maxPacks {
			c.dropPacks()
		}
		done, err := c.bind()
		if err != nil {
			return err
		}
		vp, err = newVariantPack(ptrs, ws)
		done()
		if err != nil {
			return err
		}
		c.packs[pk] = vp
	}
	return c.enqueue(opGraphConv, []uint64{ptrWord(unsafe.Pointer(p.plan.d)), ptrWord(unsafe.Pointer(vp.d)), uint64(xp), uint64(wp),
		uint64(yp), uint64(ws)}, func() error {
		return dnnErr("cudnnBackendExecute", C.rc_cudnnBackendExecute(c.dnn, p.plan.d, vp.d))
	})
}

// dropPacks destroys every cached variant pack (when the workspace moves, or the cache is full).
func (c *Context) dropPacks() {
	for k, vp := range c.packs {
		vp.close()
		delete(c.packs, k)
	}
}

// graphReport is the ConvPlan that Plans reports for shape k's graph-API choices.
func (c *Context) graphReport(k convKey) *ConvPlan {
	p, ok := c.graphInfo[k]
	if !ok {
		p = &ConvPlan{}
		c.graphInfo[k] = p
	}
	return p
}

// alignment is the largest power of two up to 16 that divides p: the data alignment an engine
// may assume for that tensor.
func alignment(p DevicePtr) int64 {
	a := int64(16)
	for a > 1 && uint64(p)%uint64(a) != 0 {
		a /= 2
	}
	return a
}

func newVariantPack(ptrs [3]DevicePtr, ws DevicePtr) (*bdesc, error) {
	vp, err := newBdesc(C.RC_CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, "variant pack")
	if err != nil {
		return nil, err
	}
	data := []uint64{uint64(ptrs[0]), uint64(ptrs[1]), uint64(ptrs[2])}
	work := uint64(ws)
	err = errors.Join(
		vp.setInt64s(C.RC_CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, uidX, uidW, uidY),
		vp.set(C.RC_CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, C.RC_CUDNN_TYPE_VOID_PTR, 3, unsafe.Pointer(&data[0])),
		vp.set(C.RC_CUDNN_ATTR_VARIANT_PACK_WORKSPACE, C.RC_CUDNN_TYPE_VOID_PTR, 1, unsafe.Pointer(&work)))
	if err == nil {
		err = vp.finalize("variant pack")
	}
	if err != nil {
		vp.close()
		return nil, err
	}
	return vp, nil
}

// opGraph builds the operation graph of gk (and the descriptors it holds, closed by the
// returned function once the graph is no longer needed).
func (c *Context) opGraph(gk graphKey, x *TensorDesc, w *FilterDesc, cv *ConvDesc, y *TensorDesc) (*bdesc, func(), error) {
	var made []*bdesc
	release := func() { closeAll(made) }
	// build makes a descriptor of kind, sets its attributes with set and finalises it.
	build := func(kind C.int, what string, set func(d *bdesc) error) (*bdesc, error) {
		d, err := newBdesc(kind, what)
		if err != nil {
			return nil, err
		}
		made = append(made, d)
		if err := set(d); err != nil {
			return nil, err
		}
		return d, d.finalize(what)
	}
	tensor := func(uid int64, dims, strides []int64) (*bdesc, error) {
		return build(C.RC_CUDNN_BACKEND_TENSOR_DESCRIPTOR, fmt.Sprintf("tensor %c %v strides %v", rune(uid), dims, strides),
			func(t *bdesc) error {
				return errors.Join(
					t.setEnum(C.RC_CUDNN_ATTR_TENSOR_DATA_TYPE, C.RC_CUDNN_TYPE_DATA_TYPE, C.RC_CUDNN_DATA_FLOAT),
					t.setInt64s(C.RC_CUDNN_ATTR_TENSOR_DIMENSIONS, dims...),
					t.setInt64s(C.RC_CUDNN_ATTR_TENSOR_STRIDES, strides...),
					t.setInt64s(C.RC_CUDNN_ATTR_TENSOR_UNIQUE_ID, uid),
					t.setInt64s(C.RC_CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, gk.align[uid2index(uid)]))
			})
	}
	view := func(t *TensorDesc) ([]int64, []int64) {
		return []int64{int64(t.N), int64(t.C), int64(t.H), int64(t.W)},
			[]int64{int64(t.StrideN), int64(t.StrideC), int64(t.StrideH), int64(t.StrideW)}
	}
	xd, xs := view(x)
	yd, ys := view(y)
	tx, errX := tensor(uidX, xd, xs)
	tw, errW := tensor(uidW, []int64{int64(w.K), int64(w.C), int64(w.H), int64(w.W)},
		[]int64{int64(w.C * w.H * w.W), int64(w.H * w.W), int64(w.W), 1})
	ty, errY := tensor(uidY, yd, ys)
	if err := errors.Join(errX, errW, errY); err != nil {
		release()
		return nil, nil, err
	}

	p := cv.P
	dil := func(d int) int64 { return int64(max(d, 1)) }
	conv, err := build(C.RC_CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, fmt.Sprintf("convolution %+v", p), func(d *bdesc) error {
		return errors.Join(
			d.setEnum(C.RC_CUDNN_ATTR_CONVOLUTION_COMP_TYPE, C.RC_CUDNN_TYPE_DATA_TYPE, C.RC_CUDNN_DATA_FLOAT),
			d.setEnum(C.RC_CUDNN_ATTR_CONVOLUTION_CONV_MODE, C.RC_CUDNN_TYPE_CONVOLUTION_MODE, C.RC_CUDNN_CROSS_CORRELATION),
			d.setInt64s(C.RC_CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, 2),
			d.setInt64s(C.RC_CUDNN_ATTR_CONVOLUTION_DILATIONS, dil(p.DilationH), dil(p.DilationW)),
			d.setInt64s(C.RC_CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, int64(p.StrideH), int64(p.StrideW)),
			d.setInt64s(C.RC_CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, int64(p.PadH), int64(p.PadW)),
			d.setInt64s(C.RC_CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, int64(p.PadH), int64(p.PadW)))
	})
	if err != nil {
		release()
		return nil, nil, err
	}

	// The operation: its type and the attribute names of its three tensors by direction.
	ops := [3]struct {
		kind                       C.int
		alpha, beta, desc, x, w, y C.int
	}{
		{C.RC_CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA,
			C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC,
			C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W,
			C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y},
		{C.RC_CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR, C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA,
			C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA, C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC,
			C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX, C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W,
			C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY},
		{C.RC_CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR, C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA,
			C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA, C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC,
			C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X, C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW,
			C.RC_CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY},
	}[gk.dir]
	op, err := build(ops.kind, "convolution operation", func(d *bdesc) error {
		return errors.Join(
			d.setFloat(ops.alpha, 1),
			d.setFloat(ops.beta, 0),
			d.setDescs(ops.desc, conv),
			d.setDescs(ops.x, tx),
			d.setDescs(ops.w, tw),
			d.setDescs(ops.y, ty))
	})
	if err != nil {
		release()
		return nil, nil, err
	}
	g, err := build(C.RC_CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, "operation graph", func(d *bdesc) error {
		return errors.Join(
			d.setHandle(C.RC_CUDNN_ATTR_OPERATIONGRAPH_HANDLE, c.dnn),
			d.setDescs(C.RC_CUDNN_ATTR_OPERATIONGRAPH_OPS, op))
	})
	if err != nil {
		release()
		return nil, nil, err
	}
	return g, release, nil
}

// maxEngineConfigs bounds the engine configurations taken from each heuristic mode.
const maxEngineConfigs = 32

// engineConfigs returns the engine configurations heuristic mode mode proposes for graph g, best
// first by its ranking.
func engineConfigs(g *bdesc, mode C.int) ([]*bdesc, error) {
	h, err := newBdesc(C.RC_CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, "engine heuristics")
	if err != nil {
		return nil, err
	}
	defer h.close()
	err = errors.Join(
		h.setDescs(C.RC_CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, g),
		h.setEnum(C.RC_CUDNN_ATTR_ENGINEHEUR_MODE, C.RC_CUDNN_TYPE_HEUR_MODE, mode))
	if err == nil {
		err = h.finalize("engine heuristics")
	}
	if err != nil {
		return nil, err
	}
	var count C.int64_t
	if err := dnnErr("cudnnBackendGetAttribute", C.rc_cudnnBackendGetAttribute(h.d, C.RC_CUDNN_ATTR_ENGINEHEUR_RESULTS,
		C.RC_CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, nil)); err != nil {
		return nil, err
	}
	n := min(int(count), maxEngineConfigs)
	if n == 0 {
		return nil, nil
	}
	cfgs := make([]*bdesc, 0, n)
	raw := make([]C.rc_cudnnBackendDescriptor_t, 0, n)
	for len(cfgs) < n {
		d, err := newBdesc(C.RC_CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, "engine configuration")
		if err != nil {
			closeAll(cfgs)
			return nil, err
		}
		cfgs = append(cfgs, d)
		raw = append(raw, d.d)
	}
	got, err := h.get(C.RC_CUDNN_ATTR_ENGINEHEUR_RESULTS, C.RC_CUDNN_TYPE_BACKEND_DESCRIPTOR, len(raw), unsafe.Pointer(&raw[0]))
	if err != nil {
		closeAll(cfgs)
		return nil, err
	}
	got = min(got, len(cfgs))
	closeAll(cfgs[got:])
	return cfgs[:got], nil
}

func closeAll(ds []*bdesc) {
	for _, d := range ds {
		d.close()
	}
}

// engine is what rout reads of a configuration's engine.
type engine struct {
	index               int64
	numerical, behavior []C.int
}

// engineInfo reads a configuration's engine: its global index and its numerical and behaviour
// notes.
func engineInfo(cfg *bdesc) (engine, error) {
	var en engine
	e, err := newBdesc(C.RC_CUDNN_BACKEND_ENGINE_DESCRIPTOR, "engine")
	if err != nil {
		return en, err
	}
	defer e.close()
	if _, err := cfg.get(C.RC_CUDNN_ATTR_ENGINECFG_ENGINE, C.RC_CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, unsafe.Pointer(&e.d)); err != nil {
		return en, err
	}
	if _, err := e.get(C.RC_CUDNN_ATTR_ENGINE_GLOBAL_INDEX, C.RC_CUDNN_TYPE_INT64, 1, unsafe.Pointer(&en.index)); err != nil {
		return en, err
	}
	notes := func(name, typ C.int) ([]C.int, error) {
		buf := make([]C.int, 32)
		n, err := e.get(name, typ, len(buf), unsafe.Pointer(&buf[0]))
		return buf[:min(n, len(buf))], err
	}
	if en.numerical, err = notes(C.RC_CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, C.RC_CUDNN_TYPE_NUMERICAL_NOTE); err != nil {
		return en, err
	}
	en.behavior, err = notes(C.RC_CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, C.RC_CUDNN_TYPE_BEHAVIOR_NOTE)
	return en, err
}

// reject says why an engine may not run in this context, or "". As in PyTorch's cuDNN graph
// path: engines that convert their inputs down are always refused, tensor cores (TF32 for
// float32 data) unless TF32 is allowed, non-deterministic engines in the deterministic mode, and
// engines compiled at run time (cuDNN 9.10 and later: 0.1-1.5 s each when a plan is finalised).
func (c *Context) reject(en engine) string {
	for _, n := range en.numerical {
		switch {
		case n == C.RC_CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS:
			return "converts its inputs down"
		case !c.TF32() && n == C.RC_CUDNN_NUMERICAL_NOTE_TENSOR_CORE:
			return "tensor cores"
		case c.opts.Deterministic && n == C.RC_CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC:
			return "not deterministic"
		}
	}
	if slices.Contains(en.behavior, C.RC_CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION) {
		return "compiled at run time"
	}
	return ""
}

// planGraph chooses the execution plan for gk: the first maxCandidates acceptable
// configurations that heuristics A and then the fallback list propose are finalised and timed on
// the device (inputs are the call's own; the output goes to a scratch buffer, so the search
// changes nothing), and the fastest is kept; in the deterministic mode, the first that runs. Like PlanConv it waits for the device and
// allocates, so it belongs to the warm-up step. An error wrapping errNoEngine means that no
// engine is usable for this graph.
func (c *Context) planGraph(gk graphKey, x *TensorDesc, w *FilterDesc, cv *ConvDesc, y *TensorDesc, ptrs [3]DevicePtr) (*graphPlan, error) {
	done, err := c.beginSearch()
	if err != nil {
		return nil, err
	}
	defer done()
	began := time.Now()
	shape := fmt.Sprintf("%s direction %d", gk.k, gk.dir)
	g, release, err := c.opGraph(gk, x, w, cv, y)
	if err != nil {
		return nil, fmt.Errorf("cudnn: graph for %s: %w", shape, err)
	}
	kept := false // whether the chosen plan keeps the graph and its configuration
	defer func() {
		if !kept {
			release()
		}
	}()

	// Either list may fail for a graph the other covers; only both failing is an error.
	var cfgs []*bdesc
	var seen []string
	for _, mode := range []C.int{C.RC_CUDNN_HEUR_MODE_A, C.RC_CUDNN_HEUR_MODE_FALLBACK} {
		more, err := engineConfigs(g, mode)
		if err != nil {
			seen = append(seen, fmt.Sprintf("heuristics mode %d: %v", int(mode), err))
			continue
		}
		cfgs = append(cfgs, more...)
	}

	// Candidates: finalised plans of acceptable engines, each engine once. Everything but the
	// chosen plan and its configuration is destroyed on return.
	type candidate struct {
		plan, cfg *bdesc
		en        engine
		ws        int
	}
	var cands []candidate
	keep := -1
	defer func() {
		for i, cd := range cands {
			if i != keep {
				cd.plan.close()
			}
		}
		for _, cfg := range cfgs {
			if keep < 0 || cfg != cands[keep].cfg {
				cfg.close()
			}
		}
	}()
	planned := map[int64]bool{}
	for _, cfg := range cfgs {
		if len(cands) == maxCandidates {
			break
		}
		en, err := engineInfo(cfg)
		if err != nil {
			seen = append(seen, "engine info: "+err.Error())
			continue
		}
		if planned[en.index] {
			continue
		}
		if why := c.reject(en); why != "" {
			seen = append(seen, fmt.Sprintf("engine %d: %s", en.index, why))
			continue
		}
		plan, err := newBdesc(C.RC_CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, "execution plan")
		if err != nil {
			return nil, err
		}
		err = errors.Join(
			plan.setHandle(C.RC_CUDNN_ATTR_EXECUTION_PLAN_HANDLE, c.dnn),
			plan.setDescs(C.RC_CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, cfg))
		if err == nil {
			err = plan.finalize("execution plan")
		}
		var ws int64
		if err == nil {
			_, err = plan.get(C.RC_CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, C.RC_CUDNN_TYPE_INT64, 1, unsafe.Pointer(&ws))
		}
		if err == nil && int(ws) > c.opts.MaxWorkspace {
			err = fmt.Errorf("workspace %d > %d", ws, c.opts.MaxWorkspace)
		}
		if err != nil {
			seen = append(seen, fmt.Sprintf("engine %d: %v", en.index, err))
			plan.close()
			continue
		}
		planned[en.index] = true
		cands = append(cands, candidate{plan: plan, cfg: cfg, en: en, ws: int(ws)})
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("cudnn: %s (deterministic %v, tf32 %v): %w: %s",
			shape, c.opts.Deterministic, c.TF32(), errNoEngine, strings.Join(seen, "; "))
	}

	// Time each candidate, writing the output to scratch. The workspace grows candidate by
	// candidate, smallest first; one that cannot be allocated ends the search with the larger.
	// In the deterministic mode the choice must not rest on timing (reruns must choose alike):
	// the candidates go in the heuristics' order and the first that runs is kept.
	out := [3]int{2, 0, 1}[gk.dir] // the operand each direction writes: y, x (dx) or w (dw)
	scratch, err := Alloc[float32](c, operandElems(out, x, w, y))
	if err != nil {
		return nil, fmt.Errorf("cudnn: search for %s: %w", shape, err)
	}
	defer scratch.Free()
	trial := ptrs
	trial[out] = scratch.ptr
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	if !c.opts.Deterministic {
		slices.SortStableFunc(order, func(a, b int) int { return cands[a].ws - cands[b].ws })
	}
	start, err := c.NewEvent()
	if err != nil {
		return nil, err
	}
	defer start.Close()
	end, err := c.NewEvent()
	if err != nil {
		return nil, err
	}
	defer end.Close()
	var vp *bdesc
	defer func() { vp.close() }()
	var vpWs DevicePtr
	best := time.Duration(-1)
	for _, i := range order {
		cd := cands[i]
		if err := c.growWorkspace(cd.ws); err != nil {
			if c.opts.Deterministic {
				seen = append(seen, fmt.Sprintf("engine %d: %v", cd.en.index, err))
				continue
			}
			seen = append(seen, fmt.Sprintf("engine %d and larger: %v", cd.en.index, err))
			break
		}
		if ws, _ := c.workspace(); vp == nil || ws != vpWs {
			vp.close()
			if vp, err = newVariantPack(trial, ws); err != nil {
				return nil, err
			}
			vpWs = ws
		}
		d, err := c.timePlan(cd.plan, vp, start, end)
		if err != nil {
			seen = append(seen, fmt.Sprintf("engine %d: %v", cd.en.index, err))
			continue
		}
		if best < 0 || d < best {
			best, keep = d, i
		}
		if c.opts.Deterministic {
			break
		}
	}
	if keep < 0 {
		return nil, fmt.Errorf("cudnn: %s: %w: every engine failed to run: %s", shape, errNoEngine, strings.Join(seen, "; "))
	}
	k := cands[keep]
	kept = true
	has := func(n C.int) bool { return slices.Contains(k.en.numerical, n) }
	p := &graphPlan{plan: k.plan, release: func() { k.cfg.close(); release() }, choice: AlgoChoice{
		Algo: int(k.en.index), TimeMs: float32(best.Seconds() * 1e3), Workspace: k.ws,
		Deterministic: !has(C.RC_CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC),
		TensorOps:     has(C.RC_CUDNN_NUMERICAL_NOTE_TENSOR_CORE),
		Candidates:    len(cands), SearchMs: float32(time.Since(began).Seconds() * 1e3)}}
	// Report the latest choice of the direction, with the time of all its searches (a direction
	// may have several graphs: other alignments).
	dst := c.graphReport(gk.k).direction(gk.dir)
	p.choice.SearchMs += dst.SearchMs
	*dst = p.choice
	return p, nil
}

// timePlan runs plan once untimed and graphRuns times timed, and returns the fastest run.
func (c *Context) timePlan(plan, vp *bdesc, start, end *Event) (time.Duration, error) {
	best := time.Duration(-1)
	for r := 0; r <= graphRuns; r++ {
		if err := start.Record(); err != nil {
			return 0, err
		}
		if err := dnnErr("cudnnBackendExecute", C.rc_cudnnBackendExecute(c.dnn, plan.d, vp.d)); err != nil {
			return 0, err
		}
		if err := end.Record(); err != nil {
			return 0, err
		}
		d, err := end.Since(start)
		if err != nil {
			return 0, err
		}
		if r > 0 && (best < 0 || d < best) {
			best = d
		}
	}
	return best, nil
}

// operandElems is the extent in elements of operand i (0 x, 1 w, 2 y), strides included.
func operandElems(i int, x *TensorDesc, w *FilterDesc, y *TensorDesc) int {
	extent := func(t *TensorDesc) int {
		return (t.N-1)*t.StrideN + (t.C-1)*t.StrideC + (t.H-1)*t.StrideH + (t.W-1)*t.StrideW + 1
	}
	switch i {
	case 0:
		return extent(x)
	case 1:
		return w.K * w.C * w.H * w.W
	}
	return extent(y)
}

// closeGraphs destroys every plan and variant pack.
func (c *Context) closeGraphs() {
	for _, vp := range c.packs {
		vp.close()
	}
	for _, p := range c.graphs {
		p.close()
	}
	c.packs, c.graphs = nil, nil
}
