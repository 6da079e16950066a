//go:build !nocuda

package gpu

import (
	"fmt"

	"rout/net"
)

func denseShape(op string, x, w, y *net.Tensor) (n, d, o int) {
	n, d, o = x.N, x.SampleLen(), w.N
	if w.SampleLen() != d || y.N != n || y.SampleLen() != o || y.H != 1 || y.W != 1 || !w.Dense() {
		panic(fmt.Sprintf("gpu: %s: x %v, w %v, y %v do not match", op, x.Shape(), w.Shape(), y.Shape()))
	}
	return n, d, o
}

// The dense layer's products through cuBLAS. cuBLAS is column-major, and a row-major matrix is
// its transpose in column-major with the row stride as leading dimension: x (N x D, rows Stride
// apart) is column-major X^T (D x N, ld Stride), w (O x D, dense) is W^T (D x O, ld D), and
// y (N x O) is Y^T (O x N, ld y's Stride).

// DenseForward computes Y^T (O x N) = W (O x D) X^T (D x N), then adds the bias per row with
// kernels/dense.cu's bias_rows.
func (b *Backend) DenseForward(x, w, bias, y *net.Tensor) {
	n, d, o := denseShape("dense forward", x, w, y)
	if !b.ok() || n == 0 {
		return
	}
	if err := b.ctx.Sgemm(true, false, o, n, d, 1, ptr(w), d, ptr(x), int(stride(x)), 0, ptr(y), int(stride(y))); err != nil {
		b.fail(fmt.Errorf("gpu: dense forward x %v w %v: %w", x.Shape(), w.Shape(), err))
		return
	}
	if bias != nil {
		if bias.Len() != o || !bias.Dense() {
			panic(fmt.Sprintf("gpu: dense forward: bias %v should be %d dense values", bias, o))
		}
		b.launchBiasRows(b.blocks(n*o, 256), 256, out(y), stride(y), in(bias), i32(n), i32(o))
	}
}

// DenseBackwardData computes DX^T (D x N) = W^T (D x O) DY^T (O x N).
func (b *Backend) DenseBackwardData(dy, w, dx *net.Tensor, accumulate bool) {
	n, d, o := denseShape("dense backward data", dx, w, dy)
	if !b.ok() || n == 0 {
		return
	}
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	if err := b.ctx.Sgemm(false, false, d, n, o, 1, ptr(w), d, ptr(dy), int(stride(dy)), beta, ptr(dx), int(stride(dx))); err != nil {
		b.fail(fmt.Errorf("gpu: dense backward data dy %v w %v: %w", dy.Shape(), w.Shape(), err))
	}
}

// DenseBackwardFilter computes DW^T (D x O) = X^T (D x N) DY (N x O), and the bias gradient with
// kernels/dense.cu's col_sums (in float64, like the CPU).
func (b *Backend) DenseBackwardFilter(x, dy, dw, db *net.Tensor) {
	n, d, o := denseShape("dense backward filter", x, dw, dy)
	if !b.ok() {
		return
	}
	if n == 0 {
		b.Fill(dw, 0)
		if db != nil {
			b.Fill(db, 0)
		}
		return
	}
	if err := b.ctx.Sgemm(false, true, d, o, n, 1, ptr(x), int(stride(x)), ptr(dy), int(stride(dy)), 0, ptr(dw), d); err != nil {
		b.fail(fmt.Errorf("gpu: dense backward filter x %v dy %v: %w", x.Shape(), dy.Shape(), err))
		return
	}
	if db != nil {
		if db.Len() != o || !db.Dense() {
			panic(fmt.Sprintf("gpu: dense backward filter: bias gradient %v should be %d dense values", db, o))
		}
		b.launchColSums((o+127)/128, 128, in(dy), stride(dy), out(db), i32(n), i32(o))
	}
}

// Launch wrappers of kernels/dense.cu, one per kernel, its parameters in its order.

func (b *Backend) launchBiasRows(grid, block int, y floatPtr, ys cInt, bias constFloatPtr, n, o cInt) {
	b.launch("bias_rows", grid, block, y, ys, bias, n, o)
}

func (b *Backend) launchColSums(grid, block int, dy constFloatPtr, dys cInt, db floatPtr, n, o cInt) {
	b.launch("col_sums", grid, block, dy, dys, db, n, o)
}
