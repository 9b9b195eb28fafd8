package loop

import (
	"math"
	"math/rand"
	"testing"

	"github.com/clgraph/clgraph/graphs"
)

// TestReinitTNormal checks the tnormal initialisation: every weight ("/W", "/U<k>") within two
// standard deviations of 0.1 and with the truncated normal's spread (std 0.1 × 0.880), every bias
// ("/b") 0.1, other parameters (an adapter's "/alpha") untouched, and the same draws for the
// same source.
func TestReinitTNormal(t *testing.T) {
	build := func() *graphs.ParamSet {
		ps := graphs.NewParamSet()
		rng := rand.New(rand.NewSource(1))
		graphs.NewMLP(ps, "trunk", "trunk", 200, []int{100}, rng)
		u := ps.Add("col1/l1/U0", "col", 100, 50)
		graphs.InitUniform(u, 1, rng)
		a := ps.Add("col1/l1/alpha", "col", 1, 1)
		a.Data()[0] = 0.5
		return ps
	}
	ps := build()
	if n := reinitTNormal(ps, rand.New(rand.NewSource(7))); n != 3 {
		t.Fatalf("%d tensors set, want 3 (W, b, U0)", n)
	}
	for _, name := range []string{"trunk/l0/W", "col1/l1/U0"} {
		var ss float64
		d := ps.Get(name).Data()
		for _, v := range d {
			if math.Abs(float64(v)) > 0.2 {
				t.Fatalf("%s has %v, beyond two standard deviations", name, v)
			}
			ss += float64(v) * float64(v)
		}
		if std := math.Sqrt(ss / float64(len(d))); math.Abs(std-0.0880) > 0.003 {
			t.Errorf("%s: std %.4f, want the truncated normal's 0.0880", name, std)
		}
	}
	for _, v := range ps.Get("trunk/l0/b").Data() {
		if v != 0.1 {
			t.Fatalf("bias %v, want 0.1", v)
		}
	}
	if a := ps.Get("col1/l1/alpha").Data()[0]; a != 0.5 {
		t.Errorf("alpha changed to %v", a)
	}
	again := build()
	reinitTNormal(again, rand.New(rand.NewSource(7)))
	if ps.Get("trunk/l0/W").Data()[123] != again.Get("trunk/l0/W").Data()[123] {
		t.Error("the same source drew other weights")
	}
}
