package graphs

import (
	"errors"
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Linear adds y = x·[W_0 | W_1 | …] + [b_0 | b_1 | …] to bd's graph: the dense layers ls applied to
// the same input x [n, in], their outputs laid side by side in y [n, Σ out_k] (a single layer, or
// a model's heads without a Concat). It is one fused Gorgonia op whose forward pass writes the
// biases into y and adds x·W_k with one Sgemm per layer of the installed BLAS (gorgonia.WhichBLAS,
// i.e. OpenBLAS once graphs/blas.Setup found it). Its gradient ops compute dW_k = xᵀ·g_k and
// db_k = column sums of g_k, and dx = Σ_k g_k·W_kᵀ, each with one Sgemm (or one pass) into a
// buffer the op owns: a step allocates no tensor. Gradients nobody needs are not built: none for
// a frozen weight or bias (Param.Frozen at build time) and none for x when no trainable parameter
// of bd's graph feeds it (the data, or the output of frozen layers). A layer with a Mask uses
// W ⊙ Mask, written into a buffer the op owns at each run (one pass, no allocation), in its
// forward pass and in dx, and its dW is masked too.
func Linear(bd *Binder, x *G.Node, ls ...Dense) (*G.Node, error) {
	if len(ls) == 0 {
		return nil, errors.New("graphs: linear needs at least one layer")
	}
	xs := x.Shape()
	if len(xs) != 2 {
		return nil, fmt.Errorf("graphs: linear %s: input shape %v, want a matrix", ls[0].W.Name, xs)
	}
	op := &linearOp{n: xs[0], in: xs[1], needX: bd.dependsOnTrainable(x)}
	children := G.Nodes{x}
	for _, l := range ls {
		ws := l.W.Shape()
		if len(ws) != 2 || ws[0] != op.in {
			return nil, fmt.Errorf("graphs: dense %s: weight shape %v does not take input %v", l.W.Name, ws, xs)
		}
		if l.B == nil || !l.B.Shape().Eq(tensor.Shape{1, ws[1]}) {
			return nil, fmt.Errorf("graphs: dense %s: bias must have shape (1, %d)", l.W.Name, ws[1])
		}
		op.offs = append(op.offs, op.total)
		op.outs = append(op.outs, ws[1])
		op.total += ws[1]
		op.needW = append(op.needW, !l.W.Frozen)
		op.needB = append(op.needB, !l.B.Frozen)
		op.names = append(op.names, l.W.Name)
		var wm []float32
		if l.Mask != nil {
			if len(l.Mask) != ws[0]*ws[1] {
				return nil, fmt.Errorf("graphs: dense %s: mask has %d values, the weight %d", l.W.Name, len(l.Mask), ws[0]*ws[1])
			}
			wm = make([]float32, len(l.Mask))
		}
		op.masks = append(op.masks, l.Mask)
		op.wm = append(op.wm, wm)
		children = append(children, bd.Node(l.W), bd.Node(l.B))
	}
	want := []int{op.n * op.in}
	for _, o := range op.outs {
		want = append(want, op.in*o, o)
	}
	op.io = newMatIO(want...)
	y, err := G.ApplyOp(op, children...)
	if err != nil {
		return nil, fmt.Errorf("graphs: dense %s: %w", ls[0].W.Name, err)
	}
	return y, nil
}

// dependsOnTrainable reports whether n is computed from a trainable parameter of b's graph: a
// node of a parameter that is not frozen, or a variable that is neither one of b's constants nor
// a frozen parameter's node (a variable b does not know may be differentiated).
func (b *Binder) dependsOnTrainable(n *G.Node) bool {
	known := map[*G.Node]bool{} // leaves b bound: true for a trainable parameter
	for p, pn := range b.nodes {
		known[pn] = !p.Frozen
	}
	for _, cn := range b.consts {
		known[cn] = false
	}
	memo := map[*G.Node]bool{}
	var walk func(n *G.Node) bool
	walk = func(n *G.Node) bool {
		if v, ok := memo[n]; ok {
			return v
		}
		var dep bool
		if n.Op() == nil {
			t, ok := known[n]
			dep = t || (!ok && n.IsVar())
		} else {
			for it := b.g.From(n.ID()); it.Next(); {
				if c, ok := it.Node().(*G.Node); ok && walk(c) {
					dep = true
					break
				}
			}
		}
		memo[n] = dep
		return dep
	}
	return walk(n)
}

// ownBuf returns *t, a float32 matrix of shape (r, c) owned by an op, allocating it on first use.
func ownBuf(t **tensor.Dense, r, c int) *tensor.Dense {
	if *t == nil || (*t).Shape()[0] != r || (*t).Shape()[1] != c {
		*t = tensor.New(tensor.WithShape(r, c), tensor.Of(tensor.Float32))
	}
	return *t
}

// dst returns the float32 data of prealloc when it is a tensor of n values, else nil.
func dst(prealloc G.Value, n int) []float32 {
	if prealloc == nil {
		return nil
	}
	d, _, err := f32s(prealloc)
	if err != nil || len(d) != n {
		return nil
	}
	return d
}

// linearOp is Linear's forward op: inputs x, W_0, b_0, W_1, b_1, …
type linearOp struct {
	n, in int   // rows and features of x
	outs  []int // width of each layer
	offs  []int // first output column of each layer
	total int   // Σ outs
	needX bool
	needW []bool
	needB []bool
	names []string
	masks [][]float32   // per layer, its weight mask (nil: none)
	wm    [][]float32   // per masked layer, W ⊙ mask of the last forward pass
	y     *tensor.Dense // the output, owned by the op
	io    matIO
}

func (op *linearOp) Arity() int { return 1 + 2*len(op.outs) }
func (op *linearOp) Type() hm.Type {
	ts := make([]hm.Type, op.Arity()+1)
	for i := range ts {
		ts[i] = matType()
	}
	return hm.NewFnType(ts...)
}
func (op *linearOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n, op.total}, nil
}
func (op *linearOp) ReturnsPtr() bool      { return false }
func (op *linearOp) CallsExtern() bool     { return false }
func (op *linearOp) OverwritesInput() int  { return -1 }
func (op *linearOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "clgraph.Linear%p", op) }
func (op *linearOp) Hashcode() uint32      { return hashOf(op) }
func (op *linearOp) String() string {
	if len(op.names) == 1 {
		return "Dense(" + op.names[0] + ")"
	}
	return fmt.Sprintf("Dense×%d(%s…)", len(op.names), op.names[0])
}

