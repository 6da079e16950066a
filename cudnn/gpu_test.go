//go:build !nocuda

package cudnn

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
)

// Contexts shared by the GPU tests (one per mode), created on first use and closed by TestMain.
var (
	testCtxMu sync.Mutex
	testCtxs  = map[Options]*Context{}
	testErr   error
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, c := range testCtxs {
		if err := c.Close(); err != nil && code == 0 {
			os.Stderr.WriteString("closing test context: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

// gpu returns a shared context with options o, or skips the test (fails it when
// ROUT_REQUIRE_GPU=1) when there is no usable GPU.
func gpu(t *testing.T, o Options) *Context {
	t.Helper()
	testCtxMu.Lock()
	defer testCtxMu.Unlock()
	if o.KernelCache == "" {
		o.KernelCache = "off"
	}
	if c, ok := testCtxs[o]; ok {
		return c
	}
	if o.GraphConv && Load() == nil {
		if err := GraphAPI(); err != nil {
			t.Fatalf("cuDNN loaded but not its graph API: %v", err)
		}
	}
	if testErr == nil {
		c, err := NewContext(o)
		if err == nil {
			testCtxs[o] = c
			return c
		}
		testErr = err
	}
	if os.Getenv("ROUT_REQUIRE_GPU") == "1" {
		t.Fatalf("ROUT_REQUIRE_GPU=1 but no usable GPU: %v", testErr)
	}
	t.Skipf("no usable GPU: %s", strings.SplitN(testErr.Error(), "\n", 2)[0])
	return nil
}

// parity is the deterministic, no-TF32 context; fast is the default one.
func parity(t *testing.T) *Context { return gpu(t, Options{Deterministic: true}) }
func fast(t *testing.T) *Context   { return gpu(t, Options{}) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func upload(t *testing.T, c *Context, v []float32) *Buffer[float32] {
	t.Helper()
	b, err := Alloc[float32](c, len(v))
	must(t, err)
	t.Cleanup(func() { b.Free() })
	must(t, b.Upload(v))
	return b
}

func download(t *testing.T, b *Buffer[float32]) []float32 {
	t.Helper()
	out := make([]float32, b.Len())
	must(t, b.Download(out))
	return out
}

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.Float64()*2 - 1)
	}
	return v
}

// near compares got with a float64 reference: |got-want| <= atol + rtol*|want| elementwise.
func near(t *testing.T, what string, got []float32, want []float64, atol, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= atol+rtol*math.Abs(want[i])) {
			if bad < 5 {
				t.Errorf("%s[%d] = %g, want %g (diff %g)", what, i, got[i], want[i], d)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values differ", what, bad, len(got))
	}
}

func TestDeviceAndVersions(t *testing.T) {
	c := fast(t)
	d := c.Device()
	if d.Name == "" || d.Major < 3 || d.TotalMemory < 1<<30 || d.SMs < 1 || d.MaxThreads < 512 {
		t.Fatalf("implausible device: %+v", d)
	}
	t.Logf("device: %v", d)
	free, total, err := c.MemInfo()
	must(t, err)
	if total <= 0 || total > d.TotalMemory || free <= 0 || free > total {
		t.Fatalf("MemInfo free %d total %d, device total %d", free, total, d.TotalMemory)
	}
	for name, f := range map[string]func() (string, error){
		"cuda": DriverVersion, "cublas": CUBLASVersion, "nvrtc": NVRTCVersion,
		"cudnn": func() (string, error) { v, _, err := CUDNNVersion(); return v, err },
	} {
		v, err := f()
		must(t, err)
		if !strings.Contains(v, ".") || strings.HasPrefix(v, "0.") {
			t.Errorf("%s version %q", name, v)
		}
		p, err := LibraryPath(name)
		must(t, err)
		t.Logf("%s %s from %s", name, v, p)
	}
	if v, _, _ := CUDNNVersion(); !strings.HasPrefix(v, "9.") {
		t.Errorf("cuDNN %s, want 9.x", v)
	}
}

func TestBuffersRoundTrip(t *testing.T) {
	c := fast(t)
	r := rand.New(rand.NewPCG(1, 2))
	f := randVec(r, 1000)
	fb := upload(t, c, f)
	if got := download(t, fb); !equal(got, f) {
		t.Fatal("float32 round trip differs")
	}
	// A slice view, a device copy, Fill and Zero.
	dst, err := Alloc[float32](c, 300)
	must(t, err)
	defer dst.Free()
	if got := download(t, dst); !equal(got, make([]float32, 300)) {
		t.Fatal("Alloc did not zero")
	}
	must(t, dst.CopyFrom(fb.Slice(100, 400)))
	if got := download(t, dst); !equal(got, f[100:400]) {
		t.Fatal("CopyFrom of a slice differs")
	}
	must(t, dst.Slice(10, 20).Fill(-2.5))
	got := download(t, dst)
	for i, v := range got {
		want := f[100+i]
		if i >= 10 && i < 20 {
			want = -2.5
		}
		if v != want {
			t.Fatalf("after Fill, [%d] = %g, want %g", i, v, want)
		}
	}
	must(t, dst.Zero())
	if got := download(t, dst); !equal(got, make([]float32, 300)) {
		t.Fatal("Zero did not zero")
	}

	ints := []int32{-1, 0, 1, math.MaxInt32, math.MinInt32}
	ib, err := Alloc[int32](c, len(ints))
	must(t, err)
	defer ib.Free()
	must(t, ib.Upload(ints))
	gi := make([]int32, len(ints))
	must(t, ib.Download(gi))
	if !equal(gi, ints) {
		t.Fatalf("int32 round trip: %v", gi)
	}
	bytes := []uint8{0, 1, 127, 128, 255, 3, 5}
	bb, err := Alloc[uint8](c, len(bytes))
	must(t, err)
	defer bb.Free()
	must(t, bb.Upload(bytes))
	must(t, bb.Slice(5, 7).Fill(9))
	gb := make([]uint8, len(bytes))
	must(t, bb.Download(gb))
	if !equal(gb, []uint8{0, 1, 127, 128, 255, 9, 9}) {
		t.Fatalf("uint8 round trip: %v", gb)
	}
	ub, err := Alloc[uint32](c, 3)
	must(t, err)
	defer ub.Free()
	must(t, ub.Fill(0xdeadbeef))
	gu := make([]uint32, 3)
	must(t, ub.Download(gu))
	if !equal(gu, []uint32{0xdeadbeef, 0xdeadbeef, 0xdeadbeef}) {
		t.Fatalf("uint32 fill: %x", gu)
	}
	if err := ib.Upload(make([]int32, 6)); err == nil {
		t.Fatal("an upload larger than the buffer was accepted")
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

const saxpySrc = `
extern "C" __global__ void saxpy(float a, const float *x, float *y, int n, unsigned int tag, unsigned int *tags) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n) {
		y[i] = a * x[i] + y[i];
		tags[i] = tag + (unsigned int)i;
	}
}
`

func TestCompileLaunchAndCache(t *testing.T) {
	fast(t) // skip early without a GPU
	dir := t.TempDir()
	c := gpu(t, Options{KernelCache: dir})
	// --fmad=false: NVRTC fuses a*x+y into one FMA by default, which rounds once where Go's
	// reference rounds twice (docs/gpu-notes.md).
	prog := Program{Name: "saxpy.cu", Source: saxpySrc, Options: []string{"--fmad=false"}}
	m1, err := c.Compile(prog)
	must(t, err)
	defer m1.Close()
	if m1.Cached {
		t.Fatal("first compile into an empty cache reported a cache hit")
	}
	if m1.CacheErr != nil {
		t.Fatal(m1.CacheErr)
	}
	t.Logf("target %s", m1.Target)
	if want := c.Device().Arch(); !strings.HasSuffix(m1.Target, "_"+itoa(want)) && !strings.HasPrefix(m1.Target, "compute_") {
		t.Errorf("target %s for a device of arch %d", m1.Target, want)
	}
	entries, err := os.ReadDir(dir)
	must(t, err)
	if len(entries) != 1 {
		t.Fatalf("cache holds %d entries, want 1", len(entries))
	}
	m2, err := c.Compile(prog)
	must(t, err)
	defer m2.Close()
	if !m2.Cached {
		t.Fatal("second compile of the same program was not a cache hit")
	}
	// Another option is another entry.
	m3, err := c.Compile(Program{Name: "saxpy.cu", Source: saxpySrc, Options: []string{"--fmad=false", "-DUNUSED=1"}})
	must(t, err)
	defer m3.Close()
	if m3.Cached {
		t.Fatal("a compile with other options hit the cache")
	}

	for _, m := range []*Module{m1, m2} {
		f, err := m.Function("saxpy")
		must(t, err)
		if mt, err := f.MaxThreadsPerBlock(); err != nil || mt < 256 {
			t.Fatalf("MaxThreadsPerBlock %d, %v", mt, err)
		}
		const n = 1000
		r := rand.New(rand.NewPCG(3, 4))
		x, y := randVec(r, n), randVec(r, n)
		xb, yb := upload(t, c, x), upload(t, c, y)
		tb, err := Alloc[uint32](c, n)
		must(t, err)
		defer tb.Free()
		var a Args
		a.Float32(1.5).Ptr(xb.Ptr()).Ptr(yb.Ptr()).Int32(n).Uint32(7).Ptr(tb.Ptr())
		must(t, f.Launch(Dim3{X: Blocks(n, 256)}, Dim3{X: 256}, 0, &a))
		got := download(t, yb)
		for i := range got {
			if want := 1.5*x[i] + y[i]; got[i] != want {
				t.Fatalf("y[%d] = %g, want %g", i, got[i], want)
			}
		}
		tags := make([]uint32, n)
		must(t, tb.Download(tags))
		for i, v := range tags {
			if v != 7+uint32(i) {
				t.Fatalf("tag[%d] = %d", i, v)
			}
		}
	}
}

func itoa(v int) string {
	if v < 10 {
		return string(rune('0' + v))
	}
	return itoa(v/10) + string(rune('0'+v%10))
}

func TestEventsTime(t *testing.T) {
	c := fast(t)
	start, err := c.NewEvent()
	must(t, err)
	defer start.Close()
	end, err := c.NewEvent()
	must(t, err)
	defer end.Close()
	b, err := Alloc[float32](c, 1<<24)
	must(t, err)
	defer b.Free()
	must(t, start.Record())
	for range 10 {
		must(t, b.Fill(1))
	}
	must(t, end.Record())
	d, err := end.Since(start)
	must(t, err)
	if d <= 0 || d > 10e9 {
		t.Fatalf("10 fills of 64 MiB took %v", d)
	}
	t.Logf("10 fills of 64 MiB: %v", d)
}

func TestErrorNames(t *testing.T) {
	c := fast(t)
	var e *Error

	m, err := c.Compile(Program{Name: "saxpy.cu", Source: saxpySrc})
	must(t, err)
	defer m.Close()
	_, err = m.Function("no_such_kernel")
	if !errors.As(err, &e) || e.Lib != "cuda" || e.Call != "cuModuleGetFunction" || e.Name != "CUDA_ERROR_NOT_FOUND" {
		t.Errorf("missing kernel: %v", err)
	}

	_, err = c.Compile(Program{Name: "broken.cu", Source: "extern \"C\" __global__ void k() { int x = ; }"})
	if !errors.As(err, &e) || e.Lib != "nvrtc" || e.Name != "NVRTC_ERROR_COMPILATION" || !strings.Contains(e.Detail, "broken.cu") || !strings.Contains(e.Detail, "error") {
		t.Errorf("broken source: %v", err)
	}

	_, err = c.NewTensor(-1, 2, 3, 4)
	if !errors.As(err, &e) || e.Lib != "cudnn" || !strings.HasPrefix(e.Name, "CUDNN_STATUS_BAD_PARAM") {
		t.Errorf("negative tensor size: %v", err)
	}

	b, err := Alloc[float32](c, 16)
	must(t, err)
	defer b.Free()
	err = c.Sgemm(false, false, 4, 4, 4, 1, b.Ptr(), 2, b.Ptr(), 4, 0, b.Ptr(), 4) // lda < m
	if !errors.As(err, &e) || e.Lib != "cublas" || e.Name != "CUBLAS_STATUS_INVALID_VALUE" {
		t.Errorf("lda < m: %v", err)
	}
	must(t, c.Sync()) // no sticky error left behind
	t.Logf("examples: %v", err)
}
