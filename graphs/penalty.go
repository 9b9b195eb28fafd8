package graphs

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// QuadTerm is one parameter's part of a Quadratic penalty: a per-scalar weight (e.g. EWC's
// diagonal Fisher) and an anchor (e.g. the parameter's value at the end of a task), both shaped
// like the parameter.
type QuadTerm struct {
	Param  *Param
	Weight *tensor.Dense
	Anchor *tensor.Dense
}

// Weights returns the term's weights as a flat slice (the tensor's backing array).
func (t *QuadTerm) Weights() []float32 { return t.Weight.Data().([]float32) }

// Anchors returns the term's anchors as a flat slice (the tensor's backing array).
func (t *QuadTerm) Anchors() []float32 { return t.Anchor.Data().([]float32) }

// Quadratic is the penalty
//
//	Scale * sum_p sum_i Weight_p[i] * (theta_p[i] - Anchor_p[i])^2 + Offset
//
// over a list of parameters: EWC (Scale = lambda/2, Weight = diagonal Fisher), L2 toward
// earlier parameters (Weight = 1) and Synaptic Intelligence (Scale = c, Weight = Omega) are all
// of this form. Its training-graph node (Node, or Penalty for Config.Penalty) is one fused op that
// reads the weights and anchors through Const nodes bound to the tensors held here: a strategy
// updates them, Scale and Offset in place (at a task's end, say) and the next step uses the new
// values, without rebuilding the graph. The forward pass sums in float64; the gradient with
// respect to theta_p is 2 * Scale * Weight_p * (theta_p - Anchor_p), written into a buffer the
// graph's machine preallocates. A new Quadratic has zero weights, so it adds nothing until a
// strategy fills them.
type Quadratic struct {
	// Scale multiplies the weighted sum of squares.
	Scale float64
	// Offset is a constant added to the value (it has no gradient). EWC with one anchor per task
	// folds its anchors into one and keeps the remainder here so the value stays exact.
	Offset float64
	// Terms lists the penalised parameters, in the order given to NewQuadratic.
	Terms []QuadTerm

	byParam map[*Param]int
}

// NewQuadratic returns a penalty over params with the given scale, zero weights and anchors.
func NewQuadratic(scale float64, params []*Param) *Quadratic {
	q := &Quadratic{Scale: scale, byParam: map[*Param]int{}}
	for _, p := range params {
		if _, dup := q.byParam[p]; dup {
			continue
		}
		sh := p.Shape().Clone()
		q.byParam[p] = len(q.Terms)
		q.Terms = append(q.Terms, QuadTerm{
			Param:  p,
			Weight: tensor.New(tensor.WithShape(sh...), tensor.Of(tensor.Float32)),
			Anchor: tensor.New(tensor.WithShape(sh.Clone()...), tensor.Of(tensor.Float32)),
		})
	}
	return q
}

// Term returns p's term, or nil when p is not penalised.
func (q *Quadratic) Term(p *Param) *QuadTerm {
	i, ok := q.byParam[p]
	if !ok {
		return nil
	}
	return &q.Terms[i]
}

// Params returns the penalised parameters in term order.
func (q *Quadratic) Params() []*Param {
	out := make([]*Param, len(q.Terms))
	for i := range q.Terms {
		out[i] = q.Terms[i].Param
	}
	return out
}

// SetAnchors copies every penalised parameter's current value into its anchor.
func (q *Quadratic) SetAnchors() {
	for i := range q.Terms {
		copy(q.Terms[i].Anchors(), q.Terms[i].Param.Data())
	}
}

// Value computes the penalty at the parameters' current values in Go (for logs and tests).
func (q *Quadratic) Value() float64 {
	var s float64
	for i := range q.Terms {
		t := &q.Terms[i]
		s += weightedSq(t.Param.Data(), t.Weights(), t.Anchors())
	}
	return q.Scale*s + q.Offset
}

// Grad writes the penalty's gradient with respect to p at p's current value,
// 2 * Scale * Weight * (theta - Anchor), into dst (grown as needed) and returns it; it returns nil
// when p is not penalised.
func (q *Quadratic) Grad(p *Param, dst []float32) []float32 {
	t := q.Term(p)
	if t == nil {
		return nil
	}
	if cap(dst) < p.Size() {
		dst = make([]float32, p.Size())
	}
	dst = dst[:p.Size()]
	quadGrad(dst, p.Data(), t.Weights(), t.Anchors(), float32(2*q.Scale))
	return dst
}

func weightedSq(theta, w, a []float32) float64 {
	var s float64
	for i, v := range theta {
		if w[i] != 0 {
			d := float64(v) - float64(a[i])
			s += float64(w[i]) * d * d
		}
	}
	return s
}

func quadGrad(dst, theta, w, a []float32, k float32) {
	for i, v := range theta {
		dst[i] = k * w[i] * (v - a[i])
	}
}

// Penalty returns q as a Config.Penalty: it adds q's node to the training graph.
func (q *Quadratic) Penalty() Penalty {
	return func(b *Binder) (*G.Node, error) { return q.Node(b) }
}

