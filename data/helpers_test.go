package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedData returns the folder of the read-only data copies (../shared/data from the repository
// root), found by walking up from the test's working folder. Without it the test skips, unless
// ROUT_REQUIRE_DATA=1 (CI), where it fails.
func sharedData(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("ROUT_SHARED_DATA"); p != "" { // set by .ci/run for clones outside the workplace
		if st, err := os.Stat(filepath.Join(p, "cifar10")); err != nil || !st.IsDir() {
			t.Fatalf("ROUT_SHARED_DATA=%s: no cifar10 folder there", p)
		}
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "shared", "data")
		if st, err := os.Stat(filepath.Join(p, "cifar10")); err == nil && st.IsDir() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	if os.Getenv("ROUT_REQUIRE_DATA") == "1" {
		t.Fatal("../shared/data not found above the working folder, and ROUT_REQUIRE_DATA=1")
	}
	t.Skip("../shared/data not found: skipping (ROUT_REQUIRE_DATA=1 makes this a failure)")
	return ""
}

// tarEntry is one member of an archive a test builds; a name ending in "/" is a folder.
type tarEntry struct {
	name string
	data []byte
}

// writeTar writes entries as a tar archive, gzipped when zip is set, to path.
func writeTar(t testing.TB, path string, zip bool, entries []tarEntry) {
	t.Helper()
	var buf bytes.Buffer
	var w = &buf
	var zw *gzip.Writer
	tw := (*tar.Writer)(nil)
	if zip {
		zw = gzip.NewWriter(w)
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(w)
	}
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}
		if strings.HasSuffix(e.name, "/") {
			h.Typeflag, h.Size, h.Mode = tar.TypeDir, 0, 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, path, buf.Bytes())
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantErr fails unless err is an error whose message holds every one of parts.
func wantErr(t testing.TB, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not mention %q", err, p)
		}
	}
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