func (op *linearOp) Do(in ...G.Value) (G.Value, error) {
	y := ownBuf(&op.y, op.n, op.total)
	if err := op.forward(y.Float32s(), in); err != nil {
		return nil, err
	}
	return y, nil
}

// UsePreallocDo writes y into the machine's preallocated value when it has the right size.
func (op *linearOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d := dst(prealloc, op.n*op.total)
	if d == nil {
		return op.Do(in...)
	}
	if err := op.forward(d, in); err != nil {
		return nil, err
	}
	return prealloc, nil
}

// matIO checks an op's inputs: their number and sizes are fixed when the graph is built. It keeps
// the slice of their data between runs, so reading them allocates nothing.
type matIO struct {
	want []int
	data [][]float32
}

func newMatIO(want ...int) matIO { return matIO{want: want, data: make([][]float32, len(want))} }

// read returns the float32 data of in, checking each length against the sizes given.
func (m *matIO) read(in []G.Value) ([][]float32, error) {
	if len(in) != len(m.want) {
		return nil, fmt.Errorf("graphs: %d inputs, want %d", len(in), len(m.want))
	}
	for i, v := range in {
		d, _, err := f32s(v)
		if err != nil {
			return nil, err
		}
		if len(d) != m.want[i] {
			return nil, fmt.Errorf("graphs: input %d has %d values, want %d", i, len(d), m.want[i])
		}
		m.data[i] = d
	}
	return m.data, nil
}

func (op *linearOp) forward(y []float32, in []G.Value) error {
	m, err := op.io.read(in)
	if err != nil {
		return fmt.Errorf("graphs: %v: %w", op, err)
	}
	x, bl := m[0], G.WhichBLAS()
	for k, o := range op.outs {
		w, b, off := m[1+2*k], m[2+2*k], op.offs[k]
		if mk := op.masks[k]; mk != nil {
			wm := op.wm[k]
			for i, v := range w {
				wm[i] = v * mk[i]
			}
			w = wm
		}
		for i := 0; i < op.n; i++ {
			copy(y[i*op.total+off:i*op.total+off+o], b)
		}
		bl.Sgemm(blas.NoTrans, blas.NoTrans, op.n, o, op.in, 1, x, op.in, w, o, 1, y[off:], op.total)
	}
	return nil
}

