package kernels

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"rout/rng"
)

// TestNames checks that Names lists exactly the kernels Source defines, in order.
func TestNames(t *testing.T) {
	re := regexp.MustCompile(`extern "C" __global__ void ([a-z0-9_]+)\(`)
	var got []string
	for _, m := range re.FindAllStringSubmatch(Source(), -1) {
		got = append(got, m[1])
	}
	if !slices.Equal(got, Names) {
		t.Fatalf("kernels in Source: %v\nNames: %v", got, Names)
	}
}

// TestSourceSelfContained checks that Source is one translation unit: every local header is
// inlined once, before the kernels, and no kernel file includes anything else.
func TestSourceSelfContained(t *testing.T) {
	src := Source()
	if strings.Contains(src, `#include "`) {
		t.Fatal(`Source still has a local #include`)
	}
	for _, h := range headers {
		if n := strings.Count(src, "// ---- "+h+" ----"); n != 1 {
			t.Fatalf("header %s appears %d times", h, n)
		}
	}
	for _, name := range Sources {
		f, err := File(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(f, "\n") {
			if strings.HasPrefix(line, "#include") && !strings.Contains(line, `.cuh"`) {
				t.Errorf("%s: %q: kernel files include only rout's own headers", name, line)
			}
		}
	}
}

// TestGroupLayout checks the Go view of a filter table's words against filters.cu's defines.
func TestGroupLayout(t *testing.T) {
	f, err := File("filters.cu")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"ROUT_GROUP_WORDS": GroupWords, "ROUT_G_WEIGHT": GWeight, "ROUT_G_BIAS": GBias,
		"ROUT_G_FILTERS": GFilters, "ROUT_G_LEN": GLen, "ROUT_G_LAYER": GLayer, "ROUT_G_FIRST": GFirst,
		"ROUT_G_BOUND": GBound}
	for name, v := range want {
		m := regexp.MustCompile(`(?m)^#define ` + name + ` (\d+)`).FindStringSubmatch(f)
		if m == nil {
			t.Errorf("filters.cu does not define %s", name)
			continue
		}
		if got, _ := strconv.Atoi(m[1]); got != v {
			t.Errorf("filters.cu: %s is %d, Go says %d", name, got, v)
		}
	}
}

// TestStreamAugment checks batch.cu's copy of rng.StreamAugment.
func TestStreamAugment(t *testing.T) {
	f, err := File("batch.cu")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("#define rout_stream_augment %#xu", rng.StreamAugment)
	if !strings.Contains(strings.ToLower(f), want) {
		t.Fatalf("batch.cu does not contain %q (case aside)", want)
	}
}

// TestCPUTwins checks that every kernel file's header names its CPU twin, the net/cpu file the
// GPU backend is tested against, and that the file exists.
func TestCPUTwins(t *testing.T) {
	twin := regexp.MustCompile(`(?m)^// CPU twin: (net/cpu/[a-z0-9_]+\.go)\b`)
	for _, name := range Sources {
		f, err := File(name)
		if err != nil {
			t.Fatal(err)
		}
		header, _, _ := strings.Cut(f, "\n#include")
		m := twin.FindStringSubmatch(header)
		if m == nil {
			t.Errorf("%s: the header comment does not name its CPU twin (// CPU twin: net/cpu/NAME.go)", name)
			continue
		}
		if _, err := os.Stat(filepath.Join("..", m[1])); err != nil {
			t.Errorf("%s: CPU twin %s: %v", name, m[1], err)
		}
	}
}
