//go:build !nocuda

package cudnn

/*
#include "rout_cuda.h"
*/
import "C"

import "fmt"

// Sgemm computes C = alpha * op(A) op(B) + beta * C with cuBLAS, in cuBLAS's column-major
// convention: op(A) is m x k, op(B) is k x n, C is m x n, and lda, ldb, ldc are the leading
// dimensions (the distance in elements between consecutive columns) of A, B and C as stored.
// transA and transB select op(X) = X^T.
//
// Row-major data is its transpose in column-major, so a row-major Y (N x O) = X (N x D) W^T
// with W stored row-major O x D is, column-major, Y^T (O x N) = W (O x D) X^T (D x N):
// Sgemm(true, false, O, N, D, 1, w, D, x, D, 0, y, O).
func (c *Context) Sgemm(transA, transB bool, m, n, k int, alpha float32, a DevicePtr, lda int,
	b DevicePtr, ldb int, beta float32, cp DevicePtr, ldc int) error {
	return c.enqueue(opSgemm, []uint64{boolWord(transA), boolWord(transB), uint64(m), uint64(n), uint64(k), f32Word(alpha),
		uint64(a), uint64(lda), uint64(b), uint64(ldb), f32Word(beta), uint64(cp), uint64(ldc)}, func() error {
		op := func(t bool) C.rc_cublasOperation_t {
			if t {
				return C.RC_CUBLAS_OP_T
			}
			return C.RC_CUBLAS_OP_N
		}
		al, be := C.float(alpha), C.float(beta)
		err := blasErr("cublasSgemm_v2", C.rc_cublasSgemm_v2(c.blas, op(transA), op(transB), C.int(m), C.int(n), C.int(k),
			&al, (*C.float)(a.c()), C.int(lda), (*C.float)(b.c()), C.int(ldb), &be, (*C.float)(cp.c()), C.int(ldc)))
		if err != nil {
			err.(*Error).Detail = fmt.Sprintf("transA %v transB %v m %d n %d k %d lda %d ldb %d ldc %d", transA, transB, m, n, k, lda, ldb, ldc)
		}
		return err
	})
}
