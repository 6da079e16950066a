package gpu

import (
	"fmt"
	"math"

	"rout/kernels"
	"rout/net"
)

// tableWords lays out a FilterTable as kernels/filters.cu reads it: kernels.GroupWords int32
// words per group, then each filter's group index. The GPU backend uploads it once per table.
func tableWords(ft *net.FilterTable) ([]int32, error) {
	words := make([]int32, kernels.GroupWords*len(ft.Groups), kernels.GroupWords*len(ft.Groups)+ft.Filters)
	first := 0
	fits := func(v int) bool { return v >= -1 && v <= math.MaxInt32 }
	for gi, g := range ft.Groups {
		end := g.Weight + g.Filters*g.FilterLen
		if g.Weight < 0 || g.Filters < 0 || g.FilterLen < 0 || !fits(end) || !fits(g.Bias+g.Filters) || !fits(first+g.Filters) {
			return nil, fmt.Errorf("gpu: filter group %q (weights at %d, bias at %d, %d x %d) does not fit the device table's 32-bit offsets",
				g.Name, g.Weight, g.Bias, g.Filters, g.FilterLen)
		}
		w := words[kernels.GroupWords*gi:]
		w[kernels.GWeight] = int32(g.Weight)
		w[kernels.GBias] = int32(g.Bias)
		if g.Bias < 0 {
			w[kernels.GBias] = -1
		}
		w[kernels.GFilters] = int32(g.Filters)
		w[kernels.GLen] = int32(g.FilterLen)
		w[kernels.GLayer] = int32(g.Layer)
		w[kernels.GFirst] = int32(first)
		w[kernels.GBound] = int32(math.Float32bits(g.Bound))
		for k := 0; k < g.Filters; k++ {
			words = append(words, int32(gi))
		}
		first += g.Filters
	}
	if first != ft.Filters {
		return nil, fmt.Errorf("gpu: filter table says %d filters, its groups hold %d", ft.Filters, first)
	}
	return words, nil
}
