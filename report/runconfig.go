package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"rout/internal/boundedio"
	"rout/runlog"
)

// runConfig is what the report takes from a run's config.json: the sizes that turn counts into
// fractions and losses into multiples of chance.
type runConfig struct {
	Provenance struct {
		Data struct {
			Classes []string `json:"classes"`
		} `json:"data"`
		Model struct {
			ConvFilters runlog.LayerCounts `json:"conv_filters"`
		} `json:"model"`
	} `json:"provenance"`
}

// readRunConfig reads the conv layers' filter counts and the class count from dir/config.json.
// A missing file (a run not started yet) gives nothing; a file that does not parse is an error
// naming it.
func readRunConfig(dir string) (filters runlog.LayerCounts, classes int, err error) {
	path := filepath.Join(dir, runlog.ConfigFile)
	b, err := boundedio.ReadFile(path, runlog.MaxJSONFile)
	if errors.Is(err, fs.ErrNotExist) {
		return filters, 0, nil
	}
	if err != nil {
		return filters, 0, fmt.Errorf("report: %w", err)
	}
	var c runConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return filters, 0, fmt.Errorf("report: %s: %w", path, err)
	}
	for i, n := range c.Provenance.Model.ConvFilters.Counts {
		if n < 1 {
			return filters, 0, fmt.Errorf("report: %s: conv_filters: layer %q has %d filters, want at least 1", path, c.Provenance.Model.ConvFilters.Layers[i], n)
		}
	}
	return c.Provenance.Model.ConvFilters, len(c.Provenance.Data.Classes), nil
}
