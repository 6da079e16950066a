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

// The engine search of cuDNN's graph API: the engines the heuristics propose for a graph, those
// acceptable in this context finalised into plans, and the plans timed on the device.

// graphRuns is how often each candidate plan is timed (after one untimed run); maxCandidates
// bounds the plans finalised and timed per graph (heuristics A's first, then the fallback's).
const (
	graphRuns     = 3
	maxCandidates = 10
)

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
// engines compiled at run time (each adds a compile to finalising its plan: docs/gpu-notes.md).
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
// changes nothing), and the fastest is kept; in the deterministic mode, the first that runs.
// Like PlanConv it waits for the device and allocates, so it belongs to the warm-up step. An
// error wrapping errNoEngine means that no engine is usable for this graph.
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
