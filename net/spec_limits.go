package net

// Limits on a model file, so that no file can make rout parse or plan without end: real
// networks are a few kilobytes and nest blocks one or two deep.
const (
	// MaxSpecFile bounds a model file's size.
	MaxSpecFile = 1 << 20
	// MaxBlockDepth bounds how deep concat blocks nest inside each other's branches.
	MaxBlockDepth = 16
	// maxTOMLNesting bounds the nesting of arrays and inline tables the TOML parser sees
	// (a block takes two levels and a branch's layer one more).
	maxTOMLNesting = 4*MaxBlockDepth + 8
)
