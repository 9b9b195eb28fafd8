package graphs

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
)

// maskedModel builds a 5-4-3 trunk and a 2-unit head over 6 rows; with masks, each trunk layer
// gets a Mask (1 keeps a weight, 0 drops it). zero instead writes 0 into every dropped weight.
func maskedModel(t *testing.T, masks [][]float32, zero bool) (*Model, MLP, Heads) {
	t.Helper()
	rng := rand.New(rand.NewSource(4))
	ps := NewParamSet()
	trunk := NewMLP(ps, "trunk", "trunk", 5, []int{4, 3}, rng)
	head := NewHeads(ps, "head", 3, []int{2}, rng)
	layers := append([]Dense(nil), trunk.Layers...)
	for l := range layers {
		if zero {
			for i, v := range masks[l] {
				if v == 0 {
					layers[l].W.Data()[i] = 0
				}
			}
		} else {
			layers[l].Mask = masks[l]
		}
	}
	m, err := NewModel(Config{Params: ps, InputDim: 5, Outputs: 2, Batch: 6, EvalBatch: 6,
		Forward: func(b *Binder, x *G.Node) (*G.Node, error) {
			h, err := MLP{Layers: layers}.Apply(b, x)
			if err != nil {
				return nil, err
			}
			return head.Apply(b, h)
		}})
	if err != nil {
		t.Fatal(err)
	}
	x, w, _ := m.Inputs()
	for i := range x {
		x[i] = float32(rng.Float64()*2 - 1)
	}
	for i := 0; i < 6; i++ {
		w[i*2+i%2] = 1.0 / 6
	}
	return m, trunk, head
}

// TestMaskedDense: a Dense with a Mask computes exactly what the same layer with its dropped
// weights set to 0 computes (outputs, loss, the gradients of every other parameter, through dx
// into the layer below), and the dropped weights' gradients are 0.
func TestMaskedDense(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	masks := [][]float32{make([]float32, 5*4), make([]float32, 4*3)}
	dropped := 0
	for _, mk := range masks {
		for i := range mk {
			if rng.Float64() < 0.6 {
				mk[i] = 1
			} else {
				dropped++
			}
		}
	}
	if dropped == 0 {
		t.Fatal("no weight dropped: the test would not test the mask")
	}
	a, ta, ha := maskedModel(t, masks, false)
	b, tb, hb := maskedModel(t, masks, true)
	la, _, err := a.Step()
	if err != nil {
		t.Fatal(err)
	}
	lb, _, err := b.Step()
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(la-lb)) > 1e-6 {
		t.Fatalf("loss with masks %v, with zeroed weights %v", la, lb)
	}
	near := func(what string, x, y []float32) {
		t.Helper()
		for i := range x {
			if math.Abs(float64(x[i]-y[i])) > 1e-5 {
				t.Fatalf("%s[%d]: masked %v, zeroed %v", what, i, x[i], y[i])
			}
		}
	}
	for l := range ta.Layers {
		ga, gb := a.Grad(ta.Layers[l].W), b.Grad(tb.Layers[l].W)
		for i, v := range masks[l] {
			if v == 0 && ga[i] != 0 {
				t.Errorf("layer %d weight %d is masked but has gradient %v", l, i, ga[i])
			}
			if v == 1 && math.Abs(float64(ga[i]-gb[i])) > 1e-5 {
				t.Errorf("layer %d weight %d: gradient %v, with zeroed weights %v", l, i, ga[i], gb[i])
			}
		}
		near("bias grad", a.Grad(ta.Layers[l].B), b.Grad(tb.Layers[l].B))
	}
	near("head grad", a.Grad(ha.Layers[0].W), b.Grad(hb.Layers[0].W))
	x, _, _ := a.Inputs()
	oa, ob := make([]float32, 12), make([]float32, 12)
	if err := a.Forward(x, 6, oa); err != nil {
		t.Fatal(err)
	}
	if err := b.Forward(x, 6, ob); err != nil {
		t.Fatal(err)
	}
	near("evaluation output", oa, ob)
	// The mask is read at each run: opening every weight gives the unmasked layer's output.
	for _, mk := range masks {
		for i := range mk {
			mk[i] = 1
		}
	}
	c, _, _ := maskedModel(t, [][]float32{nil, nil}, false)
	oc := make([]float32, 12)
	if err := a.Forward(x, 6, oa); err != nil {
		t.Fatal(err)
	}
	if err := c.Forward(x, 6, oc); err != nil {
		t.Fatal(err)
	}
	near("all-open mask against no mask", oa, oc)
}

// TestMaskedDenseBadMask: a mask of the wrong size is refused when the graph is built.
func TestMaskedDenseBadMask(t *testing.T) {
	ps := NewParamSet()
	d := NewDense(ps, "d", "d", 3, 2, rand.New(rand.NewSource(1)))
	d.Mask = make([]float32, 5)
	_, err := NewModel(Config{Params: ps, InputDim: 3, Outputs: 2, Batch: 2, EvalBatch: 2,
		Forward: func(b *Binder, x *G.Node) (*G.Node, error) { return d.Apply(b, x) }})
	if err == nil {
		t.Fatal("a 5-value mask on a 3x2 weight was accepted")
	}
}
