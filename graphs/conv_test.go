package graphs

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
)

// refConv computes relu(conv(x)+b) pooled 2×2 the slow way: for every output value, its sum over
// the kernel window with zero padding, then the max of four.
func refConv(c Conv, x, w, b []float32, n int) []float32 {
	in, k, f := c.In, c.Kernel, c.Out.Channels
	pad := k / 2
	full := func(s, y, xx, o int) float32 {
		v := b[o]
		for ky := 0; ky < k; ky++ {
			for kx := 0; kx < k; kx++ {
				iy, ix := y+ky-pad, xx+kx-pad
				if iy < 0 || iy >= in.Height || ix < 0 || ix >= in.Width {
					continue
				}
				for ch := 0; ch < in.Channels; ch++ {
					v += x[s*in.Size()+(iy*in.Width+ix)*in.Channels+ch] * w[((ky*k+kx)*in.Channels+ch)*f+o]
				}
			}
		}
		return max(v, 0)
	}
	out := make([]float32, n*c.Out.Size())
	for s := 0; s < n; s++ {
		for py := 0; py < c.Out.Height; py++ {
			for px := 0; px < c.Out.Width; px++ {
				for o := 0; o < f; o++ {
					m := max(full(s, 2*py, 2*px, o), full(s, 2*py, 2*px+1, o), full(s, 2*py+1, 2*px, o), full(s, 2*py+1, 2*px+1, o))
					out[s*c.Out.Size()+(py*c.Out.Width+px)*f+o] = m
				}
			}
		}
	}
	return out
}

// TestConvMatchesHandComputed checks the fused conv op against hand-computed values on a 4×4
// image with a 3×3 kernel, then against the slow reference on random images across chunks.
func TestConvMatchesHandComputed(t *testing.T) {
	ps := NewParamSet()
	c, err := NewConv(ps, "c", "trunk", Image{4, 4, 1}, 3, 1, rand.New(rand.NewSource(1)))
	if err != nil {
		t.Fatal(err)
	}
	// A kernel that sums the window's top-left 2×2 and a bias of -1: pixel values 1..16.
	w := c.W.Data()
	clear(w)
	w[0], w[1], w[3], w[4] = 1, 1, 1, 1
	c.B.Data()[0] = -1
	x := make([]float32, 16)
	for i := range x {
		x[i] = float32(i + 1)
	}
	got := runConv(t, c, x, 1)
	// Output pixel (y, x) sums input pixels (y-1..y, x-1..x) that exist. The pool's winners are
	// pixels (1,1), (1,3), (3,1), (3,3): 1+2+5+6, 3+4+7+8, 9+10+13+14, 11+12+15+16, minus 1.
	want := []float32{13, 21, 45, 53}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("pooled output %v, want %v", got, want)
		}
	}
	// Random, 5×5 kernels, 11 images (two chunks): two channels in and three out, and one
	// channel in (the im2col's single-channel path) and four out.
	rng := rand.New(rand.NewSource(3))
	for _, tc := range []struct {
		in Image
		f  int
	}{{Image{6, 8, 2}, 3}, {Image{8, 8, 1}, 4}} {
		ps = NewParamSet()
		c, err = NewConv(ps, "c", "trunk", tc.in, 5, tc.f, rng)
		if err != nil {
			t.Fatal(err)
		}
		x = make([]float32, 11*c.In.Size())
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		got = runConv(t, c, x, 11)
		ref := refConv(c, x, c.W.Data(), c.B.Data(), 11)
		for i := range ref {
			if math.Abs(float64(got[i]-ref[i])) > 1e-5 {
				t.Fatalf("%v: value %d: %v, reference %v", tc.in, i, got[i], ref[i])
			}
		}
	}
}

func runConv(t *testing.T, c Conv, x []float32, n int) []float32 {
	t.Helper()
	b := newBinder("eval")
	xt := f32mat(n, c.In.Size())
	copy(xt.Float32s(), x)
	y, err := ApplyConv(b, b.Const("x", xt), c)
	if err != nil {
		t.Fatal(err)
	}
	var v G.Value
	G.Read(y, &v)
	vm := G.NewTapeMachine(b.g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	d, _, err := f32s(v)
	if err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), d...)
}

// convModel is a two-conv trunk (4×4×2 → 2×2×3 → 1×1×2), a dense layer and two heads, over 10
// rows (two chunks).
func convModel(t *testing.T, freezeConv bool) (*Model, *ParamSet, Trunk) {
	t.Helper()
	rng := rand.New(rand.NewSource(5))
	ps := NewParamSet()
	trunk, err := NewConvTrunk(ps, "trunk", "trunk", Image{4, 4, 2}, 3, []int{3, 2}, []int{4}, rng)
	if err != nil {
		t.Fatal(err)
	}
	if freezeConv {
		for _, c := range trunk.Convs {
			c.W.Frozen, c.B.Frozen = true, true
		}
	}
	return testModel(t, ps, trunk.Apply, rng, 32, 10, 7, 4, rng.NormFloat64), ps, trunk
}

// TestConvGradients checks every parameter's gradient, conv layers included (the second conv's
// input gradient feeds the first's), against central finite differences of the loss.
func TestConvGradients(t *testing.T) {
	// Both weight-gradient paths: the small test layers keep their patches; with keepLimit 0
	// they build them again a chunk at a time (10 rows: a partial last chunk), as conv layers
	// over many channels do.
	for _, limit := range []int{keepLimit, 0} {
		saved := keepLimit
		keepLimit = limit
		convGradients(t)
		keepLimit = saved
	}
}

