package main

import (
	"encoding/json"
	"fmt"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/stream"
)

// SI is Synaptic Intelligence (Zenke, Poole & Ganguli 2017), written as a third-party strategy
// with clgraph's exported API only. During each task it accumulates every shared parameter's
// path integral omega += -g * delta_theta per step, g being the gradient of the data loss (the
// surrogate penalty's own gradient taken out, as in the paper's code) and delta_theta the
// optimizer's update. At the task's end it adds omega / (Delta^2 + xi) to the importance Omega,
// Delta being how far the parameter moved over the task, and moves the anchor to the current
// parameters. The training loss is L + c sum Omega (theta - theta*)^2: a graphs.Quadratic whose
// weights (Omega) and anchors are tensors updated in place, so the graph is built once.
type SI struct {
	strategies.Base
	// C is the surrogate penalty's strength; with AutoC, Setup picks it from SICs.
	C     float64
	AutoC bool
	// Xi keeps Omega finite for parameters that hardly moved.
	Xi float64

	// Q is the penalty: weights Omega, anchors theta at the end of the previous task.
	Q *graphs.Quadratic
	// Omega is the path integral of the current task per penalised parameter (term order).
	Omega [][]float32
	prev  [][]float32 // parameters before the current step
}

// SICs is the table si:c=auto picks from, chosen by the sweep in
// results/reference/sweep-regularization.md (quick protocol; permuted MNIST at Adam 1e-3, 5
// tasks). Task-IL with one shared head trains exactly like domain-IL and takes its value; the
// split-MNIST class-IL value is a tie within noise (no c helps there) and takes domain-IL's.
var SICs = strategies.AutoTable{
	Values: map[string]float64{
		"split-mnist/task/multi": 100,
		"split-mnist/task":       1e5,
		"split-mnist/domain":     1e5,
		"split-mnist/class":      1e5,
		"permuted-mnist/task":    10,
		"permuted-mnist/domain":  10,
		"permuted-mnist/class":   10,
	},
	Fallback: 1,
}

// Compile-time interface checks.
var (
	_ strategies.Strategy     = (*SI)(nil)
	_ strategies.TaskEnder    = (*SI)(nil)
	_ strategies.Requirer     = (*SI)(nil)
	_ strategies.Modeler      = (*SI)(nil)
	_ strategies.Checkpointer = (*SI)(nil)
	_ strategies.Resolver     = (*SI)(nil)
)

// Setup builds the model with the surrogate penalty and anchors it at the initial parameters.
func (s *SI) Setup(env *strategies.Env) error {
	SICs.Resolve(env, s.Heads, "si", "c", &s.C, s.AutoC)
	s.Penalty = strategies.QuadraticPenalty(&s.Base, &s.Q, s.C)
	if err := s.Base.Setup(env); err != nil {
		return fmt.Errorf("si: %w", err)
	}
	s.Q.SetAnchors()
	for _, p := range s.Q.Params() {
		s.Omega = append(s.Omega, make([]float32, p.Size()))
		s.prev = append(s.prev, make([]float32, p.Size()))
	}
	return nil
}

// Step trains on one batch and adds the step's contribution to the path integral.
func (s *SI) Step(cur int, bt *stream.Batch) (strategies.StepInfo, error) {
	for i := range s.Q.Terms {
		copy(s.prev[i], s.Q.Terms[i].Param.Data())
	}
	info, err := s.Base.Step(cur, bt)
	if err != nil {
		return info, fmt.Errorf("si: %w", err)
	}
	for i := range s.Q.Terms {
		t := &s.Q.Terms[i]
		g := s.Net.Grad(t.Param)
		if g == nil {
			continue
		}
		Accumulate(s.Omega[i], g, s.prev[i], t.Param.Data(), t.Weights(), t.Anchors(), 2*s.Q.Scale)
	}
	return info, nil
}

