package loop_test

import (
	"context"
	"io"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/sirupsen/logrus"

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

// TestMemoryFlatAcrossRuns checks that a run leaves nothing reachable once it ends, as a process
// running many runs one after another (clgraph run, a sweep worker) needs: it runs every built-in
// strategy 8 times in one process (on a small synthetic stream, with checkpoints at task
// boundaries) and bounds the growth of the live heap, garbage collected after each run, from run
// 3 to run 8.
//
// Every Model used to stay live forever (a Read node's target inside the Model made each of its
// TapeMachines, which carry a Gorgonia finalizer, reach itself, and such objects are never freed),
// and with it the strategy, its parameters, Adam state and op buffers: on this stream with 128x128
// hidden units that was 670 KiB (naive, multihead, joint) to 3.3 MiB (pnn, which rebuilds its
// model every task) per run, 3.3-16 MiB from run 3 to run 8. Fixed, the heap grows by 0-6 KiB
// over those 5 runs (the runtime's own bookkeeping; finalizers running a collection late). The
// bound, 512 KiB over 5 runs, is below the smallest leak of a single run.
func TestMemoryFlatAcrossRuns(t *testing.T) {
	const runs = 8
	for _, tc := range []struct {
		spec string
		sc   stream.Scenario
	}{
		{"naive", stream.ClassIL}, {"multihead", stream.TaskIL}, {"joint", stream.ClassIL},
		{"ewc", stream.ClassIL}, {"ewc:online=true", stream.ClassIL}, {"l2", stream.ClassIL},
		{"layerwise", stream.ClassIL}, {"pnn", stream.TaskIL}, {"replay", stream.ClassIL},
		{"si", stream.ClassIL}, {"agem", stream.ClassIL}, {"der", stream.ClassIL}, {"der:beta=0.5", stream.ClassIL},
		{"lwf", stream.ClassIL}, {"mas", stream.ClassIL},
		{"gem", stream.ClassIL}, {"gdumb", stream.ClassIL}, {"icarl", stream.ClassIL}, {"xdg", stream.TaskIL},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			st := strategytest.Synthetic(tc.sc, 3, 2, 32, 60, 4)
			ckpt := filepath.Join(t.TempDir(), "ckpt")
			quiet := logrus.New()
			quiet.SetOutput(io.Discard)
			heap := make([]uint64, 0, runs)
			for i := range runs {
				set := loop.Settings{Spec: runspec.Spec{Protocol: "mem", Iterations: 20, Batch: 32, EvalBatch: 60, LR: 1e-3, Hidden: []int{128, 128}, Seed: int64(i + 1)}}
				set.Checkpoint = loop.CheckpointSettings{Path: ckpt} // at task boundaries
				s, err := strategies.Default.New(tc.spec)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := (&loop.Runner{Log: quiet}).Run(context.Background(), st, s, named(set, tc.spec)); err != nil {
					t.Fatal(err)
				}
				heap = append(heap, liveHeap())
			}
			t.Logf("live heap after each run (KiB): %v", kib(heap))
			const margin = 512 << 10
			if from, to := heap[2], heap[runs-1]; to > from+margin {
				t.Errorf("live heap grew by %d KiB from run 3 to run %d (%d KiB per run): runs leave memory reachable", (to-from)>>10, runs, (to-from)>>10/(runs-3))
			}
		})
	}
}

// liveHeap returns the bytes of live heap objects after collecting garbage (twice more, so that
// objects whose finalizers the first collection queued are freed too).
func liveHeap() uint64 {
	for range 3 {
		runtime.GC()
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func kib(xs []uint64) []uint64 {
	out := make([]uint64, len(xs))
	for i, x := range xs {
		out[i] = x >> 10
	}
	return out
}
