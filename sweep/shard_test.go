package sweep

import (
	"strings"
	"testing"
)

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Shard
		err  string
	}{
		{"0/1", Shard{0, 1}, ""},
		{"3/4", Shard{3, 4}, ""},
		{" 2/3 ", Shard{2, 3}, ""},
		{"4/4", Shard{}, "0..COUNT-1"},
		{"-1/4", Shard{}, "0..COUNT-1"},
		{"0/0", Shard{}, "0..COUNT-1"},
		{"1", Shard{}, "INDEX/COUNT"},
		{"a/b", Shard{}, "INDEX/COUNT"},
	} {
		got, err := ParseShard(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %v, %v", tc.in, got, err)
		}
	}
}

func TestShardFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, tc := range []struct {
		name string
		n    int
		env  func(string) string
		want Shard
		err  string
	}{
		{"slurm from 0", 4, env(EnvSlurmTaskID, "2"), Shard{2, 4}, ""},
		{"slurm from 1", 4, env(EnvSlurmTaskID, "4", EnvSlurmTaskMin, "1"), Shard{3, 4}, ""},
		{"slurm count", 0, env(EnvSlurmTaskID, "1", EnvSlurmTaskCount, "3"), Shard{1, 3}, ""},
		{"slurm out of range", 4, env(EnvSlurmTaskID, "4"), Shard{}, "not in 0..3"},
		{"k8s", 8, env(EnvJobCompletionIndex, "7"), Shard{7, 8}, ""},
		{"k8s needs count", 0, env(EnvJobCompletionIndex, "1"), Shard{}, "--shards N"},
		{"nothing", 4, env(), Shard{}, "neither is set"},
		{"garbage", 4, env(EnvJobCompletionIndex, "x"), Shard{}, "not an integer"},
	} {
		got, err := ShardFromEnv(tc.n, tc.env)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %v, %v", tc.name, got, err)
		}
	}
}

func TestShardAssignment(t *testing.T) {
	f, err := Load("../examples/sweeps/regularization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Expand(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 3, 7, 16, len(p.Cells) + 5} {
		seen := map[int]int{}
		lo, hi := len(p.Cells), 0
		for i := 0; i < n; i++ {
			cells := p.Shard(i, n)
			lo, hi = min(lo, len(cells)), max(hi, len(cells))
			for _, c := range cells {
				if ShardOf(c.Index, n) != i {
					t.Fatalf("cell %d in shard %d of %d, ShardOf says %d", c.Index, i, n, ShardOf(c.Index, n))
				}
				seen[c.Index]++
			}
		}
		if len(seen) != len(p.Cells) {
			t.Errorf("%d shards cover %d of %d cells", n, len(seen), len(p.Cells))
		}
		for idx, k := range seen {
			if k != 1 {
				t.Errorf("%d shards: cell %d in %d shards", n, idx, k)
			}
		}
		if hi-lo > 1 {
			t.Errorf("%d shards: sizes from %d to %d", n, lo, hi)
		}
	}
	// Deterministic: the same file gives the same shards.
	q, _ := f.Expand(nil)
	for i, c := range q.Shard(2, 7) {
		if c != p.Shard(2, 7)[i] {
			t.Fatal("shard 2/7 differs between two expansions")
		}
	}
}
