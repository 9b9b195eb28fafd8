package strategies

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/stream"
	G "gorgonia.org/gorgonia"
)

// PNN is a progressive neural network (Rusu et al. 2016): one column per task, each an MLP of
// Env.Hidden's depth with its own head, whose layers after the first (and the head) also read the
// previous layer of every earlier column through lateral connections (graphs.Progressive). At the
// start of each task after the first it freezes every existing column (graphs.Param.Frozen: no
// gradient, no update), adds a column and rebuilds its model, so the parameter count grows with
// each task and earlier tasks are never forgotten (backward transfer is exactly 0).
//
// The model's output is the heads of columns 0..k side by side; training masks every head but the
// current task's, and Scores routes each example to its own task's head. Tasks whose column does
// not exist yet (before their StartTask) score 0 on every unit, so PNN's FWT is 0 by construction.
// It needs task identities (task-IL only).
type PNN struct {
	// Stateless makes PNN checkpointable with no state of its own: its columns (and which are
	// frozen) are structure the runner rebuilds by replaying StartTask; their weights and the
	// optimizer it saves itself.
	Stateless
	// Width is the hidden widths of every column: nil means Env.Hidden, one value is used for
	// every layer, otherwise one value per layer of Env.Hidden. Set it before Setup.
	Width []int
	// Adapter selects the paper's non-linear lateral adapters. Set it before Setup.
	Adapter bool
	// FromInput adds A-GEM's code's lateral connections (graphs.Progressive.FromInput): into
	// the first layer from the input too, every one with a bias (pnn:laterals=agem). Set it
	// before Setup.
	FromInput bool

	env    *Env
	widths []int // hidden widths of every column
	ps     *graphs.ParamSet
	net    *graphs.Progressive
	model  *graphs.Model
	opt    *graphs.Adam
	spec   string
	offset []int       // per column: its head's first model output
	masks  [][]float32 // per column: model-space mask row of its task's examples
	scores []float32
}

// Compile-time interface checks.
var (
	_ Strategy    = (*PNN)(nil)
	_ TaskStarter = (*PNN)(nil)
	_ Requirer    = (*PNN)(nil)
	_ Modeler     = (*PNN)(nil)
	_ Named       = (*PNN)(nil)
)

// SetSpec records the spec the strategy was built from.
func (p *PNN) SetSpec(s string) { p.spec = s }

// Spec returns the spec the strategy was built from.
func (p *PNN) Spec() string { return p.spec }

// Requires reports that PNN picks a column by task identity.
func (p *PNN) Requires() Requirements { return Requirements{TaskIdentity: true} }

// Params returns the parameters of every column so far.
func (p *PNN) Params() *graphs.ParamSet { return p.ps }

// Model returns the current model (columns 0..k for the current task k).
func (p *PNN) Model() *graphs.Model { return p.model }

// Network returns the progressive network (its columns and lateral connections).
func (p *PNN) Network() *graphs.Progressive { return p.net }

// Setup checks the scenario and builds the first column and its model, so the untrained model can
// be evaluated before the first task.
func (p *PNN) Setup(env *Env) error {
	s := env.Stream
	if !s.HasTaskIdentity() {
		return fmt.Errorf("pnn: needs task identities to pick a column, which the %s-IL scenario does not give at test time; use --scenario task", s.Scenario)
	}
	p.widths = append([]int(nil), p.Width...)
	switch {
	case len(p.Width) == 0:
		p.widths = append([]int(nil), env.Hidden...)
	case len(p.Width) == 1:
		p.widths = make([]int, len(env.Hidden))
		for i := range p.widths {
			p.widths[i] = p.Width[0]
		}
	case len(p.Width) != len(env.Hidden):
		return fmt.Errorf("pnn: width %v has %d layers, the protocol's trunk (hidden %v) has %d", p.Width, len(p.Width), env.Hidden, len(env.Hidden))
	}
	p.env = env
	p.ps = graphs.NewParamSet()
	p.net = &graphs.Progressive{In: s.InputDim, Adapter: p.Adapter, FromInput: p.FromInput}
	p.opt = env.NewOptimizer()
	p.offset, p.masks = nil, nil
	if err := p.addColumn(); err != nil {
		return err
	}
	return p.build()
}

