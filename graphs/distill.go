package graphs

import (
	"errors"
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Distill is a knowledge-distillation term of a training loss over a model's logits z [n, k]
// (Learning without Forgetting's, say), a sum of terms t each with its own softmax:
//
//	D = -sum_t sum_i sum_j Q^t_ij log softmax(z_i / T + M^t_i)_j
//
// Q^t (Targets[t]) holds soft targets, each row scaled by its weight in the loss (e.g. a previous
// model's softmax(z_old/T) times alpha/n), and must be 0 outside the term's softmax; M^t
// (Masks[t]) holds 0 for the units of the term's softmax and MaskOff for the others. Terms let one
// row be distilled over several softmaxes (one per old head). Its training-graph node (Node, or
// Penalty for Config.Penalty) is one fused op reading the tensors held here through Const nodes,
// so a strategy rewrites them in place before each step without rebuilding the graph; a row whose
// targets are all 0 costs no softmax. The gradient with respect to z_ij is
// (1/T) sum_t (S^t_i p^t_ij - Q^t_ij), with S^t_i the row's target sum and p^t the term's softmax,
// from the forward pass's cache: no T^2 factor, and no allocation per run.
type Distill struct {
	// T is the temperature.
	T float64
	// Targets and Masks are the terms' [n, k] tensors, updated in place.
	Targets, Masks []*tensor.Dense
}

// NewDistill returns a term of the given temperature over logits [n, k] with room for terms
// softmaxes, all targets 0 (it adds nothing until they are set) and every unit in every softmax.
func NewDistill(T float64, terms, n, k int) *Distill {
	d := &Distill{T: T}
	for range terms {
		d.Targets = append(d.Targets, f32mat(n, k))
		d.Masks = append(d.Masks, f32mat(n, k))
	}
	return d
}

// SoftTargets writes into dst scale * softmax(z/T + mask) over one row, in float64: the soft
// targets of a term from a previous model's logits z (0 where mask is MaskOff).
func SoftTargets(dst, z, mask []float32, T float64, scale float32) {
	mx := math.Inf(-1)
	for j, v := range z {
		mx = math.Max(mx, float64(v)/T+float64(mask[j]))
	}
	var sum float64
	for j, v := range z {
		sum += math.Exp(float64(v)/T + float64(mask[j]) - mx)
	}
	k := float64(scale) / sum
	for j, v := range z {
		dst[j] = float32(math.Exp(float64(v)/T+float64(mask[j])-mx) * k)
	}
}

// Logits returns the logits of a Model's training graph under construction: the first input of
// its SoftmaxXent loss. It lets a Config.Penalty, which runs after the loss is built, add a term
// over the model's outputs (Distill.Penalty).
func (b *Binder) Logits() (*G.Node, error) {
	var z *G.Node
	for _, n := range b.g.AllNodes() {
		if _, ok := n.Op().(*xentOp); !ok {
			continue
		}
		if z != nil {
			return nil, errors.New("graphs: the graph has more than one SoftmaxXent loss")
		}
		it := b.g.From(n.ID())
		if !it.Next() {
			return nil, errors.New("graphs: SoftmaxXent without inputs")
		}
		z = it.Node().(*G.Node)
	}
	if z == nil {
		return nil, errors.New("graphs: the graph has no SoftmaxXent loss (Logits is for a Model's Penalty)")
	}
	return z, nil
}

// Features returns the input of the output layer in a Model's training graph under construction:
// the trunk's last activation, which the logits' dense op reads. It lets a Config.Penalty add a
// term over the model's features (replay through feedback's decoder).
func (b *Binder) Features() (*G.Node, error) {
	z, err := b.Logits()
	if err != nil {
		return nil, err
	}
	if _, ok := z.Op().(*linearOp); !ok {
		return nil, fmt.Errorf("graphs: the logits come from %v, not a dense layer", z.Op())
	}
	it := b.g.From(z.ID())
	if !it.Next() {
		return nil, errors.New("graphs: the output layer has no input")
	}
	return it.Node().(*G.Node), nil
}

// Penalty returns d as a Config.Penalty: its node over the Model's logits (Binder.Logits).
func (d *Distill) Penalty() Penalty {
	return func(b *Binder) (*G.Node, error) {
		z, err := b.Logits()
		if err != nil {
			return nil, err
		}
		return d.Node(b, z)
	}
}

// Node adds d's scalar value over logits z to b's graph. It returns nil (no term) when d has no
// terms.
func (d *Distill) Node(b *Binder, z *G.Node) (*G.Node, error) {
	if len(d.Targets) == 0 {
		return nil, nil
	}
	if len(d.Masks) != len(d.Targets) {
		return nil, fmt.Errorf("graphs: distillation has %d targets and %d masks", len(d.Targets), len(d.Masks))
	}
	children := G.Nodes{z}
	for t := range d.Targets {
		for _, x := range []*tensor.Dense{d.Targets[t], d.Masks[t]} {
			if !x.Shape().Eq(z.Shape()) {
				return nil, fmt.Errorf("graphs: distillation term %d has shape %v, the logits %v", t, x.Shape(), z.Shape())
			}
		}
		children = append(children, b.Const(fmt.Sprintf("distill%d/target", t), d.Targets[t]), b.Const(fmt.Sprintf("distill%d/mask", t), d.Masks[t]))
	}
	n, err := G.ApplyOp(&distillOp{d: d}, children...)
	if err != nil {
		return nil, fmt.Errorf("graphs: distillation: %w", err)
	}
	return n, nil
}

// distillOp computes D from inputs z, Q_0, M_0, Q_1, M_1, ... and caches each term's softmax and
// row sums for its gradient.
type distillOp struct {
	d    *Distill
	p    [][]float32 // per term, [n*k]: softmax of the rows with targets
	s    [][]float32 // per term, [n]: each row's target sum (0: row skipped)
	loss G.F32
}

func (op *distillOp) terms() int { return len(op.d.Targets) }
func (op *distillOp) Arity() int { return 1 + 2*op.terms() }
func (op *distillOp) Type() hm.Type {
	ts := make([]hm.Type, 0, op.Arity()+1)
	for range op.Arity() {
		ts = append(ts, matType())
	}
	return hm.NewFnType(append(ts, tensor.Float32)...)
}
func (op *distillOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}
func (op *distillOp) ReturnsPtr() bool      { return false }
func (op *distillOp) CallsExtern() bool     { return false }
func (op *distillOp) OverwritesInput() int  { return -1 }
func (op *distillOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "distill%p", op) }
func (op *distillOp) Hashcode() uint32      { return hashOf(op) }
func (op *distillOp) String() string        { return fmt.Sprintf("Distill(%d terms)", op.terms()) }

