package graphs

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
)

// runBCE builds d over a constant z [n, k] and returns the value and dL/dz.
func runBCE(t *testing.T, d *BCE, z []float32, n, k int) (float32, []float32) {
	t.Helper()
	b := newBinder("bce")
	zt := f32mat(n, k)
	copy(zt.Float32s(), z)
	zn := G.NewTensor(b.g, G.Float32, 2, G.WithShape(n, k), G.WithName("z"), G.WithValue(zt))
	node, err := d.Node(b, zn)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := G.Grad(node, zn)
	if err != nil {
		t.Fatal(err)
	}
	var v G.Value
	G.Read(node, &v)
	vm := G.NewTapeMachine(b.Graph())
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	return scalar(v), append([]float32(nil), grads[0].Value().Data().([]float32)...)
}

// TestBCEFiniteDifferences checks the value and gradient against the formula in float64 and its
// central differences, with soft (distillation) and hard targets, large logits (where a naive
// log(sigmoid) overflows) and units of weight 0.
func TestBCEFiniteDifferences(t *testing.T) {
	const n, k = 3, 4
	rng := rand.New(rand.NewSource(1))
	z := make([]float32, n*k)
	for i := range z {
		z[i] = float32(3 * rng.NormFloat64())
	}
	z[1], z[6] = 40, -35
	d := NewBCE(n, k)
	q, w := d.Targets.Float32s(), d.Weights.Float32s()
	for i := range n {
		for j := range k {
			if i == 2 && j == 3 {
				continue // weight 0: no loss, no gradient
			}
			w[i*k+j] = float32(i+1) / n
			q[i*k+j] = float32(rng.Float64()) // a previous model's sigmoid
			if j == 3 {
				q[i*k+j] = float32(i % 2) // a one-hot label
			}
		}
	}
	value := func(z []float64) float64 {
		var L float64
		for i, x := range z {
			if w[i] == 0 {
				continue
			}
			s := 1 / (1 + math.Exp(-x))
			lo, l1 := math.Log(s), math.Log1p(-s)
			if math.IsInf(lo, 0) || math.IsInf(l1, 0) { // saturated: the stable form
				lo, l1 = math.Min(x, 0)-math.Log1p(math.Exp(-math.Abs(x))), -math.Max(x, 0)-math.Log1p(math.Exp(-math.Abs(x)))
			}
			L -= float64(w[i]) * (float64(q[i])*lo + (1-float64(q[i]))*l1)
		}
		return L
	}
	v, g := runBCE(t, d, z, n, k)
	z64 := make([]float64, len(z))
	for i, x := range z {
		z64[i] = float64(x)
	}
	if want := value(z64); math.Abs(float64(v)-want) > 1e-5*math.Abs(want) {
		t.Errorf("L = %v, want %v", v, want)
	}
	const h = 1e-4
	for i := range z64 {
		z64[i] += h
		up := value(z64)
		z64[i] -= 2 * h
		down := value(z64)
		z64[i] += h
		if want := (up - down) / (2 * h); math.Abs(float64(g[i])-want) > 1e-5 {
			t.Errorf("dL/dz[%d] = %v, central difference %v", i, g[i], want)
		}
	}
	if g[2*k+3] != 0 {
		t.Errorf("a unit of weight 0 has gradient %v", g[2*k+3])
	}
}

// TestBCEPenaltyOverModelLogits checks that BCE.Penalty finds a Model's logits and that, with the
// softmax term's weights 0, a weight's gradient is the central difference of the BCE alone.
func TestBCEPenaltyOverModelLogits(t *testing.T) {
	const n, in, k = 4, 3, 3
	rng := rand.New(rand.NewSource(2))
	ps := NewParamSet()
	head := NewHeads(ps, "head", in, []int{k}, rng)
	d := NewBCE(n, k)
	m, err := NewModel(Config{Params: ps, InputDim: in, Outputs: k, Batch: n, EvalBatch: n, Penalty: d.Penalty(),
		Forward: func(bd *Binder, x *G.Node) (*G.Node, error) { return head.Apply(bd, x) }})
	if err != nil {
		t.Fatal(err)
	}
	x, _, _ := m.Inputs()
	for i := range x {
		x[i] = float32(rng.Float64())
	}
	q, w := d.Targets.Float32s(), d.Weights.Float32s()
	for i := range n {
		for j := range k {
			w[i*k+j] = 1.0 / n
		}
		q[i*k+i%k] = 1
		q[i*k+(i+1)%k] = 0.3
	}
	loss, pen, err := m.Step()
	if err != nil {
		t.Fatal(err)
	}
	if loss != 0 {
		t.Fatalf("softmax loss %v with zero weights", loss)
	}
	z := make([]float32, n*k)
	if err := m.Forward(x, n, z); err != nil {
		t.Fatal(err)
	}
	var want float64
	for i, v := range z {
		s := 1 / (1 + math.Exp(-float64(v)))
		want -= float64(w[i]) * (float64(q[i])*math.Log(s) + (1-float64(q[i]))*math.Log(1-s))
	}
	if math.Abs(float64(pen)-want) > 1e-5 {
		t.Fatalf("penalty %v, want the BCE at the model's logits %v", pen, want)
	}
	wp := head.Layers[0].W
	g := append([]float32(nil), m.Grad(wp)...)
	const h = 1e-2
	for idx := range g {
		v := wp.Data()[idx]
		wp.Data()[idx] = v + h
		_, p1, _ := m.Step()
		wp.Data()[idx] = v - h
		_, p2, _ := m.Step()
		wp.Data()[idx] = v
		if fd := (float64(p1) - float64(p2)) / (2 * h); math.Abs(float64(g[idx])-fd) > 1e-3 {
			t.Errorf("dBCE/dW[%d] = %v, central difference %v", idx, g[idx], fd)
		}
	}
}
