package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// kernels are the micro-kernels this CPU can run.
func kernels() []string {
	if haveFMA {
		return []string{"portable", "fma"}
	}
	return []string{"portable"}
}

// withKernel runs f with Kernel set to name.
func withKernel(t testing.TB, name string, f func()) {
	old := Kernel
	Kernel = name
	defer func() { Kernel = old }()
	f()
}

// operand is a rows x cols operand stored at an odd offset with a padded leading dimension,
// so that nothing is aligned and the gaps between rows can be checked afterwards.
type operand struct {
	rows, cols, ld, off int
	s                   []float32
}

const pad = 3

func newMatrix(r *rand.Rand, rows, cols int) operand {
	m := operand{rows: rows, cols: cols, ld: cols + pad, off: 1}
	m.s = make([]float32, m.off+rows*m.ld+pad)
	for i := range m.s {
		m.s[i] = float32(r.NormFloat64())
	}
	return m
}

func (m operand) at(i, j int) float32 { return m.s[m.off+i*m.ld+j] }
func (m operand) data() []float32     { return m.s[m.off:] }

// op returns element (i, j) of op(M): M's (j, i) when t.
func (m operand) op(t bool, i, j int) float32 {
	if t {
		return m.at(j, i)
	}
	return m.at(i, j)
}

type shape struct {
	tA, tB  bool
	m, n, k int
	beta    float32
}

func (s shape) String() string {
	return fmt.Sprintf("tA=%v,tB=%v,%dx%dx%d,beta=%g", s.tA, s.tB, s.m, s.n, s.k, s.beta)
}

// operands makes random A, B and C for s.
func (s shape) operands(r *rand.Rand) (a, b, c operand) {
	if s.tA {
		a = newMatrix(r, s.k, s.m)
	} else {
		a = newMatrix(r, s.m, s.k)
	}
	if s.tB {
		b = newMatrix(r, s.n, s.k)
	} else {
		b = newMatrix(r, s.k, s.n)
	}
	return a, b, newMatrix(r, s.m, s.n)
}

func (s shape) run(a, b, c operand) {
	new(Buffers).Sgemm(s.tA, s.tB, s.m, s.n, s.k, a.data(), a.ld, b.data(), b.ld, s.beta, c.data(), c.ld)
}

// chain is the definition of an element of C: beta*c, then k fused multiply-adds in order.
func (s shape) chain(a, b, c0 operand, i, j int) float32 {
	acc := float32(0)
	if s.beta != 0 {
		acc = s.beta * c0.at(i, j)
	}
	for p := 0; p < s.k; p++ {
		acc = fma32(a.op(s.tA, i, p), b.op(s.tB, p, j), acc)
	}
	return acc
}

// checkReference compares every element of C with a float64 reference, within the error bound
// of k+1 float32 roundings, and checks that the padding around C is untouched.
func checkReference(t *testing.T, s shape, a, b, c0, c operand) {
	t.Helper()
	const u = 0x1p-24
	bad := 0
	for i := 0; i < s.m; i++ {
		for j := 0; j < s.n; j++ {
			ref := float64(s.beta) * float64(c0.at(i, j))
			mag := math.Abs(ref)
			for p := 0; p < s.k; p++ {
				x := float64(a.op(s.tA, i, p)) * float64(b.op(s.tB, p, j))
				ref += x
				mag += math.Abs(x)
			}
			got := float64(c.at(i, j))
			if tol := float64(s.k+2) * u * mag; math.Abs(got-ref) > tol || math.IsNaN(got) {
				if bad++; bad <= 3 {
					t.Errorf("%v: C[%d][%d] = %g, float64 reference %g (tolerance %g)", s, i, j, got, ref, tol)
				}
			}
		}
	}
	for i := range c.s {
		r, col := (i-c.off)/c.ld, (i-c.off)%c.ld
		if i < c.off || r >= s.m || col >= s.n {
			if c.s[i] != c0.s[i] {
				t.Fatalf("%v: element %d outside C changed", s, i)
			}
		}
	}
}

func clone(m operand) operand {
	m.s = append([]float32(nil), m.s...)
	return m
}

