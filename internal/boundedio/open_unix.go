//go:build unix

package boundedio

import (
	"os"
	"syscall"
)

// openNonBlocking opens path read-only without waiting for a writer (a FIFO's open blocks
// until one comes); on a regular file O_NONBLOCK changes nothing.
func openNonBlocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
