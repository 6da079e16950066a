package gpu

import (
	"math"
	"testing"

	"rout/kernels"
	"rout/net"
)

// TestTableWords checks the device layout of a filter table field by field.
func TestTableWords(t *testing.T) {
	ft := net.NewFilterTable([]net.FilterGroup{
		{Name: "a", Layer: 3, Weight: 10, Bias: 70, Filters: 2, FilterLen: 30, Bound: 0.01},
		{Name: "b", Layer: 9, Weight: 100, Bias: -1, Filters: 3, FilterLen: 5, Bound: 0.25},
	})
	w, err := tableWords(ft)
	if err != nil {
		t.Fatal(err)
	}
	G := kernels.GroupWords
	if len(w) != 2*G+5 {
		t.Fatalf("%d words, want %d", len(w), 2*G+5)
	}
	want := map[int]int32{
		kernels.GWeight: 10, kernels.GBias: 70, kernels.GFilters: 2, kernels.GLen: 30, kernels.GLayer: 3, kernels.GFirst: 0,
		G + kernels.GWeight: 100, G + kernels.GBias: -1, G + kernels.GFilters: 3, G + kernels.GLen: 5, G + kernels.GLayer: 9, G + kernels.GFirst: 2,
	}
	for i, v := range want {
		if w[i] != v {
			t.Errorf("word %d is %d, want %d", i, w[i], v)
		}
	}
	if math.Float32frombits(uint32(w[kernels.GBound])) != 0.01 || math.Float32frombits(uint32(w[G+kernels.GBound])) != 0.25 {
		t.Errorf("bounds %#x %#x", w[kernels.GBound], w[G+kernels.GBound])
	}
	for f, g := range []int32{0, 0, 1, 1, 1} {
		if w[2*G+f] != g {
			t.Errorf("filter %d in group %d, want %d", f, w[2*G+f], g)
		}
	}
	bad := net.NewFilterTable([]net.FilterGroup{{Name: "huge", Weight: 1 << 30, Filters: 4, FilterLen: 1 << 29, Bias: -1}})
	if _, err := tableWords(bad); err == nil {
		t.Error("a group beyond 2^31 elements was accepted")
	}
}