// TestSgemmReference runs every transpose and beta 0 and 1 over sizes 1, 7, 17, 63, 64 and 65
// in each dimension, 300 in each dimension beside a few of those, and shapes that cross every
// blocking boundary, against a float64 reference, with both kernels.
func TestSgemmReference(t *testing.T) {
	sizes := []int{1, 7, 17, 63, 64, 65}
	var shapes [][3]int
	for _, m := range sizes {
		for _, n := range sizes {
			for _, k := range sizes {
				shapes = append(shapes, [3]int{m, n, k})
			}
		}
	}
	for _, x := range []int{1, 17, 64, 65} {
		for _, y := range []int{1, 7, 63, 65} {
			shapes = append(shapes, [3]int{300, x, y}, [3]int{x, 300, y}, [3]int{x, y, 300})
		}
	}
	// Several slabs of k (kc), row blocks (mc) and column blocks (nc), with ragged ends.
	shapes = append(shapes, [3]int{250, 270, 290}, [3]int{130, 40, 2*kc + 3}, [3]int{7, nc + 37, 20})
	if testing.Short() {
		shapes = shapes[:60]
	}
	for _, kern := range kernels() {
		withKernel(t, kern, func() {
			r := rand.New(rand.NewPCG(1, 2))
			for _, d := range shapes {
				for _, tA := range []bool{false, true} {
					for _, tB := range []bool{false, true} {
						for _, beta := range []float32{0, 1} {
							s := shape{tA, tB, d[0], d[1], d[2], beta}
							a, b, c0 := s.operands(r)
							c := clone(c0)
							s.run(a, b, c)
							checkReference(t, s, a, b, c0, c)
						}
					}
				}
			}
		})
	}
}

// TestSgemmChain checks every element bit for bit against its definition (beta*c, then k
// float32 FMAs in order), with both kernels: so the kernels agree, and an element's bits do not
// depend on m, n or its place in a tile.
func TestSgemmChain(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, kern := range kernels() {
		withKernel(t, kern, func() {
			for _, s := range []shape{
				{false, false, 13, 37, 300, 0}, {true, false, 65, 17, 9, 1}, {false, true, 7, 70, 513, 1},
				{true, true, 19, 33, 64, 0.5}, {false, false, 1, 1, 1, 0}, {false, false, 3, 2, 0, 2},
			} {
				a, b, c0 := s.operands(r)
				c := clone(c0)
				s.run(a, b, c)
				for i := 0; i < s.m; i++ {
					for j := 0; j < s.n; j++ {
						if got, want := c.at(i, j), s.chain(a, b, c0, i, j); math.Float32bits(got) != math.Float32bits(want) {
							t.Fatalf("%s: %v: C[%d][%d] = %g, its FMA chain gives %g", kern, s, i, j, got, want)
						}
					}
				}
			}
		})
	}
}

// TestSgemmSubproducts: a row (or column) of a wide and tall product equals the same row
// computed alone, bit for bit.
func TestSgemmSubproducts(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, kern := range kernels() {
		withKernel(t, kern, func() {
			const m, n, k = 70, 200, 333
			a, b := newMatrix(r, m, k), newMatrix(r, k, n)
			full := make([]float32, m*n)
			new(Buffers).Sgemm(false, false, m, n, k, a.data(), a.ld, b.data(), b.ld, 0, full, n)
			for _, i := range []int{0, 5, 6, 33, 69} {
				row := make([]float32, n)
				new(Buffers).Sgemm(false, false, 1, n, k, a.data()[i*a.ld:], a.ld, b.data(), b.ld, 0, row, n)
				for j := range row {
					if math.Float32bits(row[j]) != math.Float32bits(full[i*n+j]) {
						t.Fatalf("%s: row %d alone differs at column %d: %g, inside the product %g", kern, i, j, row[j], full[i*n+j])
					}
				}
			}
			for _, j := range []int{0, 15, 16, 199} {
				col := make([]float32, m)
				new(Buffers).Sgemm(false, false, m, 1, k, a.data(), a.ld, b.data()[j:], b.ld, 0, col, 1)
				for i := range col {
					if math.Float32bits(col[i]) != math.Float32bits(full[i*n+j]) {
						t.Fatalf("%s: column %d alone differs at row %d", kern, j, i)
					}
				}
			}
		})
	}
}

