package strategies

// L2 pulls the shared parameters toward their values at the end of the previous task: the EWC
// penalty with F = 1, (lambda/2) sum_i (theta_i - theta*_i)^2, with one anchor (the latest). It is
// the baseline that shows what EWC's Fisher weighting adds. No penalty applies during the first
// task. The penalty and its checkpointing are Regularizer's; Strength is lambda.
type L2 struct {
	Regularizer
}

// L2Lambdas is where l2:lambda=auto takes its value: the default the stream registers (streams/split.go,
// streams/permuted.go, tuned on validation data, see streams.Tuning), else 1.
var L2Lambdas = AutoTable{Key: "l2.lambda", Fallback: 1}

// Compile-time interface checks.
var (
	_ Strategy     = (*L2)(nil)
	_ TaskEnder    = (*L2)(nil)
	_ Checkpointer = (*L2)(nil)
	_ Resolver     = (*L2)(nil)
)

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
			{Name: "lambda", Default: "auto", Doc: "penalty strength", Auto: &L2Lambdas},
			HeadsOption,
		},
	}, func(o *Options) (Strategy, error) {
		l := &L2{}
		l.ParseRegularizer(o, "lambda", 0.5)
		return l, nil
	})
}