// StartTask freezes every existing column and adds columns up to cur (one per task), then
// rebuilds the model. It does nothing when column cur already exists.
func (p *PNN) StartTask(cur int) error {
	if cur < 0 || cur >= len(p.env.Stream.Tasks) {
		return fmt.Errorf("pnn: task %d outside the stream's %d tasks", cur, len(p.env.Stream.Tasks))
	}
	if cur < len(p.net.Columns) {
		return nil
	}
	for len(p.net.Columns) <= cur {
		for _, c := range p.net.Columns {
			c.SetFrozen(true)
			for _, q := range c.Params() {
				// A frozen column is never updated again: free its Adam moments.
				delete(p.opt.M, q.Name)
				delete(p.opt.V, q.Name)
				delete(p.opt.Steps, q.Name)
			}
		}
		if err := p.addColumn(); err != nil {
			return err
		}
	}
	if err := p.build(); err != nil {
		return fmt.Errorf("pnn: task %d: %w", cur, err)
	}
	if p.env.Log != nil {
		p.env.Log.WithField("columns", len(p.net.Columns)).WithField("params", p.ps.Count()).Debug("pnn: added a column")
	}
	return nil
}

// addColumn adds the column of the next task, with a head of that task's size.
func (p *PNN) addColumn() error {
	k := len(p.net.Columns)
	task := p.env.Stream.Tasks[k]
	if _, err := p.net.AddColumn(p.ps, p.widths, len(task.Units), p.env.Rng); err != nil {
		return fmt.Errorf("pnn: column %d: %w", k, err)
	}
	off := 0
	if k > 0 {
		off = p.offset[k-1] + p.net.Columns[k-1].Out
	}
	p.offset = append(p.offset, off)
	return nil
}

// outputs is the width of the model's output: the heads of every column side by side.
func (p *PNN) outputs() int {
	k := len(p.net.Columns) - 1
	return p.offset[k] + p.net.Columns[k].Out
}

// forward computes every column and lays their heads side by side.
func (p *PNN) forward(b *graphs.Binder, x *G.Node) (*G.Node, error) {
	logits, err := p.net.Apply(b, x, len(p.net.Columns)-1)
	if err != nil {
		return nil, err
	}
	if len(logits) == 1 {
		return logits[0], nil
	}
	return G.Concat(1, logits...)
}

// build rebuilds the model over the current columns and Frozen flags.
func (p *PNN) build() error {
	M := p.outputs()
	m, err := graphs.NewModel(graphs.Config{
		Params: p.ps, Forward: p.forward, InputDim: p.env.Stream.InputDim, Outputs: M,
		Batch: p.env.Batch, EvalBatch: p.env.EvalBatch,
	})
	if err != nil {
		return fmt.Errorf("pnn: building the model of %d columns: %w", len(p.net.Columns), err)
	}
	p.model = m
	p.masks = make([][]float32, len(p.net.Columns))
	for k, c := range p.net.Columns {
		row := make([]float32, M)
		for i := range row {
			if i < p.offset[k] || i >= p.offset[k]+c.Out {
				row[i] = graphs.MaskOff
			}
		}
		p.masks[k] = row
	}
	return nil
}

// Step trains the current column (and its lateral connections) on one batch of task cur.
func (p *PNN) Step(cur int, bt *stream.Batch) (StepInfo, error) {
	if cur >= len(p.net.Columns) {
		return StepInfo{}, fmt.Errorf("pnn: step on task %d, which has no column yet (StartTask adds it)", cur)
	}
	if bt.N == 0 {
		return StepInfo{}, fmt.Errorf("pnn: empty batch on task %d", cur+1)
	}
	if err := p.fill(bt); err != nil {
		return StepInfo{}, err
	}
	loss, pen, err := p.model.Step()
	if err != nil {
		return StepInfo{}, fmt.Errorf("pnn: task %d: %w", cur, err)
	}
	info := StepInfo{Loss: loss, Penalty: pen, Samples: bt.N}
	if l := float64(loss + pen); math.IsNaN(l) || math.IsInf(l, 0) {
		return info, Diverged(loss, pen)
	}
	p.opt.Update(p.model.Trainable(), p.model.Grad)
	return info, nil
}