// TestSgemmPrepacked: a product from an A packed beforehand, reused across several B (and
// repacked for another shape in the same PackedA), is Sgemm's bit for bit, across kc slabs and
// mc blocks, with either transpose and beta.
func TestSgemmPrepacked(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, kern := range kernels() {
		withKernel(t, kern, func() {
			var pa PackedA
			var buf Buffers
			for _, s := range []shape{
				{tA: false, tB: false, m: 250, n: 40, k: 600, beta: 0},
				{tA: true, tB: true, m: 130, n: 33, k: 257, beta: 1},
				{tA: true, tB: false, m: 7, n: 17, k: 5, beta: 0},
				{tA: false, tB: true, m: 121, n: 65, k: 256, beta: 1},
			} {
				a, _, _ := s.operands(r)
				pa.Pack(s.tA, s.m, s.k, a.data(), a.ld)
				for range 2 {
					_, b, c := s.operands(r)
					want := clone(c)
					s.run(a, b, want)
					buf.SgemmPrepacked(&pa, s.n, buf.Matrix(s.tB, s.k, s.n, b.data(), b.ld), s.beta, c.data(), c.ld)
					for i := range c.s {
						if math.Float32bits(c.s[i]) != math.Float32bits(want.s[i]) {
							t.Fatalf("%s %s: element %d: %g, Sgemm gives %g", kern, s, i, c.s[i], want.s[i])
						}
					}
				}
			}
		})
	}
}

// TestSgemmBetaZeroIgnoresC: with beta 0, C's old values (even NaN) do not leak in.
func TestSgemmBetaZeroIgnoresC(t *testing.T) {
	for _, kern := range kernels() {
		withKernel(t, kern, func() {
			c := []float32{float32(math.NaN()), float32(math.Inf(1)), 7}
			new(Buffers).Sgemm(false, false, 1, 3, 1, []float32{2}, 1, []float32{1, 2, 3}, 3, 0, c, 3)
			if c[0] != 2 || c[1] != 4 || c[2] != 6 {
				t.Fatalf("%s: got %v, want [2 4 6]", kern, c)
			}
		})
	}
}

func TestSgemmBadShapes(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"short C", func() {
			new(Buffers).Sgemm(false, false, 2, 2, 1, make([]float32, 2), 1, make([]float32, 2), 2, 0, make([]float32, 3), 2)
		}},
		{"short A", func() {
			new(Buffers).Sgemm(false, false, 2, 2, 2, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		}},
		{"small ld", func() {
			new(Buffers).Sgemm(false, false, 2, 2, 2, make([]float32, 4), 1, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			tc.f()
		}()
	}
}

func TestPickKernel(t *testing.T) {
	if got := pickKernel("portable"); got != "portable" {
		t.Errorf("ROUT_GEMM=portable picks %q", got)
	}
	want := "portable"
	if haveFMA {
		want = "fma"
	}
	if got := pickKernel(""); got != want {
		t.Errorf("ROUT_GEMM unset picks %q, want %q", got, want)
	}
	defer func() {
		if r := recover(); r == nil || !contains(fmt.Sprint(r), "ROUT_GEMM") {
			t.Errorf("ROUT_GEMM=avx512: got %v, want a panic naming ROUT_GEMM", r)
		}
	}()
	pickKernel("avx512")
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// FuzzSgemm checks small products built from the fuzzer's bytes bit for bit against their FMA
// chains, with both kernels.
func FuzzSgemm(f *testing.F) {
	f.Add(uint8(7), uint8(17), uint8(5), uint8(3), []byte("some bytes for the operands"))
	f.Add(uint8(1), uint8(1), uint8(0), uint8(0), []byte{1})
	f.Fuzz(func(t *testing.T, m, n, k, flags uint8, data []byte) {
		s := shape{flags&1 != 0, flags&2 != 0, int(m%40) + 1, int(n%40) + 1, int(k % 40), float32(flags >> 2 & 1)}
		next := 0
		val := func() float32 { // int16s scaled by 2^-10: sums of products need rounding
			if len(data) < 2 {
				return 1
			}
			v := int16(uint16(data[next%len(data)]) | uint16(data[(next+1)%len(data)])<<8)
			next += 2
			return float32(v) * 0x1p-10
		}
		r := rand.New(rand.NewPCG(uint64(len(data)), 0))
		a, b, c0 := s.operands(r)
		for _, mat := range []operand{a, b, c0} {
			for i := range mat.s {
				mat.s[i] = val()
			}
		}
		for _, kern := range kernels() {
			withKernel(t, kern, func() {
				c := clone(c0)
				s.run(a, b, c)
				for i := 0; i < s.m; i++ {
					for j := 0; j < s.n; j++ {
						if got, want := c.at(i, j), s.chain(a, b, c0, i, j); math.Float32bits(got) != math.Float32bits(want) {
							t.Fatalf("%s: %v: C[%d][%d] = %g, its FMA chain gives %g", kern, s, i, j, got, want)
						}
					}
				}
			})
		}
	})
}
