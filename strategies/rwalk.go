package strategies

import (
	"fmt"
	"math"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/stream"
)

// RWalk is Riemannian Walk (Chaudhry, Dokania, Ajanthan & Torr 2018, "Riemannian Walk for
// Incremental Learning: Understanding Forgetting and Intransigence"), as its authors' code has it
// in facebookresearch/agem (model/model.py, fc_permute_mnist.py). Its penalty is
//
//	lambda sum_i (F_i + s_i) (theta_i - theta*_i)^2
//
// over the shared parameters, theta* the parameters at the latest task's end, F a running
// (EWC++) Fisher and s a path-integral score measured on the Fisher's metric, both min-max
// rescaled to [0, 1] over every penalised parameter at each task's end. Strength is lambda (no
// 1/2, as their code: rwalk:lambda=1 is their 1).
//
// During a task each step adds the batch's squared data-loss gradient g^2 to a window and
// -g * (theta_after - theta_before) to the path integral omega (g taken at theta_before, the
// penalty's own gradient taken out). Before the task's steps Every, 2 Every, ... (counting from
// 1) the interval is closed: the score of the task gains relu(omega / (Xi + F (theta -
// theta_interval)^2)), theta_interval the parameters at the interval's start, then F <- (1 -
// Decay) F + Decay window / Every, and omega and theta_interval restart. At a task's end the
// task's score (doubled after the first task) is folded into s, s and F are rescaled to [0, 1],
// and the penalty is anchored at the current parameters.
//
// The score's denominator is their code's, Xi + F (Delta theta)^2 (whether the paper's form
// carries a constant factor was not checked here; s is min-max rescaled, so such a factor only
// matters where Xi dominates). Two options choose between the paper's description and its
// authors' code. Window=task keeps
// the window's sum over the whole task instead of emptying it at each interval (their code's
// RWALK never empties it: set_running_fisher runs without reset_tmp_fisher), so F follows the
// task's accumulated squared gradients. Scores=agem folds a task's score into s as their code
// does, s <- s + (s + score) / 2 (tf.assign_add), where the paper averages, s <- (s + score) / 2
// (scores=mean, the default). A-GEM's RWALK is rwalk:window=task,scores=agem.
type RWalk struct {
	Regularizer
	// Xi keeps the score finite where the parameters hardly moved (their PARAM_XI_STEP, 1e-3).
	Xi float64
	// Decay and Every are the running Fisher's: the weight of a window's mean and the interval
	// length in steps.
	Decay float64
	Every int
	// TaskWindow keeps the window's sum over the task (window=task) instead of emptying it at
	// every interval (window=interval).
	TaskWindow bool
	// AGEMScores folds a task's score into s as s + (s + score)/2 (scores=agem) instead of the
	// paper's mean (s + score)/2.
	AGEMScores bool

	// Named buffers (saved with checkpoints): the running Fisher, the window, the interval's
	// path integral, the task's score, the accumulated score s and the parameters at the
	// interval's start.
	fRun, fWin, omega, taskScore, score, start [][]float32
	prev                                       [][]float32 // scratch: parameters before a step
	st                                         *rwalkState
}

// rwalkState is RWalk's step count within the task, saved with checkpoints.
type rwalkState struct {
	Steps int  `json:"steps"`
	Begun bool `json:"begun"` // the first step of the run has set the interval's start
}

// RWalkLambdas is where rwalk:lambda=auto takes its value: the default a stream registers
// (rwalk.lambda), else 1, A-GEM's permuted MNIST setting (no stream tunes it yet).
var RWalkLambdas = AutoTable{Key: "rwalk.lambda", Fallback: 1}

// Compile-time interface checks.
var (
	_ Strategy     = (*RWalk)(nil)
	_ TaskEnder    = (*RWalk)(nil)
	_ Checkpointer = (*RWalk)(nil)
	_ Resolver     = (*RWalk)(nil)
)

// Setup builds the model with the penalty (zero weights until the first task ends) and creates
// the buffers.
func (r *RWalk) Setup(env *Env) error {
	if err := r.Regularizer.Setup(env); err != nil {
		return err
	}
	if env.Iterations > 0 && r.Every > env.Iterations {
		return fmt.Errorf("rwalk: every=%d is more than a task's %d steps: no interval would close (lower every)", r.Every, env.Iterations)
	}
	r.Q.SetAnchors()
	r.fRun, r.fWin, r.omega = r.Buffer("fisher_running"), r.Buffer("fisher_window"), r.Buffer("omega")
	r.taskScore, r.score, r.start = r.Buffer("task_score"), r.Buffer("score"), r.Buffer("interval_start")
	r.prev = r.Buffer("")
	r.st = &rwalkState{}
	r.State = r.st
	return nil
}

// Step closes the interval when one is due, then trains on one batch and adds the step to the
// window and the path integral.
func (r *RWalk) Step(cur int, bt *stream.Batch) (StepInfo, error) {
	if !r.st.Begun {
		r.st.Begun = true
		r.markStart()
	}
	if (r.st.Steps+1)%r.Every == 0 {
		r.closeInterval()
	}
	for i := range r.Q.Terms {
		copy(r.prev[i], r.Q.Terms[i].Param.Data())
	}
	info, err := r.Base.Step(cur, bt)
	if err != nil {
		return info, fmt.Errorf("rwalk: %w", err)
	}
	k := 2 * r.Q.Scale
	for i := range r.Q.Terms {
		t := &r.Q.Terms[i]
		if g := r.Net.Grad(t.Param); g != nil {
			RWalkAccumulate(r.omega[i], r.fWin[i], g, r.prev[i], t.Param.Data(), t.Weights(), t.Anchors(), k)
		}
	}
	r.st.Steps++
	return info, nil
}

