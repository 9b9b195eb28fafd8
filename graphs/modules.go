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

// GatedSum adds y = Σ_m g[:, m] · z_m to the graph of zs: zs are M module outputs of the same
// shape [n, d] (PathNet's conv modules, each its own conv op), g [n, M] a constant gate per row
// and module (1 for a module of the row's path, 0 otherwise). Its gradients hand module m the
// output's gradient times its gate. Fused ops writing into buffers they own: a run allocates
// nothing.
func GatedSum(zs []*G.Node, g *G.Node) (*G.Node, error) {
	M := len(zs)
	if M == 0 {
		return nil, fmt.Errorf("graphs: gated sum of no module")
	}
	s := zs[0].Shape()
	for _, z := range zs {
		if !z.Shape().Eq(s) || len(s) != 2 {
			return nil, fmt.Errorf("graphs: gated sum: module outputs of shapes %v and %v", s, z.Shape())
		}
	}
	if gs := g.Shape(); len(gs) != 2 || gs[0] != s[0] || gs[1] != M {
		return nil, fmt.Errorf("graphs: gated sum of %d modules of %v: gates %v, want (%d, %d)", M, s, gs, s[0], M)
	}
	n, d := s[0], s[1]
	scalar := make([]bool, M+1)
	diff := make([]bool, M+1)
	for m := range M {
		diff[m] = true
	}
	op := &fnOp{name: fmt.Sprintf("GatedSum(%d)", M), scalarIn: scalar, like: 0, diff: diff}
	op.fwd = func(out []float32, in [][]float32) float64 {
		gv := in[M]
		clear(out)
		for m := range M {
			z := in[m]
			for i := range n {
				if w := gv[i*M+m]; w != 0 {
					o, r := out[i*d:(i+1)*d], z[i*d:(i+1)*d]
					for j, v := range r {
						o[j] += w * v
					}
				}
			}
		}
		return 0
	}
	op.sym = func(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		out := make(G.Nodes, M+1)
		for m := range M {
			gm := &fnOp{name: fmt.Sprintf("GatedSumGrad(%d)", m), scalarIn: []bool{false, false}, like: 0}
			gm.fwd = func(o []float32, in [][]float32) float64 {
				up, gv := in[0], in[1]
				for i := range n {
					w, r, dst := gv[i*M+m], up[i*d:(i+1)*d], o[i*d:(i+1)*d]
					for j, v := range r {
						dst[j] = w * v
					}
				}
				return 0
			}
			var err error
			if out[m], err = applyFn(gm, grad, inputs[M]); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return applyFn(op, append(append(G.Nodes(nil), zs...), g)...)
}
