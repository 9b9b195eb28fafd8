package graphs

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Gate adds y = x * m (elementwise) to x's graph for float32 matrices x and m of one shape: a
// fixed gate over hidden units (context-dependent gating: m holds each row's 0/1 mask), m being a
// constant (Binder.Const) that a strategy rewrites in place between runs. Only x is
// differentiated: dy/dx = m, so a gated unit passes no gradient back. The op is fused and
// writes into the machine's preallocated value or a buffer it owns: it allocates nothing per run.
func Gate(x, m *G.Node) (*G.Node, error) {
	if !x.Shape().Eq(m.Shape()) {
		return nil, fmt.Errorf("graphs: gate: input %v and mask %v differ in shape", x.Shape(), m.Shape())
	}
	return G.ApplyOp(&gateOp{}, x, m)
}

// gateOp computes a * b for inputs (x, m) in the forward pass and (g, m) in the backward pass.
type gateOp struct {
	grad bool
	buf  *tensor.Dense
}

func (*gateOp) Arity() int { return 2 }
func (*gateOp) Type() hm.Type {
	t := matType()
	return hm.NewFnType(t, t, t)
}
func (*gateOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("graphs: gate: input shape is %T", in[0])
	}
	return s.Clone(), nil
}
func (*gateOp) ReturnsPtr() bool         { return false }
func (*gateOp) CallsExtern() bool        { return false }
func (*gateOp) OverwritesInput() int     { return -1 }
func (op *gateOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "clgraph.Gate%v%p", op.grad, op) }
func (op *gateOp) Hashcode() uint32      { return hashOf(op) }
func (op *gateOp) String() string {
	if op.grad {
		return "GateGrad"
	}
	return "Gate"
}
func (op *gateOp) DiffWRT(int) []bool { return []bool{!op.grad, false} }

func (op *gateOp) Do(in ...G.Value) (G.Value, error) {
	_, sh, err := f32s(in[0])
	if err != nil {
		return nil, err
	}
	return op.UsePreallocDo(ownMat(&op.buf, sh), in...)
}

// UsePreallocDo writes the product into the machine's preallocated value.
func (op *gateOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	a, _, err := f32s(in[0])
	if err != nil {
		return nil, err
	}
	m, _, err := f32s(in[1])
	if err != nil {
		return nil, err
	}
	out, _, err := f32s(prealloc)
	if err != nil || len(out) != len(a) || len(m) != len(a) {
		return nil, fmt.Errorf("graphs: %v: sizes %d, %d, %d (%v)", op, len(a), len(m), len(out), err)
	}
	for i, v := range a {
		out[i] = v * m[i]
	}
	return prealloc, nil
}

func (op *gateOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	g, err := G.ApplyOp(&gateOp{grad: true}, grad, inputs[1])
	if err != nil {
		return nil, err
	}
	return G.Nodes{g, nil}, nil
}
