package gemm

// packAsm says whether the AVX packers (packB16T, packA6) can run: they need AVX, which the
// FMA kernel needs too.
var packAsm = haveFMA
