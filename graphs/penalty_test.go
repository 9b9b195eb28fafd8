package graphs

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
)

// TestQuadraticHandComputed checks the fused op's value and gradient on a case worked by hand:
// theta = [1, 2; -1, 0.5], F = [0.5, 2; 0, 4], theta* = [0, 1; 3, 1], lambda = 3 (Scale 1.5),
// Offset 0.25:
//
//	value = 1.5 * (0.5*1 + 2*1 + 0*16 + 4*0.25) + 0.25 = 1.5*3.5 + 0.25 = 5.5
//	grad  = lambda * F * (theta - theta*) = 3 * [0.5*1, 2*1; 0*(-4), 4*(-0.5)] = [1.5, 6; 0, -6]
func TestQuadraticHandComputed(t *testing.T) {
	ps := NewParamSet()
	p := ps.Add("w", "trunk", 2, 2)
	copy(p.Data(), []float32{1, 2, -1, 0.5})
	q := NewQuadratic(1.5, ps.All())
	q.Offset = 0.25
	tm := q.Term(p)
	copy(tm.Weights(), []float32{0.5, 2, 0, 4})
	copy(tm.Anchors(), []float32{0, 1, 3, 1})

	b := newBinder("penalty")
	n, err := q.Node(b)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := G.Grad(n, b.Node(p))
	if err != nil {
		t.Fatal(err)
	}
	var v G.Value
	G.Read(n, &v)
	vm := G.NewTapeMachine(b.Graph())
	defer vm.Close()
	run := func() {
		t.Helper()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		vm.Reset()
	}
	run()
	if got := scalar(v); math.Abs(float64(got)-5.5) > 1e-6 {
		t.Errorf("value %v, want 5.5", got)
	}
	if got := q.Value(); math.Abs(got-5.5) > 1e-9 {
		t.Errorf("Value() %v, want 5.5", got)
	}
	want := []float32{1.5, 6, 0, -6}
	g := grads[0].Value().Data().([]float32)
	for i := range want {
		if math.Abs(float64(g[i]-want[i])) > 1e-6 {
			t.Errorf("grad[%d] = %v, want %v", i, g[i], want[i])
		}
	}
	for i, v := range q.Grad(p, nil) {
		if math.Abs(float64(v-want[i])) > 1e-6 {
			t.Errorf("Grad()[%d] = %v, want %v", i, v, want[i])
		}
	}

	// Updating the tensors in place changes the next run without rebuilding the graph.
	q.Scale, q.Offset = 0.5, 0
	copy(tm.Anchors(), p.Data())
	tm.Weights()[0] = 10
	p.Data()[0] = 2 // theta moves away from the anchor by 1 in element 0 only
	run()
	if got := scalar(v); math.Abs(float64(got)-5) > 1e-6 {
		t.Errorf("after update: value %v, want 0.5*10*1 = 5", got)
	}
	g = grads[0].Value().Data().([]float32)
	if math.Abs(float64(g[0]-10)) > 1e-6 || g[1] != 0 || g[2] != 0 || g[3] != 0 {
		t.Errorf("after update: grad %v, want [10 0 0 0]", g)
	}
}

// TestQuadraticInModel checks that a model with the penalty reports it and that its gradients
// are the data-loss gradients plus the penalty's, against the same model without the penalty.
func TestQuadraticInModel(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	ps := NewParamSet()
	trunk := NewMLP(ps, "trunk", "trunk", 5, []int{4}, rng)
	head := NewHeads(ps, "head", 4, []int{3}, rng)
	fwd := func(b *Binder, x *G.Node) (*G.Node, error) {
		h, err := trunk.Apply(b, x)
		if err != nil {
			return nil, err
		}
		return head.Apply(b, h)
	}
	q := NewQuadratic(7, ps.Filter(func(p *Param) bool { return p.Group == "trunk" }))
	for i := range q.Terms {
		tm := &q.Terms[i]
		for k := range tm.Weights() {
			tm.Weights()[k] = float32(rng.Float64())
			tm.Anchors()[k] = float32(rng.NormFloat64())
		}
	}
	q.Offset = 1.25
	mk := func(pen Penalty) *Model {
		m, err := NewModel(Config{Params: ps, InputDim: 5, Outputs: 3, Batch: 4, Forward: fwd, Penalty: pen})
		if err != nil {
			t.Fatal(err)
		}
		x, w, _ := m.Inputs()
		r := rand.New(rand.NewSource(9))
		for i := range x {
			x[i] = float32(r.Float64())
		}
		for i := 0; i < 4; i++ {
			w[i*3+i%3] = 0.25
		}
		return m
	}
	with, without := mk(q.Penalty()), mk(nil)
	l1, pen, err := with.Step()
	if err != nil {
		t.Fatal(err)
	}
	l0, pen0, err := without.Step()
	if err != nil {
		t.Fatal(err)
	}
	if l1 != l0 || pen0 != 0 {
		t.Fatalf("data loss %v vs %v, penalty without %v", l1, l0, pen0)
	}
	if math.Abs(float64(pen)-q.Value()) > 1e-4*math.Abs(q.Value()) {
		t.Fatalf("graph penalty %v, Value() %v", pen, q.Value())
	}
	for _, p := range ps.All() {
		g1, g0 := with.Grad(p), without.Grad(p)
		pg := q.Grad(p, nil)
		for i := range g1 {
			want := g0[i]
			if pg != nil {
				want += pg[i]
			}
			if math.Abs(float64(g1[i]-want)) > 1e-4*(1+math.Abs(float64(want))) {
				t.Fatalf("%s[%d]: gradient %v, want data %v + penalty = %v", p.Name, i, g1[i], g0[i], want)
			}
		}
	}
}

// benchmarkStep times one training step of a 784-400-400-10 MLP, batch 128, with or without a
// quadratic penalty over every parameter.
func benchmarkStep(b *testing.B, penalised bool) {
	rng := rand.New(rand.NewSource(1))
	ps := NewParamSet()
	trunk := NewMLP(ps, "trunk", "trunk", 784, []int{400, 400}, rng)
	head := NewHeads(ps, "head", 400, []int{10}, rng)
	var pen Penalty
	if penalised {
		q := NewQuadratic(1, ps.All())
		for i := range q.Terms {
			w := q.Terms[i].Weights()
			for k := range w {
				w[k] = 1
			}
		}
		pen = q.Penalty()
	}
	m, err := NewModel(Config{Params: ps, InputDim: 784, Outputs: 10, Batch: 128, Penalty: pen,
		Forward: func(bd *Binder, x *G.Node) (*G.Node, error) {
			h, err := trunk.Apply(bd, x)
			if err != nil {
				return nil, err
			}
			return head.Apply(bd, h)
		}})
	if err != nil {
		b.Fatal(err)
	}
	_, w, _ := m.Inputs()
	for i := 0; i < 128; i++ {
		w[i*10+i%10] = 1.0 / 128
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := m.Step(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStepPlain(b *testing.B)     { benchmarkStep(b, false) }
func BenchmarkStepPenalised(b *testing.B) { benchmarkStep(b, true) }
