package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// rout info always answers, exit status 0, with a last line saying whether a GPU is usable.
func TestInfo(t *testing.T) {
	app := newApp()
	var out bytes.Buffer
	app.Writer = &out
	if err := app.Run([]string{"rout", "info"}); err != nil {
		t.Fatalf("rout info: %v", err)
	}
	text := out.String()
	lines := strings.Split(strings.TrimSpace(text), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(text, "rout ") || !strings.HasPrefix(last, "gpu: ") {
		t.Fatalf("unexpected output:\n%s", text)
	}
	usable := strings.HasPrefix(last, "gpu: usable (device 0: ")
	if !usable && !strings.HasPrefix(last, "gpu: not usable: ") {
		t.Fatalf("last line %q says neither usable nor why not", last)
	}
	checkInfoBuild(t, text, last)
	if os.Getenv("ROUT_REQUIRE_GPU") == "1" && !usable {
		t.Fatalf("ROUT_REQUIRE_GPU=1 but rout info says:\n%s", text)
	}
	t.Logf("rout info:\n%s", text)
}
