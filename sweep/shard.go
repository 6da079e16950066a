package sweep

import (
	"fmt"
	"strconv"
	"strings"
)

// Shard is one worker's share of a plan: the pairs whose plan index is Index modulo Count.
// Shards partition the pairs, so N workers given 0/N .. N-1/N against one folder run every
// pair once between them.
type Shard struct {
	Index, Count int
}

// All is the whole plan as one shard.
var All = Shard{0, 1}

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Has reports whether the pair with plan index i belongs to the shard.
func (s Shard) Has(i int) bool { return i%s.Count == s.Index }

// ParseShard reads I/N (I counts from 0, I < N).
func ParseShard(s string) (Shard, error) {
	is, ns, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("shard %q: want I/N, such as 0/4 (I counts from 0)", s)
	}
	return newShard(i, n, "shard "+strconv.Quote(s))
}

func newShard(i, n int, what string) (Shard, error) {
	if n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("%s: index %d of %d shards, want 0 <= index < count", what, i, n)
	}
	return Shard{i, n}, nil
}

// ShardFromEnv finds the shard of a batch-system worker from its environment (getenv is
// os.Getenv in use). Slurm job arrays set SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_MIN and
// SLURM_ARRAY_TASK_COUNT: the shard is ID-MIN of COUNT, which partitions the plan for an array
// of consecutive task ids (--array=0-7 or 1-8, not 0-14:2). A Kubernetes Indexed Job sets
// JOB_COMPLETION_INDEX but not the count, which must come from count (the Job's completions;
// 0 when not given). found is false when neither system's variables are set.
func ShardFromEnv(getenv func(string) string, count int) (s Shard, found bool, err error) {
	if id := getenv("SLURM_ARRAY_TASK_ID"); id != "" {
		v := map[string]int{}
		for _, k := range []string{"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_COUNT"} {
			n, err := strconv.Atoi(getenv(k))
			if err != nil {
				return Shard{}, true, fmt.Errorf("shard from Slurm: %s=%q is not an integer (a job array sets SLURM_ARRAY_TASK_ID, _MIN and _COUNT)", k, getenv(k))
			}
			v[k] = n
		}
		if count != 0 && count != v["SLURM_ARRAY_TASK_COUNT"] {
			return Shard{}, true, fmt.Errorf("shard from Slurm: --shard-count %d but SLURM_ARRAY_TASK_COUNT=%d", count, v["SLURM_ARRAY_TASK_COUNT"])
		}
		s, err := newShard(v["SLURM_ARRAY_TASK_ID"]-v["SLURM_ARRAY_TASK_MIN"], v["SLURM_ARRAY_TASK_COUNT"],
			"shard from Slurm (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT; is the array range stepped?)")
		return s, true, err
	}
	if id := getenv("JOB_COMPLETION_INDEX"); id != "" {
		i, err := strconv.Atoi(id)
		if err != nil {
			return Shard{}, true, fmt.Errorf("shard from Kubernetes: JOB_COMPLETION_INDEX=%q is not an integer", id)
		}
		if count == 0 {
			return Shard{}, true, fmt.Errorf("shard from Kubernetes: JOB_COMPLETION_INDEX=%d is set, but not the shard count: give --shard-count, the Job's completions", i)
		}
		s, err := newShard(i, count, "shard from Kubernetes (JOB_COMPLETION_INDEX of --shard-count)")
		return s, true, err
	}
	return All, false, nil
}
