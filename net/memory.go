package net

import (
	"fmt"
	"io"

	"rout/internal/membudget"
)

// Memory is what a network takes in memory to train on one batch, in bytes, estimated from its
// plan before anything is allocated, so that a network too large for the machine or device is
// refused with its numbers instead of failing half-way through allocation (or being killed).
type Memory struct {
	Params      int64 // the flat parameter tensor
	Grads       int64 // its gradient
	State       int64 // batch-norm running statistics
	Optimizer   int64 // the optimiser's moments (one or two tensors the size of the parameters)
	Activations int64 // every layer's output and its gradient for the batch, the input, the labels
	Workspace   int64 // convolution scratch: the im2col matrices of the workers and the partial weight gradients
}

// Total is the sum of the parts.
func (m Memory) Total() int64 {
	return m.Params + m.Grads + m.State + m.Optimizer + m.Activations + m.Workspace
}

// EstimateMemory estimates what Build and training take for spec on batch examples of shape in
// with classes classes, an optimiser keeping moments tensors the size of the parameters, and
// workers threads running convolutions. The estimate counts every tensor Build allocates
// exactly; the workspace follows the CPU backend's scratch (the GPU's cuDNN workspace is of the
// same order).
func EstimateMemory(spec *Spec, batch int, in [3]int, classes, moments, workers int) (Memory, error) {
	if batch < 1 {
		return Memory{}, fmt.Errorf("%s: batch size %d: want at least 1", spec.Name, batch)
	}
	p, err := newPlan(spec, in, classes)
	if err != nil {
		return Memory{}, err
	}
	const f32 = 4
	b := int64(batch)
	m := Memory{Params: f32 * int64(p.params), Grads: f32 * int64(p.params), State: f32 * int64(p.state),
		Optimizer: f32 * int64(moments) * int64(p.params)}
	m.Activations = f32 * b * (int64(in[0])*int64(in[1])*int64(in[2]) + 1)
	var walk func(nodes []*node, intoBlock bool)
	walk = func(nodes []*node, intoBlock bool) {
		for i, n := range nodes {
			out := b * int64(n.out[0]) * int64(n.out[1]) * int64(n.out[2])
			if !(intoBlock && i == len(nodes)-1) { // a branch's last layer writes into its block's output
				m.Activations += 2 * f32 * out
			}
			if n.bn {
				m.Activations += 2*f32*out + 2*f32*int64(n.units)
			}
			if n.spec.Type == TypeConv {
				ckk := int64(n.in[0]) * int64(n.kh) * int64(n.kw)
				cols := max(int64(n.out[1])*int64(n.out[2]), 256) // a chunk's columns (at least two GEMM tiles)
				ws := f32 * (int64(max(workers, 1))*ckk*cols + 8*int64(n.units)*ckk)
				m.Workspace = max(m.Workspace, ws)
			}
			for _, br := range n.branches {
				walk(br, true)
			}
		}
	}
	walk(p.top, false)
	return m, nil
}

// Format writes the estimate as the lines `rout model summary` ends with.
func (m Memory) Format(w io.Writer, batch int) error {
	_, err := fmt.Fprintf(w, "memory to train, batch %d: %s (parameters %s, gradients %s, optimiser %s, batch-norm state %s, activations %s, workspace %s)\n",
		batch, membudget.Format(m.Total()), membudget.Format(m.Params), membudget.Format(m.Grads), membudget.Format(m.Optimizer),
		membudget.Format(m.State), membudget.Format(m.Activations), membudget.Format(m.Workspace))
	return err
}
