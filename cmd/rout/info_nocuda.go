//go:build nocuda

package main

import (
	"fmt"
	"io"
)

// errNoGPUBuild is why a nocuda build cannot use a GPU.
const errNoGPUBuild = "this rout was built with -tags nocuda (no GPU support); build it without the tag (cgo, a C compiler) to use a GPU"

func writeGPUInfo(w io.Writer, _ bool) {
	fmt.Fprintln(w, "build: without GPU support (-tags nocuda)")
	fmt.Fprintln(w, "gpu: not usable: "+errNoGPUBuild+cpuFallback)
}
