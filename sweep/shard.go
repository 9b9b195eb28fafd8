package sweep

import (
	"fmt"
	"strconv"
	"strings"
)

// Shard is one share of a sweep's cells: shard Index of Count runs the cells whose index modulo
// Count is Index. The zero value and {0, 1} run every cell.
type Shard struct {
	// Index is the shard's number, 0..Count-1.
	Index int
	// Count is the number of shards; 0 or 1 means unsharded.
	Count int
}

// String writes the shard as "i/N".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, max(1, s.Count)) }

// Environment variables that give a shard's index when only the count is given (--shards N).
const (
	// EnvSlurmTaskID is set by Slurm in each task of a job array (--array=0-7).
	EnvSlurmTaskID = "SLURM_ARRAY_TASK_ID"
	// EnvSlurmTaskMin is the array's first index; the shard is SLURM_ARRAY_TASK_ID minus it.
	EnvSlurmTaskMin = "SLURM_ARRAY_TASK_MIN"
	// EnvSlurmTaskCount is the number of tasks in the array.
	EnvSlurmTaskCount = "SLURM_ARRAY_TASK_COUNT"
	// EnvJobCompletionIndex is set by Kubernetes in each pod of an Indexed Job.
	EnvJobCompletionIndex = "JOB_COMPLETION_INDEX"
)

// ParseShard reads "i/N" with 0 <= i < N.
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("shard %q: want INDEX/COUNT such as 0/4", s)
	}
	if n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("shard %q: the index must be in 0..COUNT-1 (shards are numbered from 0; for a Slurm array use --array=0-%d)", s, max(n, 1)-1)
	}
	return Shard{Index: i, Count: n}, nil
}

// ShardFromEnv returns shard i of n, i read from the environment (getenv): Slurm's
// SLURM_ARRAY_TASK_ID minus SLURM_ARRAY_TASK_MIN (0 when unset), else Kubernetes'
// JOB_COMPLETION_INDEX. n <= 0 takes the count from SLURM_ARRAY_TASK_COUNT.
func ShardFromEnv(n int, getenv func(string) string) (Shard, error) {
	var idx int
	var src string
	if v := getenv(EnvSlurmTaskID); v != "" {
		id, err := strconv.Atoi(v)
		if err != nil {
			return Shard{}, fmt.Errorf("%s=%q is not an integer", EnvSlurmTaskID, v)
		}
		min := 0
		if m := getenv(EnvSlurmTaskMin); m != "" {
			if min, err = strconv.Atoi(m); err != nil {
				return Shard{}, fmt.Errorf("%s=%q is not an integer", EnvSlurmTaskMin, m)
			}
		}
		idx, src = id-min, fmt.Sprintf("%s=%s minus %s=%d", EnvSlurmTaskID, v, EnvSlurmTaskMin, min)
		if n <= 0 {
			c, err := strconv.Atoi(getenv(EnvSlurmTaskCount))
			if err != nil || c < 1 {
				return Shard{}, fmt.Errorf("--shards not given and %s=%q is not a positive integer", EnvSlurmTaskCount, getenv(EnvSlurmTaskCount))
			}
			n = c
		}
	} else if v := getenv(EnvJobCompletionIndex); v != "" {
		id, err := strconv.Atoi(v)
		if err != nil {
			return Shard{}, fmt.Errorf("%s=%q is not an integer", EnvJobCompletionIndex, v)
		}
		idx, src = id, EnvJobCompletionIndex+"="+v
	} else {
		return Shard{}, fmt.Errorf("--shards %d needs the shard index from %s (Slurm job arrays) or %s (Kubernetes Indexed Jobs), and neither is set; give --shard INDEX/%d instead", n, EnvSlurmTaskID, EnvJobCompletionIndex, max(n, 1))
	}
	if n <= 0 {
		return Shard{}, fmt.Errorf("the shard count is unknown: give --shards N")
	}
	if idx < 0 || idx >= n {
		return Shard{}, fmt.Errorf("shard index %d (from %s) is not in 0..%d", idx, src, n-1)
	}
	return Shard{Index: idx, Count: n}, nil
}
