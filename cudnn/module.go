//go:build !nocuda

package cudnn

/*
#include <stdlib.h>
#include "rout_cuda.h"
*/
import "C"

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"rout/internal/atomicfile"
	"slices"
	"strings"
	"unsafe"
)

// Program is CUDA C++ source for NVRTC. Kernels must be declared extern "C" __global__ so that
// their names are not mangled, and must not include CUDA headers (NVRTC provides the built-in
// types; the same files are compile-checked by clang in CI).
type Program struct {
	Name    string   // file name, for messages (e.g. "randomout.cu")
	Source  string   // the source text
	Options []string // extra NVRTC options (e.g. "-DBLOCK=256"); the target is added by Compile
}

// Module is loaded device code.
type Module struct {
	c *Context
	m C.rc_CUmodule
	// Target is the NVRTC target the code was built for, e.g. "sm_90" (a cubin) or "compute_90"
	// (PTX the driver finishes for the device).
	Target string
	// Cached tells whether the image came from the on-disk cache (no NVRTC compile ran).
	Cached bool
	// Log is NVRTC's log of the compile (warnings), empty when cached.
	Log string
	// CacheErr is why the compiled image could not be stored in the cache, if it could not.
	// The module works regardless.
	CacheErr error
}

// target is the NVRTC target for the context's device.
type target struct {
	name  string // "sm_90" or "compute_90"
	cubin bool
	nvrtc string // NVRTC version, part of the cache key
}

// kernelTarget picks the device's exact architecture when NVRTC supports it (a cubin, loaded as
// is), else the newest virtual architecture NVRTC supports below it (PTX, compiled by the driver
// at load time).
func (c *Context) kernelTarget() (*target, error) {
	if c.kernelTgt != nil {
		return c.kernelTgt, nil
	}
	ver, err := NVRTCVersion()
	if err != nil {
		return nil, err
	}
	var n C.int
	if err := rtcErr("nvrtcGetNumSupportedArchs", C.rc_nvrtcGetNumSupportedArchs(&n)); err != nil {
		return nil, err
	}
	archs := make([]C.int, max(int(n), 1))
	if err := rtcErr("nvrtcGetSupportedArchs", C.rc_nvrtcGetSupportedArchs(&archs[0])); err != nil {
		return nil, err
	}
	want := c.info.Arch()
	t := &target{nvrtc: ver}
	best := 0
	for _, a := range archs[:n] {
		if int(a) == want {
			t.name, t.cubin = fmt.Sprintf("sm_%d", want), true
			break
		}
		if int(a) < want && int(a) > best {
			best = int(a)
		}
	}
	if t.name == "" {
		if best == 0 {
			return nil, fmt.Errorf("cudnn: NVRTC %s supports no architecture up to the device's sm_%d (supported: %v)", ver, want, archs[:n])
		}
		t.name = fmt.Sprintf("compute_%d", best)
	}
	c.kernelTgt = t
	return t, nil
}

// kernelCacheDir resolves Options.KernelCache.
func kernelCacheDir(opt string) (string, error) {
	switch opt {
	case "off":
		return "", nil
	case "":
		d, err := os.UserCacheDir()
		if err != nil {
			return "", nil // no home folder: compile every time
		}
		return filepath.Join(d, "rout", "kernels"), nil
	}
	return opt, nil
}

