package graphs

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ReLU adds max(x, 0) to x's graph for a float32 matrix x. Gorgonia's own Rectify is built from a
// comparison and a product (three ops and their gradients); this op is fused and writes into the
// machine's preallocated value or, as a TapeMachine drops its values at Reset, into a buffer the
// op owns: it allocates nothing per run.
func ReLU(x *G.Node) (*G.Node, error) {
	return G.ApplyOp(&reluOp{}, x)
}

type reluOp struct{ buf *tensor.Dense }

func (*reluOp) Arity() int { return 1 }
func (*reluOp) Type() hm.Type {
	t := matType()
	return hm.NewFnType(t, t)
}
func (*reluOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("graphs: relu: input shape is %T", in[0])
	}
	return s.Clone(), nil
}
func (*reluOp) ReturnsPtr() bool         { return false }
func (*reluOp) CallsExtern() bool        { return false }
func (*reluOp) OverwritesInput() int     { return -1 }
func (op *reluOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "clgraph.ReLU%p", op) }
func (op *reluOp) Hashcode() uint32      { return hashOf(op) }
func (*reluOp) String() string           { return "ReLU" }
func (*reluOp) DiffWRT(int) []bool       { return []bool{true} }
func (op *reluOp) Do(in ...G.Value) (G.Value, error) {
	x, sh, err := f32s(in[0])
	if err != nil {
		return nil, err
	}
	out := ownMat(&op.buf, sh)
	relu(out.Float32s(), x)
	return out, nil
}
func (op *reluOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
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

// relu writes max(x, 0) to out without branches (a branch per value mispredicts on the random
// signs of pre-activations): the sign bit of each value, spread over its 32 bits, masks it.
func relu(out, x []float32) {
	out = out[:len(x)]
	for i, v := range x {
		b := math.Float32bits(v)
		out[i] = math.Float32frombits(b &^ uint32(int32(b)>>31))
	}
}

func (op *reluOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	g, err := G.ApplyOp(&reluGradOp{}, output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{g}, nil
}

// reluGradOp computes grad * (y > 0) from ReLU's output y.
type reluGradOp struct{ buf *tensor.Dense }

func (*reluGradOp) Arity() int { return 2 }
func (*reluGradOp) Type() hm.Type {
	t := matType()
	return hm.NewFnType(t, t, t)
}
func (*reluGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return (&reluOp{}).InferShape(in[0])
}
func (*reluGradOp) ReturnsPtr() bool         { return false }
func (*reluGradOp) CallsExtern() bool        { return false }
func (*reluGradOp) OverwritesInput() int     { return -1 }
func (op *reluGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "clgraph.ReLUGrad%p", op) }
func (op *reluGradOp) Hashcode() uint32      { return hashOf(op) }
func (*reluGradOp) String() string           { return "ReLUGrad" }
func (op *reluGradOp) Do(in ...G.Value) (G.Value, error) {
	_, sh, err := f32s(in[0])
	if err != nil {
		return nil, err
	}
	return op.UsePreallocDo(ownMat(&op.buf, sh), in...)
}
func (op *reluGradOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
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
	reluGrad(o, y, g)
	return prealloc, nil
}

// ownMat returns *t, a float32 tensor of shape sh owned by an op, allocating it on first use or
// when the shape changes.
func ownMat(t **tensor.Dense, sh tensor.Shape) *tensor.Dense {
	if *t == nil || !(*t).Shape().Eq(sh) {
		*t = tensor.New(tensor.WithShape(sh.Clone()...), tensor.Of(tensor.Float32))
	}
	return *t
}

// reluGrad writes g where y > 0 and 0 elsewhere, without branches, for y the output of relu
// (so never negative): y's bits minus one are negative exactly when y is +0.
func reluGrad(out, y, g []float32) {
	out, g = out[:len(y)], g[:len(y)]
	for i, v := range y {
		off := uint32((int32(math.Float32bits(v)) - 1) >> 31)
		out[i] = math.Float32frombits(math.Float32bits(g[i]) &^ off)
	}
}
