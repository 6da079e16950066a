// Package memtest lets a test run part of itself in a subprocess and measure that process's
// peak memory (its maximum resident set size, from rusage), so that a test can assert that a
// hostile input (a decompression bomb, a file claiming gigabytes) was refused without the
// memory it claims being spent. It is for tests only.
package memtest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// childEnv marks the subprocess; its value is the test it runs.
const childEnv = "ROUT_MEMTEST_CHILD"

// Child reports whether this process is the subprocess Run started for the test t: the test
// then does the measured work (printing what the parent checks) and returns.
func Child(t *testing.T) bool { return os.Getenv(childEnv) == t.Name() }

// Run runs the test t again in a subprocess of the test binary, with env added to its
// environment, and returns its combined output and peak resident memory in bytes. A test
// binary that cannot be rerun, or a system without rusage, skips the test.
func Run(t *testing.T, env ...string) (output string, peak int64) {
	t.Helper()
	if os.Getenv(childEnv) != "" {
		// A subprocess must not start another: the test did not check Child where it runs.
		t.Fatalf("memtest.Run in the subprocess of %s: call Child(t) in the same (sub)test first", os.Getenv(childEnv))
	}
	var pattern []string
	for _, part := range strings.Split(t.Name(), "/") {
		pattern = append(pattern, "^"+regexp.QuoteMeta(part)+"$")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a hang is a failure, not a stuck CI
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run="+strings.Join(pattern, "/"), "-test.count=1", "-test.v")
	cmd.Env = append(append(os.Environ(), childEnv+"="+t.Name()), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if cmd.ProcessState == nil {
		t.Fatalf("running %s in a subprocess: %v", t.Name(), err)
	}
	if err != nil {
		t.Fatalf("subprocess of %s failed: %v\n%s", t.Name(), err, out.String())
	}
	peak, ok := maxRSS(cmd.ProcessState)
	if !ok {
		t.Skip("no rusage on this system: the peak memory cannot be measured")
	}
	return out.String(), peak
}