// Node adds q's scalar value to b's graph: one fused op over every term, whose inputs are each
// parameter's node and Const nodes bound to its weight and anchor tensors. It returns nil (no
// term) when q penalises nothing.
func (q *Quadratic) Node(b *Binder) (*G.Node, error) {
	if len(q.Terms) == 0 {
		return nil, nil
	}
	op := &quadOp{q: q}
	children := make(G.Nodes, 0, 3*len(q.Terms))
	for i := range q.Terms {
		t := &q.Terms[i]
		children = append(children, b.Node(t.Param),
			b.Const(t.Param.Name+"/penalty-weight", t.Weight),
			b.Const(t.Param.Name+"/penalty-anchor", t.Anchor))
		op.dims = append(op.dims, t.Param.Value.Dims())
	}
	n, err := G.ApplyOp(op, children...)
	if err != nil {
		return nil, fmt.Errorf("graphs: quadratic penalty: %w", err)
	}
	return n, nil
}

// quadOp computes Scale * sum_k sum_i W_k[i] (theta_k[i] - A_k[i])^2 + Offset from inputs laid
// out as theta_0, W_0, A_0, theta_1, W_1, A_1, ...
type quadOp struct {
	q    *Quadratic
	dims []int // dimensions of each term's tensors
}

func (op *quadOp) Arity() int { return 3 * len(op.dims) }
func (op *quadOp) Type() hm.Type {
	ts := make([]hm.Type, 0, 3*len(op.dims)+1)
	for _, d := range op.dims {
		t := G.TensorType{Dims: d, Of: tensor.Float32}
		ts = append(ts, t, t, t)
	}
	ts = append(ts, tensor.Float32)
	return hm.NewFnType(ts...)
}
func (op *quadOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}
func (op *quadOp) ReturnsPtr() bool      { return false }
func (op *quadOp) CallsExtern() bool     { return false }
func (op *quadOp) OverwritesInput() int  { return -1 }
func (op *quadOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "quadpenalty%p", op) }
func (op *quadOp) Hashcode() uint32      { return hashOf(op) }
func (op *quadOp) String() string        { return fmt.Sprintf("QuadraticPenalty(%d params)", len(op.dims)) }

func (op *quadOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != op.Arity() {
		return nil, fmt.Errorf("graphs: quadratic penalty takes %d inputs, got %d", op.Arity(), len(in))
	}
	var s float64
	for k := 0; k < len(in); k += 3 {
		theta, _, err := f32s(in[k])
		if err != nil {
			return nil, err
		}
		w, _, err := f32s(in[k+1])
		if err != nil {
			return nil, err
		}
		a, _, err := f32s(in[k+2])
		if err != nil {
			return nil, err
		}
		if len(w) != len(theta) || len(a) != len(theta) {
			return nil, fmt.Errorf("graphs: quadratic penalty term %d: sizes %d, %d, %d", k/3, len(theta), len(w), len(a))
		}
		s += weightedSq(theta, w, a)
	}
	return G.NewF32(float32(op.q.Scale*s + op.q.Offset)), nil
}

func (op *quadOp) DiffWRT(inputs int) []bool {
	d := make([]bool, inputs)
	for k := 0; k < inputs; k += 3 {
		d[k] = true
	}
	return d
}

func (op *quadOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	out := make(G.Nodes, len(inputs))
	for k := 0; k < len(inputs); k += 3 {
		g, err := G.ApplyOp(&quadGradOp{q: op.q, dims: op.dims[k/3]}, inputs[k], inputs[k+1], inputs[k+2], grad)
		if err != nil {
			return nil, err
		}
		out[k] = g
	}
	return out, nil
}

// quadGradOp computes upstream * 2 * Scale * W * (theta - A) for one term.
type quadGradOp struct {
	q    *Quadratic
	dims int
	buf  *tensor.Dense // the gradient, reused across runs (see ownMat)
}

func (op *quadGradOp) Arity() int { return 4 }
func (op *quadGradOp) Type() hm.Type {
	t := G.TensorType{Dims: op.dims, Of: tensor.Float32}
	return hm.NewFnType(t, t, t, tensor.Float32, t)
}
func (op *quadGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("graphs: quadratic penalty gradient: input shape is %T", in[0])
	}
	return s.Clone(), nil
}
func (op *quadGradOp) ReturnsPtr() bool      { return false }
func (op *quadGradOp) CallsExtern() bool     { return false }
func (op *quadGradOp) OverwritesInput() int  { return -1 }
func (op *quadGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "quadpenaltygrad%p", op) }
func (op *quadGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *quadGradOp) String() string        { return "QuadraticPenaltyGrad" }

func (op *quadGradOp) Do(in ...G.Value) (G.Value, error) {
	_, sh, err := f32s(in[0])
	if err != nil {
		return nil, err
	}
	return op.UsePreallocDo(ownMat(&op.buf, sh), in...)
}

// UsePreallocDo writes the gradient into the machine's preallocated value: no allocation per run.
func (op *quadGradOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != 4 {
		return nil, fmt.Errorf("graphs: quadratic penalty gradient takes 4 inputs, got %d", len(in))
	}
	theta, _, err := f32s(in[0])
	if err != nil {
		return nil, err
	}
	w, _, err := f32s(in[1])
	if err != nil {
		return nil, err
	}
	a, _, err := f32s(in[2])
	if err != nil {
		return nil, err
	}
	g := UpstreamScalar(in[3])
	out, _, err := f32s(prealloc)
	if err != nil || len(out) != len(theta) || len(w) != len(theta) || len(a) != len(theta) {
		return nil, fmt.Errorf("graphs: quadratic penalty gradient: sizes %d, %d, %d, %d (%v)", len(theta), len(w), len(a), len(out), err)
	}
	k := float32(2 * op.q.Scale * float64(g))
	if k == 0 {
		clear(out)
		return prealloc, nil
	}
	quadGrad(out, theta, w, a, k)
	return prealloc, nil
}
