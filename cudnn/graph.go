//go:build !nocuda

package cudnn

/*
#include "rout_cuda.h"
*/
import "C"

import (
	"errors"
	"unsafe"
)

// cuDNN's graph (backend) API for convolutions, used instead of the legacy calls when
// Options.GraphConv is set. The legacy cudnnFind* search chooses among the eight-or-so algorithms
// of the cudnnConvolution*Algo_t enums; the graph API's engine heuristics also offer the engines
// PyTorch's convolutions run on (the implicit-GEMM kernels; docs/gpu-notes.md has the timings).
// A convolution shape, direction and data alignment make one operation graph (graph_desc.go),
// always unscaled (alpha 1, beta 0; see Context.conv), whose execution plan the engine search
// chooses (graph_search.go). This file runs the plans: a call needs only a variant pack (the data
// pointers and the workspace), made once per set of pointers and cached with the plans.

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
