package loop_test

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/clgraph/clgraph/runspec"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

// TestMemoryFlat checks that the live heap does not grow with the length of a run (Gorgonia's
// tape machines have leaked in repeated runs): after every task, with garbage collected, the
// heap stays within a small margin of the heap after the first task. Checkpoints are written
// every few steps so that their buffers are covered too.
func TestMemoryFlat(t *testing.T) {
	for _, tc := range []struct {
		spec string
		sc   stream.Scenario
	}{{"naive", stream.ClassIL}, {"multihead", stream.TaskIL}} {
		t.Run(tc.spec, func(t *testing.T) {
			const tasks = 8
			st := strategytest.Synthetic(tc.sc, tasks, 2, 32, 60, 4)
			set := loop.Settings{Spec: runspec.Spec{Protocol: "mem", Iterations: 100, Batch: 32, EvalBatch: 60, LR: 1e-3, Hidden: []int{64, 64}, Seed: 1}}
			set.Checkpoint, set.CheckpointEvery = loop.CheckpointSettings{Path: filepath.Join(t.TempDir(), "ckpt")}, 25
			var heap []uint64
			hook := func(e loop.Event) {
				if e.Kind != loop.TaskEnd {
					return
				}
				runtime.GC()
				runtime.GC()
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				heap = append(heap, m.HeapAlloc)
			}
			s, err := strategies.Default.New(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := (&loop.Runner{Hooks: []loop.Hook{loop.Observe(hook)}}).Run(context.Background(), st, s, named(set, tc.spec)); err != nil {
				t.Fatal(err)
			}
			first, last := heap[0], heap[len(heap)-1]
			// A leak of one small tensor per step would add >= 100*tasks KiB; allow 256 KiB
			// (one task's evaluation and checkpoint buffers) of noise.
			const margin = 256 << 10
			t.Logf("live heap after each task (KiB): %v", kib(heap))
			if last > first+margin {
				t.Errorf("live heap grew from %d KiB after task 1 to %d KiB after task %d", first>>10, last>>10, tasks)
			}
		})
	}
}

func kib(xs []uint64) []uint64 {
	out := make([]uint64, len(xs))
	for i, x := range xs {
		out[i] = x >> 10
	}
	return out
}
