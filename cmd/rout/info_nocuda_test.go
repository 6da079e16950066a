//go:build nocuda

package main

import (
	"strings"
	"testing"
)

func checkInfoBuild(t *testing.T, text, last string) {
	t.Helper()
	if last != "gpu: not usable: "+errNoGPUBuild+cpuFallback || !strings.Contains(text, "without GPU support") {
		t.Fatalf("a nocuda build must say it has no GPU support:\n%s", text)
	}
}
