package gemm

import "unsafe"

// haveFMA is true on arm64, where every CPU has FMADDS and Go's compiler fuses x*y + z on
// float32 into it (the language lets it; its arm64 back end always does), so plain Go runs the
// micro-kernel at the instruction's speed and with its single rounding.
const haveFMA = true

// kernelFMA runs the 6x16 micro-kernel with fused multiply-adds on tiles tiles down C, one B
// strip against consecutive A strips: see kernelGo for its definition, which the tests hold it
// to bit for bit.
func kernelFMA(k int, a, b, c *float32, ldc int, load bool, tiles int) {
	as := unsafe.Slice(a, tiles*k*mr)
	bs := unsafe.Slice(b, k*nr)
	cs := unsafe.Slice(c, (tiles*mr-1)*ldc+nr)
	for t := 0; t < tiles; t++ {
		tile(k, as[t*k*mr:], bs, cs[t*mr*ldc:], ldc, load)
	}
}

// tile is one tile of kernelFMA.
func tile(k int, as, bs, cs []float32, ldc int, load bool) {
	var acc [mr][nr]float32
	if load {
		for i := range acc {
			copy(acc[i][:], cs[i*ldc:i*ldc+nr])
		}
	}
	for p := 0; p < k; p++ {
		ap := (*[mr]float32)(as[p*mr : p*mr+mr])
		bp := (*[nr]float32)(bs[p*nr : p*nr+nr])
		for i, x := range ap {
			row := &acc[i]
			for j, y := range bp {
				row[j] = x*y + row[j]
			}
		}
	}
	for i := range acc {
		copy(cs[i*ldc:i*ldc+nr], acc[i][:])
	}
}
