package trainer

import (
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
