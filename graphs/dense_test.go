package graphs

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
)

// denseModel builds a 5-4 trunk and two heads (3 and 2 units) as one fused op, over 6 rows.
func denseModel(t *testing.T, freezeTrunk bool) (*Model, *ParamSet, MLP) {
	t.Helper()
	rng := rand.New(rand.NewSource(2))
	ps := NewParamSet()
	trunk := NewMLP(ps, "trunk", "trunk", 5, []int{4}, rng)
	for _, p := range ps.Filter(func(p *Param) bool { return p.Group == "trunk" }) {
		p.Frozen = freezeTrunk
	}
	return testModel(t, ps, trunk.Apply, rng, 5, 6, 4, 5, rng.Float64), ps, trunk
}

// testModel completes the gradient tests' models: trunk (4 features out) then two heads of 3 and
// 2 outputs drawn from rng, rows training rows of inputs from draw, row i weighted 1/rows on
// output i%classes, and the last output masked off in odd rows.
func testModel(t *testing.T, ps *ParamSet, trunk func(*Binder, *G.Node) (*G.Node, error), rng *rand.Rand, inputDim, rows, evalBatch, classes int, draw func() float64) *Model {
	t.Helper()
	heads := NewHeads(ps, "head", 4, []int{3, 2}, rng)
	m, err := NewModel(Config{Params: ps, InputDim: inputDim, Outputs: 5, Batch: rows, EvalBatch: evalBatch,
		Forward: func(b *Binder, x *G.Node) (*G.Node, error) {
			h, err := trunk(b, x)
			if err != nil {
				return nil, err
			}
			return heads.Apply(b, h)
		}})
	if err != nil {
		t.Fatal(err)
	}
	x, w, mask := m.Inputs()
	for i := range x {
		x[i] = float32(draw())
	}
	for i := 0; i < rows; i++ {
		w[i*5+i%classes] = 1.0 / float32(rows)
		if i%2 == 1 {
			mask[i*5+4] = MaskOff
		}
	}
	return m
}

// fdLoss recomputes the training loss of m's current inputs through the evaluation graph.
func fdLoss(t *testing.T, m *Model, rows, k int) float64 {
	x, w, mask := m.Inputs()
	out := make([]float32, rows*k)
	if err := m.Forward(x, rows, out); err != nil {
		t.Fatal(err)
	}
	var loss float64
	for i := 0; i < rows; i++ {
		mx := math.Inf(-1)
		for j := 0; j < k; j++ {
			mx = math.Max(mx, float64(out[i*k+j]+mask[i*k+j]))
		}
		var s float64
		for j := 0; j < k; j++ {
			s += math.Exp(float64(out[i*k+j]+mask[i*k+j]) - mx)
		}
		for j := 0; j < k; j++ {
			if w[i*k+j] != 0 {
				loss -= float64(w[i*k+j]) * (float64(out[i*k+j]+mask[i*k+j]) - mx - math.Log(s))
			}
		}
	}
	return loss
}

func countOps(g *G.ExprGraph, prefix string) int {
	n := 0
	for _, nd := range g.AllNodes() {
		if nd.Op() != nil && strings.HasPrefix(nd.Op().String(), prefix) {
			n++
		}
	}
	return n
}

// TestLinearGradients checks the fused dense op's gradients (weights, biases, and the input
// gradient summed over two heads) against finite differences of the evaluation graph's loss.
func TestLinearGradients(t *testing.T) {
	m, ps, _ := denseModel(t, false)
	loss, _, err := m.Step()
	if err != nil {
		t.Fatal(err)
	}
	if ref := fdLoss(t, m, 6, 5); math.Abs(float64(loss)-ref) > 1e-5 {
		t.Fatalf("training loss %v, evaluation graph gives %v", loss, ref)
	}
	if off, n := checkGradients(t, m, ps, 6, 5); off > 0 {
		t.Errorf("%d of %d gradients differ from finite differences", off, n)
	}
	g := m.TrainGraph()
	// The data needs no gradient: one input gradient, the heads', which feeds the trunk.
	if n := countOps(g, "DenseGradX"); n != 1 {
		t.Errorf("%d input-gradient ops, want 1 (none for the data)", n)
	}
	if n := countOps(g, "Concat"); n != 0 {
		t.Errorf("%d Concat ops: heads should be one fused op", n)
	}
	if n := countOps(g, "DenseGradW"); n != 3 {
		t.Errorf("%d weight-gradient ops, want 3", n)
	}
}

