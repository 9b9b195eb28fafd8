package strategies_test

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

func TestSIConformance(t *testing.T) {
	for _, spec := range []string{"si", "si:c=0.5,xi=0.01", "si:clip=true", "si:grad=total", "si:heads=multi"} {
		t.Run(spec, func(t *testing.T) { strategytest.Run(t, strategies.Default, spec) })
	}
}

// TestImportanceHandComputed works one parameter through two tasks by hand.
//
// Task 1 (no penalty yet, Omega = 0): theta goes 1.0 -> 0.8 -> 0.5 with data gradients 2 then 1:
// omega = -(2)(-0.2) - (1)(-0.3) = 0.7; Delta = 0.5 - 1.0 = -0.5;
// Omega = 0.7 / (0.25 + 0.1) = 2.
//
// Task 2 (c = 0.5, anchor 0.5, Omega 2): one step 0.5 -> 0.9 with a total gradient of -1.6 at
// theta = 0.5, where the penalty's gradient 2 c Omega (theta - anchor) is 0, so the data
// gradient is -1.6: omega = 1.6 * 0.4 = 0.64. A second step 0.9 -> 1.0 with total gradient
// -0.2 at 0.9: penalty gradient 2*0.5*2*0.4 = 0.8, data gradient -1.0, omega += 1.0 * 0.1 = 0.74.
// Delta = 0.5; Omega = 2 + 0.74 / (0.25 + 0.1) = 2 + 2.1142857.
//
// A third task with a negative path integral omega = -0.35 and Delta = 0.5 adds -0.35 / 0.35 =
// -1 to Omega by default (the paper), and nothing with clip.
func TestImportanceHandComputed(t *testing.T) {
	for _, clip := range []bool{false, true} {
		omega, big := []float32{0}, []float32{0}
		anchor := []float32{1}
		w := []float32{0}
		strategies.SIAccumulate(omega, []float32{2}, []float32{1}, []float32{0.8}, w, anchor, 0)
		strategies.SIAccumulate(omega, []float32{1}, []float32{0.8}, []float32{0.5}, w, anchor, 0)
		if math.Abs(float64(omega[0])-0.7) > 1e-6 {
			t.Fatalf("clip=%v: omega %v, want 0.7", clip, omega[0])
		}
		strategies.SIConsolidate(big, omega, []float32{0.5}, anchor, 0.1, clip)
		if math.Abs(float64(big[0])-2) > 1e-5 {
			t.Fatalf("clip=%v: Omega %v, want 2", clip, big[0])
		}
		omega[0], anchor[0] = 0, 0.5
		strategies.SIAccumulate(omega, []float32{-1.6}, []float32{0.5}, []float32{0.9}, big, anchor, 2*0.5)
		strategies.SIAccumulate(omega, []float32{-0.2}, []float32{0.9}, []float32{1.0}, big, anchor, 2*0.5)
		if math.Abs(float64(omega[0])-0.74) > 1e-5 {
			t.Fatalf("clip=%v: task 2 omega %v, want 0.74", clip, omega[0])
		}
		strategies.SIConsolidate(big, omega, []float32{1.0}, anchor, 0.1, clip)
		want := 2 + 0.74/0.35
		if math.Abs(float64(big[0])-want) > 1e-5 {
			t.Fatalf("clip=%v: Omega %v, want %v", clip, big[0], want)
		}
		// A negative path integral lowers Omega by default and adds nothing with clip.
		anchor[0] = 1.5
		strategies.SIConsolidate(big, []float32{-0.35}, []float32{2}, anchor, 0.1, clip)
		if !clip {
			want--
		}
		if math.Abs(float64(big[0])-want) > 1e-5 {
			t.Fatalf("clip=%v: after a negative path integral Omega is %v, want %v", clip, big[0], want)
		}
	}
}

// TestPathIntegralDuringTraining checks, on a real model, that the path integral SI keeps is
// -sum g (theta_after - theta_before) with g the gradient the graph computed, minus the
// penalty's, and that the penalty anchors at the end of each task.
func TestPathIntegralDuringTraining(t *testing.T) {
	for _, tc := range []struct {
		clip bool
		grad string
	}{{false, "data"}, {true, "data"}, {false, "total"}} {
		t.Run(fmt.Sprintf("clip=%v,grad=%s", tc.clip, tc.grad), func(t *testing.T) { testPathIntegral(t, tc.clip, tc.grad) })
	}
}

