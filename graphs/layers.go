package graphs

import (
	"fmt"
	"math/rand"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Binder builds nodes for parameters and constants in one graph. A Model builds its training and
// evaluation graphs by calling the same forward function with two Binders, so both graphs share
// the parameters' tensors.
type Binder struct {
	train  bool // the model's training graph (see Training)
	g      *G.ExprGraph
	nodes  map[*Param]*G.Node
	consts map[*tensor.Dense]*G.Node
	order  []*Param
}

func newBinder(name string) *Binder {
	return &Binder{train: name == "train", g: G.NewGraph(G.WithGraphName(name)), nodes: map[*Param]*G.Node{}, consts: map[*tensor.Dense]*G.Node{}}
}

// Training reports whether the graph being built is a Model's training graph (not its
// evaluation graph): a Forward that computes differently when it learns (HAT's annealed gate)
// asks it.
func (b *Binder) Training() bool { return b.train }

// Graph returns the graph being built.
func (b *Binder) Graph() *G.ExprGraph { return b.g }

// Node returns p's node in this graph, creating it bound to p's tensor on first use.
func (b *Binder) Node(p *Param) *G.Node {
	if n, ok := b.nodes[p]; ok {
		return n
	}
	n := G.NewTensor(b.g, tensor.Float32, p.Value.Dims(), G.WithShape(p.Shape()...), G.WithName(p.Name), G.WithValue(p.Value))
	b.nodes[p] = n
	b.order = append(b.order, p)
	return n
}

// Const returns a node bound to t (e.g. an EWC anchor), which the graph reads but never
// differentiates. Updating t in place changes what later runs compute, without rebuilding.
func (b *Binder) Const(name string, t *tensor.Dense) *G.Node {
	if n, ok := b.consts[t]; ok {
		return n
	}
	n := G.NewTensor(b.g, tensor.Float32, t.Dims(), G.WithShape(t.Shape()...), G.WithName(name), G.WithValue(t))
	b.consts[t] = n
	return n
}

// Used returns the parameters this graph has nodes for, in first-use order.
func (b *Binder) Used() []*Param { return b.order }

// Dense is a fully connected layer y = x W + b with W [in,out] and b [1,out]. With Mask set
// (in*out values, row-major like W) the layer computes y = x (W ⊙ Mask) + b and its weight
// gradient is masked alike: a weight whose mask is 0 neither acts nor learns (PackNet's per-task
// weight masks). The op reads Mask at every run, so changing its values in place changes what
// later runs compute, without rebuilding the graph.
type Dense struct {
	W, B *Param
	Mask []float32
}

// NewDense adds a dense layer's parameters to ps under prefix and initialises them like PyTorch.
func NewDense(ps *ParamSet, prefix, group string, in, out int, rng *rand.Rand) Dense {
	d := Dense{W: ps.Add(prefix+"/W", group, in, out), B: ps.Add(prefix+"/b", group, 1, out)}
	InitLinear(d.W, d.B, rng)
	return d
}

// Apply adds x W + b to b's graph, as one fused op (see Linear).
func (d Dense) Apply(bd *Binder, x *G.Node) (*G.Node, error) {
	return Linear(bd, x, d)
}

// MLP is a stack of dense layers with ReLU between them (a trunk: ReLU after every layer).
type MLP struct {
	Layers []Dense
}

// NewMLP adds a trunk in -> hidden[0] -> ... -> hidden[k-1] to ps, every layer followed by ReLU.
func NewMLP(ps *ParamSet, prefix, group string, in int, hidden []int, rng *rand.Rand) MLP {
	var m MLP
	for i, h := range hidden {
		m.Layers = append(m.Layers, NewDense(ps, fmt.Sprintf("%s/l%d", prefix, i), group, in, h, rng))
		in = h
	}
	return m
}

// Apply adds the trunk to b's graph and returns the last hidden activation.
func (m MLP) Apply(b *Binder, x *G.Node) (*G.Node, error) {
	h := x
	for _, l := range m.Layers {
		z, err := l.Apply(b, h)
		if err != nil {
			return nil, err
		}
		if h, err = ReLU(z); err != nil {
			return nil, fmt.Errorf("relu after %s: %w", l.W.Name, err)
		}
	}
	return h, nil
}

// Heads is a set of output layers whose outputs are laid side by side (one head per task, or a
// single shared head).
type Heads struct {
	Layers []Dense
}

// NewHeads adds one dense output layer of size sizes[k] per head to ps ("head<k>/W", "head<k>/b",
// group "head").
func NewHeads(ps *ParamSet, prefix string, in int, sizes []int, rng *rand.Rand) Heads {
	var h Heads
	for k, n := range sizes {
		name := prefix
		if len(sizes) > 1 {
			name = fmt.Sprintf("%s%d", prefix, k)
		}
		h.Layers = append(h.Layers, NewDense(ps, name, "head", in, n, rng))
	}
	return h
}

// Apply adds every head to b's graph with their outputs side by side along the unit axis: one
// fused op computing all of them from x (see Linear), with no Concat.
func (h Heads) Apply(b *Binder, x *G.Node) (*G.Node, error) {
	return Linear(b, x, h.Layers...)
}
