// Package net holds rout's network code: tensors, the Backend interface that every device
// implements, layers, and the models built from declarative specs. The same network code runs
// on the pure-Go CPU backend (net/cpu, the reference) and on the cuDNN backend (net/gpu).
package net

import "fmt"

// Storage is memory owned by a Backend: a Go slice for the CPU, a device allocation for the GPU.
// Network code never looks inside; it only passes Tensors back to the backend that made them.
type Storage interface {
	// Len is the number of float32 elements the storage holds.
	Len() int
}

// Tensor is a 4-D NCHW float32 view onto backend storage.
//
// A sample's C*H*W elements are contiguous; consecutive samples are Stride elements apart.
// A dense tensor has Stride == C*H*W. A channel slice of a wider tensor (see Channels) has the
// wider tensor's stride, which is how concatenation costs nothing: each branch of a block
// writes straight into its channel range of the block's output.
//
// Parameters live in one flat tensor per network (so the optimiser is one fused update);
// each layer's weights are a dense view into it (see View).
type Tensor struct {
	N, C, H, W int
	Stride     int // elements between consecutive samples
	Offset     int // element offset into Storage
	Storage    Storage
}

// Shape is N, C, H, W.
func (t *Tensor) Shape() [4]int { return [4]int{t.N, t.C, t.H, t.W} }

// SampleLen is C*H*W, the number of elements of one sample.
func (t *Tensor) SampleLen() int { return t.C * t.H * t.W }

// Len is the number of elements the view covers (not counting gaps between samples).
func (t *Tensor) Len() int { return t.N * t.SampleLen() }

// Dense reports whether the view's elements are contiguous.
func (t *Tensor) Dense() bool { return t.Stride == t.SampleLen() || t.N <= 1 }

// Channels returns the view of channels [c0, c1) of every sample.
func (t *Tensor) Channels(c0, c1 int) *Tensor {
	if c0 < 0 || c1 > t.C || c0 >= c1 {
		panic(fmt.Sprintf("net: channel slice [%d,%d) of %v", c0, c1, t.Shape()))
	}
	return &Tensor{N: t.N, C: c1 - c0, H: t.H, W: t.W, Stride: t.Stride,
		Offset: t.Offset + c0*t.H*t.W, Storage: t.Storage}
}

// Batch returns the view of samples [n0, n1).
func (t *Tensor) Batch(n0, n1 int) *Tensor {
	if n0 < 0 || n1 > t.N || n0 >= n1 {
		panic(fmt.Sprintf("net: batch slice [%d,%d) of %v", n0, n1, t.Shape()))
	}
	v := *t
	v.N = n1 - n0
	v.Offset += n0 * t.Stride
	return &v
}

// View returns a dense n x c x h x w view starting offset elements into a dense tensor t.
// It is how a layer's weights are carved out of the network's flat parameter tensor.
func (t *Tensor) View(offset, n, c, h, w int) *Tensor {
	if !t.Dense() || offset < 0 || offset+n*c*h*w > t.Len() {
		panic(fmt.Sprintf("net: view of %dx%dx%dx%d at %d in %v", n, c, h, w, offset, t.Shape()))
	}
	return &Tensor{N: n, C: c, H: h, W: w, Stride: c * h * w, Offset: t.Offset + offset, Storage: t.Storage}
}

// Reshape returns a dense tensor's elements viewed with another shape of the same length.
func (t *Tensor) Reshape(n, c, h, w int) *Tensor {
	if !t.Dense() || n*c*h*w != t.Len() {
		panic(fmt.Sprintf("net: reshape %v to %dx%dx%dx%d", t.Shape(), n, c, h, w))
	}
	return &Tensor{N: n, C: c, H: h, W: w, Stride: c * h * w, Offset: t.Offset, Storage: t.Storage}
}

func (t *Tensor) String() string {
	return fmt.Sprintf("Tensor[%dx%dx%dx%d stride %d @%d]", t.N, t.C, t.H, t.W, t.Stride, t.Offset)
}
