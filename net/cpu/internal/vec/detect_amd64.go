package vec

import "golang.org/x/sys/cpu"

// haveAVX says whether the assembly can run: AVX, with the OS saving YMM registers.
var haveAVX = cpu.X86.HasAVX
