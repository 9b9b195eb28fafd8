package graphs

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ModuleSum adds y = Σ_m x[:, m·w : (m+1)·w] to x's graph: x [n, modules·w] holds the outputs
// of a layer's modules side by side (PathNet's modules, one fused Linear), y [n, w] their sum, as
// PathNet sums the outputs of a layer's active modules (inactive ones gated to 0 before). Its
// gradient hands each module the output's gradient: dx[:, m·w + j] = g[:, j]. Both directions
// are fused ops writing into preallocated values or buffers they own: nothing is allocated per
// run.
func ModuleSum(x *G.Node, modules int) (*G.Node, error) {
	s := x.Shape()
	if len(s) != 2 || modules < 1 || s[1]%modules != 0 {
		return nil, fmt.Errorf("graphs: module sum: input %v is not %d modules side by side", s, modules)
	}
	return G.ApplyOp(&moduleSumOp{modules: modules, n: s[0], w: s[1] / modules}, x)
}

// moduleSumOp sums modules side by side (spread false) or spreads a gradient over them (true).
type moduleSumOp struct {
	modules, n, w int
	spread        bool
	buf           *tensor.Dense
}

func (*moduleSumOp) Arity() int { return 1 }
func (*moduleSumOp) Type() hm.Type {
	t := matType()
	return hm.NewFnType(t, t)
}
func (op *moduleSumOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	if op.spread {
		return tensor.Shape{op.n, op.modules * op.w}, nil
	}
	return tensor.Shape{op.n, op.w}, nil
}
func (*moduleSumOp) ReturnsPtr() bool     { return false }
func (*moduleSumOp) CallsExtern() bool    { return false }
func (*moduleSumOp) OverwritesInput() int { return -1 }
func (op *moduleSumOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "clgraph.ModuleSum%v%d%p", op.spread, op.modules, op)
}
func (op *moduleSumOp) Hashcode() uint32 { return hashOf(op) }
func (op *moduleSumOp) String() string {
	if op.spread {
		return fmt.Sprintf("ModuleSpread(%d)", op.modules)
	}
	return fmt.Sprintf("ModuleSum(%d)", op.modules)
}
func (op *moduleSumOp) DiffWRT(int) []bool { return []bool{!op.spread} }

func (op *moduleSumOp) Do(in ...G.Value) (G.Value, error) {
	sh, _ := op.InferShape()
	return op.UsePreallocDo(ownMat(&op.buf, sh), in...)
}

// UsePreallocDo writes the sum (or the spread gradient) into the machine's preallocated value.
func (op *moduleSumOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	x, _, err := f32s(in[0])
	if err != nil {
		return nil, err
	}
	out, _, err := f32s(prealloc)
	M, n, w := op.modules, op.n, op.w
	if err != nil || len(out)+len(x) != n*w*(M+1) {
		return nil, fmt.Errorf("graphs: %v: sizes %d and %d for %d rows of %d modules of %d (%v)", op, len(x), len(out), n, M, w, err)
	}
	for i := range n {
		if op.spread {
			g := x[i*w : (i+1)*w]
			for m := range M {
				copy(out[(i*M+m)*w:], g)
			}
			continue
		}
		y := out[i*w : (i+1)*w]
		copy(y, x[i*M*w:i*M*w+w])
		for m := 1; m < M; m++ {
			for j, v := range x[(i*M+m)*w : (i*M+m+1)*w] {
				y[j] += v
			}
		}
	}
	return prealloc, nil
}

func (op *moduleSumOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	g, err := G.ApplyOp(&moduleSumOp{modules: op.modules, n: op.n, w: op.w, spread: true}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{g}, nil
}
