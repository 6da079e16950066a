//go:build !nocuda

package cudnn

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "rout_cuda.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"
)

// EnvLibs names the environment variable with extra folders (colon-separated) to search for the
// CUDA libraries when the dynamic loader's own path does not find them.
const EnvLibs = "ROUT_CUDA_LIBS"

// standardDirs are the folders searched after the loader path and ROUT_CUDA_LIBS.
var standardDirs = []string{
	"/usr/local/cuda/lib64",
	"/usr/local/cuda/targets/x86_64-linux/lib",
	"/usr/local/cuda-13.0/targets/x86_64-linux/lib",
	"/usr/local/cuda-13/targets/x86_64-linux/lib",
	"/usr/local/cuda-12/targets/x86_64-linux/lib",
	"/usr/lib/x86_64-linux-gnu",
	"/usr/lib64",
	"/usr/lib",
	"/usr/lib/wsl/lib",
}

// libSpec describes one of the four libraries.
type libSpec struct {
	id    C.int
	key   string   // "cuda", "cudnn", "cublas", "nvrtc"
	what  string   // for messages
	names []string // file names, preferred first
	// companions are glob patterns of libraries the main one opens by name (cuDNN's
	// sub-libraries, cuBLASLt, NVRTC's builtins). When the main library is found in a folder the
	// loader does not search, they are opened from that folder first, so that its by-name opens
	// find them already loaded.
	companions []string
}

var specs = [...]libSpec{
	{id: C.RC_LIB_CUDA, key: "cuda", what: "the NVIDIA driver's CUDA library", names: []string{"libcuda.so.1"}},
	{id: C.RC_LIB_CUDNN, key: "cudnn", what: "cuDNN 9", names: []string{"libcudnn.so.9"},
		companions: []string{"libcudnn_graph.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9", "libcudnn_engines_*.so.9", "libcudnn_heuristic.so.9", "libcudnn_adv.so.9"}},
	{id: C.RC_LIB_CUBLAS, key: "cublas", what: "cuBLAS", names: []string{"libcublas.so.13", "libcublas.so.12"},
		companions: []string{"libcublasLt.so.13", "libcublasLt.so.12"}},
	{id: C.RC_LIB_NVRTC, key: "nvrtc", what: "NVRTC", names: []string{"libnvrtc.so.13", "libnvrtc.so.12"},
		companions: []string{"libnvrtc-builtins.so.*"}},
}

// library is the load state of one library. dlopen is process-wide, so this state is too: each
// library is opened at most once per process.
type library struct {
	once sync.Once
	path string
	err  error
	// graphErr says why cuDNN's graph API (for cuDNN) or the driver's CUDA graphs (for libcuda)
	// could not be resolved; nil when they were.
	graphErr error
}

var loaded [len(specs)]library

