package graphs

import (
	"errors"
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Forward builds a model's output logits [n, Outputs] from its input x [n, InputDim] in b's graph.
type Forward func(b *Binder, x *G.Node) (*G.Node, error)

// Penalty builds an extra scalar term of the training loss (e.g. EWC's quadratic penalty) in b's
// graph; it may return nil for no term.
//
// Neither a Forward nor a Penalty may leave in the graph anything that leads back to the Model
// (an op or a G.Read target holding the strategy that owns it, say): Gorgonia's TapeMachines
// carry finalizers, and a machine that can reach itself through its graph is never freed.
type Penalty func(b *Binder) (*G.Node, error)

// Config describes a Model. Every field must be set unless its comment says otherwise.
type Config struct {
	Params   *ParamSet
	Forward  Forward
	Penalty  Penalty // optional; nil adds nothing
	InputDim int
	Outputs  int
	// Batch is the number of rows of every training step.
	Batch int
	// EvalBatch is the number of rows the evaluation graph takes at once; 0 means 1000.
	EvalBatch int
}

// Model owns a training graph (forward, loss, gradients of every trainable parameter it uses) and
// a forward-only evaluation graph, both bound to the same parameter tensors. Inputs are copied into
// tensors bound once, and clgraph's ops (Linear, ReLU, SoftmaxXent and their gradients) write
// into buffers they own, so a step allocates no tensor and never rebuilds a graph: what a step
// allocates is the TapeMachine's bookkeeping (about a hundred small objects, a few KiB), plus
// the outputs of any stock Gorgonia op a Forward or Penalty adds (a TapeMachine's Reset drops
// preallocated values, so such ops allocate their results on every run).
type Model struct {
	cfg Config

	tx, tw, tm *tensor.Dense // training input, target weights, mask
	vm         G.VM
	// The values the graphs' Read nodes write live in their own allocations, never in the
	// Model: a Read op keeps a pointer to its target, so a target inside the Model would make
	// the graph point back at the Model and through it at its TapeMachines. Gorgonia sets a
	// finalizer on every TapeMachine, and an object with a finalizer that can reach itself is
	// never finalized nor freed: every Model built in a process, its graphs, op buffers,
	// parameters and optimiser state (and the strategy its Forward belongs to) would stay live.
	lossV     *G.Value
	penV      *G.Value // nil without a penalty
	grads     map[*Param]*G.Node
	trainable []*Param

	ex     *tensor.Dense
	evm    G.VM
	eoutV  *G.Value
	evalBD *Binder
	trainB *Binder
}

// NewModel builds both graphs. The graphs reflect the parameters' Frozen flags at build time: a
// strategy that freezes parameters rebuilds its model.
func NewModel(cfg Config) (m *Model, err error) {
	if cfg.Params == nil || cfg.Forward == nil || cfg.InputDim <= 0 || cfg.Outputs <= 0 || cfg.Batch <= 0 {
		return nil, errors.New("graphs: model config needs Params, Forward, InputDim, Outputs and Batch")
	}
	if cfg.EvalBatch <= 0 {
		cfg.EvalBatch = 1000
	}
	defer func() {
		// Gorgonia's graph construction panics on shape errors; turn them into errors here, the
		// one boundary where graph-building panics come back as errors.
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("graphs: building model: %v", r)
		}
	}()
	m = &Model{cfg: cfg}
	if err := m.buildTrain(); err != nil {
		return nil, fmt.Errorf("graphs: training graph: %w", err)
	}
	if err := m.buildEval(); err != nil {
		return nil, fmt.Errorf("graphs: evaluation graph: %w", err)
	}
	return m, nil
}

func f32mat(r, c int) *tensor.Dense {
	return tensor.New(tensor.WithShape(r, c), tensor.Of(tensor.Float32))
}

func (m *Model) buildTrain() error {
	c := m.cfg
	b := newBinder("train")
	m.trainB = b
	m.tx, m.tw, m.tm = f32mat(c.Batch, c.InputDim), f32mat(c.Batch, c.Outputs), f32mat(c.Batch, c.Outputs)
	x := b.Const("x", m.tx)
	w := b.Const("target", m.tw)
	mask := b.Const("mask", m.tm)
	z, err := c.Forward(b, x)
	if err != nil {
		return err
	}
	if s := z.Shape(); len(s) != 2 || s[0] != c.Batch || s[1] != c.Outputs {
		return fmt.Errorf("forward returns shape %v, want (%d, %d)", s, c.Batch, c.Outputs)
	}
	loss, err := SoftmaxXent(z, w, mask)
	if err != nil {
		return err
	}
	m.lossV = new(G.Value)
	G.Read(loss, m.lossV)
	cost := loss
	if c.Penalty != nil {
		pen, err := c.Penalty(b)
		if err != nil {
			return fmt.Errorf("penalty: %w", err)
		}
		if pen != nil {
			m.penV = new(G.Value)
			G.Read(pen, m.penV)
			if cost, err = G.Add(loss, pen); err != nil {
				return fmt.Errorf("penalty: %w", err)
			}
		}
	}
	if m.trainable, m.grads, err = gradients(b, cost); err != nil {
		return err
	}
	m.vm = G.NewTapeMachine(b.g)
	return nil
}

