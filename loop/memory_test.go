package loop_test

import (
	"context"
	"os"
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
			quiet := quietLogger()
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

// TestCheckpointGarbageFree checks that writing checkpoints allocates almost nothing beside the
// model: a run with a checkpoint after every step allocates, per checkpoint, under 2% of the
// checkpoint file's size more than the same run without checkpoints (the JSON format of version
// 2 allocated five to seven times its file's size per write). EWC, LwF and DGR (its generator) cover
// the strategies that stream their state (strategies.StateWriter); naive the runner's own tensors.
func TestCheckpointGarbageFree(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a 784-400-400 model; not with -short")
	}
	for _, spec := range []string{"naive", "ewc", "lwf", "dgr"} {
		t.Run(spec, func(t *testing.T) {
			st := strategytest.Synthetic(stream.DomainIL, 2, 2, 784, 20, 3)
			set := loop.Settings{Spec: runspec.Spec{Protocol: "mem", Iterations: 6, Batch: 8, EvalBatch: 40, LR: 1e-3, Hidden: []int{400, 400}, Seed: 1}}
			discard := quietLogger()
			path := filepath.Join(t.TempDir(), "ckpt")
			run := func(every int) (alloc uint64, saves int, size int64) {
				set := set
				if every > 0 {
					set.Checkpoint, set.CheckpointEvery = loop.CheckpointSettings{Path: path}, every
				}
				hook := func(e loop.Event) {
					if e.Kind == loop.CheckpointSaved {
						saves++
						if fi, err := os.Stat(e.Checkpoint); err == nil {
							size = fi.Size()
						}
					}
				}
				s, err := strategies.Default.New(spec)
				if err != nil {
					t.Fatal(err)
				}
				var m0, m1 runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m0)
				if _, err := (&loop.Runner{Log: discard, Hooks: []loop.Hook{loop.Observe(hook)}}).Run(context.Background(), st, s, named(set, spec)); err != nil {
					t.Fatal(err)
				}
				runtime.ReadMemStats(&m1)
				return m1.TotalAlloc - m0.TotalAlloc, saves, size
			}
			run(0) // warm caches (dataset hashes, pools)
			off, _, _ := run(0)
			on, saves, size := run(1)
			if saves < 10 || size < 4<<20 {
				t.Fatalf("%d checkpoints of %d bytes, want >= 10 of a few MiB", saves, size)
			}
			extra := int64(on) - int64(off)
			per := extra / int64(saves)
			t.Logf("%d checkpoints of %.1f MiB: %.1f KiB allocated per checkpoint (%.2f%% of the file)", saves, float64(size)/(1<<20), float64(per)/1024, 100*float64(per)/float64(size))
			if per > size/50 {
				t.Errorf("a checkpoint write allocates %d bytes, over 2%% of its %d-byte file", per, size)
			}
		})
	}
}