func (op *distillOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != op.Arity() {
		return nil, fmt.Errorf("graphs: distillation takes %d inputs, got %d", op.Arity(), len(in))
	}
	z, sh, err := f32s(in[0])
	if err != nil {
		return nil, err
	}
	n, k := sh[0], sh[1]
	if len(op.p) != op.terms() {
		op.p, op.s = make([][]float32, op.terms()), make([][]float32, op.terms())
	}
	invT := 1 / op.d.T
	var loss float64
	for t := range op.terms() {
		q, _, err := f32s(in[1+2*t])
		if err != nil {
			return nil, err
		}
		m, _, err := f32s(in[2+2*t])
		if err != nil {
			return nil, err
		}
		if len(q) != n*k || len(m) != n*k {
			return nil, fmt.Errorf("graphs: distillation term %d: %d targets and %d mask values for logits %v", t, len(q), len(m), sh)
		}
		if len(op.p[t]) != n*k {
			op.p[t], op.s[t] = make([]float32, n*k), make([]float32, n)
		}
		for i := range n {
			qi := q[i*k : (i+1)*k]
			var s float32
			for _, v := range qi {
				s += v
			}
			op.s[t][i] = s
			if s == 0 {
				continue
			}
			zi, mi, pi := z[i*k:(i+1)*k], m[i*k:(i+1)*k], op.p[t][i*k:(i+1)*k]
			mx := math.Inf(-1)
			for j, v := range zi {
				mx = math.Max(mx, float64(v)*invT+float64(mi[j]))
			}
			var sum float64
			for j, v := range zi {
				sum += math.Exp(float64(v)*invT + float64(mi[j]) - mx)
			}
			lse := mx + math.Log(sum)
			for j, v := range zi {
				u := float64(v)*invT + float64(mi[j])
				pi[j] = float32(math.Exp(u - lse))
				if qi[j] != 0 {
					loss -= float64(qi[j]) * (u - lse)
				}
			}
		}
	}
	op.loss = G.F32(float32(loss))
	return &op.loss, nil
}

