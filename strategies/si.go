package strategies

import (
	"fmt"

	"github.com/clgraph/clgraph/stream"
)

// SI is Synaptic Intelligence (Zenke, Poole & Ganguli 2017), built on the toolkit's Regularizer
// (it began as the plugin example and uses the exported API only). During each task it accumulates every shared parameter's
// path integral omega += -g * delta_theta per step, g being the gradient of the data loss (the
// surrogate penalty's own gradient taken out, as in the paper's code; with TotalGrad, the
// gradient of loss plus penalty, as van de Ven & Tolias' reference code has it) and delta_theta
// the optimizer's update. At the task's end it adds omega / (Delta^2 + xi) to the importance Omega,
// Delta being how far the parameter moved over the task, and moves the anchor to the current
// parameters. The training loss is L + c sum Omega (theta - theta*)^2: Regularizer's
// penalty Q, whose weights are Omega, with Strength c. The Regularizer also resolves c=auto,
// reports c and saves Q and the running path integral (a named buffer) in checkpoints.
type SI struct {
	Regularizer
	// Xi keeps Omega finite for parameters that hardly moved.
	Xi float64
	// Clip drops negative path integrals at the end of a task (si:clip=true). The paper and its
	// reference code add them as they are, which is the default.
	Clip bool
	// TotalGrad makes the path integral use the gradient of the whole training loss, the
	// surrogate penalty's included (si:grad=total), as GMvandeVen/continual-learning does: the
	// penalty's pull towards the anchor then lowers omega. The default (grad=data) is Zenke et
	// al.'s data-loss gradient.
	TotalGrad bool
	// Omega is the path integral of the current task per penalised parameter (term order).
	Omega [][]float32
	prev  [][]float32 // parameters before the current step
}

// SICs is where si:c=auto takes its value: the default the stream registers (streams/split.go,
// streams/permuted.go, tuned on validation data, see streams.Tuning), else 1.
var SICs = AutoTable{Key: "si.c", Fallback: 1}

// Setup builds the model with the surrogate penalty and anchors it at the initial parameters.
func (s *SI) Setup(env *Env) error {
	if err := s.Regularizer.Setup(env); err != nil {
		return err
	}
	s.Q.SetAnchors()
	s.Omega, s.prev = s.Buffer("omega"), s.Buffer("")
	return nil
}

// Step trains on one batch and adds the step's contribution to the path integral.
func (s *SI) Step(cur int, bt *stream.Batch) (StepInfo, error) {
	for i := range s.Q.Terms {
		copy(s.prev[i], s.Q.Terms[i].Param.Data())
	}
	info, err := s.Base.Step(cur, bt)
	if err != nil {
		return info, fmt.Errorf("si: %w", err)
	}
	k := 2 * s.Q.Scale
	if s.TotalGrad {
		k = 0
	}
	for i := range s.Q.Terms {
		t := &s.Q.Terms[i]
		if g := s.Net.Grad(t.Param); g != nil {
			SIAccumulate(s.Omega[i], g, s.prev[i], t.Param.Data(), t.Weights(), t.Anchors(), k)
		}
	}
	return info, nil
}

// EndTask folds the task's path integral into the importance and re-anchors the penalty.
func (s *SI) EndTask(cur int) error {
	for i := range s.Q.Terms {
		t := &s.Q.Terms[i]
		SIConsolidate(t.Weights(), s.Omega[i], t.Param.Data(), t.Anchors(), s.Xi, s.Clip)
		clear(s.Omega[i])
	}
	s.Q.SetAnchors()
	return nil
}

// SIAccumulate adds one step's path integral to omega: omega += -g_data * (after - before), where
// g_data = gTotal - k * weight * (before - anchor) is the data loss's gradient at the step's
// parameters before (gTotal includes the penalty k/2 * sum weight (theta - anchor)^2, whose
// gradient is taken out; k = 0 keeps gTotal as it is).
func SIAccumulate(omega, gTotal, before, after, weight, anchor []float32, k float64) {
	kk := float32(k)
	for j := range omega {
		g := gTotal[j] - kk*weight[j]*(before[j]-anchor[j])
		omega[j] -= g * (after[j] - before[j])
	}
}

// SIConsolidate adds a task's importance to big: big += omega / (delta^2 + xi) with delta =
// theta - anchor, the parameter's change over the task, as in Zenke et al. (2017) and their
// reference code. With clip, negative path integrals (steps that raised the loss, possible with
// Adam's momentum) are dropped instead (big += max(omega, 0) / (delta^2 + xi)), so that the
// penalty never rewards moving a parameter.
func SIConsolidate(big, omega, theta, anchor []float32, xi float64, clip bool) {
	for j := range big {
		if clip && omega[j] <= 0 {
			continue
		}
		d := float64(theta[j]) - float64(anchor[j])
		big[j] += float32(float64(omega[j]) / (d*d + xi))
	}
}

func init() {
	Register(Info{
		Name: "si",
		Doc:  "synaptic intelligence (Zenke et al. 2017): path-integral importance, penalty c sum Omega (theta - theta*)^2",
		Options: []Option{
			{Name: "c", Default: "auto", Doc: "surrogate penalty strength", Auto: &SICs},
			{Name: "xi", Default: "0.1", Doc: "damping of Omega = omega / (Delta^2 + xi)"},
			{Name: "clip", Default: "false", Doc: "drop negative path integrals (the paper keeps them)"},
			{Name: "grad", Default: "data", Doc: "the gradient of the path integral: data (the data loss's, Zenke et al.'s code) or total (loss plus the surrogate penalty, van de Ven & Tolias' reference code)"},
			HeadsOption,
		},
	}, func(o *Options) (Strategy, error) {
		s := &SI{}
		s.ParseRegularizer(o, "c", 1)
		s.Xi = o.Float("xi")
		o.Check("xi", s.Xi > 0, "a positive number")
		s.Clip = o.Bool("clip")
		g := o.String("grad")
		o.Check("grad", g == "data" || g == "total", "data or total")
		s.TotalGrad = g == "total"
		return s, nil
	})
}