func (m *Model) buildEval() error {
	c := m.cfg
	b := newBinder("eval")
	m.evalBD = b
	m.ex = f32mat(c.EvalBatch, c.InputDim)
	z, err := c.Forward(b, b.Const("x", m.ex))
	if err != nil {
		return err
	}
	m.eoutV = new(G.Value)
	G.Read(z, m.eoutV)
	m.evm = G.NewTapeMachine(b.g)
	return nil
}

// Trainable returns the parameters that receive gradients, in graph order.
func (m *Model) Trainable() []*Param { return m.trainable }

// Used returns every parameter the training graph reads.
func (m *Model) Used() []*Param { return m.trainB.Used() }

// Batch is the number of rows of a training step.
func (m *Model) Batch() int { return m.cfg.Batch }

// Outputs is the width of the model's output.
func (m *Model) Outputs() int { return m.cfg.Outputs }

// TrainGraph returns the training graph (for drawing it).
func (m *Model) TrainGraph() *G.ExprGraph { return m.trainB.g }

// Inputs returns the training step's bound input tensors' data: x [Batch*InputDim], target
// weights and mask [Batch*Outputs]. Fill them, then call Step. Filling in place avoids a copy.
func (m *Model) Inputs() (x, target, mask []float32) {
	return m.tx.Float32s(), m.tw.Float32s(), m.tm.Float32s()
}

// Step runs the training graph once on the current inputs, leaving each trainable parameter's
// gradient readable by Grad until the next Step. It returns the data loss and the penalty.
func (m *Model) Step() (loss, penalty float32, err error) {
	defer m.vm.Reset()
	if err := m.vm.RunAll(); err != nil {
		return 0, 0, fmt.Errorf("graphs: training step: %w", err)
	}
	loss = scalar(*m.lossV)
	if m.penV != nil {
		penalty = scalar(*m.penV)
	}
	return loss, penalty, nil
}

func scalar(v G.Value) float32 {
	f, _ := scalarOf(v)
	return f
}

// Grad returns p's gradient from the last Step (nil for a parameter that received none).
func (m *Model) Grad(p *Param) []float32 { return gradOf(m.grads, p) }

// gradients adds to b's graph the gradient of cost with respect to every trainable parameter
// the graph uses, and returns those parameters (in graph order) and their gradient nodes.
func gradients(b *Binder, cost *G.Node) ([]*Param, map[*Param]*G.Node, error) {
	var wrt G.Nodes
	var trainable []*Param
	for _, p := range b.Used() {
		if !p.Frozen {
			wrt = append(wrt, b.Node(p))
			trainable = append(trainable, p)
		}
	}
	if len(wrt) == 0 {
		return nil, nil, errors.New("no trainable parameter reaches the loss")
	}
	gs, err := G.Grad(cost, wrt...)
	if err != nil {
		return nil, nil, fmt.Errorf("gradients: %w", err)
	}
	grads := make(map[*Param]*G.Node, len(trainable))
	for i, p := range trainable {
		grads[p] = gs[i]
	}
	return trainable, grads, nil
}

// gradOf reads p's gradient node's value after a run (nil for a parameter that received none).
func gradOf(grads map[*Param]*G.Node, p *Param) []float32 {
	n, ok := grads[p]
	if !ok || n.Value() == nil {
		return nil
	}
	d, _, err := f32s(n.Value())
	if err != nil {
		return nil
	}
	return d
}

// Forward computes the logits of n rows of x (row-major, InputDim features each) into out
// (n*Outputs), in chunks of EvalBatch through the evaluation graph.
func (m *Model) Forward(x []float32, n int, out []float32) error {
	c := m.cfg
	if len(x) < n*c.InputDim || len(out) < n*c.Outputs {
		return fmt.Errorf("graphs: forward of %d rows needs %d inputs and %d outputs, got %d and %d", n, n*c.InputDim, n*c.Outputs, len(x), len(out))
	}
	ex := m.ex.Float32s()
	for start := 0; start < n; start += c.EvalBatch {
		rows := min(c.EvalBatch, n-start)
		copy(ex, x[start*c.InputDim:(start+rows)*c.InputDim])
		clear(ex[rows*c.InputDim:])
		err := m.evm.RunAll()
		m.evm.Reset()
		if err != nil {
			return fmt.Errorf("graphs: evaluation: %w", err)
		}
		z, _, err := f32s(*m.eoutV)
		if err != nil {
			return fmt.Errorf("graphs: evaluation: %w", err)
		}
		copy(out[start*c.Outputs:(start+rows)*c.Outputs], z[:rows*c.Outputs])
	}
	return nil
}