func (op *linearOp) DiffWRT(inputs int) []bool {
	d := []bool{op.needX}
	for k := range op.outs {
		d = append(d, op.needW[k], op.needB[k])
	}
	return d
}

func (op *linearOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if len(inputs) != op.Arity() {
		return nil, fmt.Errorf("graphs: %v: %d inputs, want %d", op, len(inputs), op.Arity())
	}
	out := make(G.Nodes, len(inputs))
	var err error
	if op.needX {
		ws, want := G.Nodes{grad}, []int{op.n * op.total}
		for k, o := range op.outs {
			ws, want = append(ws, inputs[1+2*k]), append(want, op.in*o)
		}
		if out[0], err = G.ApplyOp(&linearGradXOp{fwd: op, io: newMatIO(want...)}, ws...); err != nil {
			return nil, err
		}
	}
	for k := range op.outs {
		if op.needW[k] {
			if out[1+2*k], err = G.ApplyOp(&linearGradWOp{fwd: op, k: k, io: newMatIO(op.n*op.in, op.n*op.total)}, inputs[0], grad); err != nil {
				return nil, err
			}
		}
		if op.needB[k] {
			if out[2+2*k], err = G.ApplyOp(&linearGradBOp{fwd: op, k: k, io: newMatIO(op.n * op.total)}, grad); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// linearGradXOp computes dx = Σ_k g_k·W_kᵀ [n, in] from g [n, total] and W_0, W_1, …
type linearGradXOp struct {
	fwd *linearOp
	buf *tensor.Dense
	io  matIO
}

func (op *linearGradXOp) Arity() int { return 1 + len(op.fwd.outs) }
func (op *linearGradXOp) Type() hm.Type {
	ts := make([]hm.Type, op.Arity()+1)
	for i := range ts {
		ts[i] = matType()
	}
	return hm.NewFnType(ts...)
}
func (op *linearGradXOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.fwd.n, op.fwd.in}, nil
}
func (op *linearGradXOp) ReturnsPtr() bool      { return false }
func (op *linearGradXOp) CallsExtern() bool     { return false }
func (op *linearGradXOp) OverwritesInput() int  { return -1 }
func (op *linearGradXOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "clgraph.LinearGradX%p", op.fwd) }
func (op *linearGradXOp) Hashcode() uint32      { return hashOf(op) }
func (op *linearGradXOp) String() string        { return "DenseGradX" }

func (op *linearGradXOp) Do(in ...G.Value) (G.Value, error) {
	f := op.fwd
	out := ownBuf(&op.buf, f.n, f.in)
	if err := op.compute(out.Float32s(), in); err != nil {
		return nil, err
	}
	return out, nil
}

// UsePreallocDo writes dx into the machine's preallocated value when it has the right size.
func (op *linearGradXOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d := dst(prealloc, op.fwd.n*op.fwd.in)
	if d == nil {
		return op.Do(in...)
	}
	if err := op.compute(d, in); err != nil {
		return nil, err
	}
	return prealloc, nil
}

func (op *linearGradXOp) compute(dx []float32, in []G.Value) error {
	f := op.fwd
	m, err := op.io.read(in)
	if err != nil {
		return fmt.Errorf("graphs: %v of %v: %w", op, f, err)
	}
	g, bl := m[0], G.WhichBLAS()
	for k, o := range f.outs {
		var beta float32
		if k > 0 {
			beta = 1
		}
		w := m[1+k]
		if f.masks[k] != nil {
			w = f.wm[k] // W ⊙ mask, written by this run's forward pass
		}
		bl.Sgemm(blas.NoTrans, blas.Trans, f.n, f.in, o, 1, g[f.offs[k]:], f.total, w, o, beta, dx, f.in)
	}
	return nil
}

// linearGradWOp computes dW_k = xᵀ·g_k [in, out_k] from x [n, in] and g [n, total].
type linearGradWOp struct {
	fwd *linearOp
	k   int
	buf *tensor.Dense
	io  matIO
}

func (op *linearGradWOp) Arity() int { return 2 }
func (op *linearGradWOp) Type() hm.Type {
	t := matType()
	return hm.NewFnType(t, t, t)
}
func (op *linearGradWOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.fwd.in, op.fwd.outs[op.k]}, nil
}
func (op *linearGradWOp) ReturnsPtr() bool     { return false }
func (op *linearGradWOp) CallsExtern() bool    { return false }
func (op *linearGradWOp) OverwritesInput() int { return -1 }
func (op *linearGradWOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "clgraph.LinearGradW%p/%d", op.fwd, op.k)
}
func (op *linearGradWOp) Hashcode() uint32 { return hashOf(op) }
func (op *linearGradWOp) String() string   { return "DenseGradW(" + op.fwd.names[op.k] + ")" }

