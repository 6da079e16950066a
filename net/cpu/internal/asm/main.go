// Command asm generates the AVX assembly of the CPU backend with avo: package gemm's
// micro-kernel and moves (-set gemm) and package vec's elementwise loops (-set vec). It is its
// own module so that avo stays out of rout's module graph; run it through `go generate` in
// those packages.
package main

import (
	"flag"
	"fmt"
	"os"

	. "github.com/mmcloughlin/avo/build"
)

func main() {
	set := flag.String("set", "", "which package's functions to generate: gemm or vec")
	flag.Parse()
	sets := map[string]func(){"gemm": gemmSet, "vec": vecSet}
	gen, ok := sets[*set]
	if !ok {
		fmt.Fprintf(os.Stderr, "asm: -set %q: want gemm or vec\n", *set)
		os.Exit(2)
	}
	ConstraintExpr("amd64")
	gen()
	Generate()
}