// EndTask folds the task's path integral into the importance and re-anchors the penalty.
func (s *SI) EndTask(cur int) error {
	for i := range s.Q.Terms {
		t := &s.Q.Terms[i]
		Consolidate(t.Weights(), s.Omega[i], t.Param.Data(), t.Anchors(), s.Xi)
		clear(s.Omega[i])
	}
	s.Q.SetAnchors()
	return nil
}

// Accumulate adds one step's path integral to omega: omega += -g_data * (after - before), where
// g_data = gTotal - k * weight * (before - anchor) is the data loss's gradient at the step's
// parameters before (gTotal includes the penalty k/2 * sum weight (theta - anchor)^2, whose
// gradient is taken out).
func Accumulate(omega, gTotal, before, after, weight, anchor []float32, k float64) {
	kk := float32(k)
	for j := range omega {
		g := gTotal[j] - kk*weight[j]*(before[j]-anchor[j])
		omega[j] -= g * (after[j] - before[j])
	}
}

// Consolidate adds a task's importance to big: big += max(omega, 0) / (delta^2 + xi) with delta =
// theta - anchor, the parameter's change over the task. Negative path integrals (steps that
// raised the loss, possible with Adam's momentum) are clipped at 0 so that the penalty stays a
// penalty.
func Consolidate(big, omega, theta, anchor []float32, xi float64) {
	for j := range big {
		if omega[j] <= 0 {
			continue
		}
		d := float64(theta[j]) - float64(anchor[j])
		big[j] += float32(float64(omega[j]) / (d*d + xi))
	}
}

func init() {
	strategies.Register(strategies.Info{
		Name: "si",
		Doc:  "synaptic intelligence (plugin example): path-integral importance, penalty c sum Omega (theta - theta*)^2",
		Options: []strategies.Option{
			{Name: "c", Default: "auto", Doc: "surrogate penalty strength; auto picks from a table by stream and scenario (1 for other streams)"},
			{Name: "xi", Default: "0.1", Doc: "damping of Omega = omega / (Delta^2 + xi)"},
			strategies.HeadsOption,
		},
	}, func(o *strategies.Options) (strategies.Strategy, error) {
		s := &SI{}
		s.ParseHeads(o)
		s.C, s.AutoC = strategies.FloatOrAuto(o, "c")
		s.Xi = o.Float("xi")
		o.Check("xi", s.Xi > 0, "a positive number")
		return s, nil
	})
}

// Resolved returns the c the run uses (after c=auto).
func (s *SI) Resolved() map[string]string { return strategies.ResolvedFloat("c", s.C) }

// siState is SI's saved state: the penalty (Omega and anchors) and the current task's path
// integral.
type siState struct {
	Penalty strategies.QuadraticState `json:"penalty"`
	Omega   []strategies.F32          `json:"omega"`
}

// SaveState saves the penalty and the running path integral.
func (s *SI) SaveState() ([]byte, error) {
	st := siState{Penalty: strategies.SaveQuadratic(s.Q)}
	for _, o := range s.Omega {
		st.Omega = append(st.Omega, append(strategies.F32(nil), o...))
	}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("si: saving state: %w", err)
	}
	return b, nil
}

// LoadState restores the state SaveState saved.
func (s *SI) LoadState(data []byte) error {
	var st siState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("si: state: %w", err)
	}
	if len(st.Omega) != len(s.Omega) {
		return fmt.Errorf("si: state has %d path integrals, the model %d penalised parameters", len(st.Omega), len(s.Omega))
	}
	for i, o := range st.Omega {
		if len(o) != len(s.Omega[i]) {
			return fmt.Errorf("si: path integral %d has %d values, want %d", i, len(o), len(s.Omega[i]))
		}
	}
	if err := strategies.LoadQuadratic(s.Q, st.Penalty); err != nil {
		return fmt.Errorf("si: %w", err)
	}
	for i, o := range st.Omega {
		copy(s.Omega[i], o)
	}
	return nil
}
