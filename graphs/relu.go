package graphs

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ReLU adds max(x, 0) to x's graph for a float32 matrix x. Gorgonia's own Rectify is built from a
// comparison and a product (three ops and their gradients); this op is fused and, once the
// machine has preallocated its output, writes into it without allocating.
func ReLU(x *G.Node) (*G.Node, error) {
	return G.ApplyOp(reluOp{}, x)
}

type reluOp struct{}

func (reluOp) Arity() int { return 1 }
func (reluOp) Type() hm.Type {
	t := matType()
	return hm.NewFnType(t, t)
}
func (reluOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("graphs: relu: input shape is %T", in[0])
	}
	return s.Clone(), nil
}
func (reluOp) ReturnsPtr() bool      { return false }
func (reluOp) CallsExtern() bool     { return false }
func (reluOp) OverwritesInput() int  { return -1 }
func (reluOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "clgraph.ReLU") }
func (op reluOp) Hashcode() uint32   { return hashOf(op) }
func (reluOp) String() string        { return "ReLU" }
func (reluOp) DiffWRT(int) []bool    { return []bool{true} }
func (op reluOp) Do(in ...G.Value) (G.Value, error) {
	x, sh, err := f32s(in[0])
	if err != nil {
		return nil, err
	}
	out := tensor.New(tensor.WithShape(sh.Clone()...), tensor.Of(tensor.Float32))
	relu(out.Data().([]float32), x)
	return out, nil
}
func (op reluOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	x, _, err := f32s(in[0])
	if err != nil {
		return nil, err
	}
	o, _, err := f32s(prealloc)
	if err != nil || len(o) != len(x) {
		return op.Do(in...)
	}
	relu(o, x)
	return prealloc, nil
}

func relu(out, x []float32) {
	for i, v := range x {
		if v > 0 {
			out[i] = v
		} else {
			out[i] = 0
		}
	}
}

func (op reluOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	g, err := G.ApplyOp(reluGradOp{}, output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{g}, nil
}

// reluGradOp computes grad * (y > 0) from ReLU's output y.
type reluGradOp struct{}

func (reluGradOp) Arity() int { return 2 }
func (reluGradOp) Type() hm.Type {
	t := matType()
	return hm.NewFnType(t, t, t)
}
func (reluGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return reluOp{}.InferShape(in[0])
}
func (reluGradOp) ReturnsPtr() bool      { return false }
func (reluGradOp) CallsExtern() bool     { return false }
func (reluGradOp) OverwritesInput() int  { return -1 }
func (reluGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "clgraph.ReLUGrad") }
func (op reluGradOp) Hashcode() uint32   { return hashOf(op) }
func (reluGradOp) String() string        { return "ReLUGrad" }
func (op reluGradOp) Do(in ...G.Value) (G.Value, error) {
	_, sh, err := f32s(in[0])
	if err != nil {
		return nil, err
	}
	out := tensor.New(tensor.WithShape(sh.Clone()...), tensor.Of(tensor.Float32))
	return op.UsePreallocDo(out, in...)
}
func (op reluGradOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	y, _, err := f32s(in[0])
	if err != nil {
		return nil, err
	}
	g, _, err := f32s(in[1])
	if err != nil {
		return nil, err
	}
	o, _, err := f32s(prealloc)
	if err != nil {
		return nil, err
	}
	if len(o) != len(y) || len(g) != len(y) {
		return nil, fmt.Errorf("graphs: relu grad: sizes %d, %d, %d", len(y), len(g), len(o))
	}
	for i, v := range y {
		if v > 0 {
			o[i] = g[i]
		} else {
			o[i] = 0
		}
	}
	return prealloc, nil
}
