package graphs

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
)

// TestAttentionGateHandComputed checks y = x * sigmoid(s e) and its gradients on a 2 x 2 case,
// cost = sum(c * y) with fixed weights c, against values worked out by hand; and that a new s
// is read at the next run without rebuilding.
func TestAttentionGateHandComputed(t *testing.T) {
	// [2, 2] with one gate per column; [1, 4] with one gate per channel of a 2-channel row (the
	// same values, gate k mod 2): the expectations are the same.
	for _, rows := range []int{2, 1} {
		attentionGateHandComputed(t, rows)
	}
}

func attentionGateHandComputed(t *testing.T, rows int) {
	b := newBinder("t")
	x, e, c := f32mat(rows, 4/rows), f32mat(1, 2), f32mat(rows, 4/rows)
	copy(x.Float32s(), []float32{1, 2, -3, 0.5})
	copy(e.Float32s(), []float32{0.5, -1})
	copy(c.Float32s(), []float32{1, -2, 3, 4})
	xn := G.NewTensor(b.g, G.Float32, 2, G.WithShape(rows, 4/rows), G.WithName("x"), G.WithValue(x))
	en := G.NewTensor(b.g, G.Float32, 2, G.WithShape(1, 2), G.WithName("e"), G.WithValue(e))
	s := float32(2)
	y, err := AttentionGate(xn, en, &s)
	if err != nil {
		t.Fatal(err)
	}
	cy, err := G.HadamardProd(y, b.Const("c", c))
	if err != nil {
		t.Fatal(err)
	}
	cost, err := G.Sum(cy)
	if err != nil {
		t.Fatal(err)
	}
	gs, err := G.Grad(cost, xn, en)
	if err != nil {
		t.Fatal(err)
	}
	var yv G.Value
	G.Read(y, &yv)
	vm := G.NewTapeMachine(b.g)
	defer vm.Close()
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	X, E, C := []float64{1, 2, -3, 0.5}, []float64{0.5, -1}, []float64{1, -2, 3, 4}
	for _, sv := range []float64{2, 0.25} {
		s = float32(sv)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		a := []float64{sig(sv * E[0]), sig(sv * E[1])}
		wantY := []float64{X[0] * a[0], X[1] * a[1], X[2] * a[0], X[3] * a[1]}
		wantGX := []float64{C[0] * a[0], C[1] * a[1], C[2] * a[0], C[3] * a[1]}
		// dcost/de_j = s a_j (1 - a_j) sum_i c_ij x_ij.
		wantGE := []float64{sv * a[0] * (1 - a[0]) * (C[0]*X[0] + C[2]*X[2]), sv * a[1] * (1 - a[1]) * (C[1]*X[1] + C[3]*X[3])}
		for name, pair := range map[string][2][]float64{
			"y": {wantY, f64(yv.Data().([]float32))}, "dx": {wantGX, f64(gs[0].Value().Data().([]float32))}, "de": {wantGE, f64(gs[1].Value().Data().([]float32))},
		} {
			for i, v := range pair[0] {
				if math.Abs(pair[1][i]-v) > 1e-6 {
					t.Errorf("s=%v: %s[%d] = %v, want %v", sv, name, i, pair[1][i], v)
				}
			}
		}
		vm.Reset()
	}
	bad := G.NewTensor(b.g, G.Float32, 2, G.WithShape(1, 3), G.WithName("bad"), G.WithValue(f32mat(1, 3)))
	if _, err := AttentionGate(xn, bad, &s); err == nil {
		t.Errorf("an embedding of 3 gates over rows of %d was accepted", 4/rows)
	}
}

func f64(xs []float32) []float64 {
	out := make([]float64, len(xs))
	for i, v := range xs {
		out[i] = float64(v)
	}
	return out
}

// TestSigmoidFlushesSubnormals: a sigmoid below float32's smallest normal number is 0 (no
// subnormal reaches the matrix products), one above it is kept.
func TestSigmoidFlushesSubnormals(t *testing.T) {
	if v := Sigmoid(-90); v != 0 { // exp(-90) ≈ 8e-40: subnormal in float32
		t.Errorf("Sigmoid(-90) = %g, want 0", v)
	}
	if v := Sigmoid(-80); v < 0x1p-126 { // exp(-80) ≈ 1.8e-35: normal
		t.Errorf("Sigmoid(-80) = %g, want it kept", v)
	}
	if v := Sigmoid(0); v != 0.5 {
		t.Errorf("Sigmoid(0) = %v", v)
	}
}