// Compile builds p for the context's GPU with NVRTC, or takes the image from the on-disk cache
// (keyed by a hash of the source, name, options, target and NVRTC version), and loads it.
func (c *Context) Compile(p Program) (*Module, error) {
	t, err := c.kernelTarget()
	if err != nil {
		return nil, err
	}
	opts := append([]string{"--gpu-architecture=" + t.name}, p.Options...)
	h := sha256.New()
	for _, s := range append([]string{"rout kernel cache v1", t.nvrtc, t.name, p.Name, p.Source}, opts...) {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	ext := ".ptx"
	if t.cubin {
		ext = ".cubin"
	}
	var path string
	if c.cacheDir != "" {
		path = filepath.Join(c.cacheDir, hex.EncodeToString(h.Sum(nil))+ext)
		if img, err := os.ReadFile(path); err == nil {
			if m, err := c.LoadModule(img); err == nil {
				m.Target, m.Cached = t.name, true
				return m, nil
			}
			// A damaged cache entry: compile again and replace it.
		}
	}
	img, log, err := nvrtcCompile(p, opts, t.cubin)
	if err != nil {
		return nil, err
	}
	m, err := c.LoadModule(img)
	if err != nil {
		return nil, fmt.Errorf("cudnn: loading %s compiled for %s: %w", p.Name, t.name, err)
	}
	m.Target, m.Log = t.name, log
	if path != "" {
		m.CacheErr = writeCache(path, img)
	}
	return m, nil
}

// nvrtcCompile compiles p and returns the cubin or PTX (NUL-terminated) and the log.
func nvrtcCompile(p Program, opts []string, cubin bool) (img []byte, log string, err error) {
	csrc, cname := C.CString(p.Source), C.CString(p.Name)
	defer C.free(unsafe.Pointer(csrc))
	defer C.free(unsafe.Pointer(cname))
	var prog C.rc_nvrtcProgram
	if err := rtcErr("nvrtcCreateProgram", C.rc_nvrtcCreateProgram(&prog, csrc, cname, 0, nil, nil)); err != nil {
		return nil, "", err
	}
	defer C.rc_nvrtcDestroyProgram(&prog)
	copts := make([]*C.char, len(opts))
	for i, o := range opts {
		copts[i] = C.CString(o)
		defer C.free(unsafe.Pointer(copts[i]))
	}
	cerr := rtcErr("nvrtcCompileProgram", C.rc_nvrtcCompileProgram(prog, C.int(len(copts)), &copts[0]))
	var n C.size_t
	if C.rc_nvrtcGetProgramLogSize(prog, &n) == C.RC_NVRTC_SUCCESS && n > 1 {
		buf := make([]byte, n)
		if C.rc_nvrtcGetProgramLog(prog, (*C.char)(unsafe.Pointer(&buf[0]))) == C.RC_NVRTC_SUCCESS {
			log = strings.TrimRight(string(buf[:n-1]), "\n")
		}
	}
	if cerr != nil {
		cerr.(*Error).Detail = fmt.Sprintf("%s (options %s):\n%s", p.Name, strings.Join(opts, " "), log)
		return nil, log, cerr
	}
	if cubin {
		if err := rtcErr("nvrtcGetCUBINSize", C.rc_nvrtcGetCUBINSize(prog, &n)); err != nil {
			return nil, log, err
		}
		img = make([]byte, n)
		err = rtcErr("nvrtcGetCUBIN", C.rc_nvrtcGetCUBIN(prog, (*C.char)(unsafe.Pointer(&img[0]))))
	} else {
		if err := rtcErr("nvrtcGetPTXSize", C.rc_nvrtcGetPTXSize(prog, &n)); err != nil {
			return nil, log, err
		}
		img = make([]byte, n) // the size includes the terminating NUL cuModuleLoadData needs
		err = rtcErr("nvrtcGetPTX", C.rc_nvrtcGetPTX(prog, (*C.char)(unsafe.Pointer(&img[0]))))
	}
	return img, log, err
}

// LoadModule loads a cubin, a fatbin or NUL-terminated PTX (cuModuleLoadData).
func (c *Context) LoadModule(image []byte) (*Module, error) {
	if len(image) == 0 {
		return nil, errors.New("cudnn: LoadModule of an empty image")
	}
	if image[len(image)-1] != 0 && !bytes.HasPrefix(image, []byte("\x7fELF")) {
		image = append(slices.Clip(image), 0) // PTX text without its terminator
	}
	done, err := c.bind()
	if err != nil {
		return nil, err
	}
	defer done()
	m := &Module{c: c}
	if err := cuErr("cuModuleLoadData", C.rc_cuModuleLoadData(&m.m, unsafe.Pointer(&image[0]))); err != nil {
		return nil, err
	}
	return m, nil
}

// Function looks up an extern "C" kernel by name.
func (m *Module) Function(name string) (*Function, error) {
	done, err := m.c.bind()
	if err != nil {
		return nil, err
	}
	defer done()
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	f := &Function{c: m.c, Name: name}
	if err := cuErr("cuModuleGetFunction", C.rc_cuModuleGetFunction(&f.f, m.m, cname)); err != nil {
		err.(*Error).Detail = "kernel " + name
		return nil, err
	}
	return f, nil
}

// Close unloads the module; its functions must not be launched afterwards.
func (m *Module) Close() error {
	if m.m == nil {
		return nil
	}
	m.c.dropStepGraphs() // they may launch its kernels
	done, err := m.c.bind()
	if err != nil {
		return err
	}
	defer done()
	err = cuErr("cuModuleUnload", C.rc_cuModuleUnload(m.m))
	m.m = nil
	return err
}

// Function is a kernel in a loaded module.
type Function struct {
	c    *Context
	f    C.rc_CUfunction
	Name string
}

// MaxThreadsPerBlock is the largest block this kernel can be launched with (it depends on its
// register use).
func (f *Function) MaxThreadsPerBlock() (int, error) {
	done, err := f.c.bind()
	if err != nil {
		return 0, err
	}
	defer done()
	var v C.int
	err = cuErr("cuFuncGetAttribute", C.rc_cuFuncGetAttribute(&v, C.RC_CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, f.f))
	return int(v), err
}

// SetMaxDynamicShared allows launches with up to bytes of dynamic shared memory (needed above
// 48 KiB).
func (f *Function) SetMaxDynamicShared(bytes int) error {
	done, err := f.c.bind()
	if err != nil {
		return err
	}
	defer done()
	return cuErr("cuFuncSetAttribute", C.rc_cuFuncSetAttribute(f.f, C.RC_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, C.int(bytes)))
}

// Dim3 is a grid or block size; a zero field counts as 1.
type Dim3 struct{ X, Y, Z int }

// Blocks is the number of blocks of size per needed to cover n items: ceil(n / per).
func Blocks(n, per int) int { return (n + per - 1) / per }

func (d Dim3) c() (C.uint, C.uint, C.uint) {
	one := func(v int) C.uint {
		if v <= 0 {
			return 1
		}
		return C.uint(v)
	}
	return one(d.X), one(d.Y), one(d.Z)
}

// maxArgs is the most kernel arguments Launch passes.
const maxArgs = 64

// Args are a kernel's arguments in order, each in an 8-byte slot as cuLaunchKernel reads them.
// Build them with the typed methods, which match the kernel's parameter types:
//
//	var a cudnn.Args
//	a.Ptr(x.Ptr()).Ptr(y.Ptr()).Int32(n).Float32(scale)
//
// An Args may be reused (Reset) to launch without allocating.
type Args struct {
	buf []byte
}

func (a *Args) slot(v uint64) *Args {
	a.buf = binary.LittleEndian.AppendUint64(a.buf, v)
	return a
}

// Reset empties the list.
func (a *Args) Reset() *Args { a.buf = a.buf[:0]; return a }

// Len is the number of arguments.
func (a *Args) Len() int { return len(a.buf) / 8 }

// Ptr appends a device pointer (a T* parameter).
func (a *Args) Ptr(p DevicePtr) *Args { return a.slot(uint64(p)) }

// Int32 appends an int parameter.
func (a *Args) Int32(v int32) *Args { return a.slot(uint64(uint32(v))) }

// Uint32 appends an unsigned int parameter.
func (a *Args) Uint32(v uint32) *Args { return a.slot(uint64(v)) }

// Int64 appends a long long parameter.
func (a *Args) Int64(v int64) *Args { return a.slot(uint64(v)) }

// Uint64 appends an unsigned long long parameter.
func (a *Args) Uint64(v uint64) *Args { return a.slot(v) }

// Float32 appends a float parameter.
func (a *Args) Float32(v float32) *Args { return a.slot(uint64(math.Float32bits(v))) }

// Float64 appends a double parameter.
func (a *Args) Float64(v float64) *Args { return a.slot(math.Float64bits(v)) }

// Launch queues the kernel on the context's stream with the given grid, block, dynamic shared
// memory and arguments. It does not wait; a fault shows up at the next Sync or Download.
func (f *Function) Launch(grid, block Dim3, sharedBytes int, args *Args) error {
	n := 0
	var p unsafe.Pointer
	if args != nil && len(args.buf) > 0 {
		n = args.Len()
		p = unsafe.Pointer(&args.buf[0])
	}
	if n > maxArgs {
		return fmt.Errorf("cudnn: kernel %s: %d arguments, at most %d", f.Name, n, maxArgs)
	}
	var argBytes []byte
	if args != nil {
		argBytes = args.buf
	}
	if !f.c.queueLaunch(f, grid, block, sharedBytes, argBytes) {
		return nil
	}
	done, err := f.c.bind()
	if err != nil {
		return err
	}
	defer done()
	gx, gy, gz := grid.c()
	bx, by, bz := block.c()
	if err := cuErr("cuLaunchKernel", C.rc_launch(f.f, gx, gy, gz, bx, by, bz, C.uint(sharedBytes), f.c.stream, p, C.int(n))); err != nil {
		err.(*Error).Detail = fmt.Sprintf("kernel %s grid %v block %v", f.Name, grid, block)
		return err
	}
	return f.c.captured(f, grid, block, sharedBytes, argBytes)
}

// writeCache stores a compiled image in the kernel cache.
func writeCache(path string, img []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("cudnn: kernel cache: %w", err)
	}
	if err := atomicfile.Write(path, img); err != nil {
		return fmt.Errorf("cudnn: kernel cache: %w", err)
	}
	return nil
}
