package strategies

import (
	"fmt"
	"math"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/stream"
	"github.com/sirupsen/logrus"
)

// EWC is elastic weight consolidation (Kirkpatrick et al. 2017): the training loss of each task
// gets the penalty (lambda/2) sum_i F_i (theta_i - theta*_i)^2 over the shared parameters
// (SharedParams), with F the diagonal Fisher information estimated at the end of each earlier
// task on samples of its training data and theta* the parameters at that point.
//
// Classic EWC (Online false) has one penalty per past task. Their sum is kept as one merged
// quadratic (ConsolidateAnchor): the same value and gradient as T separate terms, with memory and
// step cost that do not grow with the number of tasks. Online EWC (Schwarz et al. 2018) keeps one
// anchor, the latest parameters, and F <- Gamma F + F_new.
//
// The penalty is Regularizer's: one fused op in the training graph (graphs.Quadratic) reading
// the Fisher and the anchors from tensors updated in place at each task's end, so the graph is
// built once, and saved with checkpoints. Strength is lambda.
//
// With fisher=running the Fisher is A-GEM's code's (facebookresearch/agem, model/model.py, after
// RWalk): during training it adds each step's squared gradient of the batch's data loss to a
// window, and every Every steps folds the window's mean into a running average, F <- (1 - Decay)
// F + Decay mean; a task's end takes that average as the task's Fisher, optionally rescaled to
// [0, 1] by its minimum and maximum over every penalised parameter (normalize=minmax). A-GEM's
// EWC is ewc:fisher=running,normalize=minmax,online=true,gamma=0 (one anchor, the Fisher
// replaced at each task) with lambda twice their strength (their penalty has no 1/2).
type EWC struct {
	Regularizer
	// Gamma decays the accumulated Fisher in online EWC (an auto option: EWCOnlineGammas).
	Gamma AutoFloat
	// Online keeps one anchor and a decayed Fisher instead of one penalty per task.
	Online bool
	// Fisher and Samples say how the Fisher is estimated (see DiagonalFisher).
	Fisher  FisherKind
	Samples int
	// Decay and Every are the running Fisher's (fisher=running): the weight of a window's mean
	// and the window's length in steps.
	Decay float64
	Every int
	// MinMax rescales each task's Fisher to [0, 1]: (F - min) / (max - min), over every
	// penalised parameter (normalize=minmax).
	MinMax bool

	// The running Fisher's state (fisher=running): the average, the current window's sum of
	// squared gradients (both named Buffers) and the task's step count.
	fRun, fWin [][]float32
	win        *ewcWindow

	// LastFisher is the Fisher estimated at the end of the latest task, per penalised parameter.
	// It is a diagnostic, not saved: nil after a resume.
	LastFisher map[*graphs.Param][]float32
}

// EWCLambdas is where ewc:lambda=auto takes its value: the default the stream registers (streams/split.go,
// streams/permuted.go, tuned on validation data, see streams.Tuning), else 100.
var EWCLambdas = AutoTable{Key: "ewc.lambda", Fallback: 100}

// EWCOnlineLambdas is where ewc:online=true,lambda=auto takes its value: online EWC's penalty
// differs from classic EWC's (one decayed Fisher instead of a sum over tasks), so it is tuned on
// its own (ewc_online.lambda), else 100.
var EWCOnlineLambdas = AutoTable{Key: "ewc_online.lambda", Fallback: 100}

// EWCOnlineGammas is where online EWC's gamma=auto takes its value (ewc_online.gamma), tuned
// with EWCOnlineLambdas, else 1. Classic EWC ignores gamma.
var EWCOnlineGammas = AutoTable{Key: "ewc_online.gamma", Fallback: 1}

// Compile-time interface checks.
var (
	_ Strategy     = (*EWC)(nil)
	_ TaskEnder    = (*EWC)(nil)
	_ Checkpointer = (*EWC)(nil)
	_ Resolver     = (*EWC)(nil)
)

