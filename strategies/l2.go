package strategies

import (
	"fmt"

	"github.com/clgraph/clgraph/graphs"
)

// L2 pulls the shared parameters toward their values at the end of the previous task: the EWC
// penalty with F = 1, (lambda/2) sum_i (theta_i - theta*_i)^2, with one anchor (the latest). It is
// the baseline that shows what EWC's Fisher weighting adds. No penalty applies during the first
// task.
type L2 struct {
	Base
	// Lambda is the penalty's strength. With AutoLambda, Setup sets it from L2Lambdas.
	Lambda     float64
	AutoLambda bool
	// Q is the penalty in the training graph; it exists after Setup.
	Q *graphs.Quadratic
}

// L2Lambdas is the table l2:lambda=auto picks from, chosen by the sweep in
// results/reference/sweep-regularization.md (quick protocol; permuted MNIST at Adam 1e-3, 5
// tasks). Task-IL with one shared head trains exactly like domain-IL and takes its value.
var L2Lambdas = AutoTable{
	Values: map[string]float64{
		"split-mnist/task/multi": 0.1,
		"split-mnist/task":       100,
		"split-mnist/domain":     100,
		"split-mnist/class":      100,
		"permuted-mnist/task":    0.003,
		"permuted-mnist/domain":  0.003,
		"permuted-mnist/class":   0.001,
	},
	Fallback: 1,
}

// Compile-time interface checks.
var (
	_ Strategy     = (*L2)(nil)
	_ TaskEnder    = (*L2)(nil)
	_ Requirer     = (*L2)(nil)
	_ Modeler      = (*L2)(nil)
	_ Checkpointer = (*L2)(nil)
	_ Resolver     = (*L2)(nil)
)

// Setup resolves lambda=auto, then builds the model with the penalty in its training graph.
func (l *L2) Setup(env *Env) error {
	L2Lambdas.Resolve(env, l.Heads, "l2", "lambda", &l.Lambda, l.AutoLambda)
	l.Penalty = QuadraticPenalty(&l.Base, &l.Q, l.Lambda/2)
	if err := l.Base.Setup(env); err != nil {
		return fmt.Errorf("l2: %w", err)
	}
	return nil
}

// EndTask anchors the penalty at the current parameters, with unit weights.
func (l *L2) EndTask(cur int) error {
	for i := range l.Q.Terms {
		w := l.Q.Terms[i].Weights()
		for k := range w {
			w[k] = 1
		}
	}
	l.Q.SetAnchors()
	return nil
}

func init() {
	Register(Info{
		Name: "l2",
		Doc:  "L2 penalty (lambda/2) sum (theta - theta*)^2 toward the parameters at the end of the previous task",
		Options: []Option{
			{Name: "lambda", Default: "auto", Doc: "penalty strength; auto picks from a table by stream and scenario (strategies.L2Lambdas; 1 for other streams)"},
			HeadsOption,
		},
	}, func(o *Options) (Strategy, error) {
		l := &L2{}
		l.ParseHeads(o)
		l.Lambda, l.AutoLambda = FloatOrAuto(o, "lambda")
		return l, nil
	})
}

// Resolved returns the lambda the run uses (after lambda=auto).
func (l *L2) Resolved() map[string]string { return ResolvedFloat("lambda", l.Lambda) }

// SaveState saves the penalty's weights and anchors.
func (l *L2) SaveState() ([]byte, error) { return saveQuadraticJSON("l2", l.Q) }

// LoadState restores the penalty SaveState saved, in place.
func (l *L2) LoadState(data []byte) error { return loadQuadraticJSON("l2", l.Q, data) }
