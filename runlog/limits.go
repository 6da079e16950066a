package runlog

// Limits on the files of a run and a sweep that rout reads back: far above what rout writes, so
// that only a damaged or foreign file (a device, a runaway log) meets them. Files are read with
// internal/boundedio, which also refuses anything but a regular file.
const (
	MaxJSONFile    = 16 << 20 // config.json, summary.json, sweep.json, a sweep file, a claim
	MaxMetricsFile = 1 << 30  // metrics.jsonl
	MaxMetricsLine = 1 << 20  // one line of metrics.jsonl
)
