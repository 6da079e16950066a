// Package trainer trains one network with one seed, with or without RandomOut, and leaves the
// record a researcher needs to trust and compare the run: config.json, metrics.jsonl,
// summary.json and a safetensors checkpoint (docs/files.md documents every file and
// field).
//
// A run is a pure function of its Config: the seed keys the initialisation and every re-draw,
// the data seed the batch order, both through the counter-based generator of package rng, so
// the same config gives bit-identical weights and a resumed run reaches the weights of an
// uninterrupted one. The step (GatherBatch, Forward, SoftmaxCrossEntropy, Backward, the
// optimiser's fused update, the revival policy) only queues backend operations; losses and
// counters are read back at log intervals, so a device backend never waits on the host.
//
// Config is the one declaration of the settings: its struct tags give each setting's name,
// used as the `rout train` flag (Settings is the table cmd/rout makes its flags from), the key
// of Set (sweep overrides) and the key in config.json.
package trainer
