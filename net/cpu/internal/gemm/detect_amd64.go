package gemm

import "golang.org/x/sys/cpu"

// haveFMA says whether kernelFMA can run: AVX (with the OS saving YMM registers) and FMA.
var haveFMA = cpu.X86.HasAVX && cpu.X86.HasFMA
