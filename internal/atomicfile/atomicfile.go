// Package atomicfile writes files so that a reader, or a run killed half-way, sees either the old
// contents or the whole new ones, never a mix: the bytes go to a temporary file in the same
// folder, which is synced and then renamed (or linked) into place, and the folder is synced.
// Run folders, checkpoints, reports, sweep plans, claims and the kernel cache all use it.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Write replaces path with data. The file is readable by everyone (0644), since run and sweep
// folders are shared between workers and users.
func Write(path string, data []byte) error {
	tmp, err := writeTemp(path, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	SyncDir(filepath.Dir(path))
	return nil
}

// Create writes data to path only if path does not exist yet, atomically even on NFS (a hard
// link, where open(2)'s O_EXCL is unreliable). When path exists the error satisfies
// errors.Is(err, fs.ErrExist).
func Create(path string, data []byte) error {
	tmp, err := writeTemp(path, data)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		return err
	}
	SyncDir(filepath.Dir(path))
	return nil
}

// RemoveTemps removes from dir the temporary files that writes of the named files left behind
// when their process was killed mid-write. Call it only while no live process writes those
// names there (a live write's temporary file looks the same).
func RemoveTemps(dir string, names ...string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("removing temporary files: %w", err)
	}
	for _, e := range entries {
		for _, name := range names {
			if strings.HasPrefix(e.Name(), "."+name+".tmp") {
				if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !os.IsNotExist(err) {
					return fmt.Errorf("removing a temporary file: %w", err)
				}
			}
		}
	}
	return nil
}

// SyncDir makes a folder's entries durable; best effort, since some file systems refuse.
func SyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// writeTemp writes data to a synced temporary file beside path and returns its name.
func writeTemp(path string, data []byte) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Name(), nil
}
