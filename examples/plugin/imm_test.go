package main

import (
	"context"
	"math"
	"math/rand"
	"slices"
	"testing"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

// TestConformance runs clgraph's conformance suite, exact resumption included, on the plugin's
// strategy (heads=multi needs task identity: the suite then runs it in task-IL only).
func TestConformance(t *testing.T) {
	for _, spec := range []string{"imm", "imm:l2=0.1", "imm:heads=multi"} {
		t.Run(spec, func(t *testing.T) { strategytest.Run(t, strategies.Default, spec) })
	}
}

// newIMM builds spec and sets it up on a small synthetic stream.
func newIMM(t *testing.T, spec string, sc stream.Scenario) (*IMM, *stream.Stream) {
	t.Helper()
	s, err := strategies.Default.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	m := s.(*IMM)
	st := strategytest.Synthetic(sc, 3, 2, 6, 8, 1)
	env := &strategies.Env{Stream: st, Hidden: []int{5}, LR: 1e-3, Batch: 4, EvalBatch: 8, Rng: rand.New(rand.NewSource(1))}
	if err := m.Setup(env); err != nil {
		t.Fatal(err)
	}
	return m, st
}

// snapshot copies every parameter's values.
func snapshot(s strategies.Strategy) [][]float32 {
	var out [][]float32
	for _, p := range s.Params().All() {
		out = append(out, slices.Clone(p.Data()))
	}
	return out
}

// TestMergeHandComputed plays three tasks whose solutions are known: theta*_k = v_k c_j for the
// j-th value of every parameter, with v = 1, 3, 8 and c_j = 1 + j%5 (all exact in float32).
// Uniform weights install 1c after task 1, (1+3)/2 c = 2c after task 2 and (1+3+8)/3 c = 4c after
// task 3, exactly. alpha=0.7 installs c, 0.7*3c + 0.3*c = 2.4c, then 0.7*8c + 0.3*2.4c = 6.32c,
// exactly as the recursive rule computes them (float64, rounded to float32 after each task).
// Before tasks 2 and 3, StartTask puts theta*_1 (1c) and theta*_2 (3c) back, not the merge.
func TestMergeHandComputed(t *testing.T) {
	v := []float64{1, 3, 8}
	c := func(j int) float64 { return float64(1 + j%5) }
	uniform := []float64{1, 2, 4}
	alpha := func(k int, j int, prev float32) float32 {
		if k == 0 {
			return float32(c(j))
		}
		return float32(0.3*float64(prev) + 0.7*v[k]*c(j))
	}
	for _, spec := range []string{"imm", "imm:alpha=0.7"} {
		m, _ := newIMM(t, spec, stream.DomainIL)
		prev := snapshot(m) // the alpha rule's previous merge
		for k := range v {
			if err := m.StartTask(k); err != nil {
				t.Fatal(err)
			}
			for _, p := range m.Params().All() {
				for j, x := range p.Data() {
					if want := 0.0; k > 0 {
						want = v[k-1] * c(j)
						if x != float32(want) {
							t.Fatalf("%s: task %d starts from %s[%d] = %v, want theta*_%d = %v", spec, k+1, p.Name, j, x, k, want)
						}
					}
					p.Data()[j] = float32(v[k] * c(j)) // "training" reaches theta*_k
				}
			}
			if err := m.EndTask(k); err != nil {
				t.Fatal(err)
			}
			for i, p := range m.Params().All() {
				for j, x := range p.Data() {
					want := float32(uniform[k] * c(j))
					if spec != "imm" {
						want = alpha(k, j, prev[i][j])
						if hand := []float64{1, 2.4, 6.32}[k] * c(j); math.Abs(float64(x)-hand) > 1e-6*hand {
							t.Fatalf("%s: after task %d %s[%d] = %v, want about %v", spec, k+1, p.Name, j, x, hand)
						}
					}
					if x != want {
						t.Fatalf("%s: after task %d %s[%d] = %v, want %v", spec, k+1, p.Name, j, x, want)
					}
				}
			}
			prev = snapshot(m)
		}
	}
}

// TestTrainingStartsFromSolution runs three real tasks and checks that each task's training
// starts from the previous task's solution theta*_k (the parameters after its last step), not
// from the merge the runner evaluated after it. After task 1 the merge is theta*_1 itself; after
// task 2 the uniform mean (theta*_1 + theta*_2)/2 differs from theta*_2, and task 3 must start
// from theta*_2.
func TestTrainingStartsFromSolution(t *testing.T) {
	for _, tc := range []struct {
		spec string
		sc   stream.Scenario
	}{{"imm", stream.DomainIL}, {"imm:heads=multi", stream.TaskIL}} {
		s, err := strategies.Default.New(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		set := strategytest.ResumeSettings.Cell(tc.spec, 3)
		var solution, merged, started [][][]float32 // per task
		r := loop.Runner{Hooks: []loop.Hook{loop.Observe(func(e loop.Event) {
			switch {
			case e.Kind == loop.TaskStart:
				started = append(started, snapshot(s))
			case e.Kind == loop.Step && e.Step == set.Iterations:
				solution = append(solution, snapshot(s))
			case e.Kind == loop.TaskEnd:
				merged = append(merged, snapshot(s))
			}
		})}}
		st := strategytest.Synthetic(tc.sc, 3, 2, 12, 40, 9)
		if _, err := r.Run(context.Background(), st, s, loop.Settings{Spec: set}); err != nil {
			t.Fatal(err)
		}
		if len(started) != 3 || len(solution) != 3 || len(merged) != 3 {
			t.Fatalf("%s: %d starts, %d solutions, %d merges, want 3 each", tc.spec, len(started), len(solution), len(merged))
		}
		for k := 1; k < 3; k++ {
			if !equal(started[k], solution[k-1]) {
				t.Errorf("%s: task %d does not start from theta*_%d", tc.spec, k+1, k)
			}
		}
		if equal(merged[1], solution[1]) {
			t.Errorf("%s: the merge after task 2 equals theta*_2: the test cannot tell them apart", tc.spec)
		}
		for i, p := range s.Params().All() {
			for j := range p.Data() {
				want := float32((float64(solution[0][i][j]) + float64(solution[1][i][j])) / 2)
				if merged[1][i][j] != want {
					t.Fatalf("%s: merge after task 2 %s[%d] = %v, want %v", tc.spec, p.Name, j, merged[1][i][j], want)
				}
			}
			// With heads=multi, task 3's head is not trained before task 3: theta*_1 and theta*_2
			// hold its initial values, and so does their merge.
			if p.Name == "head2/W" && !(slices.Equal(solution[0][i], solution[1][i]) && slices.Equal(merged[1][i], solution[1][i])) {
				t.Errorf("%s: task 3's head moved before task 3", tc.spec)
			}
		}
	}
}

func equal(a, b [][]float32) bool {
	return slices.EqualFunc(a, b, func(x, y []float32) bool { return slices.Equal(x, y) })
}
