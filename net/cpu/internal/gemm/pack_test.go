package gemm

import (
	"fmt"
	"math"
	"testing"
)

// TestPackHelpers holds PackStrip and SpreadRow, which callers use to build PackB's panels, to
// their definitions with both kernels (the FMA kernel's go through the AVX packers): every
// element of the panel written, nothing outside it touched, at odd offsets and lengths around
// the 8-column blocks and 16-column strips.
func TestPackHelpers(t *testing.T) {
	for _, kern := range kernels() {
		withKernel(t, kern, func() {
			for _, kp := range []int{1, 7, 8, 9, 16, 17, 64, 255} {
				// PackStrip: 16 rows of kp, ld apart, at an odd offset.
				ld := kp + 3
				src := make([]float32, 1+15*ld+kp+5)
				for i := range src {
					src[i] = float32(i) + 0.5
				}
				dst := make([]float32, Strip*kp+2)
				for i := range dst {
					dst[i] = -1
				}
				PackStrip(dst[1:1+Strip*kp], src[1:], ld, kp)
				for p := 0; p < kp; p++ {
					for j := 0; j < Strip; j++ {
						if got, want := dst[1+p*Strip+j], src[1+j*ld+p]; got != want {
							t.Fatalf("%s: PackStrip kp %d: dst[%d*16+%d] = %v, want %v", kern, kp, p, j, got, want)
						}
					}
				}
				if dst[0] != -1 || dst[len(dst)-1] != -1 {
					t.Fatalf("%s: PackStrip kp %d wrote outside its panel", kern, kp)
				}
				// SpreadRow: rows of nj columns into a panel of kp-row strips.
				for _, nj := range []int{1, 15, 16, 17, 33, 64, 70} {
					strips := (nj + Strip - 1) / Strip
					panel := make([]float32, strips*Strip*kp+2)
					for i := range panel {
						panel[i] = -1
					}
					for p := 0; p < kp; p++ {
						row := make([]float32, nj)
						for j := range row {
							row[j] = float32(p*1000 + j + 1)
						}
						SpreadRow(panel[1:1+strips*Strip*kp], row, p, kp)
					}
					name := fmt.Sprintf("%s: SpreadRow kp %d nj %d", kern, kp, nj)
					for s := 0; s < strips; s++ {
						for p := 0; p < kp; p++ {
							for l := 0; l < Strip; l++ {
								want := float32(0)
								if j := s*Strip + l; j < nj {
									want = float32(p*1000 + j + 1)
								}
								if got := panel[1+s*Strip*kp+p*Strip+l]; got != want {
									t.Fatalf("%s: strip %d row %d lane %d = %v, want %v", name, s, p, l, got, want)
								}
							}
						}
					}
					if panel[0] != -1 || panel[len(panel)-1] != -1 {
						t.Fatalf("%s wrote outside its panel", name)
					}
				}
			}
		})
	}
}

// TestAddRows holds AddRows to the Go loop's bits with both kernels, for run lengths around its
// 8-wide steps, and checks that it touches nothing between or after the rows.
func TestAddRows(t *testing.T) {
	for _, kern := range kernels() {
		withKernel(t, kern, func() {
			for _, n := range []int{1, 5, 7, 8, 9, 16, 28, 31} {
				const rows, ds, ss = 4, 40, 33
				dst := make([]float32, rows*ds+1)
				src := make([]float32, rows*ss)
				for i := range dst {
					dst[i] = float32(i)*0.7 + 1/float32(2*i+1)
				}
				for i := range src {
					src[i] = 1/float32(i+3) + 1e-3*float32(i)
				}
				want := append([]float32(nil), dst...)
				for r := 0; r < rows; r++ {
					for i := 0; i < n; i++ {
						want[r*ds+i] += src[r*ss+i]
					}
				}
				AddRows(dst, src, n, rows, ds, ss)
				for i := range want {
					if math.Float32bits(dst[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s: n %d: dst[%d] = %v, want %v", kern, n, i, dst[i], want[i])
					}
				}
			}
		})
	}
}