func (op *linearGradWOp) Do(in ...G.Value) (G.Value, error) {
	out := ownBuf(&op.buf, op.fwd.in, op.fwd.outs[op.k])
	if err := op.compute(out.Float32s(), in); err != nil {
		return nil, err
	}
	return out, nil
}

// UsePreallocDo writes dW into the machine's preallocated value when it has the right size.
func (op *linearGradWOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d := dst(prealloc, op.fwd.in*op.fwd.outs[op.k])
	if d == nil {
		return op.Do(in...)
	}
	if err := op.compute(d, in); err != nil {
		return nil, err
	}
	return prealloc, nil
}

func (op *linearGradWOp) compute(dw []float32, in []G.Value) error {
	f := op.fwd
	m, err := op.io.read(in)
	if err != nil {
		return fmt.Errorf("graphs: %v: %w", op, err)
	}
	o := f.outs[op.k]
	G.WhichBLAS().Sgemm(blas.Trans, blas.NoTrans, f.in, o, f.n, 1, m[0], f.in, m[1][f.offs[op.k]:], f.total, 0, dw, o)
	if mk := f.masks[op.k]; mk != nil {
		for i, v := range mk {
			dw[i] *= v
		}
	}
	return nil
}

// linearGradBOp computes db_k [1, out_k], the column sums of g_k, from g [n, total].
type linearGradBOp struct {
	fwd *linearOp
	k   int
	buf *tensor.Dense
	io  matIO
}

func (op *linearGradBOp) Arity() int { return 1 }
func (op *linearGradBOp) Type() hm.Type {
	t := matType()
	return hm.NewFnType(t, t)
}
func (op *linearGradBOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{1, op.fwd.outs[op.k]}, nil
}
func (op *linearGradBOp) ReturnsPtr() bool     { return false }
func (op *linearGradBOp) CallsExtern() bool    { return false }
func (op *linearGradBOp) OverwritesInput() int { return -1 }
func (op *linearGradBOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "clgraph.LinearGradB%p/%d", op.fwd, op.k)
}
func (op *linearGradBOp) Hashcode() uint32 { return hashOf(op) }
func (op *linearGradBOp) String() string   { return "DenseGradB(" + op.fwd.names[op.k] + ")" }

func (op *linearGradBOp) Do(in ...G.Value) (G.Value, error) {
	out := ownBuf(&op.buf, 1, op.fwd.outs[op.k])
	if err := op.compute(out.Float32s(), in); err != nil {
		return nil, err
	}
	return out, nil
}

// UsePreallocDo writes db into the machine's preallocated value when it has the right size.
func (op *linearGradBOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d := dst(prealloc, op.fwd.outs[op.k])
	if d == nil {
		return op.Do(in...)
	}
	if err := op.compute(d, in); err != nil {
		return nil, err
	}
	return prealloc, nil
}

func (op *linearGradBOp) compute(db []float32, in []G.Value) error {
	f := op.fwd
	m, err := op.io.read(in)
	if err != nil {
		return fmt.Errorf("graphs: %v: %w", op, err)
	}
	g, off, o := m[0], f.offs[op.k], f.outs[op.k]
	copy(db, g[off:off+o])
	for i := 1; i < f.n; i++ {
		row := g[i*f.total+off : i*f.total+off+o]
		for j, v := range row {
			db[j] += v
		}
	}
	return nil
}
