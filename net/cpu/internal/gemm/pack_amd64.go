package gemm

// haveAVX says whether the AVX moves (packB16T, packA6, move16, addRows) can run: they need AVX, which
// the FMA kernel needs too.
var haveAVX = haveFMA
