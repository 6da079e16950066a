//go:build !unix

package boundedio

import "os"

// openNonBlocking opens path read-only (FIFOs that block on open are a Unix matter).
func openNonBlocking(path string) (*os.File, error) { return os.Open(path) }
