package trainer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"time"

	"rout/internal/boundedio"
	"rout/runlog"
)

// configFile is config.json: the resolved config and where the run came from.
type configFile struct {
	Config     Config     `json:"config"`
	Provenance provenance `json:"provenance"`
}

// readConfigFile reads config.json in run folder out; a missing file gives an error satisfying
// errors.Is(err, fs.ErrNotExist).
func readConfigFile(out string) (configFile, error) {
	var cf configFile
	b, err := boundedio.ReadFile(filepath.Join(out, ConfigFile), runlog.MaxJSONFile)
	if err != nil {
		return cf, err
	}
	return cf, json.Unmarshal(b, &cf)
}

// provenance records what produced a run, for config.json.
type provenance struct {
	Version   string            `json:"rout_version"`
	Commit    string            `json:"commit,omitempty"` // VCS revision stamped in the binary, "+dirty" when modified
	GoVersion string            `json:"go_version"`
	Hostname  string            `json:"hostname"`
	StartTime string            `json:"start_time"`
	Resumed   *int              `json:"resumed_from_step,omitempty"`
	Backend   map[string]string `json:"backend"`
	Data      struct {
		Name    string   `json:"name"`
		Source  string   `json:"source"`
		Classes []string `json:"classes"`
		Image   [3]int   `json:"image"` // C, H, W before cropping
		Train   int      `json:"train"`
		Val     int      `json:"val"`
		Test    int      `json:"test"`
	} `json:"data"`
	Model struct {
		Name          string `json:"name"`
		Source        string `json:"source"`
		Init          string `json:"init"`
		Params        int    `json:"params"`
		Input         [3]int `json:"input"`
		WatchedLayers int    `json:"watched_layers"`
		// ConvFilters is every conv layer's filter count, in network order: what a report
		// divides the dead counts of metrics.jsonl by.
		ConvFilters LayerCounts `json:"conv_filters"`
	} `json:"model"`
	StepsPerEpoch int `json:"steps_per_epoch"`
	// Pack, when the run trained in a pack, says which (see RunPack); nil for a run alone.
	Pack *PackProvenance `json:"pack,omitempty"`
	// Earlier are the run's earlier segments, oldest first: each resume replaces config.json,
	// and a run that moved between machines or devices would otherwise seem to have run on its
	// last one alone.
	Earlier []segment `json:"earlier_segments,omitempty"`
}

// segment is where and with what one stretch of a run (a start, or a resume) ran.
type segment struct {
	FromStep  int               `json:"from_step"`
	StartTime string            `json:"start_time"`
	Hostname  string            `json:"hostname"`
	Version   string            `json:"rout_version"`
	Commit    string            `json:"commit,omitempty"`
	Backend   map[string]string `json:"backend"`
}

// segment is this provenance's own stretch of the run.
func (p provenance) segment() segment {
	from := 0
	if p.Resumed != nil {
		from = *p.Resumed
	}
	return segment{FromStep: from, StartTime: p.StartTime, Hostname: p.Hostname, Version: p.Version, Commit: p.Commit, Backend: p.Backend}
}

// earlierSegments reads the segments a resumed run's config.json records (its own included), so
// that the new config.json keeps them: those that began before step from, where this resume
// begins (a resume that failed or was killed before its first checkpoint left nothing). A
// config.json that does not read (edited by hand) loses that history, not the run.
func earlierSegments(out string, from int) []segment {
	old, err := readConfigFile(out)
	if err != nil || old.Provenance.StartTime == "" {
		return nil
	}
	var kept []segment
	for _, sg := range append(old.Provenance.Earlier, old.Provenance.segment()) {
		if sg.FromStep < from {
			kept = append(kept, sg)
		}
	}
	return kept
}

func newProvenance(r *run, ck *checkpoint) provenance {
	var p provenance
	p.Version = r.o.version
	if bi, ok := debug.ReadBuildInfo(); ok {
		if p.Version == "" {
			p.Version = bi.Main.Version
		}
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+dirty"
				}
			}
		}
		if rev != "" {
			p.Commit = rev + dirty
		}
	}
	p.GoVersion = runtime.Version()
	p.Hostname, _ = os.Hostname()
	p.StartTime = time.Now().UTC().Format(time.RFC3339)
	if ck != nil {
		s := ck.state.Step
		p.Resumed = &s
		p.Earlier = earlierSegments(r.out, s)
	}
	p.Backend = r.b.Provenance()
	p.Data.Name, p.Data.Source, p.Data.Classes = r.ds.Name, r.ds.Source, r.ds.Classes
	p.Data.Image = [3]int{r.train.C, r.train.H, r.train.W}
	p.Data.Train, p.Data.Test = r.train.N, r.ds.Test.N
	if r.val != nil {
		p.Data.Val = r.val.N
	}
	p.Model.Name, p.Model.Source, p.Model.Init = r.spec.Name, r.spec.Source, r.spec.Init
	p.Model.Params = r.n.ParamCount()
	p.Model.Input = [3]int{r.train.C, r.prep.cropH, r.prep.cropW}
	p.Model.WatchedLayers = len(r.rev.Layers())
	if ft, err := r.n.ConvTable(nil); err == nil { // nil asks for every conv layer, which cannot fail
		for _, g := range ft.Groups {
			p.Model.ConvFilters.Layers = append(p.Model.ConvFilters.Layers, g.Name)
			p.Model.ConvFilters.Counts = append(p.Model.ConvFilters.Counts, int64(g.Filters))
		}
	}
	p.StepsPerEpoch = r.perEpoch
	p.Pack = r.o.pack
	return p
}
