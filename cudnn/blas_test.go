//go:build !nocuda

package cudnn

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestSgemmAgainstFloat64(t *testing.T) {
	for _, mode := range []string{"parity", "default"} {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			t.Run(fmt.Sprintf("%s/%v", mode, tr), func(t *testing.T) {
				c := fast(t)
				if mode == "parity" {
					c = parity(t)
				}
				testSgemm(t, c, tr[0], tr[1], 5, 7, 3)
			})
		}
	}
}

// testSgemm checks C = 0.75 op(A) op(B) + 0.5 C, column-major, with padded leading dimensions.
func testSgemm(t *testing.T, c *Context, ta, tb bool, m, n, k int) {
	r := rand.New(rand.NewPCG(uint64(m), uint64(n)))
	ar, ac := m, k // A as stored: ar x ac
	if ta {
		ar, ac = k, m
	}
	br, bc := k, n
	if tb {
		br, bc = n, k
	}
	lda, ldb, ldc := ar+2, br+1, m+3
	a, b, cc := randVec(r, lda*ac), randVec(r, ldb*bc), randVec(r, ldc*n)
	opA := func(i, l int) float64 {
		if ta {
			return float64(a[l+i*lda])
		}
		return float64(a[i+l*lda])
	}
	opB := func(l, j int) float64 {
		if tb {
			return float64(b[j+l*ldb])
		}
		return float64(b[l+j*ldb])
	}
	want := widen(cc)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for l := 0; l < k; l++ {
				s += opA(i, l) * opB(l, j)
			}
			want[i+j*ldc] = 0.75*s + 0.5*float64(cc[i+j*ldc])
		}
	}
	ab, bb, cb := upload(t, c, a), upload(t, c, b), upload(t, c, cc)
	must(t, c.Sgemm(ta, tb, m, n, k, 0.75, ab.Ptr(), lda, bb.Ptr(), ldb, 0.5, cb.Ptr(), ldc))
	near(t, "C", download(t, cb), want, 1e-5, 1e-5)
}

// The row-major dense layer of the doc comment: Y (N x O) = X (N x D) W^T, W stored O x D.
func TestSgemmRowMajorDense(t *testing.T) {
	c := parity(t)
	const N, D, O = 4, 6, 3
	r := rand.New(rand.NewPCG(10, 11))
	x, w := randVec(r, N*D), randVec(r, O*D)
	xb, wb, yb := upload(t, c, x), upload(t, c, w), upload(t, c, make([]float32, N*O))
	must(t, c.Sgemm(true, false, O, N, D, 1, wb.Ptr(), D, xb.Ptr(), D, 0, yb.Ptr(), O))
	want := make([]float64, N*O)
	for i := 0; i < N; i++ {
		for o := 0; o < O; o++ {
			for d := 0; d < D; d++ {
				want[i*O+o] += float64(x[i*D+d]) * float64(w[o*D+d])
			}
		}
	}
	near(t, "Y", download(t, yb), want, 1e-5, 1e-5)
}
