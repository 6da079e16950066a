// Package sweep runs a seed sweep: every (arm, seed) pair of a plan trained as its own run
// folder, resumably, several at once, and sharded across machines that share the output
// folder (Slurm job arrays, Kubernetes Indexed Jobs). A run is claimed with a claim file
// before it starts, so workers that race on one folder never train the same pair twice, and a
// claim whose worker died is taken over. `rout sweep` is its command line; `rout report` reads
// what it leaves (package runlog declares the folder's files).
package sweep

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxSeeds bounds the seeds of one plan, so that a typo such as 1-1000000 is an error rather
// than a sweep that cannot end.
const MaxSeeds = 100000

// ParseSeeds reads a seed list: comma-separated numbers and inclusive ranges, such as
// "1-8,20,31-32", in the order given. A seed listed twice, an empty item or a backwards range
// is an error.
func ParseSeeds(s string) ([]uint64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("seeds: empty list (want numbers and ranges such as 1-8,20,31-32)")
	}
	var seeds []uint64
	seen := map[uint64]bool{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("seeds %q: empty item between commas", s)
		}
		if strings.HasPrefix(item, "-") {
			return nil, fmt.Errorf("seeds %q: %q: seeds are non-negative integers (a range is LO-HI)", s, item)
		}
		lo, hi, isRange := strings.Cut(item, "-")
		first, err := parseSeed(s, lo)
		if err != nil {
			return nil, err
		}
		last := first
		if isRange {
			if last, err = parseSeed(s, hi); err != nil {
				return nil, err
			}
			if last < first {
				return nil, fmt.Errorf("seeds %q: range %s goes backwards", s, item)
			}
		}
		if last-first >= MaxSeeds || len(seeds)+int(last-first+1) > MaxSeeds {
			return nil, fmt.Errorf("seeds %q: more than %d seeds", s, MaxSeeds)
		}
		for v := first; ; v++ {
			if seen[v] {
				return nil, fmt.Errorf("seeds %q: seed %d listed twice", s, v)
			}
			seen[v] = true
			seeds = append(seeds, v)
			if v == last {
				break
			}
		}
	}
	return seeds, nil
}

func parseSeed(list, s string) (uint64, error) {
	v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("seeds %q: %q is not a non-negative integer", list, strings.TrimSpace(s))
	}
	return v, nil
}
