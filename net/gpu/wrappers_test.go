package gpu

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"rout/kernels"
)

// The Go to CUDA boundary, checked without a GPU: every extern "C" __global__ kernel of
// kernels/*.cu has exactly one launch wrapper in this package, in the file named after its .cu
// file (relu.cu: relu.go), named launch + the kernel's name in camel case, whose parameters after
// grid and block are the kernel's, in order, with the kernel's names (in camel case) and the Go
// types whose comments name the kernel's C types (gpu.go), and whose body only passes them on to
// launch in that order. Nothing else calls launch.

// TestKernelWrappers checks the kernels against the wrappers.
func TestKernelWrappers(t *testing.T) {
	cu, gofiles := boundaryFiles(t)
	if errs := checkBoundary(cu, gofiles); len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
}

// TestKernelWrappersCatchSwaps feeds the check kernels and wrappers whose arguments disagree in
// order (and a kernel with no wrapper), and expects it to fail, naming the kernel and the
// parameter.
func TestKernelWrappersCatchSwaps(t *testing.T) {
	cases := []struct {
		what, file, old, new string
		want                 string // in the error
	}{
		{"two kernel parameters of different types swapped", "filters.cu",
			"unsigned int purpose,\n                                          int zero_bias,",
			"int zero_bias,\n                                          unsigned int purpose,",
			"wrapper launchRedrawFilters of kernel redraw_filters (filters.cu): parameter 7 is purpose cUint, the kernel's is int zero_bias"},
		{"two kernel parameters of the same type swapped", "relu.cu",
			"relu_fwd(const float* x, int xs, float* y, int ys, int n, int len)",
			"relu_fwd(const float* x, int xs, float* y, int ys, int len, int n)",
			"kernel relu_fwd (relu.cu): parameter 5 is n cInt, the kernel's is int len"},
		{"two pointers of the same type swapped", "batch.cu",
			"const float* mean,\n                                        const float* chan_mean,",
			"const float* chan_mean,\n                                        const float* mean,",
			"kernel gather_batch (batch.cu): parameter 22 is mean constFloatPtr, the kernel's is const float* chan_mean"},
		{"a wrapper passing two arguments swapped", "pool.go",
			"b.launch(\"pool_fwd\", grid, block, x, xs, y, ys, n, c, h, w,",
			"b.launch(\"pool_fwd\", grid, block, x, xs, y, ys, n, c, w, h,",
			"kernel pool_fwd (pool.cu): passes grid, block, x, xs, y, ys, n, c, w, h,"},
		{"a kernel without a wrapper", "relu.cu",
			"// relu_fwd:",
			"extern \"C\" __global__ void relu_half(float* y, int n) {}\n\n// relu_fwd:",
			"kernel relu_half (relu.cu): 0 launch wrappers, want 1"},
	}
	for _, tc := range cases {
		cu, gofiles := boundaryFiles(t)
		files := cu
		if strings.HasSuffix(tc.file, ".go") {
			files = gofiles
		}
		if !strings.Contains(files[tc.file], tc.old) {
			t.Fatalf("%s: %s no longer contains %q (update the test)", tc.what, tc.file, tc.old)
		}
		files[tc.file] = strings.Replace(files[tc.file], tc.old, tc.new, 1)
		err := errors.Join(checkBoundary(cu, gofiles)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s in %s: the check says %v, want an error containing %q", tc.what, tc.file, err, tc.want)
		}
	}
}

// boundaryFiles returns the kernel files (from package kernels) and this package's Go files
// (tests aside), by name.
func boundaryFiles(t *testing.T) (cu, gofiles map[string]string) {
	t.Helper()
	cu, gofiles = map[string]string{}, map[string]string{}
	for _, name := range kernels.Sources {
		src, err := kernels.File(name)
		if err != nil {
			t.Fatal(err)
		}
		cu[name] = src
	}
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		gofiles[name] = string(src)
	}
	if len(gofiles) == 0 {
		t.Fatal("no Go files in the working folder: the test reads net/gpu's sources from there")
	}
	return cu, gofiles
}

// param is a parameter: its type (C, or Go) and its name.
type param struct{ typ, name string }

// kernel is an extern "C" __global__ declaration.
type kernel struct {
	name, file string
	params     []param
}

var kernelDecl = regexp.MustCompile(`extern\s+"C"\s+__global__\s+void\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(([^)]*)\)`)

// parseKernels reads the kernel declarations of one .cu file; a declaration may span lines.
func parseKernels(file, src string) ([]kernel, error) {
	var ks []kernel
	for _, m := range kernelDecl.FindAllStringSubmatch(src, -1) {
		k := kernel{name: m[1], file: file}
		for _, p := range strings.Split(m[2], ",") {
			p = strings.Join(strings.Fields(strings.ReplaceAll(p, "*", " * ")), " ")
			cut := strings.LastIndexByte(p, ' ')
			if cut < 0 {
				return nil, fmt.Errorf("%s: kernel %s: parameter %q has no type or no name", file, k.name, p)
			}
			k.params = append(k.params, param{typ: strings.ReplaceAll(p[:cut], " *", "*"), name: p[cut+1:]})
		}
		ks = append(ks, k)
	}
	return ks, nil
}