// Setup resolves lambda=auto (and, online, gamma=auto), then builds the model with the penalty in
// its training graph.
func (e *EWC) Setup(env *Env) error {
	if e.Online {
		e.ResolveHeads(env.Stream)
		e.Gamma.Resolve(env, e.Heads)
		if g := e.Gamma.Value; !(g >= 0 && g <= 1) {
			return fmt.Errorf("ewc: gamma=%g: want a number in [0, 1]", g)
		}
	}
	if err := e.Regularizer.Setup(env); err != nil {
		return err
	}
	if e.Fisher == FisherRunning {
		if env.Iterations > 0 && e.Every > env.Iterations {
			return fmt.Errorf("ewc: every=%d is more than a task's %d steps: no window would reach the running Fisher (lower every)", e.Every, env.Iterations)
		}
		e.fRun, e.fWin = e.Buffer("fisher_running"), e.Buffer("fisher_window")
		e.win = &ewcWindow{}
		e.State = e.win
	}
	if env.Log != nil {
		env.Log.WithFields(logrus.Fields{"lambda": e.Strength.Value, "gamma": e.Gamma.Value, "online": e.Online, "fisher": e.Fisher.String(), "samples": e.Samples}).Debug("ewc: set up")
	}
	return nil
}

// Resolved is Regularizer's (heads and lambda) plus, for online EWC, the gamma used.
func (e *EWC) Resolved() map[string]string {
	m := e.Regularizer.Resolved()
	if e.Online {
		for k, v := range e.Gamma.Resolved() {
			m[k] = v
		}
	}
	return m
}

// ewcWindow is the running Fisher's count of the task's steps, saved with checkpoints.
type ewcWindow struct {
	Steps int `json:"steps"`
}

// Step trains on one batch; with the running Fisher it then adds the batch's squared data-loss
// gradient (the penalty's gradient taken out) to the window. In A-GEM's order, the window is
// folded into the average before the task's steps 10, 20, ... (counting from 1, for Every 10):
// a task's first window holds 9 steps and the others 10, each divided by 10.
func (e *EWC) Step(cur int, bt *stream.Batch) (StepInfo, error) {
	if e.Fisher != FisherRunning {
		return e.Base.Step(cur, bt)
	}
	if (e.win.Steps+1)%e.Every == 0 {
		e.foldWindow()
	}
	// The window reads the gradient between the step's backward pass and its update, where the
	// parameters are still those the penalty's gradient was taken at (no copy of them).
	if err := e.Fill(cur, Part{Batch: bt, Weight: 1}); err != nil {
		return StepInfo{}, fmt.Errorf("ewc: %w", err)
	}
	info, err := e.TrainWith(func() error {
		k := float32(2 * e.Q.Scale)
		for i := range e.Q.Terms {
			t := &e.Q.Terms[i]
			g := e.Net.Grad(t.Param)
			if g == nil {
				continue
			}
			w, a, theta, win := t.Weights(), t.Anchors(), t.Param.Data(), e.fWin[i]
			for j, gj := range g {
				d := gj - k*w[j]*(theta[j]-a[j])
				win[j] += d * d
			}
		}
		return nil
	})
	info.Samples = bt.N
	if err != nil {
		return info, fmt.Errorf("ewc: %w", err)
	}
	e.win.Steps++
	return info, nil
}

// foldWindow folds the window's mean into the running Fisher and empties the window (A-GEM's
// code divides by Every, the window's full length).
func (e *EWC) foldWindow() {
	keep, add := float32(1-e.Decay), float32(e.Decay/float64(e.Every))
	for i := range e.fRun {
		r, w := e.fRun[i], e.fWin[i]
		for j := range r {
			r[j] = keep*r[j] + add*w[j]
		}
		clear(w)
	}
}

// taskFisher returns task cur's Fisher: the running average (a copy, its partial window
// dropped as A-GEM's code drops it) or DiagonalFisher's estimate, min-max rescaled with MinMax.
func (e *EWC) taskFisher(cur int) (map[*graphs.Param][]float32, error) {
	var f map[*graphs.Param][]float32
	if e.Fisher == FisherRunning {
		f = make(map[*graphs.Param][]float32, len(e.Q.Terms))
		for i := range e.Q.Terms {
			f[e.Q.Terms[i].Param] = append([]float32(nil), e.fRun[i]...)
			clear(e.fWin[i])
		}
		e.win.Steps = 0
	} else {
		var err error
		if f, err = DiagonalFisher(&e.Base, cur, cur, FisherConfig{Kind: e.Fisher, Samples: e.Samples, Rng: e.Env.Rng}, e.Q.Params()); err != nil {
			return nil, err
		}
	}
	if e.MinMax {
		MinMaxScale(f)
	}
	return f, nil
}

// MinMaxScale rescales every value of f to (v - min) / (max - min + 1e-32), min and max over all
// of f's slices (A-GEM's code's normalisation of the Fisher). EWC passes the penalised
// parameters: with heads=multi the heads are not among them, where A-GEM's code (one head)
// takes every trainable variable.
func MinMaxScale(f map[*graphs.Param][]float32) {
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range f {
		for _, x := range v {
			lo, hi = min(lo, x), max(hi, x)
		}
	}
	if lo > hi {
		return
	}
	span := float64(hi) - float64(lo) + 1e-32
	for _, v := range f {
		for j, x := range v {
			v[j] = float32((float64(x) - float64(lo)) / span)
		}
	}
}

