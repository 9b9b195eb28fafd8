package graphs

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// fnOp is a fused op of this package given by functions: float32 matrix or scalar inputs, a
// matrix output (shaped like one of its inputs, or by outShape) or a scalar one, computed in
// place into a buffer the op owns, so a run allocates nothing. The VAE's reparameterisation and
// KL ops and their gradients are fnOps; each is a few lines of arithmetic rather than a type
// with a dozen methods.
type fnOp struct {
	name string
	// scalarIn marks the inputs that are scalars (an upstream gradient of a scalar loss); the
	// others are float32 matrices.
	scalarIn []bool
	// scalarOut makes the output a scalar, the value fwd returns; otherwise fwd writes out.
	scalarOut bool
	// like is the input whose shape the output takes (when outShape is nil).
	like     int
	outShape func(in []tensor.Shape) tensor.Shape
	diff     []bool
	fwd      func(out []float32, in [][]float32) float64
	// sym builds the gradient nodes of the differentiable inputs (nil for the others).
	sym func(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error)

	buf  *tensor.Dense
	val  G.F32
	data [][]float32 // the inputs' data, reused across runs
	shs  []tensor.Shape
}

func (op *fnOp) Arity() int { return len(op.scalarIn) }
func (op *fnOp) Type() hm.Type {
	ts := make(hm.Types, 0, len(op.scalarIn)+1)
	for _, s := range op.scalarIn {
		ts = append(ts, typeOf(s))
	}
	return hm.NewFnType(append(ts, typeOf(op.scalarOut))...)
}

func typeOf(scalar bool) hm.Type {
	if scalar {
		return tensor.Float32
	}
	return matType()
}

func (op *fnOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if op.scalarOut {
		return tensor.ScalarShape(), nil
	}
	shs := make([]tensor.Shape, len(in))
	for i, d := range in {
		s, ok := d.(tensor.Shape)
		if !ok {
			return nil, fmt.Errorf("graphs: %s: input %d's shape is %T", op.name, i, d)
		}
		shs[i] = s
	}
	if op.outShape != nil {
		return op.outShape(shs), nil
	}
	return shs[op.like].Clone(), nil
}
func (op *fnOp) ReturnsPtr() bool      { return false }
func (op *fnOp) CallsExtern() bool     { return false }
func (op *fnOp) OverwritesInput() int  { return -1 }
func (op *fnOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "clgraph.%s%p", op.name, op) }
func (op *fnOp) Hashcode() uint32      { return hashOf(op) }
func (op *fnOp) String() string        { return op.name }
func (op *fnOp) DiffWRT(int) []bool    { return op.diff }

func (op *fnOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	return op.sym(inputs, output, grad)
}

func (op *fnOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != len(op.scalarIn) {
		return nil, fmt.Errorf("graphs: %s takes %d inputs, got %d", op.name, len(op.scalarIn), len(in))
	}
	if op.data == nil {
		op.data, op.shs = make([][]float32, len(in)), make([]tensor.Shape, len(in))
	}
	data, shs := op.data, op.shs
	for i, v := range in {
		if op.scalarIn[i] {
			f, ok := scalarOf(v)
			if !ok {
				return nil, fmt.Errorf("graphs: %s: input %d is %T, want a scalar", op.name, i, v)
			}
			data[i], shs[i] = []float32{f}, tensor.ScalarShape()
			continue
		}
		d, sh, err := f32s(v)
		if err != nil {
			return nil, fmt.Errorf("graphs: %s: input %d: %w", op.name, i, err)
		}
		data[i], shs[i] = d, sh
	}
	if op.scalarOut {
		op.val = G.F32(float32(op.fwd(nil, data)))
		return &op.val, nil
	}
	sh := shs[op.like]
	if op.outShape != nil {
		sh = op.outShape(shs)
	}
	out := ownMat(&op.buf, sh)
	op.fwd(out.Float32s(), data)
	return out, nil
}

// applyFn adds op over the inputs to their graph.
func applyFn(op *fnOp, inputs ...*G.Node) (*G.Node, error) {
	n, err := G.ApplyOp(op, inputs...)
	if err != nil {
		return nil, fmt.Errorf("graphs: %s: %w", op.name, err)
	}
	return n, nil
}
