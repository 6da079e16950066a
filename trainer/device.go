package trainer

import (
	"fmt"

	"rout/net"
	"rout/net/cpu"
	"rout/net/gpu"
)

// newCPU opens the pure-Go backend with the configured thread count.
func newCPU(c *Config) net.Backend { return cpu.New(cpu.Options{Threads: c.Threads}) }

// newGPU opens the cuDNN backend; in a -tags nocuda build it always fails, saying why.
func newGPU(c *Config) (net.Backend, error) {
	return gpu.New(gpu.Options{Deterministic: c.Deterministic, AllowTF32: c.TF32 && !c.Deterministic, GraphConv: c.CuDNNGraph,
		StepGraphs: c.CUDAGraph, PackedConv: c.CuDNNPacked})
}

// OpenBackend opens the device a config names: the GPU when usable for "auto", else the CPU.
func OpenBackend(c *Config) (net.Backend, error) {
	switch c.Device {
	case "cpu":
		return newCPU(c), nil
	case "gpu":
		b, err := newGPU(c)
		if err != nil {
			return nil, fmt.Errorf("setting device gpu: %w", err)
		}
		return b, nil
	}
	// auto: the CPU only when no GPU is usable; a usable GPU that a GPU setting (--cudnn-graph,
	// say) cannot open is an error, not a silent fall back to a hundred times slower training.
	if gpu.Available() != nil {
		return newCPU(c), nil
	}
	b, err := newGPU(c)
	if err != nil {
		return nil, fmt.Errorf("setting device auto: a GPU is usable but: %w", err)
	}
	return b, nil
}
