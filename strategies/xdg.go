package strategies

import (
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/stream"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// XdG is context-dependent gating (Masse, Grant & Freedman 2018): each task has a fixed random
// binary mask over the units of every hidden layer, switching off a fraction Gate of them
// (exactly floor(Gate * width) per layer, as van de Ven's reference code draws them), drawn from
// Env.Rng at Setup (so a resumed run redraws the same masks). The mask multiplies the layer's
// output after its ReLU (graphs.Gate, as in Masse et al.; van de Ven's code scales the
// pre-activation without its bias instead): during training with the mask of each example's
// task (the current task), at test time with the mask of the example's task, which only task-IL
// gives (Requires). A gated unit outputs 0 for that task, so the task's loss gives its incoming
// and outgoing weights no gradient.
//
// Masse et al. combine gating with a weight regulariser, so XdG gates an inner strategy built
// from Default (option reg): naive fine-tuning, EWC or SI, whose own options it takes and
// forwards (lambda, online, gamma, fisher, samples for ewc; c, xi, clip for si; heads). The inner
// strategy trains, penalises and checkpoints as it does alone; XdG rebuilds its model with the
// gated trunk after its Setup, fills the gates before each step and evaluation, and makes EWC's
// Fisher that of the gated network: DiagonalFisher runs its own forward pass, ungated, so around
// EWC's EndTask the incoming weights and biases of task cur's gated units are set to 0 (which
// switches those units off exactly as the gate does: relu(0) = 0, and its derivative there is 0),
// then restored, and the anchors EWC set for them re-pointed to their values.
type XdG struct {
	// Gate is the fraction of each hidden layer's units switched off per task, in [0, 1)
	// (settled at Setup when the option is auto: GateOpt).
	Gate float64
	// GateOpt is the gate option as given: a number, or auto (XdGGates).
	GateOpt AutoFloat
	// Inner is the gated strategy (*Naive, *EWC or *SI), built by the factory.
	Inner Strategy
	// Masks[t][l] is task t's mask over hidden layer l (1 kept, 0 gated), drawn at Setup.
	Masks [][][]float32

	base  *Base
	spec  string
	gates map[int]*gateRows // per graph row count: the gate constants of the trunk's layers
}

// gateRows are the gate constants of a graph of n rows, one [n, width] tensor per hidden layer,
// and the task whose mask each row holds (-1: none yet).
type gateRows struct {
	t    []*tensor.Dense
	task []int
}

// Compile-time interface checks.
var (
	_ Strategy     = (*XdG)(nil)
	_ TaskEnder    = (*XdG)(nil)
	_ Checkpointer = (*XdG)(nil)
	_ Requirer     = (*XdG)(nil)
	_ Resolver     = (*XdG)(nil)
	_ Modeler      = (*XdG)(nil)
	_ Optimized    = (*XdG)(nil)
	_ Named        = (*XdG)(nil)
)

// baseOf returns the Base of the strategies XdG gates.
func baseOf(s Strategy) *Base {
	switch v := s.(type) {
	case *Naive:
		return &v.Base
	case *EWC:
		return &v.Base
	case *SI:
		return &v.Base
	}
	return nil
}

// Setup sets up the inner strategy, draws the masks and rebuilds the inner model with the gated
// trunk (its penalty kept).
func (x *XdG) Setup(env *Env) error {
	if err := x.Inner.Setup(env); err != nil {
		return fmt.Errorf("xdg: %w", err)
	}
	b := baseOf(x.Inner)
	if b == nil {
		return fmt.Errorf("xdg: cannot gate a %T", x.Inner)
	}
	x.Gate = x.GateOpt.Resolve(env, b.Heads)
	if x.Gate >= 1 {
		return fmt.Errorf("xdg: gate=%g: want a fraction in [0, 1)", x.Gate)
	}
	x.base, x.gates = b, map[int]*gateRows{}
	s := env.Stream
	x.Masks = make([][][]float32, len(s.Tasks))
	for t := range x.Masks {
		for _, d := range b.Trunk.Layers {
			h := d.W.Shape()[1]
			m := make([]float32, h)
			for j := range m {
				m[j] = 1
			}
			gated := int(math.Floor(x.Gate*float64(h) + 1e-9)) // 1e-9: 0.29*100 is 28.999...
			for _, j := range env.Rng.Perm(h)[:gated] {
				m[j] = 0
			}
			x.Masks[t] = append(x.Masks[t], m)
		}
	}
	net, err := graphs.NewModel(graphs.Config{
		Params: b.PS, Forward: x.forward, Penalty: b.Penalty,
		InputDim: s.InputDim, Outputs: s.ModelOutputs(b.Heads), Batch: b.Rows, EvalBatch: x.base.EvalRows(),
	})
	if err != nil {
		return fmt.Errorf("xdg: %w", err)
	}
	b.Net = net
	return nil
}

// forward is Base.Forward with each dense hidden layer's ReLU output gated (a conv trunk's conv
// layers are not gated).
func (x *XdG) forward(bd *graphs.Binder, in *G.Node) (*G.Node, error) {
	n := in.Shape()[0]
	g, ok := x.gates[n]
	if !ok {
		g = &gateRows{task: make([]int, n)}
		for i := range g.task {
			g.task[i] = -1
		}
		for _, d := range x.base.Trunk.Layers {
			g.t = append(g.t, tensor.New(tensor.WithShape(n, d.W.Shape()[1]), tensor.Of(tensor.Float32)))
		}
		x.gates[n] = g
	}
	h := in
	for _, c := range x.base.Trunk.Convs { // conv layers: not gated
		var err error
		if h, err = graphs.ApplyConv(bd, h, c); err != nil {
			return nil, err
		}
	}
	for l, d := range x.base.Trunk.Layers {
		z, err := d.Apply(bd, h)
		if err != nil {
			return nil, err
		}
		if h, err = graphs.ReLU(z); err != nil {
			return nil, err
		}
		if h, err = graphs.Gate(h, bd.Const(fmt.Sprintf("xdg/gate%d", l), g.t[l])); err != nil {
			return nil, err
		}
	}
	return x.base.Out.Apply(bd, h)
}

// setGates writes into the gates of a graph of rows rows, for its first n rows, the masks of
// tasks task(i).
func (x *XdG) setGates(rows, n int, task func(i int) int) {
	g := x.gates[rows]
	for i := range n {
		t := task(i)
		if g.task[i] == t {
			continue
		}
		for l, m := range x.Masks[t] {
			copy(g.t[l].Float32s()[i*len(m):], m)
		}
		g.task[i] = t
	}
}

// Step trains the inner strategy on bt with each example's task's gates (the current task's for
// rows without one).
func (x *XdG) Step(cur int, bt *stream.Batch) (StepInfo, error) {
	x.setGates(x.base.Rows, min(bt.N, x.base.Rows), func(i int) int {
		if t := int(bt.Task[i]); t >= 0 {
			return t
		}
		return cur
	})
	info, err := x.Inner.Step(cur, bt)
	if err != nil {
		return info, fmt.Errorf("xdg: %w", err)
	}
	return info, nil
}

// Scores evaluates bt with each example's task's gates, in chunks of the evaluation graph's rows.
func (x *XdG) Scores(bt *stream.Batch, out []float32) error {
	return x.base.ScoresByTask("xdg", "gating needs", bt, out, false, func(rows int, tasks []int32) {
		x.setGates(rows, len(tasks), func(i int) int { return int(tasks[i]) })
	})
}

// EndTask runs the inner strategy's, for EWC with the Fisher of task cur's gated network.
func (x *XdG) EndTask(cur int) error {
	te, ok := x.Inner.(TaskEnder)
	if !ok {
		return nil
	}
	e, ok := x.Inner.(*EWC)
	if !ok {
		return te.EndTask(cur)
	}
	// Switch task cur's gated units off in the weights: their incoming weights and biases to 0.
	type off struct {
		p    *graphs.Param
		k    []int
		vals []float32
	}
	var offs []off
	for l, d := range x.base.Trunk.Layers {
		m, h := x.Masks[cur][l], d.W.Shape()[1]
		ow, ob := off{p: d.W}, off{p: d.B}
		for j, keep := range m {
			if keep != 0 {
				continue
			}
			for r := range d.W.Shape()[0] {
				ow.k = append(ow.k, r*h+j)
			}
			ob.k = append(ob.k, j)
		}
		offs = append(offs, ow, ob)
	}
	for i := range offs {
		o := &offs[i]
		data := o.p.Data()
		for _, k := range o.k {
			o.vals = append(o.vals, data[k])
			data[k] = 0
		}
	}
	err := e.EndTask(cur)
	terms := map[*graphs.Param]*graphs.QuadTerm{}
	for i := range e.Q.Terms {
		terms[e.Q.Terms[i].Param] = &e.Q.Terms[i]
	}
	for _, o := range offs {
		data := o.p.Data()
		t := terms[o.p]
		for i, k := range o.k {
			data[k] = o.vals[i]
			// EWC anchors at the parameters' values: online EWC every parameter, classic EWC
			// those of zero weight (ConsolidateAnchor); re-point them to the true values.
			if t != nil && (e.Online || t.Weights()[k] == 0) {
				t.Anchors()[k] = o.vals[i]
			}
		}
	}
	if err != nil {
		return fmt.Errorf("xdg: %w", err)
	}
	return nil
}

// Requires reports that gating needs task identity at test time.
func (x *XdG) Requires() Requirements { return Requirements{TaskIdentity: true} }

// Params returns the inner strategy's parameters.
func (x *XdG) Params() *graphs.ParamSet { return x.Inner.Params() }

// Model returns the gated model.
func (x *XdG) Model() *graphs.Model { return x.base.Net }

// Optimizer returns the inner strategy's optimizer.
func (x *XdG) Optimizer() *graphs.Adam { return x.base.Opt }

// SetSpec records the spec the strategy was built from (called by Registry.New).
func (x *XdG) SetSpec(s string) { x.spec = s }

// Spec returns the spec the strategy was built from.
func (x *XdG) Spec() string { return x.spec }

// XdGGates is where xdg:gate=auto takes its value: the stream's default (xdg.gate), else
// Masse et al.'s 0.8.
var XdGGates = AutoTable{Key: "xdg.gate", Fallback: 0.8}

// Resolved reports the inner strategy's settled options (heads, and lambda or c) and the gate.
func (x *XdG) Resolved() map[string]string {
	m := map[string]string{}
	if r, ok := x.Inner.(Resolver); ok {
		m = r.Resolved()
	}
	return withFloat(m, "gate", x.Gate)
}

// SaveState saves the inner strategy's state; the masks are redrawn by Setup.
func (x *XdG) SaveState() ([]byte, error) { return x.Inner.(Checkpointer).SaveState() }

// WriteState streams the inner strategy's state when it is a StateWriter (the regularisers),
// else writes its SaveState's bytes.
func (x *XdG) WriteState(w io.Writer) error {
	if sw, ok := x.Inner.(StateWriter); ok {
		return sw.WriteState(w)
	}
	b, err := x.SaveState()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// LoadState restores the inner strategy's state.
func (x *XdG) LoadState(data []byte) error { return x.Inner.(Checkpointer).LoadState(data) }

// xdgRegs lists, per regulariser, the inner strategy and the options XdG forwards to it.
var xdgRegs = map[string]struct {
	name string
	opts []string
}{
	"none": {"naive", nil},
	"ewc":  {"ewc", []string{"lambda", "online", "gamma", "fisher", "samples"}},
	"si":   {"si", []string{"c", "xi", "clip"}},
}

// xdgOptions returns xdg's options: its own, then those of ewc and si it forwards (their Info's,
// registered before xdg: ewc.go and si.go initialise first).
func xdgOptions() []Option {
	opts := []Option{
		{Name: "gate", Default: "auto", Doc: "fraction of each hidden layer's units switched off per task, in [0, 1) (Masse et al. gate 80%; van de Ven's code uses 0.9 on split MNIST, 0.6 on permuted MNIST)", Auto: &XdGGates},
		{Name: "reg", Default: "none", Doc: "weight regulariser combined with gating: none, ewc or si (the options marked reg=ewc or reg=si apply with it)"},
		HeadsOption,
	}
	for _, reg := range []string{"ewc", "si"} {
		info, ok := Default.Lookup(reg)
		if !ok {
			panic("strategies: xdg registered before " + reg)
		}
		for _, name := range xdgRegs[reg].opts {
			for _, op := range info.Options {
				if op.Name == name {
					op.Doc = "reg=" + reg + ": " + op.Doc
					opts = append(opts, op)
				}
			}
		}
	}
	return opts
}

func init() {
	info := Info{
		Name:    "xdg",
		Doc:     "context-dependent gating (Masse et al. 2018), task-IL only: a fixed random mask per task switches off a fraction gate of each hidden layer's units, alone or with ewc or si (reg)",
		Options: xdgOptions(),
	}
	Register(info, func(o *Options) (Strategy, error) {
		x := &XdG{GateOpt: o.FloatOrAuto("gate")}
		x.Gate = x.GateOpt.Value
		o.Check("gate", x.GateOpt.Auto || x.Gate < 1, "a fraction in [0, 1)")
		reg := o.Choice("reg", "none", "ewc", "si")
		if o.Err() != nil {
			return nil, o.Err()
		}
		inner := Spec{Name: xdgRegs[reg].name, Options: map[string]string{"heads": o.Raw("heads")}}
		for _, op := range info.Options {
			switch {
			case op.Name == "gate" || op.Name == "reg" || op.Name == "heads":
			case slices.Contains(xdgRegs[reg].opts, op.Name):
				inner.Options[op.Name] = o.Raw(op.Name)
			default:
				owner := "si"
				if slices.Contains(xdgRegs["ewc"].opts, op.Name) {
					owner = "ewc"
				}
				o.Check(op.Name, o.Raw(op.Name) == op.Default, "its default: it applies with reg="+owner)
			}
		}
		if o.Err() != nil {
			return nil, o.Err()
		}
		// The inner strategy checks its options; its Key gives their normal form (Registry.Key).
		key, err := Default.Key(inner.String())
		if err != nil {
			return nil, fmt.Errorf("reg=%s: %w", reg, err)
		}
		ks, err := ParseSpec(key)
		if err != nil {
			return nil, err
		}
		for k, v := range ks.Options {
			o.note(k, v)
		}
		if x.Inner, err = Default.New(inner.String()); err != nil {
			return nil, fmt.Errorf("reg=%s: %w", reg, err)
		}
		return x, nil
	})
}

// ConvTrunk reports that xdg runs on a conv trunk when its inner strategy does: it gates the
// units of the dense layers after the conv layers, not the conv channels.
func (x *XdG) ConvTrunk() bool { return x.Inner != nil && RunsOnConv(x.Inner) }
