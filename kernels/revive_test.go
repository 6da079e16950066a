package kernels

import (
	"regexp"
	"strconv"
	"testing"
)

// TestReviveLayout checks revive.cu's table layout against the Go constants net/gpu writes it
// with, and its copy of filters.cu's words against filters.cu's.
func TestReviveLayout(t *testing.T) {
	f, err := File("revive.cu")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"ROUT_GROUP_WORDS": GroupWords, "ROUT_G_FILTERS": GFilters, "ROUT_G_FIRST": GFirst,
		"ROUT_RV_WORDS": RVWords, "ROUT_RV_FIRST": RVFirst, "ROUT_RV_FILTERS": RVFilters, "ROUT_RV_LINKS": RVLinks,
		"ROUT_RV_LINK0": RVLink0, "ROUT_RV_GAMMA": RVGamma, "ROUT_RV_RUNMEAN": RVRunMean,
		"ROUT_LINK_WORDS": LinkWords, "ROUT_L_WEIGHT": LWeight, "ROUT_L_ROWS": LRows, "ROUT_L_ROWSTRIDE": LRowStride, "ROUT_L_LEN": LLen}
	for name, v := range want {
		m := regexp.MustCompile(`(?m)^#define ` + name + ` (\d+)`).FindStringSubmatch(f)
		if m == nil {
			t.Errorf("revive.cu does not define %s", name)
			continue
		}
		if got, _ := strconv.Atoi(m[1]); got != v {
			t.Errorf("revive.cu: %s is %d, the Go side uses %d", name, got, v)
		}
	}
}