func (op *distillOp) DiffWRT(inputs int) []bool {
	d := make([]bool, inputs)
	d[0] = true
	return d
}

func (op *distillOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	args := G.Nodes{inputs[0]}
	for t := range op.terms() {
		args = append(args, inputs[1+2*t])
	}
	g, err := G.ApplyOp(&distillGradOp{fwd: op}, append(args, grad)...)
	if err != nil {
		return nil, err
	}
	out := make(G.Nodes, len(inputs))
	out[0] = g
	return out, nil
}

// distillGradOp computes dD/dz from inputs z, Q_0, Q_1, ..., upstream and the forward op's cache.
type distillGradOp struct {
	fwd *distillOp
	buf *tensor.Dense
}

func (op *distillGradOp) Arity() int { return 2 + op.fwd.terms() }
func (op *distillGradOp) Type() hm.Type {
	ts := make([]hm.Type, 0, op.Arity()+1)
	for range op.Arity() - 1 {
		ts = append(ts, matType())
	}
	return hm.NewFnType(append(ts, tensor.Float32, matType())...)
}
func (op *distillGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("graphs: distillation gradient: input shape is %T", in[0])
	}
	return s.Clone(), nil
}
func (op *distillGradOp) ReturnsPtr() bool      { return false }
func (op *distillGradOp) CallsExtern() bool     { return false }
func (op *distillGradOp) OverwritesInput() int  { return -1 }
func (op *distillGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "distillgrad%p", op.fwd) }
func (op *distillGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *distillGradOp) String() string        { return "DistillGrad" }

func (op *distillGradOp) Do(in ...G.Value) (G.Value, error) {
	_, sh, err := f32s(in[0])
	if err != nil {
		return nil, err
	}
	return op.UsePreallocDo(ownMat(&op.buf, sh), in...)
}

// UsePreallocDo writes the gradient into the machine's preallocated value: no allocation per run.
func (op *distillGradOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != op.Arity() {
		return nil, fmt.Errorf("graphs: distillation gradient takes %d inputs, got %d", op.Arity(), len(in))
	}
	_, sh, err := f32s(in[0])
	if err != nil {
		return nil, err
	}
	g := UpstreamScalar(in[len(in)-1])
	n, k := sh[0], sh[1]
	out, _, err := f32s(prealloc)
	if err != nil || len(out) != n*k {
		return nil, fmt.Errorf("graphs: distillation gradient buffer: %v", err)
	}
	clear(out)
	c := g * float32(1/op.fwd.d.T)
	for t := range op.fwd.terms() {
		q, _, err := f32s(in[1+t])
		if err != nil {
			return nil, err
		}
		p, s := op.fwd.p[t], op.fwd.s[t]
		for i := range n {
			if s[i] == 0 {
				continue
			}
			qi, pi, oi := q[i*k:(i+1)*k], p[i*k:(i+1)*k], out[i*k:(i+1)*k]
			for j := range oi {
				oi[j] += c * (s[i]*pi[j] - qi[j])
			}
		}
	}
	return prealloc, nil
}
