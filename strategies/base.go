package strategies

import (
	"errors"
	"fmt"
	"math"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/stream"
	G "gorgonia.org/gorgonia"
)

// HeadsOption is the option every Base-built strategy accepts: heads=auto|single|multi. The
// default, auto, uses task identity where the scenario gives it: one head per task in task-IL, one
// shared layer in domain- and class-IL. heads=single in task-IL is a shared head whose units every
// task's labels map onto (domain-IL trained with task labels); tables label it "task-IL, shared
// head".
var HeadsOption = Option{Name: "heads", Default: "auto", Doc: "output layer: auto (one head per task in task-IL, else one shared layer), single (one shared layer; in task-IL labelled \"task-IL, shared head\") or multi (one head per task; task-IL only)"}

// Base is the model most strategies share: an MLP trunk (Env.Hidden) and a single shared output
// layer or one head per task, trained with Adam on the weighted, masked softmax cross-entropy of
// the scenario. Strategies embed it and change what they need: a penalty term (Regularizer), extra
// rows per step (replay), their own sampling (joint). Its methods implement Strategy and the
// common optional interfaces: Named (SetSpec, Spec), Requirer (heads=multi needs task identity),
// Modeler, Optimized and Checkpointer with an empty state (Stateless), which a strategy keeping
// more state overrides.
type Base struct {
	Stateless
	// Heads is the output layout; set it before Setup. With AutoHeads, Setup sets it from the
	// scenario (MultiHead in task-IL, else SingleHead).
	Heads stream.Heads
	// AutoHeads makes Setup choose Heads from the scenario (heads=auto, the default).
	AutoHeads bool
	// Penalty, when set before Build, adds a term to the training loss.
	Penalty graphs.Penalty
	// Rows is the number of rows of a training step; 0 means Env.Batch. Set it before Setup.
	Rows int
	// ForwardFunc, when set before Setup, is the model's forward pass in place of Forward (trunk
	// then heads): a strategy that changes the graph (PackNet's masked evaluation graph) sets it,
	// and Build builds both graphs with it once.
	ForwardFunc func(bd *graphs.Binder, x *G.Node) (*G.Node, error)
	// TrunkFunc, when set before Setup, builds the strategy's own trunk in ps in place of the
	// MLP of Env.Hidden (Trunk stays empty) and returns the width the heads take (PathNet's
	// modules); ForwardFunc then applies it.
	TrunkFunc func(ps *graphs.ParamSet, env *Env) (int, error)

	Env *Env
	PS  *graphs.ParamSet
	// Trunk is the model's trunk: the dense layers of Env.Hidden, after conv layers when
	// Env.Filters asks for them (Trunk.Convs; Trunk.Layers are the dense layers).
	Trunk graphs.Trunk
	Out   graphs.Heads
	Net   *graphs.Model
	Opt   *graphs.Adam

	spec    string
	masks   map[[2]int][]float32
	colUnit [][]int // per task: model column -> global unit, or -1
	scores  []float32
}

// SetSpec records the spec the strategy was built from (called by Registry.New).
func (b *Base) SetSpec(s string) { b.spec = s }

// Spec returns the spec the strategy was built from.
func (b *Base) Spec() string { return b.spec }

// ConvTrunk reports that a strategy built on Base runs on a conv trunk: its model is Base's
// (ConvTrunker). A strategy whose network is not only Base's overrides it.
func (*Base) ConvTrunk() bool { return true }

// ParseHeads reads the heads option (HeadsOption) into b.Heads and b.AutoHeads.
func (b *Base) ParseHeads(o *Options) {
	v := o.Choice("heads", "auto", "single", "multi")
	b.AutoHeads = v == "auto"
	if h, err := stream.ParseHeads(v); err == nil {
		b.Heads = h
	}
}

// ResolveHeads sets Heads for stream s when AutoHeads is set: MultiHead where s gives task
// identity (task-IL), else SingleHead. Setup calls it; a strategy that looks at Heads before
// calling Base.Setup (e.g. to pick a default strength) calls it first.
func (b *Base) ResolveHeads(s *stream.Stream) {
	if !b.AutoHeads {
		return
	}
	b.Heads = stream.SingleHead
	if s.HasTaskIdentity() {
		b.Heads = stream.MultiHead
	}
}

// Requires reports that heads=multi needs task identities (heads=auto uses them only where the
// scenario gives them, so it needs none).
func (b *Base) Requires() Requirements {
	return Requirements{TaskIdentity: b.Heads == stream.MultiHead && !b.AutoHeads}
}

