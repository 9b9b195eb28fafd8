package strategies_test

import (
	"context"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/runspec"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

func TestPNNConformance(t *testing.T) {
	for _, spec := range []string{"pnn", "pnn:adapter=true", "pnn:laterals=agem"} {
		t.Run(spec, func(t *testing.T) { strategytest.Run(t, strategies.Default, spec) })
	}
}

// quick are small settings for the tests below.
var quick = runspec.Spec{Protocol: "test", Iterations: 25, Batch: 16, EvalBatch: 64, LR: 3e-3, Hidden: []int{10, 10}}

func newStrategy(t *testing.T, spec string) strategies.Strategy {
	t.Helper()
	s, err := strategies.Default.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// pnnParams is the closed formula for the parameter count of a progressive network after task t
// (0-based): columns 0..t over D inputs, hidden widths h_1..h_L, heads of o_k units. With
// n_0 = D, n_i = h_i (i = 1..L) and n_(L+1) = o_k, column k has
//
//	own weights and biases:  sum_(i=1..L+1) (n_(i-1) n_i + n_i)
//	linear laterals:         k * sum_(i=2..L+1) n_(i-1) n_i            (one U^(k:j) per earlier column)
//	adapters (k >= 1):       sum_(i=2..L+1) (1 + k n_(i-1) n_(i-1) + n_(i-1) + n_(i-1) n_i)
//	                         (alpha, V [k n_(i-1), n_(i-1)] with bias, U [n_(i-1), n_i])
//	agem laterals:           k * sum_(i=1..L+1) (n_(i-1) n_i + n_i)   (from the input too, with biases)
func pnnParams(D int, h, heads []int, t int, form string) int {
	total := 0
	for k := 0; k <= t; k++ {
		n := append(append([]int{D}, h...), heads[k])
		for i := 1; i < len(n); i++ {
			total += n[i-1]*n[i] + n[i]
			if form == "agem" && k > 0 {
				total += k * (n[i-1]*n[i] + n[i])
				continue
			}
			if i < 2 || k == 0 {
				continue
			}
			if form == "adapter" {
				total += 1 + k*n[i-1]*n[i-1] + n[i-1] + n[i-1]*n[i]
			} else {
				total += k * n[i-1] * n[i]
			}
		}
	}
	return total
}

func TestPNNParameterGrowth(t *testing.T) {
	st := strategytest.Synthetic(stream.TaskIL, 4, 2, 16, 30, 1)
	heads := []int{2, 2, 2, 2}
	for _, tc := range []struct {
		spec   string
		widths []int
		form   string
	}{
		{"pnn", []int{10, 10}, "linear"},
		{"pnn:width=8/6", []int{8, 6}, "linear"},
		{"pnn:width=7", []int{7, 7}, "linear"},
		{"pnn:adapter=true,width=8/6", []int{8, 6}, "adapter"},
		{"pnn:laterals=agem,width=8/6", []int{8, 6}, "agem"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			s := newStrategy(t, tc.spec)
			set := quick
			set.Iterations = 2
			res, err := (&loop.Runner{}).Run(context.Background(), st, s, loop.Settings{Spec: set.Cell(tc.spec, 1)})
			if err != nil {
				t.Fatal(err)
			}
			var want []int
			for k := range st.Tasks {
				want = append(want, pnnParams(st.InputDim, tc.widths, heads, k, tc.form))
			}
			if !reflect.DeepEqual(res.Cost.ParamsPerTask, want) {
				t.Fatalf("parameters after each task %v, formula gives %v", res.Cost.ParamsPerTask, want)
			}
		})
	}
}

// TestPNNNoForgetting checks that frozen columns never change: each column's weights are
// bit-identical at the end of the run to what they were right after its task, every accuracy on
// an earlier task is identical to the one measured right after training on it, and BWT and
// forgetting are exactly 0.
func TestPNNNoForgetting(t *testing.T) {
	st := strategytest.Synthetic(stream.TaskIL, 3, 2, 16, 60, 4)
	for _, spec := range []string{"pnn", "pnn:adapter=true"} {
		t.Run(spec, func(t *testing.T) {
			s := newStrategy(t, spec)
			p := s.(*strategies.PNN)
			snap := map[*graphs.Param][]float32{}
			r := &loop.Runner{Hooks: []loop.Hook{loop.Observe(func(e loop.Event) {
				if e.Kind != loop.TaskEnd {
					return
				}
				for _, q := range p.Network().Columns[e.Task].Params() {
					snap[q] = append([]float32(nil), q.Data()...)
				}
			})}}
			set := quick
			set.Iterations = 60
			res, err := r.Run(context.Background(), st, s, loop.Settings{Spec: set.Cell(spec, 3)})
			if err != nil {
				t.Fatal(err)
			}
			cols := p.Network().Columns
			if len(cols) != len(st.Tasks) {
				t.Fatalf("%d columns after %d tasks", len(cols), len(st.Tasks))
			}
			for k, c := range cols {
				for _, q := range c.Params() {
					if q.Frozen != (k < len(cols)-1) {
						t.Errorf("%s: Frozen=%v", q.Name, q.Frozen)
					}
					if k == len(cols)-1 {
						continue
					}
					for i, v := range q.Data() {
						if v != snap[q][i] {
							t.Fatalf("frozen %s[%d] changed from %v to %v", q.Name, i, snap[q][i], v)
						}
					}
				}
			}
			for i := range res.R {
				for j := 0; j < i; j++ {
					if res.R[i][j] != res.R[j][j] {
						t.Errorf("accuracy on task %d after task %d is %v, right after it %v", j+1, i+1, res.R[i][j], res.R[j][j])
					}
				}
			}
			if res.Metrics.Get(results.KeyBWT) != 0 || res.Metrics.Get(results.KeyForgetting) != 0 {
				t.Errorf("BWT %v and forgetting %v, want exactly 0", res.Metrics.Get(results.KeyBWT), res.Metrics.Get(results.KeyForgetting))
			}
			if res.Metrics.Get(results.KeyLearningAccuracy) < 0.85 {
				t.Errorf("learning accuracy %v: the columns did not learn", res.Metrics.Get(results.KeyLearningAccuracy))
			}
		})
	}
}

// TestPNNLateralsReachScores fails if the strategy drops the lateral connections: the scores of
// task 2's examples must depend on column 1's weights, and task 1's must not depend on column 2.
func TestPNNLateralsReachScores(t *testing.T) {
	st := strategytest.Synthetic(stream.TaskIL, 2, 2, 16, 30, 2)
	for _, spec := range []string{"pnn", "pnn:adapter=true"} {
		t.Run(spec, func(t *testing.T) {
			p := newStrategy(t, spec).(*strategies.PNN)
			env := &strategies.Env{Stream: st, Hidden: []int{8, 8}, LR: 3e-3, Batch: 16, EvalBatch: 64, Rng: rand.New(rand.NewSource(1))}
			if err := p.Setup(env); err != nil {
				t.Fatal(err)
			}
			for k := range st.Tasks {
				if err := p.StartTask(k); err != nil {
					t.Fatal(err)
				}
			}
			score := func(task int) []float32 {
				tk := st.Tasks[task]
				b := stream.NewBatch(8, st.InputDim)
				for i := 0; i < 8; i++ {
					b.Add(tk, &tk.Test, i)
				}
				out := make([]float32, b.N*st.Outputs)
				if err := p.Scores(b, out); err != nil {
					t.Fatal(err)
				}
				return out
			}
			t1, t2 := score(0), score(1)
			// scale multiplies column k's parameters by f and returns a function that restores them.
			scale := func(k int, f float32) func() {
				saved := map[*graphs.Param][]float32{}
				for _, q := range p.Network().Columns[k].Params() {
					saved[q] = append([]float32(nil), q.Data()...)
					for i := range q.Data() {
						q.Data()[i] *= f
					}
				}
				return func() {
					for q, d := range saved {
						copy(q.Data(), d)
					}
				}
			}
			restore := scale(0, 1.5)
			if reflect.DeepEqual(score(1), t2) {
				t.Error("task 2's scores do not depend on column 1: the lateral connections are missing")
			}
			restore()
			restore = scale(1, 1.5)
			if !reflect.DeepEqual(score(0), t1) {
				t.Error("task 1's scores depend on column 2")
			}
			if reflect.DeepEqual(score(1), t2) {
				t.Error("task 2's scores do not depend on its own column")
			}
			restore()
			if !reflect.DeepEqual(score(1), t2) {
				t.Error("scores differ after restoring the weights")
			}
		})
	}
}

func TestPNNNeedsTaskIdentity(t *testing.T) {
	for _, sc := range []stream.Scenario{stream.DomainIL, stream.ClassIL} {
		st := strategytest.Synthetic(sc, 2, 2, 16, 10, 1)
		s := newStrategy(t, "pnn")
		if !strategies.RequirementsOf(s).TaskIdentity {
			t.Fatal("pnn does not require task identities")
		}
		steps := 0
		r := &loop.Runner{Hooks: []loop.Hook{loop.Observe(func(e loop.Event) {
			if e.Kind == loop.Step {
				steps++
			}
		})}}
		_, err := r.Run(context.Background(), st, s, loop.Settings{Spec: quick.Cell("pnn", 1)})
		if err == nil || !strings.Contains(err.Error(), "--scenario task") || steps > 0 {
			t.Errorf("%s-IL: err %v after %d steps, want a refusal naming --scenario task before training", sc, err, steps)
		}
		env := &strategies.Env{Stream: st, Hidden: []int{8}, LR: 1e-3, Batch: 4, EvalBatch: 4, Rng: rand.New(rand.NewSource(1))}
		if err := s.Setup(env); err == nil {
			t.Errorf("%s-IL: Setup accepted a scenario without task identities", sc)
		}
	}
}

func TestPNNOptions(t *testing.T) {
	for _, spec := range []string{"pnn:width=abc", "pnn:width=0", "pnn:adapter=maybe", "pnn:depth=2", "pnn:laterals=all", "pnn:adapter=true,laterals=agem"} {
		if _, err := strategies.Default.New(spec); err == nil {
			t.Errorf("%s accepted", spec)
		}
	}
	st := strategytest.Synthetic(stream.TaskIL, 2, 2, 16, 10, 1)
	s := newStrategy(t, "pnn:width=8/8/8")
	env := &strategies.Env{Stream: st, Hidden: []int{8, 8}, LR: 1e-3, Batch: 4, EvalBatch: 4, Rng: rand.New(rand.NewSource(1))}
	if err := s.Setup(env); err == nil || !strings.Contains(err.Error(), "3 layers") {
		t.Errorf("width of 3 layers over a 2-layer trunk: %v", err)
	}
}
