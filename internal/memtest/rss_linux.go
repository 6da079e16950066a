package memtest

import (
	"os"
	"syscall"
)

// maxRSS is the peak resident memory of an ended process (Linux reports kilobytes).
func maxRSS(ps *os.ProcessState) (int64, bool) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, false
	}
	return ru.Maxrss << 10, true
}
