package graphs

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BCE is a binary cross-entropy term of a training loss over a model's logits z [n, k], each unit
// a sigmoid output (iCaRL's loss):
//
//	L = -sum_ij W_ij [Q_ij log sigmoid(z_ij) + (1 - Q_ij) log(1 - sigmoid(z_ij))]
//	  =  sum_ij W_ij [softplus(z_ij) - Q_ij z_ij]
//
// Q (Targets) holds targets in [0, 1] (one-hot labels, or a previous model's sigmoid outputs to
// distil) and W (Weights) each unit's weight in the loss (e.g. 1/n for the units scored, 0 for
// the others). Its training-graph node (Node, or Penalty for Config.Penalty) is one fused op
// reading both tensors through Const nodes, rewritten in place between steps; its gradient is
// dL/dz_ij = W_ij (sigmoid(z_ij) - Q_ij), from the sigmoids cached by the forward pass, with no
// allocation per run. Units of weight 0 cost nothing.
type BCE struct {
	Targets, Weights *tensor.Dense
}

// NewBCE returns a term over logits [n, k] with all targets and weights 0 (it adds nothing until
// they are set).
func NewBCE(n, k int) *BCE { return &BCE{Targets: f32mat(n, k), Weights: f32mat(n, k)} }

// Penalty returns d as a Config.Penalty: its node over the Model's logits (Binder.Logits).
func (d *BCE) Penalty() Penalty {
	return func(b *Binder) (*G.Node, error) {
		z, err := b.Logits()
		if err != nil {
			return nil, err
		}
		return d.Node(b, z)
	}
}

// Node adds d's scalar value over logits z to b's graph.
func (d *BCE) Node(b *Binder, z *G.Node) (*G.Node, error) {
	for _, x := range []*tensor.Dense{d.Targets, d.Weights} {
		if !x.Shape().Eq(z.Shape()) {
			return nil, fmt.Errorf("graphs: binary cross-entropy over %v with a tensor of shape %v", z.Shape(), x.Shape())
		}
	}
	n, err := G.ApplyOp(&bceOp{}, z, b.Const("bce/target", d.Targets), b.Const("bce/weight", d.Weights))
	if err != nil {
		return nil, fmt.Errorf("graphs: binary cross-entropy: %w", err)
	}
	return n, nil
}

// bceOp computes L from inputs z, Q, W and caches sigmoid(z) for its gradient.
type bceOp struct {
	p    []float32
	loss G.F32
}

func (*bceOp) Arity() int { return 3 }
func (*bceOp) Type() hm.Type {
	t := matType()
	return hm.NewFnType(t, t, t, tensor.Float32)
}
func (*bceOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return tensor.ScalarShape(), nil }
func (*bceOp) ReturnsPtr() bool                                  { return false }
func (*bceOp) CallsExtern() bool                                 { return false }
func (*bceOp) OverwritesInput() int                              { return -1 }
func (op *bceOp) WriteHash(h hash.Hash)                          { fmt.Fprintf(h, "clgraph.BCE%p", op) }
func (op *bceOp) Hashcode() uint32                               { return hashOf(op) }
func (*bceOp) String() string                                    { return "BinaryXent" }
func (*bceOp) DiffWRT(int) []bool                                { return []bool{true, false, false} }

func (op *bceOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("graphs: binary cross-entropy takes 3 inputs, got %d", len(in))
	}
	var v [3][]float32
	for i := range v {
		d, _, err := f32s(in[i])
		if err != nil {
			return nil, err
		}
		v[i] = d
	}
	z, q, w := v[0], v[1], v[2]
	if len(q) != len(z) || len(w) != len(z) {
		return nil, fmt.Errorf("graphs: binary cross-entropy: %d logits, %d targets, %d weights", len(z), len(q), len(w))
	}
	if cap(op.p) < len(z) {
		op.p = make([]float32, len(z))
	}
	op.p = op.p[:len(z)]
	var loss float64
	for i, zi := range z {
		if w[i] == 0 {
			op.p[i] = 0
			continue
		}
		x := float64(zi)
		e := math.Exp(-math.Abs(x))
		loss += float64(w[i]) * (math.Max(x, 0) + math.Log1p(e) - float64(q[i])*x)
		if x >= 0 {
			op.p[i] = float32(1 / (1 + e))
		} else {
			op.p[i] = float32(e / (1 + e))
		}
	}
	op.loss = G.F32(float32(loss))
	return &op.loss, nil
}

func (op *bceOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	g, err := G.ApplyOp(&bceGradOp{fwd: op}, inputs[0], inputs[1], inputs[2], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{g, nil, nil}, nil
}

// bceGradOp computes dL/dz from inputs z, Q, W, the upstream scalar and the forward op's cache.
type bceGradOp struct {
	fwd *bceOp
	buf *tensor.Dense
}

func (*bceGradOp) Arity() int { return 4 }
func (*bceGradOp) Type() hm.Type {
	t := matType()
	return hm.NewFnType(t, t, t, tensor.Float32, t)
}
func (*bceGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("graphs: binary cross-entropy gradient: input shape is %T", in[0])
	}
	return s.Clone(), nil
}
func (*bceGradOp) ReturnsPtr() bool         { return false }
func (*bceGradOp) CallsExtern() bool        { return false }
func (*bceGradOp) OverwritesInput() int     { return -1 }
func (op *bceGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "clgraph.BCEGrad%p", op.fwd) }
func (op *bceGradOp) Hashcode() uint32      { return hashOf(op) }
func (*bceGradOp) String() string           { return "BinaryXentGrad" }

func (op *bceGradOp) Do(in ...G.Value) (G.Value, error) {
	_, sh, err := f32s(in[0])
	if err != nil {
		return nil, err
	}
	return op.UsePreallocDo(ownMat(&op.buf, sh), in...)
}

// UsePreallocDo writes the gradient into the machine's preallocated value.
func (op *bceGradOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != 4 {
		return nil, fmt.Errorf("graphs: binary cross-entropy gradient takes 4 inputs, got %d", len(in))
	}
	q, _, err := f32s(in[1])
	if err != nil {
		return nil, err
	}
	w, _, err := f32s(in[2])
	if err != nil {
		return nil, err
	}
	g := UpstreamScalar(in[3])
	out, _, err := f32s(prealloc)
	p := op.fwd.p
	if err != nil || len(out) != len(p) || len(q) != len(p) || len(w) != len(p) {
		return nil, fmt.Errorf("graphs: binary cross-entropy gradient: sizes %d, %d, %d, %d (%v)", len(out), len(p), len(q), len(w), err)
	}
	for i := range out {
		out[i] = g * w[i] * (p[i] - q[i])
	}
	return prealloc, nil
}
