package strategies_test

import (
	"context"
	"math"
	"math/rand"
	"reflect"
	"testing"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

func TestLwFConformance(t *testing.T) {
	for _, spec := range []string{"lwf", "lwf:heads=single,alpha=2,T=1"} {
		t.Run(spec, func(t *testing.T) { strategytest.Run(t, strategies.Default, spec) })
	}
}

// TestLwFAlphaZeroIsNaive: with alpha=0 the distillation term is in the graph but weighs
// nothing, so lwf trains bit for bit as naive fine-tuning in every scenario.
func TestLwFAlphaZeroIsNaive(t *testing.T) {
	set := runspec.Spec{Protocol: "test", Iterations: 20, Batch: 16, EvalBatch: 64, LR: 3e-3, Hidden: []int{12, 10}}
	for _, sc := range stream.Scenarios {
		st := strategytest.Synthetic(sc, 3, 2, 12, 40, 3)
		run := func(spec string) (strategies.Strategy, [][]float64) {
			s := newStrategy(t, spec)
			res, err := (&loop.Runner{}).Run(context.Background(), st, s, loop.Settings{Spec: set.Cell(spec, 2)})
			if err != nil {
				t.Fatalf("%s in %s-IL: %v", spec, sc, err)
			}
			return s, res.R
		}
		lwf, R1 := run("lwf:alpha=0")
		naive, R2 := run("naive")
		if !reflect.DeepEqual(R1, R2) {
			t.Errorf("%s-IL: lwf:alpha=0 R %v, naive %v", sc, R1, R2)
		}
		for i, p := range lwf.Params().All() {
			if q := naive.Params().All()[i]; !reflect.DeepEqual(p.Data(), q.Data()) {
				t.Errorf("%s-IL: parameter %s differs from naive's", sc, p.Name)
			}
		}
	}
}

// TestLwFDistillationLoss checks the step's penalty against the loss computed here from the
// stream's layout, at the first step of tasks 2 and 3: the parameters are still those at the end
// of the previous task, so the previous model's logits are the model's own.
func TestLwFDistillationLoss(t *testing.T) {
	const alpha, T = 0.7, 1.5
	type tc struct {
		sc                    stream.Scenario
		single, rnt, perclass bool
	}
	var cases []tc
	for _, v := range [][2]bool{{false, false}, {true, false}, {false, true}} {
		rnt, pc := v[0], v[1]
		cases = append(cases, tc{stream.TaskIL, false, rnt, pc}, tc{stream.TaskIL, true, rnt, pc}, tc{stream.DomainIL, false, rnt, pc}, tc{stream.ClassIL, false, rnt, pc})
	}
	for _, c := range cases {
		sc := c.sc
		spec := "lwf:alpha=0.7,T=1.5"
		if c.single {
			spec += ",heads=single"
		}
		if c.rnt {
			spec += ",weighting=rnt,tnorm=true"
		}
		if c.perclass {
			spec += ",perclass=true"
		}
		t.Run(spec+"/"+sc.String(), func(t *testing.T) {
			st := strategytest.Synthetic(sc, 3, 2, 12, 40, 4)
			s := newStrategy(t, spec).(*strategies.LwF)
			if err := s.Setup(regEnv(st, 1)); err != nil {
				t.Fatal(err)
			}
			b := stream.NewBatch(16, st.InputDim)
			M := s.Net.Outputs()
			z := make([]float32, 16*M)
			for cur := range st.Tasks {
				smp := stream.NewSampler(rand.New(rand.NewSource(int64(cur))), st.Tasks[cur])
				for step := range 15 {
					smp.Fill(b, 16)
					if sc != stream.TaskIL {
						b.HideTasks()
					}
					if err := s.Net.Forward(b.X, b.N, z); err != nil {
						t.Fatal(err)
					}
					info, err := s.Step(cur, b)
					if err != nil {
						t.Fatal(err)
					}
					if cur == 0 && info.Penalty != 0 {
						t.Fatalf("task 1 step %d: penalty %v, want none", step+1, info.Penalty)
					}
					if cur > 0 && step == 0 {
						want := alpha * lwfLoss(st, c.single, cur, z[:b.N*M], b.N, M, T, c.perclass)
						if c.rnt { // (1 - 1/k) T^2 times the mean over the earlier tasks' terms
							want *= (1 - 1/float64(cur+1)) * T * T
							if sc != stream.ClassIL {
								want /= float64(cur)
							}
						}
						if math.Abs(float64(info.Penalty)-want) > 1e-5*want || want == 0 {
							t.Errorf("task %d: penalty %v, want %v", cur+1, info.Penalty, want)
						}
					}
				}
				if err := s.EndTask(cur); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// lwfLoss is the reference code's L_distill on task cur for logits z (n x M) of both models, with
// a shared head in task-IL when single is set, each task's term averaged over the units the
// current model scores in it when perclass is set.
func lwfLoss(st *stream.Stream, single bool, cur int, z []float32, n, M int, T float64, perclass bool) float64 {
	cols := func(tasks ...int) []int { // model columns of the tasks' units (all units: class-IL)
		var c []int
		for _, j := range tasks {
			for _, u := range st.Tasks[j].Units {
				c = append(c, u)
			}
		}
		return c
	}
	kd := func(old, now []int) float64 {
		var sum float64
		for i := range n {
			zi := z[i*M : (i+1)*M]
			lse := func(cs []int) float64 {
				var s float64
				for _, c := range cs {
					s += math.Exp(float64(zi[c]) / T)
				}
				return math.Log(s)
			}
			lo, ln := lse(old), lse(now)
			for _, c := range old {
				sum -= math.Exp(float64(zi[c])/T-lo) * (float64(zi[c])/T - ln)
			}
		}
		if perclass {
			sum /= float64(len(now))
		}
		return sum / float64(n)
	}
	all := make([]int, M)
	for c := range all {
		all[c] = c
	}
	switch {
	case st.Scenario == stream.TaskIL && !single: // one head per task, laid out in task order: task j's columns are its units
		var l float64
		for j := range cur {
			l += kd(cols(j), cols(j))
		}
		return l
	case st.Scenario != stream.ClassIL: // one shared head: each earlier task counts once
		return float64(cur) * kd(all, all)
	}
	var old, now []int
	for j := range cur + 1 {
		if j < cur {
			old = append(old, cols(j)...)
		}
		now = append(now, cols(j)...)
	}
	return kd(old, now)
}

// TestLwFRNTWeighsCurrentLoss: under weighting=rnt the first task trains bit for bit as the
// default (rnt = 1, no distillation yet), and at the first step of task 2 the current loss
// weighs 1/2 of the default's at the same parameters.
func TestLwFRNTWeighsCurrentLoss(t *testing.T) {
	for _, sc := range stream.Scenarios {
		st := strategytest.Synthetic(sc, 3, 2, 12, 40, 4)
		var ss [2]*strategies.LwF
		for i, spec := range []string{"lwf:alpha=1", "lwf:alpha=1,weighting=rnt,tnorm=true"} {
			ss[i] = newStrategy(t, spec).(*strategies.LwF)
			if err := ss[i].Setup(regEnv(st, 1)); err != nil {
				t.Fatal(err)
			}
		}
		b := stream.NewBatch(16, st.InputDim)
		for cur := range 2 {
			smp := stream.NewSampler(rand.New(rand.NewSource(int64(cur))), st.Tasks[cur])
			for step := range 10 {
				smp.Fill(b, 16)
				if sc != stream.TaskIL {
					b.HideTasks()
				}
				var info [2]strategies.StepInfo
				for i, s := range ss {
					var err error
					if info[i], err = s.Step(cur, b); err != nil {
						t.Fatal(err)
					}
				}
				if cur == 0 && info[0] != info[1] {
					t.Fatalf("%s-IL task 1 step %d: rnt %+v, default %+v", sc, step+1, info[1], info[0])
				}
				if cur == 1 && step == 0 {
					if got, want := float64(info[1].Loss), float64(info[0].Loss)/2; math.Abs(got-want) > 1e-5*want || want == 0 {
						t.Errorf("%s-IL task 2: current loss %v, want half the default's %v", sc, got, want)
					}
				}
			}
			for _, s := range ss {
				if err := s.EndTask(cur); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// BenchmarkLwFStep is an LwF step on task 2 (benchStep, beside BenchmarkNaiveStep): the previous
// model's forward pass, the soft targets and the distillation term in the graph.
func BenchmarkLwFStep(b *testing.B) { benchStep(b, "lwf") }

// TestPlainNetMatchesModel checks that the pure-Go copy of a model (the previous model of LwF,
// iCaRL and DGR) computes the model's logits, on a dense trunk and on a conv trunk (4×4 images,
// conv layers of 3 and 4 filters).
func TestPlainNetMatchesModel(t *testing.T) {
	for _, filters := range [][]int{nil, {3}, {3, 4}} {
		st := strategytest.Synthetic(stream.ClassIL, 2, 2, 16, 20, 3)
		nv := newStrategy(t, "naive").(*strategies.Naive)
		env := regEnv(st, 4)
		env.Filters = filters
		if err := nv.Setup(env); err != nil {
			t.Fatal(err)
		}
		regTrain(t, nv, st, 0, 10, 2)
		b := stream.NewBatch(20, st.InputDim)
		tk := st.Tasks[0]
		for k := range tk.Train.Len() {
			b.Add(tk, &tk.Train, k)
		}
		M := st.ModelOutputs(nv.Heads)
		want := make([]float32, b.N*M)
		if err := nv.Net.Forward(b.X, b.N, want); err != nil {
			t.Fatal(err)
		}
		// All rows at once, then fewer rows (7, not a multiple of the conv chunk) through the
		// same buffers.
		got := strategies.PlainLogits(&nv.Base, b.X, b.N, 7)
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-5*(1+math.Abs(float64(want[i]))) {
				t.Fatalf("filters %v: logit %d is %v, the model's %v", filters, i, got[i], want[i])
			}
		}
	}
}
