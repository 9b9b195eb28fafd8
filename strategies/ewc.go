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
// The penalty is one fused op in the training graph (graphs.Quadratic) reading the Fisher and the
// anchors from tensors updated in place at each task's end: the graph is built once.
type EWC struct {
	Base
	// Lambda is the penalty's strength. With AutoLambda, Setup sets it from EWCLambdas.
	Lambda     float64
	AutoLambda bool
	// Gamma decays the accumulated Fisher in online EWC.
	Gamma float64
	// Online keeps one anchor and a decayed Fisher instead of one penalty per task.
	Online bool
	// Fisher and Samples say how the Fisher is estimated (see DiagonalFisher).
	Fisher  FisherKind
	Samples int

	// Q is the penalty in the training graph; it exists after Setup.
	Q *graphs.Quadratic
	// LastFisher is the Fisher estimated at the end of the latest task, per penalised parameter.
	LastFisher map[*graphs.Param][]float32
}

// EWCLambdas is the table ewc:lambda=auto picks from, chosen by the sweep in
// results/reference/sweep-regularization.md (quick protocol; permuted MNIST at Adam 1e-3, 5
// tasks). Task-IL with one shared head trains exactly like domain-IL and takes its value; class-IL
// values are ties within noise (no lambda helps there) and take the domain-IL value where so.
var EWCLambdas = AutoTable{
	Values: map[string]float64{
		"split-mnist/task/multi": 1e5,
		"split-mnist/task":       1e9,
		"split-mnist/domain":     1e9,
		"split-mnist/class":      1e9,
		"permuted-mnist/task":    1e2,
		"permuted-mnist/domain":  1e2,
		"permuted-mnist/class":   1e1,
	},
	Fallback: 100,
}

// Compile-time interface checks.
var (
	_ Strategy     = (*EWC)(nil)
	_ TaskEnder    = (*EWC)(nil)
	_ Requirer     = (*EWC)(nil)
	_ Modeler      = (*EWC)(nil)
	_ Checkpointer = (*EWC)(nil)
	_ Resolver     = (*EWC)(nil)
)

// Setup resolves lambda=auto, then builds the model with the penalty in its training graph.
func (e *EWC) Setup(env *Env) error {
	EWCLambdas.Resolve(env, e.Heads, "ewc", "lambda", &e.Lambda, e.AutoLambda)
	e.Penalty = QuadraticPenalty(&e.Base, &e.Q, e.Lambda/2)
	if err := e.Base.Setup(env); err != nil {
		return fmt.Errorf("ewc: %w", err)
	}
	if env.Log != nil {
		env.Log.WithFields(logrus.Fields{"lambda": e.Lambda, "online": e.Online, "fisher": e.Fisher.String(), "samples": e.Samples}).Debug("ewc: set up")
	}
	return nil
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
			g := float32(e.Gamma)
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
			{Name: "lambda", Default: "auto", Doc: "penalty strength; auto picks from a table by stream and scenario (strategies.EWCLambdas; 100 for other streams)"},
			{Name: "online", Default: "false", Doc: "online EWC: one anchor (the latest parameters) and F <- gamma F + F_new, instead of one penalty per task"},
			{Name: "gamma", Default: "1", Doc: "online EWC's decay of the accumulated Fisher, in [0, 1]"},
			{Name: "fisher", Default: "exact", Doc: "Fisher labels: exact (expectation over the model's prediction), sampled (y ~ p(y|x)), empirical (true label), predicted (argmax)"},
			{Name: "samples", Default: "1000", Doc: "training examples of the task the Fisher averages over (0 = all)"},
			HeadsOption,
		},
	}, func(o *Options) (Strategy, error) {
		e := &EWC{}
		e.ParseHeads(o)
		e.Lambda, e.AutoLambda = FloatOrAuto(o, "lambda")
		e.Online = o.Bool("online")
		e.Gamma = o.Float("gamma")
		o.Check("gamma", e.Gamma >= 0 && e.Gamma <= 1, "a number in [0, 1]")
		k, err := ParseFisherKind(o.String("fisher"))
		o.Check("fisher", err == nil, "exact, sampled, empirical or predicted")
		e.Fisher = k
		e.Samples = o.Int("samples")
		o.Check("samples", e.Samples >= 0, "a non-negative integer")
		return e, nil
	})
}

// Resolved returns the lambda the run uses (after lambda=auto).
func (e *EWC) Resolved() map[string]string { return ResolvedFloat("lambda", e.Lambda) }

// SaveState saves the penalty: its scale, offset, Fisher weights and anchors. LastFisher (a
// diagnostic) is not saved and is nil after a resume.
func (e *EWC) SaveState() ([]byte, error) { return saveQuadraticJSON("ewc", e.Q) }

// LoadState restores the penalty SaveState saved, in place.
func (e *EWC) LoadState(data []byte) error { return loadQuadraticJSON("ewc", e.Q, data) }
