package graphs

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
)

// runDistill builds d over a constant z [n, k] and returns the value and dD/dz.
func runDistill(t *testing.T, d *Distill, z []float32, n, k int) (float32, []float32) {
	t.Helper()
	b := newBinder("distill")
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

// TestDistillHandComputed checks value and gradient on one example, 3 units, T = 2. The previous
// model's logits z_old = [0, 0, 2 ln 2] soften to p_old = softmax(z_old/2) = [1/4, 1/4, 1/2];
// the current z = [2 ln 2, 0, 0] to softmax(z/2) = [1/2, 1/4, 1/4], so
//
//	D      = -sum p_old log softmax(z/2) = (1/4) ln 2 + (1/4) 2 ln 2 + (1/2) 2 ln 2 = 1.75 ln 2
//	dD/dz  = (softmax(z/2) - p_old) / 2 = [1/8, 0, -1/8].
func TestDistillHandComputed(t *testing.T) {
	ln2 := float32(math.Ln2)
	d := NewDistill(2, 1, 1, 3)
	SoftTargets(d.Targets[0].Float32s(), []float32{0, 0, 2 * ln2}, d.Masks[0].Float32s(), 2, 1)
	for j, want := range []float64{0.25, 0.25, 0.5} {
		if got := d.Targets[0].Float32s()[j]; math.Abs(float64(got)-want) > 1e-7 {
			t.Errorf("p_old[%d] = %v, want %v", j, got, want)
		}
	}
	v, g := runDistill(t, d, []float32{2 * ln2, 0, 0}, 1, 3)
	if want := 1.75 * math.Ln2; math.Abs(float64(v)-want) > 1e-6 {
		t.Errorf("D = %v, want 1.75 ln 2 = %v", v, want)
	}
	for j, want := range []float64{0.125, 0, -0.125} {
		if math.Abs(float64(g[j])-want) > 1e-7 {
			t.Errorf("dD/dz[%d] = %v, want %v", j, g[j], want)
		}
	}
}

// TestDistillTermsFiniteDifferences checks two terms with masks (two heads of 2 units side by
// side), weighted rows and a row without targets, against central differences of the formula
// computed in float64.
func TestDistillTermsFiniteDifferences(t *testing.T) {
	const n, k, T = 3, 4, 1.5
	rng := rand.New(rand.NewSource(1))
	z := make([]float32, n*k)
	for i := range z {
		z[i] = float32(rng.NormFloat64())
	}
	d := NewDistill(T, 2, n, k)
	for term, cols := range [][2]int{{0, 2}, {2, 4}} {
		m := d.Masks[term].Float32s()
		for i := range n {
			for j := range k {
				if j < cols[0] || j >= cols[1] {
					m[i*k+j] = MaskOff
				}
			}
			if term == 1 && i == 2 {
				continue // row 2 has no target in term 1
			}
			old := make([]float32, k)
			for j := range old {
				old[j] = float32(rng.NormFloat64())
			}
			SoftTargets(d.Targets[term].Float32s()[i*k:(i+1)*k], old, m[i*k:(i+1)*k], T, float32(i+1)/n)
		}
	}
	value := func(z []float64) float64 {
		var D float64
		for term := range d.Targets {
			q, m := d.Targets[term].Float32s(), d.Masks[term].Float32s()
			for i := range n {
				var sum float64
				for j := range k {
					sum += math.Exp(z[i*k+j]/T + float64(m[i*k+j]))
				}
				for j := range k {
					if q[i*k+j] != 0 {
						D -= float64(q[i*k+j]) * (z[i*k+j]/T + float64(m[i*k+j]) - math.Log(sum))
					}
				}
			}
		}
		return D
	}
	v, g := runDistill(t, d, z, n, k)
	z64 := make([]float64, len(z))
	for i, x := range z {
		z64[i] = float64(x)
	}
	if want := value(z64); math.Abs(float64(v)-want) > 1e-5*math.Abs(want) {
		t.Errorf("D = %v, want %v", v, want)
	}
	const h = 1e-4
	for i := range z64 {
		z64[i] += h
		up := value(z64)
		z64[i] -= 2 * h
		down := value(z64)
		z64[i] += h
		if want := (up - down) / (2 * h); math.Abs(float64(g[i])-want) > 1e-5 {
			t.Errorf("dD/dz[%d] = %v, central difference %v", i, g[i], want)
		}
	}
	for j := 2; j < k; j++ {
		if g[2*k+j] != 0 {
			t.Errorf("row 2 has no target in term 1, yet dD/dz[2][%d] = %v", j, g[2*k+j])
		}
	}
}

// TestDistillPenaltyOverModelLogits checks that Distill.Penalty finds a Model's logits: the step's
// penalty is D at the logits the evaluation graph computes, and the gradient of a weight is the
// central difference of loss + penalty.
func TestDistillPenaltyOverModelLogits(t *testing.T) {
	const n, in, k, T = 4, 3, 3, 2
	rng := rand.New(rand.NewSource(2))
	ps := NewParamSet()
	head := NewHeads(ps, "head", in, []int{k}, rng)
	d := NewDistill(T, 1, n, k)
	m, err := NewModel(Config{Params: ps, InputDim: in, Outputs: k, Batch: n, EvalBatch: n, Penalty: d.Penalty(),
		Forward: func(bd *Binder, x *G.Node) (*G.Node, error) { return head.Apply(bd, x) }})
	if err != nil {
		t.Fatal(err)
	}
	x, w, _ := m.Inputs()
	for i := range x {
		x[i] = float32(rng.Float64())
	}
	q := d.Targets[0].Float32s()
	for i := range n {
		w[i*k+i%k] = 1.0 / n
		SoftTargets(q[i*k:(i+1)*k], []float32{float32(i), 1, -1}, d.Masks[0].Float32s()[i*k:], T, 0.5/n)
	}
	loss, pen, err := m.Step()
	if err != nil {
		t.Fatal(err)
	}
	z := make([]float32, n*k)
	if err := m.Forward(x, n, z); err != nil {
		t.Fatal(err)
	}
	var want float64
	for i := range n {
		var sum float64
		for j := range k {
			sum += math.Exp(float64(z[i*k+j]) / T)
		}
		for j := range k {
			want -= float64(q[i*k+j]) * (float64(z[i*k+j])/T - math.Log(sum))
		}
	}
	if pen == 0 || math.Abs(float64(pen)-want) > 1e-5 {
		t.Fatalf("penalty %v, want D at the model's logits %v", pen, want)
	}
	wp := head.Layers[0].W
	g := append([]float32(nil), m.Grad(wp)...)
	const h = 1e-2
	for _, idx := range []int{0, 4, 8} {
		v := wp.Data()[idx]
		wp.Data()[idx] = v + h
		l1, p1, _ := m.Step()
		wp.Data()[idx] = v - h
		l2, p2, _ := m.Step()
		wp.Data()[idx] = v
		fd := (float64(l1+p1) - float64(l2+p2)) / (2 * h)
		if math.Abs(float64(g[idx])-fd) > 1e-3 {
			t.Errorf("d(loss+D)/dW[%d] = %v, central difference %v (loss %v)", idx, g[idx], fd, loss)
		}
	}
}
