//go:build nocuda

package gpu

import (
	"errors"

	"rout/net"
)

// ErrNoCUDA is what every entry point returns in a build without GPU support.
var ErrNoCUDA = errors.New("gpu: this rout was built with -tags nocuda (no GPU support); build without the tag to use a GPU")

// New reports that this build has no GPU support.
func New(Options) (net.Backend, error) { return nil, ErrNoCUDA }

// Available reports why no GPU is usable: in this build, always.
func Available() error { return ErrNoCUDA }
