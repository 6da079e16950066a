package cpu

import (
	"fmt"
	"testing"

	"rout/net"
	"rout/net/cpu/internal/gemm"
)

// TestPatchesPackB checks the im2col packer against the matrix's definition and the Packer
// contract, for both orientations, on every convolution case (padding, strides, kernels larger
// than the image), grouped inputs and sliced tensors, over panels that start and end anywhere.
func TestPatchesPackB(t *testing.T) {
	b := newBackend(t, 1)
	r := newRand(7)
	cases := append([]convCase{
		{3, 4, 14, 14, 2, 5, 5, net.ConvParams{StrideH: 1, StrideW: 1, PadH: 2, PadW: 2, Groups: 2}},
		{2, 2, 7, 7, 3, 3, 3, net.ConvParams{StrideH: 2, StrideW: 1, PadH: 0, PadW: 1}},
	}, convCases...)
	for ci, cc := range cases {
		for _, sliced := range []bool{false, true} {
			ng := cc.p.GroupCount()
			x := randTensor(t, b, r, cc.n, cc.c, cc.h, cc.w, sliced)
			w, err := b.Alloc(cc.k*ng, cc.c/ng, cc.kh, cc.kw)
			if err != nil {
				t.Fatal(err)
			}
			oh, ow := cc.p.OutSize(cc.h, cc.w, cc.kh, cc.kw)
			y, err := b.Alloc(cc.n, cc.k*ng, oh, ow)
			if err != nil {
				t.Fatal(err)
			}
			g := convGeometry("test", x, w, y, cc.p)
			xs := raw(b, x)
			for gr := 0; gr < ng; gr++ {
				n0, s := cc.n/2, cc.n-cc.n/2
				cols := s * g.p
				// want[row][col]: the im2col matrix by its definition.
				want := make([][]float32, g.ckk)
				for row := range want {
					want[row] = make([]float32, cols)
					c, ki, kj := row/(g.kh*g.kw), row/g.kw%g.kh, row%g.kw
					for col := range want[row] {
						si, oy, ox := col/g.p, col%g.p/g.ow, col%g.ow
						ih, iw := oy*g.sh-g.ph+ki, ox*g.sw-g.pw+kj
						if ih >= 0 && ih < g.h && iw >= 0 && iw < g.w {
							want[row][col] = xs[x.Offset+(n0+si)*x.Stride+((gr*g.c+c)*g.h+ih)*g.w+iw]
						}
					}
				}
				for _, tr := range []bool{false, true} {
					rows, ncols := g.ckk, cols // op(B) is rows x ncols
					if tr {
						rows, ncols = cols, g.ckk
					}
					at := func(p, j int) float32 {
						if tr {
							return want[j][p]
						}
						return want[p][j]
					}
					var q patches
					q.reuse(&g, xs, x, n0, s, gr, tr)
					for _, pan := range [][4]int{{0, rows, 0, ncols}, {rows / 3, rows - rows/3, ncols / 2, ncols - ncols/2}, {1, min(rows-1, 5), 3, max(0, min(ncols-3, 19))}} {
						p0, kp, j0, nj := pan[0], pan[1], pan[2], pan[3]
						if kp <= 0 || nj <= 0 {
							continue
						}
						strips := (nj + gemm.Strip - 1) / gemm.Strip
						dst := make([]float32, strips*gemm.Strip*kp)
						for i := range dst {
							dst[i] = 42 // every element must be written
						}
						q.PackB(dst, p0, kp, j0, nj)
						name := fmt.Sprintf("case %d sliced %v group %d t %v panel %v", ci, sliced, gr, tr, pan)
						for st := 0; st < strips; st++ {
							for p := 0; p < kp; p++ {
								for l := 0; l < gemm.Strip; l++ {
									j := st*gemm.Strip + l
									var v float32
									if j < nj {
										v = at(p0+p, j0+j)
									}
									if got := dst[st*gemm.Strip*kp+p*gemm.Strip+l]; got != v {
										t.Fatalf("%s: strip %d row %d lane %d: got %v, want %v", name, st, p, l, got, v)
									}
								}
							}
						}
					}
				}
			}
		}
	}
}
