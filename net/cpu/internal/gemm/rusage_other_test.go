//go:build !unix

package gemm

// cpuSeconds is unknown on this system.
func cpuSeconds() float64 { return -1 }
