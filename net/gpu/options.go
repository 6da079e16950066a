// Package gpu is the cuDNN implementation of net.Backend. Built with -tags nocuda it compiles to
// New returning an error, so rout builds and runs everywhere without cgo.
package gpu

// Options configure the GPU backend.
type Options struct {
	// Device is the CUDA device ordinal.
	Device int
	// Deterministic forbids TF32 and picks deterministic cuDNN algorithms, for parity with the CPU.
	Deterministic bool
	// AllowTF32 lets cuDNN and cuBLAS use TF32 tensor cores (ignored when Deterministic).
	AllowTF32 bool
	// GraphConv runs the convolutions through cuDNN's graph API instead of its legacy calls
	// (see cudnn.Options.GraphConv).
	GraphConv bool
	// StepGraphs makes RunStep capture a training step into a CUDA graph and replay it (see
	// cudnn.Context.RunStep).
	StepGraphs bool
	// PackedConv gives cuDNN's convolutions packed tensors only: an output or a gradient that is
	// a channel slice (an inception branch writing into its block's concat) goes through a dense
	// buffer of its own shape and a copy, as PyTorch's cat and .contiguous() do, so that cuDNN
	// may choose kernels that want packed tensors.
	PackedConv bool
}