// Load opens libcuda, libcudnn, libcublas and libnvrtc and resolves every symbol rout uses. It is
// safe to call many times; the work is done once per process. The error names each library that
// could not be loaded and every path tried.
func Load() error {
	var errs []error
	for i := range specs {
		if err := loadLib(i); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// LibraryPath reports the file a library ("cuda", "cudnn", "cublas", "nvrtc") was loaded from,
// or the error that prevented it. It loads the library if needed.
func LibraryPath(key string) (string, error) {
	for i, s := range specs {
		if s.key == key {
			err := loadLib(i)
			return loaded[i].path, err
		}
	}
	return "", fmt.Errorf("cudnn: unknown library %q", key)
}

func loadLib(i int) error {
	l := &loaded[i]
	l.once.Do(func() {
		s := specs[i]
		h, path, err := openLibrary(s, os.Getenv(EnvLibs), standardDirs)
		if err != nil {
			l.err = err
			return
		}
		if missing := C.rc_resolve(s.id, h); missing != nil {
			l.err = fmt.Errorf("cudnn: %s (%s): symbol %s not found; the library is too old for rout", path, s.what, C.GoString(missing))
			return
		}
		l.path = path
		if p := C.GoString(C.rc_dlpath(s.id)); p != "" {
			l.path = p
		}
		switch s.id {
		case C.RC_LIB_CUDNN:
			if missing := C.rc_resolve(C.RC_LIB_CUDNN_GRAPH, h); missing != nil {
				l.graphErr = fmt.Errorf("cudnn: %s has no graph API (symbol %s not found), which GraphConv needs", l.path, C.GoString(missing))
			}
		case C.RC_LIB_CUDA:
			if missing := C.rc_resolve(C.RC_LIB_CUDA_GRAPH, h); missing != nil {
				l.graphErr = fmt.Errorf("cudnn: %s has no CUDA graph capture (symbol %s not found), which step graphs need", l.path, C.GoString(missing))
			}
		}
	})
	return l.err
}

// GraphAPI reports why cuDNN's graph API (Options.GraphConv) is not usable, or nil. Beyond the
// symbols it creates one descriptor, which loads the graph sub-library (libcudnn_graph) that
// cuDNN opens only when first needed.
func GraphAPI() error {
	if err := need(libCUDNN); err != nil {
		return err
	}
	if err := loaded[libCUDNN].graphErr; err != nil {
		return err
	}
	d, err := newBdesc(C.RC_CUDNN_BACKEND_TENSOR_DESCRIPTOR, "a first tensor descriptor")
	if err != nil {
		return fmt.Errorf("cudnn: graph API: %w", err)
	}
	d.close()
	return nil
}

// StepGraphAPI reports why the driver's CUDA graphs (Context.RunStep) are not usable, or nil.
func StepGraphAPI() error {
	if err := need(libCUDA); err != nil {
		return err
	}
	return loaded[libCUDA].graphErr
}

// need loads the libraries given by index and returns the first error.
func need(libs ...int) error {
	for _, i := range libs {
		if err := loadLib(i); err != nil {
			return err
		}
	}
	return nil
}

const (
	libCUDA = iota
	libCUDNN
	libCUBLAS
	libNVRTC
)

// candidates lists where to look for a library, in order: each bare name (the dynamic loader's
// own search: LD_LIBRARY_PATH, the ld.so cache, RUNPATH), then each name in each folder of
// envDirs (colon-separated), then in each of stdDirs.
func candidates(names []string, envDirs string, stdDirs []string) []string {
	out := append([]string(nil), names...)
	var dirs []string
	for _, d := range filepath.SplitList(envDirs) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	dirs = append(dirs, stdDirs...)
	for _, d := range dirs {
		for _, n := range names {
			out = append(out, filepath.Join(d, n))
		}
	}
	return out
}

// openLibrary opens the first loadable candidate of s. The error lists every path tried and why
// each failed.
func openLibrary(s libSpec, envDirs string, stdDirs []string) (unsafe.Pointer, string, error) {
	var tried []string
	for _, p := range candidates(s.names, envDirs, stdDirs) {
		bare := !strings.Contains(p, "/")
		if !bare {
			if _, err := os.Stat(p); err != nil {
				tried = append(tried, p+" (no such file)")
				continue
			}
			preloadCompanions(filepath.Dir(p), s.companions)
		}
		h, err := dlopen(p, false)
		if err == nil {
			return h, p, nil
		}
		if bare {
			tried = append(tried, p+" (dynamic loader path: "+err.Error()+")")
		} else {
			tried = append(tried, p+" ("+err.Error()+")")
		}
	}
	return nil, "", fmt.Errorf("cudnn: cannot load %s (%s); tried:\n  %s\nset %s to the folder that holds it, or add that folder to LD_LIBRARY_PATH",
		s.names[0], s.what, strings.Join(tried, "\n  "), EnvLibs)
}

// preloadCompanions opens the libraries matching patterns in dir, best effort: a companion that
// does not load here makes the main library fail later with its own, clearer message. Several
// passes let companions that depend on each other load in any order.
func preloadCompanions(dir string, patterns []string) {
	var files []string
	for _, pat := range patterns {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		files = append(files, m...)
	}
	for pass := 0; pass < 3 && len(files) > 0; pass++ {
		var left []string
		for _, f := range files {
			if _, err := dlopen(f, true); err != nil {
				left = append(left, f)
			}
		}
		if len(left) == len(files) {
			return
		}
		files = left
	}
}

// dlopen opens a library; lazy defers symbol binding (for the large companions).
func dlopen(path string, lazy bool) (unsafe.Pointer, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var buf [512]C.char
	l := C.int(0)
	if lazy {
		l = 1
	}
	h := C.rc_dlopen(cpath, l, &buf[0], C.size_t(len(buf)))
	if h == nil {
		return nil, errors.New(C.GoString(&buf[0]))
	}
	return h, nil
}
