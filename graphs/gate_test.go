package graphs

import (
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
)

// TestGate checks y = x * m and that a gated unit passes no gradient: in a two-layer net
// x -> Linear -> ReLU -> Gate -> Linear -> softmax cross-entropy, the gated hidden unit's incoming
// weights (its column of W1) and outgoing weights (its row of W2) get zero gradient, the others
// do not, and the gradients are those of the net without the gate whose gated unit's incoming
// weights are zero (the unit is off either way).
func TestGate(t *testing.T) {
	const n, in, h, k = 5, 4, 3, 2
	rng := rand.New(rand.NewSource(3))
	ps := NewParamSet()
	l1, l2 := NewDense(ps, "l1", "trunk", in, h, rng), NewDense(ps, "l2", "head", h, k, rng)
	mask := f32mat(n, h)
	for i := range n { // unit 1 gated in every row
		for j := range h {
			if j != 1 {
				mask.Float32s()[i*h+j] = 1
			}
		}
	}
	gated := true
	fwd := func(bd *Binder, x *G.Node) (*G.Node, error) {
		z, err := l1.Apply(bd, x)
		if err != nil {
			return nil, err
		}
		hidden, err := ReLU(z)
		if err != nil {
			return nil, err
		}
		if gated {
			if hidden, err = Gate(hidden, bd.Const("gate", mask)); err != nil {
				return nil, err
			}
		}
		return l2.Apply(bd, hidden)
	}
	m, err := NewModel(Config{Params: ps, Forward: fwd, InputDim: in, Outputs: k, Batch: n, EvalBatch: n})
	if err != nil {
		t.Fatal(err)
	}
	x, w, _ := m.Inputs()
	for i := range x {
		x[i] = float32(rng.Float64())
	}
	for i := range n {
		w[i*k+i%k] = 1.0 / n
	}
	if _, _, err := m.Step(); err != nil {
		t.Fatal(err)
	}
	g1, g2 := append([]float32(nil), m.Grad(l1.W)...), append([]float32(nil), m.Grad(l2.W)...)
	for r := range in {
		if g1[r*h+1] != 0 {
			t.Errorf("incoming weight W1[%d][1] of the gated unit has gradient %v", r, g1[r*h+1])
		}
	}
	for c := range k {
		if g2[1*k+c] != 0 {
			t.Errorf("outgoing weight W2[1][%d] of the gated unit has gradient %v", c, g2[1*k+c])
		}
		if g2[0*k+c] == 0 && g2[2*k+c] == 0 {
			t.Errorf("open units' outgoing weights W2[.][%d] have no gradient", c)
		}
	}
	if m.Grad(l1.B)[1] != 0 {
		t.Errorf("bias of the gated unit has gradient %v", m.Grad(l1.B)[1])
	}

	// The same net without the gate, unit 1's incoming weights and bias zeroed: same gradients
	// of the open units (unit 1 outputs relu(0) = 0 there too).
	gated = false
	ref, err := NewModel(Config{Params: ps, Forward: fwd, InputDim: in, Outputs: k, Batch: n, EvalBatch: n})
	if err != nil {
		t.Fatal(err)
	}
	rx, rw, _ := ref.Inputs()
	copy(rx, x)
	copy(rw, w)
	w1, b1 := append([]float32(nil), l1.W.Data()...), append([]float32(nil), l1.B.Data()...)
	for r := range in {
		l1.W.Data()[r*h+1] = 0
	}
	l1.B.Data()[1] = 0
	if _, _, err := ref.Step(); err != nil {
		t.Fatal(err)
	}
	for i, v := range ref.Grad(l2.W) {
		if v != g2[i] {
			t.Errorf("dW2[%d] = %v gated, %v with the unit switched off", i, g2[i], v)
		}
	}

	// Per-row masks: opening the gate in row 1 changes that row's output only.
	copy(l1.W.Data(), w1)
	copy(l1.B.Data(), b1)
	closed, open := make([]float32, n*k), make([]float32, n*k)
	if err := m.Forward(x, n, closed); err != nil {
		t.Fatal(err)
	}
	mask.Float32s()[1*h+1] = 1
	if err := m.Forward(x, n, open); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		same := open[i*k] == closed[i*k] && open[i*k+1] == closed[i*k+1]
		if same != (i != 1) {
			t.Errorf("row %d: output %v with unit 1 open in row 1, %v with it closed", i, open[i*k:(i+1)*k], closed[i*k:(i+1)*k])
		}
	}
}
