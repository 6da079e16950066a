// Package cpu is rout's reference backend: every net.Backend operation in plain Go and float32,
// parallel over the batch, with convolutions as im2col + GEMM (package gemm: AVX+FMA assembly
// where the CPU has it, Go elsewhere; both give the same bits).
// The GPU backend is tested against it, and it is tested against float64 references.
//
// Results are reproducible bit for bit: every reduction (over the batch for weight gradients,
// over a channel for batch norm) runs in an order fixed by the shapes alone, never by the
// number of threads or by scheduling.
//
// A Backend is not safe for concurrent use: like a device stream, it runs one operation at a time,
// and parallelises inside each.
package cpu

import (
	"fmt"
	"runtime"
	"strconv"

	"rout/net"
	"rout/net/cpu/internal/gemm"
)

// Options configure the CPU backend.
type Options struct {
	// Threads is the number of goroutines an operation runs on; 0 means runtime.GOMAXPROCS(0).
	Threads int
}

// Backend is the CPU implementation of net.Backend.
type Backend struct {
	threads int
	pool    *workers
	scratch []scratch // one per worker
	err     error
	closed  bool

	// Jobs, held here so that handing one to the pool allocates nothing.
	conv   convJob
	reduce reduceJob
	relu   reluJob
	pool2d poolJob
	dense  denseJob
	bn     bnJob
	optim  optimJob
	gather gatherJob
	means  meansJob

	packed   []gemm.PackedA // each group's conv weights, packed once for all chunks
	partial  []float32      // per-group partial weight gradients (ConvBackwardFilter)
	partialB []float64      // per-group partial bias gradients
}

// scratch is one worker's reusable memory; it grows to the largest shape seen and stays.
type scratch struct {
	col     []float32 // the gradient of a chunk's im2col matrix
	tmp     []float32 // a chunk's outputs or gathered output gradients
	gemm    gemm.Buffers
	patches patches
}

var _ net.Backend = (*Backend)(nil)

// New starts a CPU backend.
func New(o Options) *Backend {
	t := o.Threads
	if t <= 0 {
		t = runtime.GOMAXPROCS(0)
	}
	return &Backend{threads: t, pool: newWorkers(t), scratch: make([]scratch, t)}
}

// storage is a CPU tensor's memory.
type storage struct{ data []float32 }

func (s *storage) Len() int { return len(s.data) }

// Name is "cpu".
func (b *Backend) Name() string { return "cpu" }

// Provenance records what computed a run's numbers.
func (b *Backend) Provenance() map[string]string {
	p := map[string]string{
		"backend": "cpu",
		"threads": strconv.Itoa(b.threads),
		"goarch":  runtime.GOARCH,
		"go":      runtime.Version(),
		"gemm":    "rout/net/cpu/internal/gemm, " + gemm.Kernel + " kernel",
	}
	return p
}

// Alloc allocates in the Go heap, up to 2^40 elements.
func (b *Backend) Alloc(n, c, h, w int) (*net.Tensor, error) {
	if b.closed {
		return nil, fmt.Errorf("cpu: alloc %dx%dx%dx%d: backend is closed", n, c, h, w)
	}
	if n < 0 || c < 0 || h < 0 || w < 0 {
		return nil, fmt.Errorf("cpu: alloc %dx%dx%dx%d: negative dimension", n, c, h, w)
	}
	size := 1
	for _, d := range []int{n, c, h, w} {
		if d != 0 && size > (1<<40)/d {
			return nil, fmt.Errorf("cpu: alloc %dx%dx%dx%d: more than 2^40 elements", n, c, h, w)
		}
		size *= d
	}
	return &net.Tensor{N: n, C: c, H: h, W: w, Stride: c * h * w, Storage: &storage{make([]float32, size)}}, nil
}