// Resolved reports the output layout the run uses, {"heads": "multi"} or {"heads": "single"}
// (Resolver); results record it, and tables label a shared head in task-IL by it.
func (b *Base) Resolved() map[string]string {
	return map[string]string{"heads": b.Heads.String()}
}

// Params returns the learnable parameters.
func (b *Base) Params() *graphs.ParamSet { return b.PS }

// Model returns the current Gorgonia model.
func (b *Base) Model() *graphs.Model { return b.Net }

// Setup builds the trunk, the heads and the model for env's stream.
func (b *Base) Setup(env *Env) error {
	s := env.Stream
	b.ResolveHeads(s)
	if err := s.CheckHeads(b.Heads); err != nil {
		return err
	}
	b.Env = env
	if b.Rows == 0 {
		b.Rows = env.Batch
	}
	b.PS = graphs.NewParamSet()
	in := s.InputDim
	if b.TrunkFunc != nil {
		b.Trunk = graphs.Trunk{}
		w, err := b.TrunkFunc(b.PS, env)
		if err != nil {
			return err
		}
		in = w
	} else if len(env.Filters) > 0 {
		im, err := SquareImage(s)
		if err != nil {
			return err
		}
		if b.Trunk, err = graphs.NewConvTrunk(b.PS, "trunk", "trunk", im, ConvKernel, env.Filters, env.Hidden, env.Rng); err != nil {
			return err
		}
		in = b.Trunk.Convs[len(b.Trunk.Convs)-1].Out.Size()
		if len(env.Hidden) > 0 {
			in = env.Hidden[len(env.Hidden)-1]
		}
	} else {
		b.Trunk = graphs.MLPTrunk(graphs.NewMLP(b.PS, "trunk", "trunk", s.InputDim, env.Hidden, env.Rng))
		if len(env.Hidden) > 0 {
			in = env.Hidden[len(env.Hidden)-1]
		}
	}
	b.Out = graphs.NewHeads(b.PS, "head", in, s.HeadSizes(b.Heads), env.Rng)
	b.Opt = env.NewOptimizer()
	b.masks = map[[2]int][]float32{}
	b.colUnit = make([][]int, len(s.Tasks))
	M := s.ModelOutputs(b.Heads)
	for j := range s.Tasks {
		cu := make([]int, M)
		for c := range cu {
			cu[c] = -1
		}
		for _, u := range s.Tasks[j].Units {
			if c := s.ModelUnit(b.Heads, j, u); c >= 0 {
				cu[c] = u
			}
		}
		if s.Scenario != stream.TaskIL {
			for c := range cu {
				cu[c] = c
			}
		}
		b.colUnit[j] = cu
	}
	return b.Build()
}

// SquareImage reads s's inputs as square single-channel images (MNIST's 28×28), for a conv
// trunk; an input size that is not an even square is refused.
func SquareImage(s *stream.Stream) (graphs.Image, error) {
	side := int(math.Round(math.Sqrt(float64(s.InputDim))))
	if side*side != s.InputDim || side%2 != 0 {
		return graphs.Image{}, fmt.Errorf("strategies: a conv trunk reads inputs as square images with an even side; %s's %d values per input are not", s.Name, s.InputDim)
	}
	return graphs.Image{Height: side, Width: side, Channels: 1}, nil
}

// EvalRows is the evaluation graph's row count (graphs.Config.EvalBatch's default included).
func (b *Base) EvalRows() int {
	if n := b.Env.EvalBatch; n > 0 {
		return n
	}
	return 1000
}

// Forward is the model's forward pass: trunk then heads.
func (b *Base) Forward(bd *graphs.Binder, x *G.Node) (*G.Node, error) {
	h, err := b.Trunk.Apply(bd, x)
	if err != nil {
		return nil, err
	}
	return b.Out.Apply(bd, h)
}

// Build (re)builds the model's graphs from the current parameters, Penalty and Frozen flags.
func (b *Base) Build() error {
	m, err := b.NewModel(b.Rows, b.Env.EvalBatch)
	if err != nil {
		return err
	}
	b.Net = m
	return nil
}

// NewModel builds a model of the strategy's forward pass and Penalty over its parameters (the
// same tensors as Net's), with training steps of rows rows and an evaluation graph of evalRows
// (0: graphs.Config's default): Build's, or a second training graph of another batch size.
func (b *Base) NewModel(rows, evalRows int) (*graphs.Model, error) {
	fwd := b.Forward
	if b.ForwardFunc != nil {
		fwd = b.ForwardFunc
	}
	return graphs.NewModel(graphs.Config{
		Params: b.PS, Forward: fwd, Penalty: b.Penalty,
		InputDim: b.Env.Stream.InputDim, Outputs: b.Env.Stream.ModelOutputs(b.Heads),
		Batch: rows, EvalBatch: evalRows,
	})
}

