package loop_test

import (
	"context"
	"fmt"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

// Run a strategy over a stream: the runner trains task by task and evaluates every task after
// every task. A hook watches the run (and could stop it by returning an error).
func ExampleRunner_Run() {
	st := strategytest.Synthetic(stream.TaskIL, 3, 2, 16, 40, 1) // 3 tasks of 2 classes
	s, err := strategies.Default.New("naive:heads=multi")
	if err != nil {
		panic(err)
	}
	spec := runspec.Spec{Protocol: "example", Iterations: 30, Batch: 16, EvalBatch: 64, LR: 3e-3, Hidden: []int{16}}
	ends := 0
	r := &loop.Runner{Hooks: []loop.Hook{loop.Observe(func(e loop.Event) {
		if e.Kind == loop.TaskEnd {
			ends++
		}
	})}}
	res, err := r.Run(context.Background(), st, s, loop.Settings{Spec: spec.Cell("naive:heads=multi", 1)})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s: %d tasks, %d rows of R, %d task ends, status %s\n", res.Strategy, len(res.Tasks), len(res.R), ends, res.Status)
	// Output:
	// naive:heads=multi: 3 tasks, 3 rows of R, 3 task ends, status ok
}
