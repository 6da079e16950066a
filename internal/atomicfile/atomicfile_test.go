package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteReplacesAndLeavesNoTemporaries(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "summary.json")
	for _, content := range []string{"first", "second, longer"} {
		if err := Write(p, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != content {
			t.Fatalf("read %q, %v; want %q", got, err, content)
		}
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("folder holds %d entries, want only the file", len(entries))
	}
}

func TestWriteIntoMissingFolderFails(t *testing.T) {
	p := filepath.Join(t.TempDir(), "missing", "x")
	if err := Write(p, []byte("x")); err == nil {
		t.Fatal("write into a missing folder succeeded")
	}
}

func TestCreateRefusesAnExistingFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "claim")
	if err := Create(p, []byte("mine")); err != nil {
		t.Fatal(err)
	}
	err := Create(p, []byte("theirs"))
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Create: %v, want fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "mine" {
		t.Fatalf("claim holds %q after a refused Create", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("folder holds %d entries, want only the claim", len(entries))
	}
}

// TestRemoveTemps removes the temporary files of the named files only.
func TestRemoveTemps(t *testing.T) {
	for _, name := range []string{"plain", "exp[1]", "a[", "*"} { // glob characters are plain
		removeTemps(t, name)
	}
}

func removeTemps(t *testing.T, name string) {
	parent := t.TempDir()
	dir := filepath.Join(parent, name)
	os.Mkdir(dir, 0o755)
	neighbour := filepath.Join(parent, "exp1")
	os.Mkdir(neighbour, 0o755)
	os.WriteFile(filepath.Join(neighbour, ".summary.json.tmp9"), nil, 0o644)
	for _, f := range []string{".summary.json.tmp1", ".summary.json.tmp22", ".claim.tmp3", "summary.json", ".summary.jsonx"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveTemps(dir, "summary.json", "config.json"); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if got := strings.Join(left, " "); got != ".claim.tmp3 .summary.jsonx summary.json" {
		t.Errorf("%s: left %q", name, got)
	}
	if _, err := os.Stat(filepath.Join(neighbour, ".summary.json.tmp9")); err != nil {
		t.Errorf("%s: a neighbouring folder's temporary file was removed: %v", name, err)
	}
}