// Part is a batch and its share of the step's loss: each of its examples weighs Weight/N.
type Part struct {
	Batch  *stream.Batch
	Weight float64
}

// mask returns the model-space mask row for an example of task j while training on task cur.
func (b *Base) mask(cur, j int) []float32 {
	key := [2]int{cur, j}
	if m, ok := b.masks[key]; ok {
		return m
	}
	s := b.Env.Stream
	M := s.ModelOutputs(b.Heads)
	m := make([]float32, M)
	for c := range m {
		m[c] = graphs.MaskOff
	}
	for _, u := range s.ActiveUnits(cur, j) {
		if c := s.ModelUnit(b.Heads, j, u); c >= 0 {
			m[c] = 0
		}
	}
	b.masks[key] = m
	return m
}

// Fill copies the parts into the model's bound inputs for a step on task cur: inputs, one-hot
// targets weighted by each part's share, and the scenario's mask of active units. Rows left over
// get zero weight and so do not count.
func (b *Base) Fill(cur int, parts ...Part) error { return b.FillModel(b.Net, cur, parts...) }

// FillModel is Fill for another model over the same parameters and outputs (A-GEM's graph of
// reference-batch rows), whose rows are net.Batch().
func (b *Base) FillModel(net *graphs.Model, cur int, parts ...Part) error {
	s := b.Env.Stream
	x, w, mask := net.Inputs()
	D, M, rows := s.InputDim, net.Outputs(), net.Batch()
	clear(w)
	row := 0
	for _, p := range parts {
		if p.Batch == nil || p.Batch.N == 0 {
			continue
		}
		bt := p.Batch
		if row+bt.N > rows {
			return fmt.Errorf("strategies: %d rows do not fit a step of %d", row+bt.N, rows)
		}
		copy(x[row*D:], bt.X[:bt.N*D])
		wt := float32(p.Weight / float64(bt.N))
		for i := 0; i < bt.N; i++ {
			j := int(bt.Task[i])
			if j < 0 {
				// No task given (not task-IL): the example is of a task up to cur, whose
				// active units (every unit, or every class seen so far) are those of task cur.
				j = cur
			}
			c := s.ModelUnit(b.Heads, j, int(bt.Target[i]))
			if c < 0 {
				return fmt.Errorf("strategies: target unit %d of task %d has no model output", bt.Target[i], j)
			}
			w[(row+i)*M+c] = wt
			copy(mask[(row+i)*M:(row+i+1)*M], b.mask(cur, j))
		}
		row += bt.N
	}
	clear(mask[row*M:])
	clear(x[row*D:])
	return nil
}

// ErrDiverged is returned when the training loss is NaN or infinite.
var ErrDiverged = errors.New("strategies: loss diverged")

// Diverged returns the error (wrapping ErrDiverged) for a step whose loss + penalty is NaN or
// infinite, naming the term that became non-finite: "the penalty term became +Inf (loss
// 0.31)", "the loss term became NaN (penalty 0)", or, when both terms are finite, that their
// float32 sum overflowed.
func Diverged(loss, penalty float32) error {
	bad := func(x float32) bool { return math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) }
	var what string
	switch {
	case bad(loss) && bad(penalty):
		what = fmt.Sprintf("the loss term became %v and the penalty term %v", loss, penalty)
	case bad(penalty):
		what = fmt.Sprintf("the penalty term became %v (loss %v): its strength may be too large", penalty, loss)
	case bad(loss):
		what = fmt.Sprintf("the loss term became %v (penalty %v)", loss, penalty)
	default:
		what = fmt.Sprintf("loss + penalty overflowed float32 (loss %v, penalty %v)", loss, penalty)
	}
	return fmt.Errorf("%w: %s", ErrDiverged, what)
}

// Train runs the filled step: forward, backward and an Adam update of the trainable parameters.
func (b *Base) Train() (StepInfo, error) { return b.TrainWith(nil) }