// EndTask estimates the Fisher of task cur and folds it, with the current parameters as anchor,
// into the penalty.
func (e *EWC) EndTask(cur int) error {
	f, err := e.taskFisher(cur)
	if err != nil {
		return fmt.Errorf("ewc: %w", err)
	}
	e.LastFisher = f
	if e.Online {
		for i := range e.Q.Terms {
			t := &e.Q.Terms[i]
			w, fi := t.Weights(), f[t.Param]
			g := float32(e.Gamma.Value)
			for k := range w {
				w[k] = g*w[k] + fi[k]
			}
		}
		e.Q.SetAnchors()
		e.Q.Offset = 0
	} else {
		var rest float64
		for i := range e.Q.Terms {
			t := &e.Q.Terms[i]
			rest += ConsolidateAnchor(t, f[t.Param], t.Param.Data())
		}
		e.Q.Offset += e.Q.Scale * rest
	}
	if e.Env.Log != nil {
		var sum float64
		var mx float32
		for _, v := range f {
			for _, x := range v {
				sum += float64(x)
				mx = max(mx, x)
			}
		}
		e.Env.Log.WithFields(logrus.Fields{"task": cur + 1, "fisher_sum": sum, "fisher_max": mx}).Debug("ewc: consolidated")
	}
	return nil
}

func init() {
	Register(Info{
		Name: "ewc",
		Doc:  "elastic weight consolidation: (lambda/2) sum F (theta - theta*)^2 with the diagonal Fisher of earlier tasks",
		Options: []Option{
			{Name: "lambda", Default: "auto", Doc: "penalty strength", Auto: &EWCLambdas},
			{Name: "online", Default: "false", Doc: "online EWC: one anchor (the latest parameters) and F <- gamma F + F_new, instead of one penalty per task"},
			{Name: "gamma", Default: "auto", Doc: "online EWC's decay of the accumulated Fisher, in [0, 1] (classic EWC ignores it)", Auto: &EWCOnlineGammas},
			{Name: "fisher", Default: "exact", Doc: "Fisher labels: exact (expectation over the model's prediction), sampled (y ~ p(y|x)), empirical (true label), predicted (argmax); or running: a running average of the training batches' squared gradients (A-GEM's code)"},
			{Name: "samples", Default: "1000", Doc: "training examples of the task the Fisher averages over (0 = all; not the running Fisher's)"},
			{Name: "decay", Default: "0.9", Doc: "the running Fisher's weight of each window's mean: F <- (1 - decay) F + decay mean (A-GEM's 0.9)"},
			{Name: "every", Default: "10", Doc: "the running Fisher's window, in steps (A-GEM's 10)"},
			{Name: "normalize", Default: "none", Doc: "none, or minmax: rescale each task's Fisher to [0, 1] by its minimum and maximum (A-GEM's code)"},
			HeadsOption,
		},
	}, func(o *Options) (Strategy, error) {
		e := &EWC{}
		e.ParseRegularizer(o, "lambda", 0.5)
		e.Online = o.Bool("online")
		if e.Online {
			e.Strength.Table = EWCOnlineLambdas
		}
		e.Gamma = o.FloatOrAuto("gamma")
		o.Check("gamma", e.Gamma.Auto || e.Gamma.Value <= 1, "a number in [0, 1] or auto")
		k, err := ParseFisherKind(o.String("fisher"))
		o.Check("fisher", err == nil, "exact, sampled, empirical, predicted or running")
		e.Fisher = k
		e.Samples = o.Int("samples")
		o.Check("samples", e.Samples >= 0, "a non-negative integer")
		e.Decay, e.Every = o.Float("decay"), o.Int("every")
		o.Check("decay", e.Decay > 0 && e.Decay <= 1, "a number in (0, 1]")
		o.Check("every", e.Every >= 1, "a positive integer")
		o.Check("decay", e.Fisher == FisherRunning || e.Decay == 0.9, "left at its default unless fisher=running (the other Fisher estimates do not read it)")
		o.Check("every", e.Fisher == FisherRunning || e.Every == 10, "left at its default unless fisher=running (the other Fisher estimates do not read it)")
		norm := o.String("normalize")
		o.Check("normalize", norm == "none" || norm == "minmax", "none or minmax")
		e.MinMax = norm == "minmax"
		return e, nil
	})
}