// markStart sets the interval's start to the current parameters.
func (r *RWalk) markStart() {
	for i := range r.Q.Terms {
		copy(r.start[i], r.Q.Terms[i].Param.Data())
	}
}

// closeInterval adds the interval's score, folds the window into the running Fisher and starts
// a new interval, in their code's order (the score reads the Fisher before the fold).
func (r *RWalk) closeInterval() {
	keep, add := float32(1-r.Decay), float32(r.Decay/float64(r.Every))
	for i := range r.Q.Terms {
		RWalkScore(r.taskScore[i], r.omega[i], r.fRun[i], r.Q.Terms[i].Param.Data(), r.start[i], r.Xi)
		f, w := r.fRun[i], r.fWin[i]
		for j := range f {
			f[j] = keep*f[j] + add*w[j]
		}
		if !r.TaskWindow {
			clear(w)
		}
		clear(r.omega[i])
	}
	r.markStart()
}

// RWalkAccumulate adds one step to the window and the path integral: with g = gTotal - k *
// weight * (before - anchor), the data loss's gradient at the step's parameters before (gTotal
// includes the penalty's, k/2 sum weight (theta - anchor)^2), window += g^2 and omega += -g *
// (after - before).
func RWalkAccumulate(omega, window, gTotal, before, after, weight, anchor []float32, k float64) {
	kk := float32(k)
	for j := range omega {
		g := gTotal[j] - kk*weight[j]*(before[j]-anchor[j])
		window[j] += g * g
		omega[j] -= g * (after[j] - before[j])
	}
}

// RWalkScore adds an interval's score to score: relu(omega / (xi + fisher (theta - start)^2)),
// the path integral over the interval divided by its distance on the Fisher's metric.
func RWalkScore(score, omega, fisher, theta, start []float32, xi float64) {
	for j := range score {
		d := float64(theta[j]) - float64(start[j])
		if v := float64(omega[j]) / (xi + float64(fisher[j])*d*d); v > 0 {
			score[j] += float32(v)
		}
	}
}

// EndTask folds task cur's score into s, rescales s and the running Fisher to [0, 1] into the
// penalty's weights (F + s) and anchors it at the current parameters. The partial interval at
// the task's end is dropped, as their code drops it; the next task's intervals start here.
func (r *RWalk) EndTask(cur int) error {
	sc := make(map[*graphs.Param][]float32, len(r.Q.Terms))
	fi := make(map[*graphs.Param][]float32, len(r.Q.Terms))
	for i := range r.Q.Terms {
		s, ts := r.score[i], r.taskScore[i]
		for j := range s {
			v := ts[j]
			if cur == 0 {
				v *= 2 // so that the first average keeps the first task's whole score
			}
			if r.AGEMScores {
				s[j] += (s[j] + v) / 2
			} else {
				s[j] = (s[j] + v) / 2
			}
		}
		p := r.Q.Terms[i].Param
		sc[p] = append([]float32(nil), s...)
		fi[p] = append([]float32(nil), r.fRun[i]...)
		clear(ts)
		clear(r.omega[i])
		clear(r.fWin[i])
	}
	MinMaxScale(sc)
	MinMaxScale(fi)
	for i := range r.Q.Terms {
		t := &r.Q.Terms[i]
		w, s, f := t.Weights(), sc[t.Param], fi[t.Param]
		for j := range w {
			w[j] = f[j] + s[j]
			if math.IsNaN(float64(w[j])) {
				return fmt.Errorf("rwalk: the importance of %s is NaN after task %d", t.Param.Name, cur+1)
			}
		}
	}
	r.Q.SetAnchors()
	r.markStart()
	r.st.Steps = 0
	return nil
}

func init() {
	Register(Info{
		Name: "rwalk",
		Doc:  "Riemannian Walk (Chaudhry et al. 2018): lambda sum (F + s) (theta - theta*)^2, F a running Fisher, s a path-integral score on the Fisher's metric, both min-max rescaled",
		Options: []Option{
			{Name: "lambda", Default: "auto", Doc: "penalty strength (no 1/2: their code's synap_stgth)", Auto: &RWalkLambdas},
			{Name: "xi", Default: "0.001", Doc: "damping of the score's denominator xi + F (Delta theta)^2 (their PARAM_XI_STEP)"},
			{Name: "decay", Default: "0.9", Doc: "the running Fisher's weight of each window's mean: F <- (1 - decay) F + decay window/every"},
			{Name: "every", Default: "10", Doc: "the interval, in steps, at which the score and the running Fisher are updated"},
			{Name: "window", Default: "interval", Doc: "interval (the window of squared gradients empties at each interval, the paper's running Fisher) or task (it sums the whole task, as A-GEM's code)"},
			{Name: "scores", Default: "mean", Doc: "how a task's score joins the earlier ones: mean, s <- (s + score)/2 (the paper), or agem, s <- s + (s + score)/2 (A-GEM's code)"},
			HeadsOption,
		},
	}, func(o *Options) (Strategy, error) {
		r := &RWalk{}
		r.ParseRegularizer(o, "lambda", 1)
		r.Xi = o.Float("xi")
		o.Check("xi", r.Xi > 0, "a positive number")
		r.Decay, r.Every = o.Float("decay"), o.Int("every")
		o.Check("decay", r.Decay > 0 && r.Decay <= 1, "a number in (0, 1]")
		o.Check("every", r.Every >= 1, "a positive integer")
		w := o.String("window")
		o.Check("window", w == "interval" || w == "task", "interval or task")
		r.TaskWindow = w == "task"
		s := o.String("scores")
		o.Check("scores", s == "mean" || s == "agem", "mean or agem")
		r.AGEMScores = s == "agem"
		return r, nil
	})
}
