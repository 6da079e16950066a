// Package kernels holds rout's CUDA C kernels, for what cuDNN and cuBLAS do not provide:
// RandomOut's per-filter norms, decisions and re-draws, the fused optimisers, the loss, pooling
// with MXNet's ceil rule, ReLU, strided copies and the batch preparation from a uint8 dataset.
//
// The sources are plain files in this folder, embedded in the binary and compiled on the device
// at start-up (NVRTC) for the GPU at hand. They include no CUDA header, so CI compile-checks them
// with clang alone (clang -x cuda --cuda-device-only -nocudainc -nocudalib), and philox.cuh, the
// twin of package rng, is also valid C so that a host test can compare it with rng bit for bit.
//
// Every kernel is extern "C" (unmangled names), takes device pointers already offset to a view's
// first element and int strides, and is documented in its file with its launch shape. A kernel
// file is named after its operation, like the operation's files in net/cpu (its CPU twin, named
// in its header) and net/gpu (its launch wrappers, which net/gpu's TestKernelWrappers checks
// against the declarations here).
package kernels

import (
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
)

//go:embed *.cu *.cuh
var files embed.FS

// headers are the shared headers, in dependency order.
var headers = []string{"common.cuh", "philox.cuh"}

// Sources are the kernel files, one per operation (named as the operation's files in net/cpu and
// net/gpu), in name order: every .cu file of this folder.
var Sources = func() []string {
	names, err := fs.Glob(files, "*.cu")
	if err != nil {
		panic(err) // only a malformed pattern fails
	}
	return names // sorted, as fs.Glob returns them
}()

// Names are the kernels Source defines, in the order of the files.
var Names = []string{
	"gather_batch",
	"bias_rows", "col_sums",
	"filter_norms", "mark_below", "redraw_filters",
	"softmax_xent",
	"fill", "copy_strided",
	"adam_update", "sgd_update",
	"pool_fwd", "pool_bwd",
	"relu_fwd", "relu_bwd",
	"activation_means", "mark_dormant", "outgoing_means", "reset_outgoing", "cbp_step",
}

// Options are the NVRTC options the kernels are written for. FMA contraction is off so that the
// kernels' plain arithmetic rounds each operation as Go does (the bit-identical paths use the
// _rn intrinsics anyway); division and square root are IEEE-rounded.
var Options = []string{"--fmad=false", "--prec-div=true", "--prec-sqrt=true"}

// GroupWords is the number of int32 words per group in a filter table (filters.cu's
// ROUT_GROUP_WORDS), and the G* constants are the words' positions.
const (
	GroupWords = 8
	GWeight    = 0 // offset of the group's first weight in the flat tensor
	GBias      = 1 // offset of its first bias, or -1
	GFilters   = 2 // filters in the group
	GLen       = 3 // weights per filter
	GLayer     = 4 // rng group word
	GFirst     = 5 // index of the group's first filter in the table's numbering
	GBound     = 6 // the initialiser's bound, as float32 bits
)

var includeLine = regexp.MustCompile(`(?m)^#include "[a-z0-9_.]+"\n`)

// Source is one translation unit holding every kernel: the headers, then the kernel files with
// their local #include lines removed (the headers are already in front of them).
func Source() string {
	var b strings.Builder
	for _, name := range append(append([]string(nil), headers...), Sources...) {
		src, err := files.ReadFile(name)
		if err != nil {
			panic(fmt.Sprintf("kernels: embedded %s is missing: %v", name, err)) // a build defect
		}
		fmt.Fprintf(&b, "// ---- %s ----\n", name)
		b.WriteString(includeLine.ReplaceAllString(string(src), ""))
	}
	return b.String()
}

// File returns one embedded source file by name (for tools and tests).
func File(name string) (string, error) {
	src, err := files.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("kernels: %s: %w", name, err)
	}
	return string(src), nil
}

// RVWords is the number of int32 words per group in a revive table (revive.cu's ROUT_RV_WORDS),
// the RV* constants the words' positions, and LinkWords and the L* constants a link's.
const (
	RVWords    = 8
	RVFirst    = 0 // index of the group's first filter in the table's numbering
	RVFilters  = 1 // filters in the group
	RVLinks    = 2 // links reading the group's channels
	RVLink0    = 3 // word index of the group's first link in the table
	RVGamma    = 4 // offset of the batch-norm scale of filter 0, or -1
	RVRunMean  = 5 // offset of the running mean of filter 0 in the state tensor, or -1
	LinkWords  = 4
	LWeight    = 0
	LRows      = 1
	LRowStride = 2
	LLen       = 3
)
