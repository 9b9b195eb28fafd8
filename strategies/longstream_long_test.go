package strategies_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/streams"
)

// TestLongFiftyTasks: a 50-task permuted MNIST run (domain-IL, 60 steps of 128 a task, 1000
// training and 200 test images a task, a 256-256 MLP) stays flat in memory and in work per task:
// for naive, online EWC (one running Fisher) and replay (a bounded memory) the live heap after
// task 50 is within 25% (plus 16 MiB) of the heap after task 10, and the allocations of a task's
// training, end-of-task work and evaluation in tasks 41-50 within 1.32x of tasks 6-15's: the work
// of a task does not grow with the tasks before it. The training time per task
// is logged, not asserted (a timing under a shared machine's load is no test). (Classic EWC keeps
// one anchor and Fisher per task by design and is left out.)
func TestLongFiftyTasks(t *testing.T) {
	data := longTest(t)
	p, err := streams.Preset("permuted-mnist", "quick", "domain")
	if err != nil {
		t.Fatal(err)
	}
	p.Tasks, p.TrainLimit, p.TestLimit, p.Iterations, p.Hidden = 50, 1000, 200, 60, []int{256, 256}
	st, err := streams.Build(data, p.Cell("", 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{"naive", "ewc:online=true", "replay:budget=1000"} {
		var heap, mallocs []uint64
		var train []time.Duration
		hook := loop.Observe(func(e loop.Event) {
			if e.Kind != loop.TaskEnd {
				return
			}
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			heap = append(heap, ms.HeapAlloc)
			mallocs = append(mallocs, ms.Mallocs)
			train = append(train, e.Elapsed)
		})
		s, err := strategies.Default.New(spec)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		if _, err := (&loop.Runner{Hooks: []loop.Hook{hook}}).Run(context.Background(), st, s, loop.Settings{Spec: p.Cell(spec, 1)}); err != nil {
			t.Fatal(err)
		}
		mean := func(ds []time.Duration) time.Duration {
			var sum time.Duration
			for _, d := range ds {
				sum += d
			}
			return sum / time.Duration(len(ds))
		}
		early, late := mean(train[5:15]), mean(train[40:50])
		t.Logf("%-20s heap after task 10 %.1f MiB, after task 50 %.1f MiB; training per task %v (tasks 6-15) vs %v (41-50); run %v",
			spec, float64(heap[9])/(1<<20), float64(heap[49])/(1<<20), early.Round(time.Millisecond), late.Round(time.Millisecond), time.Since(t0).Round(time.Second))
		if float64(heap[49]) > 1.25*float64(heap[9])+16<<20 {
			t.Errorf("%s: heap grew from %.1f MiB (task 10) to %.1f MiB (task 50)", spec, float64(heap[9])/(1<<20), float64(heap[49])/(1<<20))
		}
		// Allocations per task: its training, its end-of-task work and the evaluation of all 50
		// tasks that follows it (the same for every task).
		per := func(a, b int) float64 { // mean allocations per task of tasks a+1..b
			return float64(mallocs[b-1]-mallocs[a-1]) / float64(b-a)
		}
		first, last := per(5, 15), per(40, 50)
		t.Logf("%-20s allocations per task: %.0f (tasks 6-15), %.0f (41-50)", spec, first, last)
		if last > 1.32*first {
			t.Errorf("%s: allocations per task grew from %.0f to %.0f", spec, first, last)
		}
	}
}
