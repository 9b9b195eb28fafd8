package strategies

import (
	"fmt"

	"github.com/clgraph/clgraph/graphs"
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
type EWC struct {
	Regularizer
	// Gamma decays the accumulated Fisher in online EWC (an auto option: EWCOnlineGammas).
	Gamma AutoFloat
	// Online keeps one anchor and a decayed Fisher instead of one penalty per task.
	Online bool
	// Fisher and Samples say how the Fisher is estimated (see DiagonalFisher).
	Fisher  FisherKind
	Samples int

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

// EndTask estimates the Fisher of task cur and folds it, with the current parameters as anchor,
// into the penalty.
func (e *EWC) EndTask(cur int) error {
	params := e.Q.Params()
	f, err := DiagonalFisher(&e.Base, cur, cur, FisherConfig{Kind: e.Fisher, Samples: e.Samples, Rng: e.Env.Rng}, params)
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
			{Name: "fisher", Default: "exact", Doc: "Fisher labels: exact (expectation over the model's prediction), sampled (y ~ p(y|x)), empirical (true label), predicted (argmax)"},
			{Name: "samples", Default: "1000", Doc: "training examples of the task the Fisher averages over (0 = all)"},
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
		o.Check("fisher", err == nil, "exact, sampled, empirical or predicted")
		e.Fisher = k
		e.Samples = o.Int("samples")
		o.Check("samples", e.Samples >= 0, "a non-negative integer")
		return e, nil
	})
}
