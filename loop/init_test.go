package loop_test

import (
	"context"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

// TestInitNewColumns checks that under Init tnormal a progressive network's columns added at
// later tasks start as its first does (biases 0.1, weights within two standard deviations of
// 0.1), seen at each task's start before training, that without Init they keep PNN's own
// initialisation, and that such a run resumes bit for bit (the new columns' draws come from a
// source of their own per task).
func TestInitNewColumns(t *testing.T) {
	st := strategytest.Synthetic(stream.TaskIL, 3, 2, 12, 30, 4)
	set := loop.Settings{Spec: runspec.Spec{Protocol: "test", Iterations: 12, Batch: 4, EvalBatch: 16, LR: 0.05, Hidden: []int{8, 6}, Seed: 5, Init: runspec.InitTNormal, Optimizer: runspec.OptimizerSGD, Strategy: "pnn"}}
	for _, init := range []string{runspec.InitTNormal, ""} {
		set.Init = init
		s, err := strategies.Default.New("pnn")
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		hook := loop.Observe(func(e loop.Event) {
			if e.Kind != loop.TaskStart || e.Task == 0 {
				return
			}
			col := "col" + string(rune('0'+e.Task)) + "/"
			for _, p := range s.Params().All() {
				if !strings.HasPrefix(p.Name, col) || !strings.HasSuffix(p.Name, "/b") {
					continue
				}
				checked++
				for _, v := range p.Data() {
					if (v == 0.1) != (init == runspec.InitTNormal) {
						t.Errorf("init %q, task %d: %s starts with %v", init, e.Task+1, p.Name, v)
						return
					}
				}
			}
		})
		if _, err := (&loop.Runner{Log: quietLogger(), Hooks: []loop.Hook{hook}}).Run(context.Background(), st, s, set); err != nil {
			t.Fatal(err)
		}
		if checked == 0 {
			t.Fatalf("init %q: no bias of a new column seen (names: %v)", init, s.Params().Names())
		}
	}
	set.Init = runspec.InitTNormal
	build := func() (strategies.Strategy, error) { return strategies.Default.New("pnn") }
	if err := loop.VerifyResume(context.Background(), t.TempDir(), st, build, set, 5, 6); err != nil {
		t.Fatal(err)
	}
}
