package graphs

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
)

// tinyModel builds a 5-4-3 MLP with a 3-unit head and fills a batch of 6 rows.
func tinyModel(t *testing.T, penalty Penalty) (*Model, *ParamSet) {
	t.Helper()
	rng := rand.New(rand.NewSource(1))
	ps := NewParamSet()
	trunk := NewMLP(ps, "trunk", "trunk", 5, []int{4}, rng)
	head := NewHeads(ps, "head", 4, []int{3}, rng)
	m, err := NewModel(Config{Params: ps, InputDim: 5, Outputs: 3, Batch: 6, EvalBatch: 4, Penalty: penalty,
		Forward: func(b *Binder, x *G.Node) (*G.Node, error) {
			h, err := trunk.Apply(b, x)
			if err != nil {
				return nil, err
			}
			return head.Apply(b, h)
		}})
	if err != nil {
		t.Fatal(err)
	}
	x, w, mask := m.Inputs()
	for i := range x {
		x[i] = float32(rng.Float64())
	}
	for i := 0; i < 6; i++ {
		w[i*3+i%3] = 1.0 / 6
		if i == 5 {
			mask[i*3+1] = MaskOff // unit 1 inactive for the last row
		}
	}
	return m, ps
}

// lossByForward recomputes the masked cross-entropy from the evaluation graph's logits.
func lossByForward(t *testing.T, m *Model) float64 {
	x, w, mask := m.Inputs()
	out := make([]float32, 6*3)
	if err := m.Forward(x, 6, out); err != nil {
		t.Fatal(err)
	}
	var loss float64
	for i := 0; i < 6; i++ {
		max := math.Inf(-1)
		for j := 0; j < 3; j++ {
			max = math.Max(max, float64(out[i*3+j]+mask[i*3+j]))
		}
		var s float64
		for j := 0; j < 3; j++ {
			s += math.Exp(float64(out[i*3+j]+mask[i*3+j]) - max)
		}
		for j := 0; j < 3; j++ {
			if w[i*3+j] != 0 {
				loss -= float64(w[i*3+j]) * (float64(out[i*3+j]+mask[i*3+j]) - max - math.Log(s))
			}
		}
	}
	return loss
}

func TestGradientsMatchFiniteDifferences(t *testing.T) {
	m, ps := tinyModel(t, nil)
	loss, _, err := m.Step()
	if err != nil {
		t.Fatal(err)
	}
	if ref := lossByForward(t, m); math.Abs(float64(loss)-ref) > 1e-5 {
		t.Fatalf("training loss %v, evaluation graph gives %v", loss, ref)
	}
	if len(m.Trainable()) != len(ps.All()) {
		t.Fatalf("%d trainable, %d params", len(m.Trainable()), len(ps.All()))
	}
	for _, p := range ps.All() {
		g := append([]float32(nil), m.Grad(p)...)
		if len(g) != p.Size() {
			t.Fatalf("%s: grad len %d, want %d", p.Name, len(g), p.Size())
		}
		d := p.Data()
		for i := range d {
			const h = 1e-3
			old := d[i]
			d[i] = old + h
			lp := lossByForward(t, m)
			d[i] = old - h
			lm := lossByForward(t, m)
			d[i] = old
			fd := (lp - lm) / (2 * h)
			if math.Abs(fd-float64(g[i])) > 2e-3 {
				t.Errorf("%s[%d]: grad %v, finite difference %v", p.Name, i, g[i], fd)
			}
		}
	}
	// A second step on the same inputs gives the same gradients: nothing accumulates.
	g1 := append([]float32(nil), m.Grad(ps.All()[0])...)
	if _, _, err := m.Step(); err != nil {
		t.Fatal(err)
	}
	for i, v := range m.Grad(ps.All()[0]) {
		if v != g1[i] {
			t.Fatalf("gradient changed between identical steps at %d: %v then %v", i, g1[i], v)
		}
	}
}

func TestAdamTrainsAndEvalSeesUpdates(t *testing.T) {
	m, ps := tinyModel(t, nil)
	opt := NewAdam(0.05)
	first, _, _ := m.Step()
	var last float32
	for i := 0; i < 100; i++ {
		l, _, err := m.Step()
		if err != nil {
			t.Fatal(err)
		}
		last = l
		opt.Update(ps.All(), m.Grad)
	}
	if !(last < first/4) {
		t.Fatalf("loss did not fall: %v -> %v", first, last)
	}
	if ev := lossByForward(t, m); math.Abs(ev-float64(last)) > 0.05 {
		t.Fatalf("evaluation graph does not see the trained weights: eval loss %v, train loss %v", ev, last)
	}
}

func TestFrozenParamsGetNoGradient(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	ps := NewParamSet()
	trunk := NewMLP(ps, "trunk", "trunk", 5, []int{4}, rng)
	head := NewHeads(ps, "head", 4, []int{3}, rng)
	for _, p := range ps.Filter(func(p *Param) bool { return p.Group == "trunk" }) {
		p.Frozen = true
	}
	m, err := NewModel(Config{Params: ps, InputDim: 5, Outputs: 3, Batch: 2,
		Forward: func(b *Binder, x *G.Node) (*G.Node, error) {
			h, err := trunk.Apply(b, x)
			if err != nil {
				return nil, err
			}
			return head.Apply(b, h)
		}})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(m.Trainable()); got != 2 {
		t.Fatalf("%d trainable params, want the head's 2", got)
	}
	if m.Grad(trunk.Layers[0].W) != nil {
		t.Fatal("frozen parameter has a gradient")
	}
}
