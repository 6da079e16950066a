package boundedio

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(p, 5); err != nil || string(b) != "hello" {
		t.Errorf("ReadFile at the limit: %q, %v", b, err)
	}
	if _, err := ReadFile(p, 4); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "5 bytes, more than the 4 bytes") {
		t.Errorf("ReadFile over the limit: %v", err)
	}
	if _, err := ReadFile(dir, 1<<20); err == nil || !strings.Contains(err.Error(), "not a regular file (a directory)") {
		t.Errorf("a directory: %v", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "none"), 1); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v, want one satisfying os.ErrNotExist", err)
	}
	if _, err := os.Stat("/dev/zero"); err == nil {
		if _, err := ReadFile("/dev/zero", 1<<20); err == nil || !strings.Contains(err.Error(), "not a regular file (a character device)") {
			t.Errorf("/dev/zero: %v", err)
		}
	}
}

func TestReader(t *testing.T) {
	b, err := io.ReadAll(Reader(strings.NewReader("abcd"), 4, "x"))
	if err != nil || string(b) != "abcd" {
		t.Errorf("at the limit: %q, %v", b, err)
	}
	_, err = io.ReadAll(Reader(strings.NewReader("abcde"), 4, "entry x"))
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "entry x: more than 4 bytes") {
		t.Errorf("over the limit: %v", err)
	}
}
