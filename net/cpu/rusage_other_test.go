//go:build !unix

package cpu

// cpuSeconds is unknown on this system.
func cpuSeconds() float64 { return -1 }
