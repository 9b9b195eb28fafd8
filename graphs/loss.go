package graphs

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MaskOff is the additive bias that switches an output unit off in the softmax: exp(MaskOff)
// underflows to 0 in float32 while MaskOff times a zero weight stays 0 (unlike -Inf).
const MaskOff = -1e9

// SoftmaxXent adds L = -sum_ij W_ij log softmax(z + M)_ij to z's graph: a weighted softmax
// cross-entropy over the active units. z, w and mask are [n, k]; w holds each example's target
// weight (a one-hot row scaled by the example's weight in the loss, e.g. 1/n) and mask holds 0 for
// active units and MaskOff for inactive ones. The op is fused: its gradient with respect to z is
// (sum_k W_ik) p_ij - W_ij, computed from the softmax cached in the forward pass, with no
// allocation per run.
func SoftmaxXent(z, w, mask *G.Node) (*G.Node, error) {
	op := &xentOp{}
	return G.ApplyOp(op, z, w, mask)
}

type xentOp struct {
	p    []float32 // softmax of the last forward run, [n*k]
	loss G.F32     // the output, returned by pointer on every run
}

func matType() hm.Type { return G.TensorType{Dims: 2, Of: tensor.Float32} }

func (op *xentOp) Arity() int { return 3 }
func (op *xentOp) Type() hm.Type {
	t := matType()
	return hm.NewFnType(t, t, t, tensor.Float32)
}
func (op *xentOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}
func (op *xentOp) ReturnsPtr() bool      { return false }
func (op *xentOp) CallsExtern() bool     { return false }
func (op *xentOp) OverwritesInput() int  { return -1 }
func (op *xentOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "xent%p", op) }
func (op *xentOp) Hashcode() uint32      { return hashOf(op) }
func (op *xentOp) String() string        { return "SoftmaxXent" }

func hashOf(op G.Op) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

// UpstreamScalar is the upstream gradient a scalar op's gradient op receives (a *G.F32 or a
// one-element float32 tensor); 1 for any other value.
func UpstreamScalar(v G.Value) float32 {
	if f, ok := scalarOf(v); ok {
		return f
	}
	return 1
}

// scalarOf reads a scalar float32 value (a *G.F32 or a one-element float32 tensor); ok is false
// for any other value.
func scalarOf(v G.Value) (f float32, ok bool) {
	switch s := v.(type) {
	case *G.F32:
		return float32(*s), true
	case tensor.Tensor:
		if f, ok := s.Data().(float32); ok {
			return f, true
		}
		if f, ok := s.Data().([]float32); ok && len(f) == 1 {
			return f[0], true
		}
	}
	return 0, false
}

// f32s returns the data and shape of a float32 tensor value. For a *tensor.Dense (every value of
// these graphs) it reads the backing slice directly: Dense.Data boxes a new slice header on every
// call, an allocation per op and per run.
func f32s(v G.Value) ([]float32, tensor.Shape, error) {
	if d, ok := v.(*tensor.Dense); ok && d.Dtype() == tensor.Float32 {
		return d.Float32s(), d.Shape(), nil
	}
	t, ok := v.(tensor.Tensor)
	if !ok {
		return nil, nil, fmt.Errorf("graphs: expected a tensor, got %T", v)
	}
	d, ok := t.Data().([]float32)
	if !ok {
		return nil, nil, fmt.Errorf("graphs: expected float32 data, got %T", t.Data())
	}
	return d, t.Shape(), nil
}

func (op *xentOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("graphs: SoftmaxXent takes 3 inputs, got %d", len(in))
	}
	z, sh, err := f32s(in[0])
	if err != nil {
		return nil, err
	}
	w, _, err := f32s(in[1])
	if err != nil {
		return nil, err
	}
	m, _, err := f32s(in[2])
	if err != nil {
		return nil, err
	}
	n, k := sh[0], sh[1]
	if len(w) != n*k || len(m) != n*k {
		return nil, fmt.Errorf("graphs: SoftmaxXent shapes differ: z %v, w %d, mask %d", sh, len(w), len(m))
	}
	if cap(op.p) < n*k {
		op.p = make([]float32, n*k)
	}
	op.p = op.p[:n*k]
	var loss float64
	for i := 0; i < n; i++ {
		zi, wi, mi, pi := z[i*k:(i+1)*k], w[i*k:(i+1)*k], m[i*k:(i+1)*k], op.p[i*k:(i+1)*k]
		max := float32(math.Inf(-1))
		for j := range zi {
			if v := zi[j] + mi[j]; v > max {
				max = v
			}
		}
		var sum float64
		for j := range zi {
			e := math.Exp(float64(zi[j] + mi[j] - max))
			pi[j] = float32(e)
			sum += e
		}
		lse := float64(max) + math.Log(sum)
		inv := float32(1 / sum)
		for j := range zi {
			pi[j] *= inv
			if wi[j] != 0 {
				loss -= float64(wi[j]) * (float64(zi[j]+mi[j]) - lse)
			}
		}
	}
	op.loss = G.F32(float32(loss))
	return &op.loss, nil
}

func (op *xentOp) DiffWRT(inputs int) []bool { return []bool{true, false, false} }

func (op *xentOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	g, err := G.ApplyOp(&xentGradOp{fwd: op}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{g, nil, nil}, nil
}

// xentGradOp computes dL/dz from the forward op's cached softmax.
type xentGradOp struct {
	fwd *xentOp
	buf *tensor.Dense
}

func (op *xentGradOp) Arity() int { return 3 }
func (op *xentGradOp) Type() hm.Type {
	t := matType()
	return hm.NewFnType(t, t, tensor.Float32, t)
}
func (op *xentGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := in[0].(tensor.Shape), error(nil)
	return s.Clone(), err
}
func (op *xentGradOp) ReturnsPtr() bool      { return false }
func (op *xentGradOp) CallsExtern() bool     { return false }
func (op *xentGradOp) OverwritesInput() int  { return -1 }
func (op *xentGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "xentgrad%p", op.fwd) }
func (op *xentGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *xentGradOp) String() string        { return "SoftmaxXentGrad" }

func (op *xentGradOp) Do(in ...G.Value) (G.Value, error) {
	_, sh, err := f32s(in[0])
	if err != nil {
		return nil, err
	}
	return op.UsePreallocDo(ownMat(&op.buf, sh), in...)
}

// UsePreallocDo writes the gradient into the machine's preallocated value: no allocation per run.
func (op *xentGradOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	_, sh, err := f32s(in[0])
	if err != nil {
		return nil, err
	}
	w, _, err := f32s(in[1])
	if err != nil {
		return nil, err
	}
	g := UpstreamScalar(in[2])
	n, k := sh[0], sh[1]
	out, _, err := f32s(prealloc)
	if err != nil || len(out) != n*k {
		return nil, fmt.Errorf("graphs: SoftmaxXent gradient buffer: %v", err)
	}
	p := op.fwd.p
	for i := 0; i < n; i++ {
		wi, pi, oi := w[i*k:(i+1)*k], p[i*k:(i+1)*k], out[i*k:(i+1)*k]
		var s float32
		for _, v := range wi {
			s += v
		}
		for j := range oi {
			oi[j] = g * (s*pi[j] - wi[j])
		}
	}
	return prealloc, nil
}