func convGradients(t *testing.T) {
	m, ps, _ := convModel(t, false)
	loss, _, err := m.Step()
	if err != nil {
		t.Fatal(err)
	}
	if ref := fdLoss(t, m, 10, 5); math.Abs(float64(loss)-ref) > 1e-5 {
		t.Fatalf("training loss %v, evaluation graph gives %v", loss, ref)
	}
	// A step across a ReLU or pool kink breaks a finite difference; allow a rare one.
	off, checked := checkGradients(t, m, ps, 10, 5)
	if off > checked/100 {
		t.Errorf("%d of %d gradients differ from finite differences", off, checked)
	}
	gr := m.TrainGraph()
	if n := countOps(gr, "ConvGradX"); n != 1 {
		t.Errorf("%d conv input-gradient ops, want 1 (the second conv's; none for the data)", n)
	}
}

// TestConvFrozenAndNoAllocation checks that frozen conv layers build no gradient op, and that
// steps and evaluations after the first return the same buffers (no tensor allocated).
func TestConvFrozenAndNoAllocation(t *testing.T) {
	m, _, trunk := convModel(t, true)
	if n := countOps(m.TrainGraph(), "Conv"+"Grad"); n != 0 {
		t.Errorf("%d conv gradient ops with frozen convs, want 0", n)
	}
	if _, _, err := m.Step(); err != nil {
		t.Fatal(err)
	}
	if m.Grad(trunk.Convs[0].W) != nil {
		t.Error("a frozen conv weight has a gradient")
	}
	m, ps, _ := convModel(t, false)
	checkSameValues(t, m, ps, 10)
}

// TestAddTo checks the vector add against the plain loop at every length around the 8-wide blocks.
func TestAddTo(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	for n := 0; n < 40; n++ {
		a, b := make([]float32, n+3), make([]float32, n)
		for i := range a {
			a[i] = float32(rng.NormFloat64())
		}
		for i := range b {
			b[i] = float32(rng.NormFloat64())
		}
		want := append([]float32(nil), a...)
		for i := range b {
			want[i] += b[i]
		}
		addTo(a, b)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(want[i]) {
				t.Fatalf("n=%d: value %d is %v, want %v", n, i, a[i], want[i])
			}
		}
	}
}

// TestPoolMax checks the vector max-pool step against the plain loop at every length around the
// 8-wide blocks, with ties, NaNs and infinities.
func TestPoolMax(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	special := []float32{0, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), -0.0}
	draw := func() float32 {
		if rng.Intn(4) == 0 {
			return special[rng.Intn(len(special))]
		}
		return float32(rng.Intn(5) - 2) // many ties
	}
	for n := 0; n < 40; n++ {
		best, row, arg := make([]float32, n), make([]float32, n), make([]int32, n)
		for i := range best {
			best[i], row[i], arg[i] = draw(), draw(), int32(rng.Intn(9))
		}
		wb, wa := append([]float32(nil), best...), append([]int32(nil), arg...)
		for i := range row {
			if row[i] > wb[i] {
				wb[i], wa[i] = row[i], 77
			}
		}
		poolMax(best, arg, row, 77)
		for i := range best {
			if math.Float32bits(best[i]) != math.Float32bits(wb[i]) || arg[i] != wa[i] {
				t.Fatalf("n=%d, value %d: best %v arg %d, want %v and %d", n, i, best[i], arg[i], wb[i], wa[i])
			}
		}
	}
}

// TestConvMask checks that a conv layer with a weight mask computes what the layer with the masked
// weights computes, and that its weight gradient is masked.
func TestConvMask(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	ps := NewParamSet()
	c, err := NewConv(ps, "c", "trunk", Image{4, 4, 2}, 3, 3, rng)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 5*c.In.Size())
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	mask := make([]float32, c.W.Size())
	for i := range mask {
		mask[i] = float32(rng.Intn(2))
	}
	mc := c
	mc.Mask = mask
	got := runConv(t, mc, x, 5)
	w := c.W.Data()
	orig := append([]float32(nil), w...)
	for i := range w {
		w[i] *= mask[i]
	}
	want := runConv(t, c, x, 5)
	copy(w, orig)
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("value %d: %v with the mask, %v with masked weights", i, got[i], want[i])
		}
	}
	heads := NewHeads(ps, "head", c.Out.Size(), []int{2}, rng)
	m, err := NewModel(Config{Params: ps, InputDim: c.In.Size(), Outputs: 2, Batch: 5,
		Forward: func(b *Binder, x *G.Node) (*G.Node, error) {
			h, err := ApplyConv(b, x, mc)
			if err != nil {
				return nil, err
			}
			return heads.Apply(b, h)
		}})
	if err != nil {
		t.Fatal(err)
	}
	in, tw, _ := m.Inputs()
	copy(in, x)
	for i := 0; i < 5; i++ {
		tw[i*2+i%2] = 0.2
	}
	if _, _, err := m.Step(); err != nil {
		t.Fatal(err)
	}
	nonzero := 0
	for i, g := range m.Grad(c.W) {
		if mask[i] == 0 && g != 0 {
			t.Fatalf("masked weight %d has gradient %v", i, g)
		}
		if g != 0 {
			nonzero++
		}
	}
	if nonzero == 0 {
		t.Fatal("no weight gradient at all")
	}
}
