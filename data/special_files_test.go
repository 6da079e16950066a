//go:build unix

package data

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// openWithin fails the test instead of hanging when open does not return within a minute.
func openWithin(t *testing.T, open func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- open() }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatal("the loader hung on a file that is not a regular file")
		return nil
	}
}

func TestNotRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "data_batch_1.bin")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	err := openWithin(t, func() error { _, err := OpenCIFAR10(fifo); return err })
	wantErr(t, err, "data_batch_1.bin", "not a regular file (a named pipe)")

	// A FIFO in a comma-separated list, and a folder given as a batch.
	sub := filepath.Join(dir, "test_batch.bin")
	writeFile(t, filepath.Join(sub, "x"), nil)
	err = openWithin(t, func() error { _, err := OpenCIFAR10(sub + "," + fifo); return err })
	wantErr(t, err, "test_batch.bin", "not a regular file (a directory)")

	// /dev/zero as a batch (a character device, endless).
	err = openWithin(t, func() error { _, err := OpenCIFAR10("/dev/zero,/dev/zero"); return err })
	wantErr(t, err, "/dev/zero", "not a regular file (a character device)")

	// A FIFO posing as an image of a folder dataset, and as an IDX file.
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "train/a/1.png"), pngFile(t, 4, 4, true))
	if err := syscall.Mkfifo(filepath.Join(root, "train/a/2.png"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = openWithin(t, func() error { _, err := OpenFolder(root); return err })
	wantErr(t, err, "train/a/2.png")
	idx := t.TempDir()
	for _, f := range idxFiles {
		writeFile(t, filepath.Join(idx, f), nil)
	}
	if err := syscall.Mkfifo(filepath.Join(idx, idxFiles[0]+".gz"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = openWithin(t, func() error { _, err := OpenIDX("mnist", idx); return err })
	wantErr(t, err, idxFiles[0]+".gz", "not a regular file (a named pipe)")
}