// camel turns a C name into Go's camel case: zero_bias is zeroBias.
func camel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// checkBoundary returns every way the wrappers in gofiles disagree with the kernels in cu.
func checkBoundary(cu, gofiles map[string]string) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	var ks []kernel
	for _, name := range slices.Sorted(maps.Keys(cu)) {
		got, err := parseKernels(name, cu[name])
		if err != nil {
			fail("%v", err)
		}
		ks = append(ks, got...)
	}
	if len(ks) == 0 {
		fail("no extern \"C\" __global__ kernel found in %d .cu files", len(cu))
	}

	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range slices.Sorted(maps.Keys(gofiles)) {
		f, err := parser.ParseFile(fset, name, gofiles[name], parser.ParseComments)
		if err != nil {
			fail("%v", err)
			continue
		}
		files = append(files, f)
	}

	// The Go type of each C type: the types with a put method (kernelArg), by their comment.
	argTypes := map[string]bool{}
	for _, f := range files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == "put" && fd.Recv != nil && len(fd.Recv.List) == 1 {
				if id, ok := fd.Recv.List[0].Type.(*ast.Ident); ok {
					argTypes[id.Name] = true
				}
			}
		}
	}
	goType := map[string]string{} // C type -> Go type
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok || !argTypes[ts.Name.Name] {
				return true
			}
			if ts.Comment == nil {
				fail("%s: kernel parameter type %s has no comment naming its C type", fset.Position(ts.Pos()), ts.Name.Name)
				return true
			}
			c := strings.TrimSpace(ts.Comment.Text())
			if prev, dup := goType[c]; dup {
				fail("%s: C type %q has two Go types, %s and %s", fset.Position(ts.Pos()), c, prev, ts.Name.Name)
			}
			goType[c] = ts.Name.Name
			return true
		})
	}

	// The wrappers, by kernel name, and every call of launch.
	wrappers := map[string][]*ast.FuncDecl{}
	wrapperFile := map[*ast.FuncDecl]string{}
	for _, f := range files {
		file := filepath.Base(fset.Position(f.Pos()).Filename)
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			var launches []*ast.CallExpr
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if call, ok := n.(*ast.CallExpr); ok {
					if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "launch" {
						launches = append(launches, call)
					}
				}
				return true
			})
			if len(launches) == 0 {
				continue
			}
			name := ""
			if len(fd.Body.List) == 1 && len(launches) == 1 {
				if es, ok := fd.Body.List[0].(*ast.ExprStmt); ok && es.X == launches[0] && len(launches[0].Args) > 0 {
					if lit, ok := launches[0].Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						name = strings.Trim(lit.Value, `"`)
					}
				}
			}
			if name == "" {
				fail("%s: %s calls launch but is not a launch wrapper (one statement: launch(\"kernel\", grid, block, its parameters...))",
					fset.Position(fd.Pos()), fd.Name.Name)
				continue
			}
			wrappers[name] = append(wrappers[name], fd)
			wrapperFile[fd] = file
		}
	}

	known := map[string]bool{}
	for _, k := range ks {
		known[k.name] = true
		ws := wrappers[k.name]
		if len(ws) != 1 {
			fail("kernel %s (%s): %d launch wrappers, want 1", k.name, k.file, len(ws))
			continue
		}
		w := ws[0]
		where := fmt.Sprintf("%s: wrapper %s of kernel %s (%s)", fset.Position(w.Pos()), w.Name.Name, k.name, k.file)
		if want := strings.TrimSuffix(k.file, ".cu") + ".go"; wrapperFile[w] != want {
			fail("%s: belongs in %s", where, want)
		}
		if want := "launch" + strings.ToUpper(k.name[:1]) + camel(k.name)[1:]; w.Name.Name != want {
			fail("%s: should be named %s", where, want)
		}
		var ps []param
		for _, field := range w.Type.Params.List {
			typ := typeName(field.Type)
			for _, n := range field.Names {
				ps = append(ps, param{typ: typ, name: n.Name})
			}
		}
		if len(ps) < 2 || ps[0] != (param{"int", "grid"}) || ps[1] != (param{"int", "block"}) {
			fail("%s: the parameters must start with grid, block int", where)
			continue
		}
		ps = ps[2:]
		if len(ps) != len(k.params) {
			fail("%s: %d kernel parameters, the kernel has %d", where, len(ps), len(k.params))
		}
		for i := range min(len(ps), len(k.params)) {
			c, g := k.params[i], ps[i]
			want, ok := goType[c.typ]
			switch {
			case !ok:
				fail("%s: parameter %d (%s %s): no Go kernel parameter type names C type %q (gpu.go)", where, i+1, c.typ, c.name, c.typ)
			case g.typ != want || g.name != camel(c.name):
				fail("%s: parameter %d is %s %s, the kernel's is %s %s (Go: %s %s)", where, i+1, g.name, g.typ, c.typ, c.name, camel(c.name), want)
			}
		}
		call := w.Body.List[0].(*ast.ExprStmt).X.(*ast.CallExpr)
		var args []string
		for _, a := range call.Args[1:] {
			id, ok := a.(*ast.Ident)
			if !ok {
				args = append(args, "(an expression)")
				continue
			}
			args = append(args, id.Name)
		}
		wantArgs := []string{"grid", "block"}
		for _, p := range ps {
			wantArgs = append(wantArgs, p.name)
		}
		if !slices.Equal(args, wantArgs) {
			fail("%s: passes %s to launch, want its parameters in order: %s", where, strings.Join(args, ", "), strings.Join(wantArgs, ", "))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(wrappers)) {
		if !known[name] {
			for _, w := range wrappers[name] {
				fail("%s: %s launches %q, which no kernel file declares", fset.Position(w.Pos()), w.Name.Name, name)
			}
		}
	}
	return errs
}

// typeName is a parameter's Go type as written (an identifier; anything else is shown as "?").
func typeName(e ast.Expr) string {
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return "?"
}
