package graphs

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
)

// TestModuleSum: three modules side by side then ModuleSum compute, without a nonlinearity,
// what one dense layer whose weight and bias are the modules' sums computes (Σ_m x W_m + b_m =
// x ΣW_m + Σb_m): the same loss, and every module's gradient equal to that layer's.
func TestModuleSum(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	ps := NewParamSet()
	var mods []Dense
	for m := range 3 {
		mods = append(mods, NewDense(ps, "m"+string(rune('0'+m)), "t", 5, 4, rng))
	}
	head := NewDense(ps, "head", "h", 4, 2, rng)
	ps2 := NewParamSet()
	one := NewDense(ps2, "one", "t", 5, 4, rng)
	head2 := NewDense(ps2, "head", "h", 4, 2, rng)
	copy(head2.W.Data(), head.W.Data())
	copy(head2.B.Data(), head.B.Data())
	for _, p := range []*Param{one.W, one.B} {
		clear(p.Data())
	}
	for _, m := range mods {
		for i, v := range m.W.Data() {
			one.W.Data()[i] += v
		}
		for i, v := range m.B.Data() {
			one.B.Data()[i] += v
		}
	}
	build := func(ps *ParamSet, fwd func(*Binder, *G.Node) (*G.Node, error)) *Model {
		m, err := NewModel(Config{Params: ps, InputDim: 5, Outputs: 2, Batch: 6, EvalBatch: 6, Forward: fwd})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a := build(ps, func(b *Binder, x *G.Node) (*G.Node, error) {
		z, err := Linear(b, x, mods...)
		if err != nil {
			return nil, err
		}
		if z, err = ModuleSum(z, 3); err != nil {
			return nil, err
		}
		return head.Apply(b, z)
	})
	c := build(ps2, func(b *Binder, x *G.Node) (*G.Node, error) {
		z, err := one.Apply(b, x)
		if err != nil {
			return nil, err
		}
		return head2.Apply(b, z)
	})
	for _, m := range []*Model{a, c} {
		x, w, _ := m.Inputs()
		r := rand.New(rand.NewSource(8))
		for i := range x {
			x[i] = float32(r.Float64()*2 - 1)
		}
		for i := range 6 {
			w[i*2+i%2] = 1.0 / 6
		}
	}
	la, _, err := a.Step()
	if err != nil {
		t.Fatal(err)
	}
	lc, _, err := c.Step()
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(la-lc)) > 1e-5 {
		t.Fatalf("loss through the modules %v, through the summed layer %v", la, lc)
	}
	for _, m := range mods {
		for _, pair := range [][2]*Param{{m.W, one.W}, {m.B, one.B}} {
			ga, gc := a.Grad(pair[0]), c.Grad(pair[1])
			for i := range ga {
				if math.Abs(float64(ga[i]-gc[i])) > 1e-5 {
					t.Fatalf("%s[%d]: gradient %v, the summed layer's %v", pair[0].Name, i, ga[i], gc[i])
				}
			}
		}
	}
	if _, err := ModuleSum(G.NewMatrix(G.NewGraph(), G.Float32, G.WithShape(2, 7)), 3); err == nil {
		t.Error("7 columns accepted as 3 modules")
	}
}

// TestGatedSum checks y = Σ_m g[:, m] z_m and each module's gradient g[:, m] · dy on two rows of
// three modules.
func TestGatedSum(t *testing.T) {
	b := newBinder("train")
	z := make([]*G.Node, 3)
	vals := [][]float32{{1, 2, 3, 4}, {10, 20, 30, 40}, {100, 200, 300, 400}}
	for m := range z {
		v := f32mat(2, 2)
		copy(v.Float32s(), vals[m])
		z[m] = G.NewTensor(b.g, G.Float32, 2, G.WithShape(2, 2), G.WithName(fmt.Sprintf("z%d", m)), G.WithValue(v))
	}
	gt := f32mat(2, 3)
	copy(gt.Float32s(), []float32{1, 0, 1, 0, 1, 0}) // row 0: modules 0 and 2; row 1: module 1
	y, err := GatedSum(z, b.Const("g", gt))
	if err != nil {
		t.Fatal(err)
	}
	c := f32mat(2, 2)
	copy(c.Float32s(), []float32{1, 2, 3, 4})
	cy, err := G.HadamardProd(y, b.Const("c", c))
	if err != nil {
		t.Fatal(err)
	}
	cost, err := G.Sum(cy)
	if err != nil {
		t.Fatal(err)
	}
	gs, err := G.Grad(cost, z...)
	if err != nil {
		t.Fatal(err)
	}
	var yv G.Value
	G.Read(y, &yv)
	vm := G.NewTapeMachine(b.g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if got, want := yv.Data().([]float32), []float32{101, 202, 30, 40}; !slices.Equal(got, want) {
		t.Errorf("y = %v, want %v", got, want)
	}
	for m, want := range [][]float32{{1, 2, 0, 0}, {0, 0, 3, 4}, {1, 2, 0, 0}} {
		if got := gs[m].Value().Data().([]float32); !slices.Equal(got, want) {
			t.Errorf("dz%d = %v, want %v", m, got, want)
		}
	}
	if _, err := GatedSum(z, b.Const("bad", f32mat(2, 2))); err == nil {
		t.Error("gates of 2 modules accepted for 3")
	}
}