// data is the memory under t, checked to hold every element of the view.
func data(t *net.Tensor) []float32 {
	s, ok := t.Storage.(*storage)
	if !ok {
		panic(fmt.Sprintf("cpu: %v does not belong to the CPU backend (storage %T)", t, t.Storage))
	}
	if t.N > 0 && t.SampleLen() > 0 {
		if t.Offset < 0 || t.Stride < t.SampleLen() || t.Offset+(t.N-1)*t.Stride+t.SampleLen() > len(s.data) {
			panic(fmt.Sprintf("cpu: %v exceeds its storage of %d elements", t, len(s.data)))
		}
	}
	return s.data
}

// sample is sample n of t: its C*H*W contiguous elements.
func sample(d []float32, t *net.Tensor, n int) []float32 {
	o := t.Offset + n*t.Stride
	return d[o : o+t.SampleLen() : o+t.SampleLen()]
}

// flat is a dense tensor's elements.
func flat(t *net.Tensor, what string) []float32 {
	d := data(t)
	if !t.Dense() {
		panic(fmt.Sprintf("cpu: %s %v must be dense", what, t))
	}
	return d[t.Offset : t.Offset+t.Len() : t.Offset+t.Len()]
}

// vector is a dense tensor of exactly n elements (a bias or its gradient).
func vector(t *net.Tensor, n int, what string) []float32 {
	if t.Len() != n {
		panic(fmt.Sprintf("cpu: %s %v should hold %d values", what, t, n))
	}
	return flat(t, what)
}

func sameShape(op string, a, b *net.Tensor) {
	if a.Shape() != b.Shape() {
		panic(fmt.Sprintf("cpu: %s: shapes %v and %v differ", op, a.Shape(), b.Shape()))
	}
}

// Upload copies sample by sample.
func (b *Backend) Upload(t *net.Tensor, src []float32) {
	if len(src) != t.Len() {
		panic(fmt.Sprintf("cpu: upload of %d values into %v", len(src), t))
	}
	d, sl := data(t), t.SampleLen()
	for n := 0; n < t.N; n++ {
		copy(sample(d, t, n), src[n*sl:])
	}
}

// Download copies sample by sample; nothing is ever pending.
func (b *Backend) Download(t *net.Tensor, dst []float32) {
	if len(dst) != t.Len() {
		panic(fmt.Sprintf("cpu: download of %v into %d values", t, len(dst)))
	}
	d, sl := data(t), t.SampleLen()
	for n := 0; n < t.N; n++ {
		copy(dst[n*sl:(n+1)*sl], sample(d, t, n))
	}
}

// Fill writes sample by sample.
func (b *Backend) Fill(t *net.Tensor, v float32) {
	d := data(t)
	for n := 0; n < t.N; n++ {
		s := sample(d, t, n)
		for i := range s {
			s[i] = v
		}
	}
}

// Copy copies sample by sample.
func (b *Backend) Copy(dst, src *net.Tensor) {
	sameShape("copy", dst, src)
	dd, sd := data(dst), data(src)
	for n := 0; n < dst.N; n++ {
		copy(sample(dd, dst, n), sample(sd, src, n))
	}
}

// setErr keeps the first error, as Err and Sync report it.
func (b *Backend) setErr(err error) {
	if b.err == nil {
		b.err = err
	}
}

// Err returns the first error kept.
func (b *Backend) Err() error { return b.err }

// Sync returns the first error seen; CPU work is never pending.
func (b *Backend) Sync() error { return b.err }

// Close stops the worker goroutines and drops the scratch memory. Tensors stay readable.
func (b *Backend) Close() error {
	b.pool.close()
	b.closed = true
	b.scratch = make([]scratch, b.threads)
	b.partial, b.partialB = nil, nil
	return nil
}

// grow returns buf resized to n elements, reallocating only when it is too small.
func grow[T any](buf *[]T, n int) []T {
	if cap(*buf) < n {
		*buf = make([]T, n)
	}
	*buf = (*buf)[:n]
	return *buf
}

// zero sets s to 0.
func zero(s []float32) {
	for i := range s {
		s[i] = 0
	}
}
