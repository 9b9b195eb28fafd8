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
// training and 200 test images a task, a 256-256 MLP) stays flat in memory and in training time:
// for naive, online EWC (one running Fisher) and replay (a bounded memory) the live heap after
// task 50 is within 25% (plus 16 MiB) of the heap after task 10, and the mean training time of
// the last ten tasks within 1.5x of tasks 6-15's. (Classic EWC keeps one anchor and Fisher per
// task by design and is left out.)
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
		var heap []uint64
		var train []time.Duration
		hook := loop.Observe(func(e loop.Event) {
			if e.Kind != loop.TaskEnd {
				return
			}
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			heap = append(heap, ms.HeapAlloc)
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
		if late > early*3/2 {
			t.Errorf("%s: training per task grew from %v to %v", spec, early, late)
		}
	}
}