// testPathIntegral recomputes omega step by step from the gradients the model reports: the data
// loss's (the penalty's gradient taken out) with grad=data, the total one with grad=total; in
// the second task the penalty's gradient is non-zero, so the two differ.
func testPathIntegral(t *testing.T, clip bool, grad string) {
	st := strategytest.Synthetic(stream.DomainIL, 2, 2, 6, 20, 5)
	s, err := strategies.Default.New(fmt.Sprintf("si:c=0.3,clip=%v,grad=%s", clip, grad))
	if err != nil {
		t.Fatal(err)
	}
	si := s.(*strategies.SI)
	env := &strategies.Env{Stream: st, Hidden: []int{8}, LR: 1e-2, Batch: 8, EvalBatch: 32, Rng: rand.New(rand.NewSource(1))}
	if err := si.Setup(env); err != nil {
		t.Fatal(err)
	}
	params := si.Q.Params()
	for task := 0; task < 2; task++ {
		want := make([][]float64, len(params))
		start := make([][]float32, len(params))
		for i, p := range params {
			want[i] = make([]float64, p.Size())
			start[i] = append([]float32(nil), p.Data()...)
		}
		smp := stream.NewSampler(rand.New(rand.NewSource(int64(task))), st.Tasks[task])
		b := stream.NewBatch(8, st.InputDim)
		for step := 0; step < 15; step++ {
			smp.Fill(b, 8)
			before := make([][]float32, len(params))
			for i, p := range params {
				before[i] = append([]float32(nil), p.Data()...)
			}
			if _, err := si.Step(task, b); err != nil {
				t.Fatal(err)
			}
			for i, p := range params {
				g := si.Net.Grad(p)
				tm := si.Q.Term(p)
				for j, v := range p.Data() {
					pen := 2 * 0.3 * float64(tm.Weights()[j]) * (float64(before[i][j]) - float64(tm.Anchors()[j]))
					if grad == "total" {
						pen = 0
					}
					want[i][j] -= (float64(g[j]) - pen) * (float64(v) - float64(before[i][j]))
				}
			}
		}
		var total float64
		for i := range params {
			for j := range want[i] {
				if d := math.Abs(float64(si.Omega[i][j]) - want[i][j]); d > 1e-5*(1+math.Abs(want[i][j])) {
					t.Fatalf("task %d %s[%d]: omega %v, recomputed %v", task+1, params[i].Name, j, si.Omega[i][j], want[i][j])
				}
				total += want[i][j]
			}
		}
		if !(total > 0) {
			t.Fatalf("task %d: total path integral %v, want > 0 (training lowers the loss)", task+1, total)
		}
		old := make([][]float32, len(params))
		for i := range params {
			old[i] = append([]float32(nil), si.Q.Terms[i].Weights()...)
		}
		if err := si.EndTask(task); err != nil {
			t.Fatal(err)
		}
		for i, p := range params {
			tm := si.Q.Term(p)
			for j, v := range p.Data() {
				if tm.Anchors()[j] != v {
					t.Fatalf("anchor of %s not moved to the current parameters", p.Name)
				}
				d := float64(v) - float64(start[i][j])
				add := want[i][j] / (d*d + 0.1)
				if clip {
					add = math.Max(want[i][j], 0) / (d*d + 0.1)
				}
				if got := float64(tm.Weights()[j]); math.Abs(got-float64(old[i][j])-add) > 1e-4*(1+add) {
					t.Fatalf("task %d %s[%d]: Omega %v, want %v + %v", task+1, p.Name, j, got, old[i][j], add)
				}
			}
		}
	}
	if si.Q.Value() != 0 {
		t.Fatalf("penalty %v right after anchoring", si.Q.Value())
	}
}

// TestResumes checks that SI resumes from its checkpoints (mid-task ones included, where the path
// integral is half-accumulated) to the uninterrupted run's results and parameters, bit for bit.
func TestResumes(t *testing.T) {
	set := loop.Settings{Spec: runspec.Spec{Protocol: "test", Iterations: 30, Batch: 16, EvalBatch: 64, LR: 3e-3, Hidden: []int{24, 16}, Seed: 5, Strategy: "si:c=2"}}
	st := strategytest.Synthetic(stream.DomainIL, 3, 2, 12, 40, 9)
	build := func() (strategies.Strategy, error) { return strategies.Default.New("si:c=2") }
	if err := loop.VerifyResume(context.Background(), t.TempDir(), st, build, set, 7, 6); err != nil {
		t.Fatal(err)
	}
}
