// Package standin builds cudnn/testdata/mockcuda.c, the CPU stand-in for libcuda, libcudnn,
// libcublas and libnvrtc, for tests that run rout's GPU code on machines without a GPU. The
// libraries are found through LD_LIBRARY_PATH, which the dynamic loader reads only when a process
// starts, so such tests run their GPU part in a child process (see Env).
package standin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// Build compiles the stand-in into dir under the four library names rout opens, with a C
// compiler ($CC, else cc, gcc or clang, as cgo needs one).
func Build(dir string) error {
	cc := os.Getenv("CC")
	for _, c := range []string{"cc", "gcc", "clang"} {
		if cc != "" {
			break
		}
		if _, err := exec.LookPath(c); err == nil {
			cc = c
		}
	}
	if cc == "" {
		return fmt.Errorf("standin: no C compiler ($CC, cc, gcc or clang) to build the CPU stand-in")
	}
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return fmt.Errorf("standin: cannot locate the stand-in's source")
	}
	src := filepath.Join(filepath.Dir(self), "..", "..", "cudnn", "testdata", "mockcuda.c")
	lib := filepath.Join(dir, "libmockcuda.so")
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", lib, src, "-lm").CombinedOutput(); err != nil {
		return fmt.Errorf("standin: building %s with %s: %v\n%s", src, cc, err, out)
	}
	for _, n := range []string{"libcuda.so.1", "libcudnn.so.9", "libcublas.so.13", "libnvrtc.so.13"} {
		if err := os.Symlink(lib, filepath.Join(dir, n)); err != nil {
			return fmt.Errorf("standin: %w", err)
		}
	}
	return nil
}

// Env is the environment of a child process that loads the stand-in built in dir and requires
// a GPU (ROUT_REQUIRE_GPU=1), so that its GPU tests fail rather than skip.
func Env(dir string) []string {
	return append(os.Environ(), "LD_LIBRARY_PATH="+dir, "ROUT_REQUIRE_GPU=1", "ROUT_CUDA_LIBS=")
}