// fill copies bt into the model's inputs: each example is trained through its own task's head.
func (p *PNN) fill(bt *stream.Batch) error {
	s := p.env.Stream
	x, w, mask := p.model.Inputs()
	D, M, rows := s.InputDim, p.model.Outputs(), p.model.Batch()
	if bt.N > rows {
		return fmt.Errorf("pnn: %d rows do not fit a step of %d", bt.N, rows)
	}
	clear(w)
	copy(x, bt.X[:bt.N*D])
	clear(x[bt.N*D:])
	wt := float32(1 / float64(bt.N))
	for i := 0; i < bt.N; i++ {
		j := int(bt.Task[i])
		if j >= len(p.net.Columns) {
			return fmt.Errorf("pnn: an example of task %d, which has no column yet", j+1)
		}
		pos := s.ModelUnit(stream.SingleHead, j, int(bt.Target[i]))
		if pos < 0 {
			return fmt.Errorf("pnn: target unit %d is not a unit of task %d", bt.Target[i], j+1)
		}
		w[i*M+p.offset[j]+pos] = wt
		copy(mask[i*M:(i+1)*M], p.masks[j])
	}
	clear(mask[bt.N*M:])
	return nil
}

// Scores runs every column and writes each example's own task's head into that task's units;
// other units hold graphs.MaskOff. A task without a column yet scores 0 on each of its units.
func (p *PNN) Scores(bt *stream.Batch, out []float32) error {
	s := p.env.Stream
	M := p.model.Outputs()
	if cap(p.scores) < bt.N*M {
		p.scores = make([]float32, bt.N*M)
	}
	sc := p.scores[:bt.N*M]
	if err := p.model.Forward(bt.X, bt.N, sc); err != nil {
		return fmt.Errorf("pnn: %w", err)
	}
	O := s.Outputs
	for i := 0; i < bt.N; i++ {
		o := out[i*O : (i+1)*O]
		for u := range o {
			o[u] = graphs.MaskOff
		}
		j := int(bt.Task[i])
		units := s.Tasks[j].Units
		if j >= len(p.net.Columns) {
			for _, u := range units {
				o[u] = 0
			}
			continue
		}
		for pos, u := range units {
			o[u] = sc[i*M+p.offset[j]+pos]
		}
	}
	return nil
}

// parseWidths reads the width option: "" (Env.Hidden), one width for every layer ("256"), or one
// per layer separated by '/' ("400/200"; commas separate options).
func parseWidths(v string) ([]int, bool) {
	if v == "" {
		return nil, true
	}
	var out []int
	for _, f := range strings.Split(v, "/") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, false
		}
		out = append(out, n)
	}
	return out, true
}

func init() {
	Register(Info{
		Name: "pnn",
		Doc:  "progressive neural networks: a new column per task with lateral connections from the frozen earlier ones (Rusu et al. 2016)",
		Options: []Option{
			{Name: "width", Default: "", Doc: "hidden widths of each column: one for every layer (256) or one per layer (400/200); empty: the protocol's --hidden"},
			{Name: "adapter", Default: "false", Doc: "non-linear lateral adapters (learned scale, projection and ReLU before U), as in the paper"},
			{Name: "laterals", Default: "hidden", Doc: "hidden: into every layer after the first from the layer below of each earlier column (the paper); agem: also into the first layer from the input, each with a bias (A-GEM's code; linear form only)"},
		},
	}, func(o *Options) (Strategy, error) {
		s := &PNN{Adapter: o.Bool("adapter")}
		lat := o.String("laterals")
		o.Check("laterals", lat == "hidden" || lat == "agem", "hidden or agem")
		s.FromInput = lat == "agem"
		o.Check("laterals", !(s.FromInput && s.Adapter), "hidden with adapter=true (agem's laterals are linear)")
		w, ok := parseWidths(o.String("width"))
		o.Check("width", ok, "positive integers separated by '/', e.g. 256 or 400/200")
		s.Width = w
		return s, nil
	})
}
