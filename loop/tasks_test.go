package loop_test

import (
	"context"
	"math/rand"
	"testing"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
	"github.com/clgraph/clgraph/streams"
)

// taskSpy is a strategy that records the task indices of the batches the runner gives it.
type taskSpy struct {
	strategies.Strategy
	train, eval map[int32]int
}

func (s *taskSpy) Step(cur int, b *stream.Batch) (strategies.StepInfo, error) {
	for _, j := range b.Task[:b.N] {
		s.train[j]++
	}
	return s.Strategy.Step(cur, b)
}

func (s *taskSpy) Scores(b *stream.Batch, out []float32) error {
	for _, j := range b.Task[:b.N] {
		s.eval[j]++
	}
	return s.Strategy.Scores(b, out)
}

func (s *taskSpy) StartTask(cur int) error {
	if ts, ok := s.Strategy.(strategies.TaskStarter); ok {
		return ts.StartTask(cur)
	}
	return nil
}

func (s *taskSpy) EndTask(cur int) error {
	if te, ok := s.Strategy.(strategies.TaskEnder); ok {
		return te.EndTask(cur)
	}
	return nil
}

// samplingSpy is a taskSpy over a strategy that samples its own batches (joint).
type samplingSpy struct{ *taskSpy }

func (s samplingSpy) Sample(cur int, b *stream.Batch, n int, rng *rand.Rand) {
	s.Strategy.(strategies.Sampler).Sample(cur, b, n, rng)
}

// TestTaskIdentityHidden checks that in domain- and class-IL the batches given to Step and
// Scores carry no task (stream.NoTask), also when the strategy samples its own batches (joint),
// and that in task-IL they carry the true tasks.
func TestTaskIdentityHidden(t *testing.T) {
	for _, sc := range stream.Scenarios {
		for _, spec := range []string{"naive", "joint", "replay"} {
			t.Run(sc.String()+"/"+spec, func(t *testing.T) {
				st := strategytest.Synthetic(sc, 3, 2, 6, 20, 3)
				inner, err := strategies.Default.New(spec)
				if err != nil {
					t.Fatal(err)
				}
				spy := &taskSpy{Strategy: inner, train: map[int32]int{}, eval: map[int32]int{}}
				var s strategies.Strategy = spy
				if _, ok := inner.(strategies.Sampler); ok {
					s = samplingSpy{spy}
				}
				set := loop.Settings{Spec: runspec.Spec{Protocol: "test", Iterations: 5, Batch: 8, EvalBatch: 16, LR: 1e-3, Hidden: []int{8}, Seed: 1, Strategy: spec}}
				var r loop.Runner
				if _, err := r.Run(context.Background(), st, s, set); err != nil {
					t.Fatal(err)
				}
				for what, seen := range map[string]map[int32]int{"Step": spy.train, "Scores": spy.eval} {
					if len(seen) == 0 {
						t.Fatalf("%s saw no examples", what)
					}
					for j := range seen {
						if sc == stream.TaskIL && (j < 0 || int(j) >= len(st.Tasks)) {
							t.Fatalf("task-IL: %s saw task %d", what, j)
						}
						if sc != stream.TaskIL && j != stream.NoTask {
							t.Fatalf("%s-IL: %s saw task %d, want none (%d): %v", sc, what, j, stream.NoTask, seen)
						}
					}
					if sc == stream.TaskIL && what == "Scores" && len(seen) != len(st.Tasks) {
						t.Fatalf("task-IL: Scores saw tasks %v, want all %d", seen, len(st.Tasks))
					}
				}
			})
		}
	}
}

// TestValidationMatrix checks that the runner evaluates the validation splits like the test
// splits, into RVal and BVal, and that a run with them resumes to the same result bit for bit.
func TestValidationMatrix(t *testing.T) {
	st := strategytest.Synthetic(stream.ClassIL, 3, 2, 6, 40, 3)
	if err := streams.CarveValidation(st, 10, 1); err != nil {
		t.Fatal(err)
	}
	set := loop.Settings{Spec: runspec.Spec{Protocol: "test", Iterations: 12, Batch: 8, EvalBatch: 16, LR: 3e-3, Hidden: []int{8}, Seed: 1, ValPerTask: 10, Strategy: "replay"}}
	s, err := strategies.Default.New("replay")
	if err != nil {
		t.Fatal(err)
	}
	var r loop.Runner
	res, err := r.Run(context.Background(), st, s, set)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.BVal) != 3 || len(res.RVal) != 3 {
		t.Fatalf("BVal %v, RVal %v: want 3 values and 3 rows", res.BVal, res.RVal)
	}
	for i, row := range res.RVal {
		if len(row) != 3 {
			t.Fatalf("RVal[%d] = %v", i, row)
		}
		for _, a := range row {
			if !(a >= 0 && a <= 1) {
				t.Fatalf("RVal[%d] = %v: accuracies outside [0,1]", i, row)
			}
		}
	}
	build := func() (strategies.Strategy, error) { return strategies.Default.New("replay") }
	if err := loop.VerifyResume(context.Background(), t.TempDir(), st, build, set, 5, 6); err != nil {
		t.Fatal(err)
	}
	// Without validation splits the result has none.
	plain := strategytest.Synthetic(stream.ClassIL, 3, 2, 6, 40, 3)
	s2, _ := strategies.Default.New("replay")
	set.ValPerTask = 0
	res2, err := r.Run(context.Background(), plain, s2, set)
	if err != nil {
		t.Fatal(err)
	}
	if res2.RVal != nil || res2.BVal != nil {
		t.Fatalf("no validation splits, yet RVal %v BVal %v", res2.RVal, res2.BVal)
	}
}