// TrainWith is Train with adjust (when not nil) run between the backward pass and the update,
// once the loss is known to be finite: the parameters are still the step's own, and Net.Grad
// returns the buffers the update reads, so adjust may read the gradient (EWC's running Fisher)
// or rewrite it in place (A-GEM's and GEM's projections, PackNet's freezing). An error from
// adjust skips the update.
func (b *Base) TrainWith(adjust func() error) (StepInfo, error) {
	loss, pen, err := b.Net.Step()
	info := StepInfo{Loss: loss, Penalty: pen}
	if err != nil {
		return info, err
	}
	if l := float64(loss + pen); math.IsNaN(l) || math.IsInf(l, 0) {
		return info, Diverged(loss, pen)
	}
	if adjust != nil {
		if err := adjust(); err != nil {
			return info, err
		}
	}
	b.Opt.Update(b.Net.Trainable(), b.Net.Grad)
	return info, nil
}

// Step trains on one batch of the current task with the plain averaged loss.
func (b *Base) Step(cur int, bt *stream.Batch) (StepInfo, error) {
	if err := b.Fill(cur, Part{Batch: bt, Weight: 1}); err != nil {
		return StepInfo{}, err
	}
	info, err := b.Train()
	info.Samples = bt.N
	return info, err
}

// ModelScores runs the evaluation graph on b and returns the model-space outputs (b.N x model
// outputs), in a buffer reused across calls.
func (b *Base) ModelScores(bt *stream.Batch) ([]float32, error) {
	M := b.Net.Outputs()
	if cap(b.scores) < bt.N*M {
		b.scores = make([]float32, bt.N*M)
	}
	sc := b.scores[:bt.N*M]
	if err := b.Net.Forward(bt.X, bt.N, sc); err != nil {
		return nil, err
	}
	return sc, nil
}

// Scores writes b's scores in the stream's global output space.
func (b *Base) Scores(bt *stream.Batch, out []float32) error {
	sc, err := b.ModelScores(bt)
	if err != nil {
		return err
	}
	b.ToGlobal(bt, sc, out)
	return nil
}

// ToGlobal maps model-space scores of b's examples to the global output space.
func (b *Base) ToGlobal(bt *stream.Batch, sc, out []float32) {
	O, M := b.Env.Stream.Outputs, b.Net.Outputs()
	for i := 0; i < bt.N; i++ {
		o := out[i*O : (i+1)*O]
		for k := range o {
			o[k] = graphs.MaskOff
		}
		j := int(bt.Task[i])
		if j < 0 {
			j = 0 // no task given (not task-IL): every task maps columns to units alike
		}
		for c, u := range b.colUnit[j] {
			if u >= 0 {
				o[u] = sc[i*M+c]
			}
		}
	}
}

// ScoresByTask is Scores for strategies whose evaluation graph depends on each example's task
// (hat's gates, packnet's weight masks, pathnet's paths): it runs bt in chunks of at most
// EvalRows examples (with byTask, also cut where the task changes), calling prepare(rows,
// tasks) with the chunk's tasks before each forward pass, and writes the global scores. An
// example without its task is an error naming the strategy (name) and what needs it (need).
func (b *Base) ScoresByTask(name, need string, bt *stream.Batch, out []float32, byTask bool, prepare func(rows int, tasks []int32)) error {
	rows := b.EvalRows()
	D, M := b.Env.Stream.InputDim, b.Net.Outputs()
	for _, t := range bt.Task[:bt.N] {
		if t < 0 {
			return fmt.Errorf("%s: an example without task identity: %s the example's task (task-IL)", name, need)
		}
	}
	b.scores = grow(b.scores, bt.N*M)
	for start := 0; start < bt.N; {
		n := min(rows, bt.N-start)
		if byTask {
			for k := 1; k < n; k++ {
				if bt.Task[start+k] != bt.Task[start] {
					n = k
					break
				}
			}
		}
		prepare(rows, bt.Task[start:start+n])
		if err := b.Net.Forward(bt.X[start*D:(start+n)*D], n, b.scores[start*M:]); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		start += n
	}
	b.ToGlobal(bt, b.scores, out)
	return nil
}

// RowsModel returns a model of rows training rows over b's parameters for a side pass (a memory
// batch larger than the training batch, as A-GEM's and GEM's ref): Net itself when rows fits
// its batch, else *cache, built once and rebuilt whenever Net was (*builtFor records the Net it
// was built beside). Its evaluation graph, never run, takes one row. name prefixes errors.
func (b *Base) RowsModel(name string, rows int, cache, builtFor **graphs.Model) (*graphs.Model, error) {
	if rows <= b.Net.Batch() {
		return b.Net, nil
	}
	if *cache == nil || *builtFor != b.Net {
		m, err := b.NewModel(rows, 1)
		if err != nil {
			return nil, fmt.Errorf("%s: the memory batch's graph: %w", name, err)
		}
		*cache, *builtFor = m, b.Net
	}
	return *cache, nil
}