// TestLinearFrozenBuildsNoGradient checks that frozen layers get no gradient ops and that the
// heads then build no input gradient either (nothing trainable feeds them).
func TestLinearFrozenBuildsNoGradient(t *testing.T) {
	m, _, trunk := denseModel(t, true)
	if _, _, err := m.Step(); err != nil {
		t.Fatal(err)
	}
	if m.Grad(trunk.Layers[0].W) != nil || m.Grad(trunk.Layers[0].B) != nil {
		t.Fatal("frozen trunk has gradients")
	}
	g := m.TrainGraph()
	if n := countOps(g, "DenseGradX"); n != 0 {
		t.Errorf("%d input-gradient ops, want 0", n)
	}
	if n := countOps(g, "DenseGradW"); n != 2 {
		t.Errorf("%d weight-gradient ops, want the 2 heads'", n)
	}
}

// TestStepAllocatesNoTensor checks that steps and evaluations after the first allocate no
// tensor: every op of both graphs returns the same value (its own buffer) run after run, and
// Adam keeps its moments.
func TestStepAllocatesNoTensor(t *testing.T) {
	m, ps, _ := denseModel(t, false)
	checkSameValues(t, m, ps, 6)
}

// checkSameValues runs four steps (with Adam updates) and evaluations of rows rows on m and
// checks that every op of both graphs returns the same value (its own buffer) after the first.
func checkSameValues(t *testing.T, m *Model, ps *ParamSet, rows int) {
	t.Helper()
	opt := NewAdam(1e-3)
	x, _, _ := m.Inputs()
	out := make([]float32, rows*m.Outputs())
	values := func() map[*G.Node]G.Value {
		if _, _, err := m.Step(); err != nil {
			t.Fatal(err)
		}
		opt.Update(ps.All(), m.Grad)
		if err := m.Forward(x, rows, out); err != nil {
			t.Fatal(err)
		}
		v := map[*G.Node]G.Value{}
		for _, g := range []*G.ExprGraph{m.TrainGraph(), m.evalBD.Graph()} {
			for _, n := range g.AllNodes() {
				if n.Op() != nil && n.Value() != nil {
					v[n] = n.Value()
				}
			}
		}
		return v
	}
	first := values()
	if len(first) < 10 {
		t.Fatalf("only %d computed values", len(first))
	}
	for i := 0; i < 3; i++ {
		for n, v := range values() {
			if v != first[n] {
				t.Errorf("run %d: %v (%v) returned a new value", i+2, n, n.Op())
			}
		}
	}
}

func TestReLUBranchless(t *testing.T) {
	x := []float32{-2, -0.5, 0, float32(math.Copysign(0, -1)), 1e-30, 0.5, 3, float32(math.Inf(1)), float32(math.Inf(-1)), -1e-40, 1e-40}
	out := make([]float32, len(x))
	relu(out, x)
	g := make([]float32, len(x))
	for i := range g {
		g[i] = float32(i + 1)
	}
	dg := make([]float32, len(x))
	reluGrad(dg, out, g)
	for i, v := range x {
		want, wantG := float32(0), float32(0)
		if v > 0 {
			want, wantG = v, g[i]
		}
		if out[i] != want || math.Signbit(float64(out[i])) || dg[i] != wantG {
			t.Errorf("relu(%v) = %v, grad %v; want %v, %v", v, out[i], dg[i], want, wantG)
		}
	}
}

// checkGradients compares every parameter's gradient from the last Step of m with central
// finite differences of the loss (rows rows, k outputs), logging each that differs by more than
// 2e-3; it returns how many differ and how many were checked.
func checkGradients(t *testing.T, m *Model, ps *ParamSet, rows, k int) (off, checked int) {
	t.Helper()
	for _, p := range ps.All() {
		g := append([]float32(nil), m.Grad(p)...)
		if len(g) != p.Size() {
			t.Fatalf("%s: gradient of %d values, want %d", p.Name, len(g), p.Size())
		}
		d := p.Data()
		for i := range d {
			const h = 1e-3
			old := d[i]
			d[i] = old + h
			lp := fdLoss(t, m, rows, k)
			d[i] = old - h
			lm := fdLoss(t, m, rows, k)
			d[i] = old
			checked++
			if fd := (lp - lm) / (2 * h); math.Abs(fd-float64(g[i])) > 2e-3 {
				off++
				t.Logf("%s[%d]: gradient %v, finite difference %v", p.Name, i, g[i], fd)
			}
		}
	}
	return off, checked
}
