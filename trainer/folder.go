package trainer

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"rout/internal/atomicfile"
	"rout/internal/boundedio"
	"rout/runlog"
)

// ResumeConfig reads the config a run in folder out started with, from its checkpoint, so that
// a caller can resume it (changing only run-control settings, such as max-steps or device).
func ResumeConfig(out string) (Config, error) {
	ck, err := readCheckpoint(filepath.Join(out, CheckpointFile))
	if err != nil {
		return Config{}, err
	}
	return ck.config, nil
}

// HasCheckpoint reports whether folder out holds a checkpoint to resume.
func HasCheckpoint(out string) bool {
	_, err := os.Stat(filepath.Join(out, CheckpointFile))
	return err == nil
}

// ClearLeftovers removes what killed runs leave in folder out that can be neither resumed nor
// kept: the temporary files of interrupted writes, and the partial record (config.json,
// metrics.jsonl) of a run stopped before its first checkpoint, so that the run can start afresh.
// It reports whether there was such a record; a folder with a checkpoint or a summary keeps its
// record. The caller must hold the folder (a sweep claim), since the same files may also be a
// live run's.
func ClearLeftovers(out string) (bool, error) {
	if err := atomicfile.RemoveTemps(out, CheckpointFile, SummaryFile, ConfigFile, MetricsFile); err != nil {
		return false, err
	}
	for _, f := range []string{CheckpointFile, SummaryFile} {
		if _, err := os.Stat(filepath.Join(out, f)); !errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
	}
	if !ownRecord(out) {
		return false, nil // someone else's files: the run refuses the folder (prepareFolder)
	}
	cleared := false
	for _, f := range []string{MetricsFile, ConfigFile} {
		err := os.Remove(filepath.Join(out, f))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return cleared, fmt.Errorf("clearing the run stopped before its first checkpoint: %w", err)
		}
		cleared = cleared || err == nil
	}
	return cleared, nil
}

// ownRecord reports whether the config.json and metrics.jsonl in folder out, those that exist,
// are a run's: config.json with its provenance, metrics.jsonl of log and epoch lines (a torn last
// line allowed). ClearLeftovers removes nothing else, so a folder holding a user's own files of
// those names is refused rather than emptied.
func ownRecord(out string) bool {
	if cf, err := readConfigFile(out); err == nil {
		if cf.Provenance.StartTime == "" {
			return false
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	b, err := boundedio.ReadFile(filepath.Join(out, MetricsFile), runlog.MaxMetricsFile)
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	if err != nil {
		return false
	}
	lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	for i, line := range lines {
		if _, err := runlog.ParseRecord(line); err != nil {
			if i == len(lines)-1 && !bytes.HasSuffix(b, []byte("\n")) && i > 0 {
				return true // a line torn by the kill
			}
			return len(b) == 0
		}
	}
	return true
}

// prepareFolder creates the output folder, refusing to start afresh over another run's record.
func (r *run) prepareFolder() error {
	if r.out == "" {
		return fmt.Errorf("no output folder given (--out)")
	}
	if err := os.MkdirAll(r.out, 0o755); err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	if r.o.resume {
		return nil
	}
	for _, f := range []string{CheckpointFile, SummaryFile, MetricsFile, ConfigFile} {
		if _, err := os.Stat(filepath.Join(r.out, f)); err == nil {
			return fmt.Errorf("output folder %s already holds a run (%s): resume it (--resume) or choose another --out", r.out, f)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("output folder: %w", err)
		}
	}
	return nil
}

// checkResumable refuses a resume whose config changes anything but run-control settings.
func checkResumable(saved, now *Config) error {
	var bad []string
	for _, k := range saved.Diff(now) {
		if !runControl(k) {
			a, _ := saved.Get(k)
			b, _ := now.Get(k)
			bad = append(bad, fmt.Sprintf("%s (%s, now %s)", k, a, b))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("the run started with other settings: %v; only run-control settings may change on resume", bad)
	}
	return nil
}
