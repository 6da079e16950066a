//go:build !nocuda

package main

import (
	"strings"
	"testing"
)

// Every library gets a line, with its file and version or the paths tried.
func checkInfoBuild(t *testing.T, text, last string) {
	t.Helper()
	for _, lib := range []string{"cuda", "cudnn", "cublas", "nvrtc"} {
		if !strings.Contains(text, "\n  "+lib+" ") {
			t.Errorf("no line for %s:\n%s", lib, text)
		}
	}
	if strings.Contains(text, "missing: ") && (strings.Contains(text, "tried:") || !strings.Contains(last, "--verbose")) {
		t.Errorf("a missing library's paths tried listed without --verbose, or --verbose not pointed to:\n%s", text)
	}
	if strings.HasPrefix(last, "gpu: not usable") && !strings.Contains(last, "CPU backend") {
		t.Errorf("no usable GPU but no word of the CPU backend:\n%s", text)
	}
	if strings.HasPrefix(last, "gpu: usable") && !strings.Contains(text, "compute capability") {
		t.Errorf("usable GPU without its description:\n%s", text)
	}
}
