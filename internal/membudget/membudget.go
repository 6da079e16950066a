// Package membudget says how much memory rout may spend on data: the budget that loaders check a
// file's claimed size against before they allocate, so that a damaged or hostile file is refused
// with an error instead of running the machine out of memory. The budget is, in order: the value
// Set (the --memory-budget flag), $ROUT_MEMORY_BUDGET, or the memory the machine can give this
// process now (the smaller of the available memory and the cgroup's limit).
package membudget

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
)

// EnvVar is the environment variable that sets the budget when no flag does.
const EnvVar = "ROUT_MEMORY_BUDGET"

var (
	mu       sync.Mutex
	flagName string
	flagVal  func() string // the flag's value when it is read; nil: no flag
	machine  *Budget       // Machine(), read once
)

// Budget is a number of bytes and where it came from, for error messages.
type Budget struct {
	Bytes  int64
	Source string // "--memory-budget", "$ROUT_MEMORY_BUDGET", "available memory", ...
}

func (b Budget) String() string { return fmt.Sprintf("%s (%s)", Format(b.Bytes), b.Source) }

// UseFlag makes the command-line flag name (without dashes) set the budget: value returns
// its text, "" when not given. It is read whenever the budget is, so a flag parsed after
// this call counts.
func UseFlag(name string, value func() string) {
	mu.Lock()
	defer mu.Unlock()
	flagName, flagVal = name, value
}

// Current is the budget in force.
func Current() (Budget, error) {
	mu.Lock()
	defer mu.Unlock()
	if flagVal != nil {
		if v := flagVal(); v != "" {
			n, err := Parse(v)
			if err != nil {
				return Budget{}, fmt.Errorf("--%s: %w", flagName, err)
			}
			return Budget{n, "--" + flagName}, nil
		}
	}
	if v := os.Getenv(EnvVar); v != "" {
		n, err := Parse(v)
		if err != nil {
			return Budget{}, fmt.Errorf("$%s: %w", EnvVar, err)
		}
		return Budget{n, "$" + EnvVar}, nil
	}
	if machine == nil {
		b := Machine()
		machine = &b
	}
	return *machine, nil
}

// Machine is the memory the machine can give this process: the smaller of the kernel's
// estimate of available memory and the cgroup's limit less what the cgroup uses. Where
// neither is known (not Linux) it is unlimited (math.MaxInt64).
func Machine() Budget {
	b := Budget{math.MaxInt64, "no limit known"}
	if avail, ok := memAvailable(); ok {
		b = Budget{avail, "available memory"}
	}
	if limit, ok := cgroupLeft(); ok && limit < b.Bytes {
		b = Budget{limit, "cgroup memory limit"}
	}
	return b
}

// memAvailable reads MemAvailable from /proc/meminfo.
func memAvailable() (int64, bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemAvailable:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err == nil && kb > 0 {
				return kb << 10, true
			}
		}
	}
	return 0, false
}

// cgroupLeft is the memory the process's cgroup may still use: its limit less its usage
// (cgroup v2: memory.max and memory.current; v1: memory.limit_in_bytes and memory.usage_in_bytes).
func cgroupLeft() (int64, bool) {
	for _, p := range [][2]string{
		{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
		{"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"},
	} {
		limit, ok := readInt(p[0])
		if !ok || limit <= 0 || limit >= 1<<60 { // "max", or v1's "no limit" near 2^63
			continue
		}
		used, _ := readInt(p[1])
		return max(limit-used, 0), true
	}
	return 0, false
}

func readInt(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil
}

// Parse reads a size: a number of bytes, or a number with a unit K, M, G, T (powers of 1024;
// "KB", "KiB" and lower case are the same): "512M", "4G", "1.5GiB".
func Parse(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := 1.0
	if t != "" {
		if i := strings.IndexByte("KMGT", t[len(t)-1]); i >= 0 {
			mult = math.Pow(1024, float64(i+1))
			t = t[:len(t)-1]
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || !(v > 0) || v*mult >= math.MaxInt64 {
		return 0, fmt.Errorf("%q: want a positive size in bytes, or with a unit K, M, G or T (e.g. 4G)", s)
	}
	return int64(v * mult), nil
}

// Format writes a byte count for people: "812 bytes", "3.5 MiB", "20.0 GiB".
func Format(n int64) string {
	if n == math.MaxInt64 {
		return "unlimited"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[i])
}

// Check refuses need bytes for what (a phrase naming the file and what it holds) when they
// exceed the budget, saying how to raise it.
func Check(need int64, what string) error {
	b, err := Current()
	if err != nil {
		return err
	}
	if need > b.Bytes || need < 0 {
		return fmt.Errorf("%s needs %s of memory, more than the budget of %s: raise it with --memory-budget or $%s if the machine has the memory",
			what, Format(need), b, EnvVar)
	}
	return nil
}
