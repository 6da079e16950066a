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
	src, err := source()
	if err != nil {
		return err
	}
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

// source finds cudnn/testdata/mockcuda.c from the working folder (a test runs in its package's
// folder) up to the module's root. Not from the source file's recorded path: test binaries built
// with -trimpath (scripts/gpu-check.sh) record none that exists.
func source() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("standin: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			src := filepath.Join(dir, "cudnn", "testdata", "mockcuda.c")
			if _, err := os.Stat(src); err != nil {
				return "", fmt.Errorf("standin: the stand-in's source: %w", err)
			}
			return src, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("standin: no go.mod above the working folder, so no cudnn/testdata/mockcuda.c")
		}
		dir = parent
	}
}

// Env is the environment of a child process that loads the stand-in built in dir and requires
// a GPU (ROUT_REQUIRE_GPU=1), so that its GPU tests fail rather than skip.
func Env(dir string) []string {
	return append(os.Environ(), "LD_LIBRARY_PATH="+dir, "ROUT_REQUIRE_GPU=1", "ROUT_CUDA_LIBS=")
}
