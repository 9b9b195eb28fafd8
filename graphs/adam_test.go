package graphs

import (
	"math"
	"math/rand"
	"testing"
)

// TestAdamKernelMatchesReference checks that the update Adam applies (AVX on amd64 where
// available) gives the reference loop's results bit for bit, for lengths around the vector width.
func TestAdamKernelMatchesReference(t *testing.T) {
	t.Logf("AVX kernel: %v", haveAVX)
	r := rand.New(rand.NewSource(1))
	k := adamConsts{b1: 0.9, c1: 1 - float32(0.9), b2: 0.999, c2: 1 - float32(0.999), step: 1e-3 / 0.1, sq: float32(math.Sqrt(0.001)), eps: 1e-8, tinyM: flushMinM, tinyV: minNormal32}
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 1000, 4003} {
		w, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range w {
			w[i], g[i], m[i], v[i] = float32(r.NormFloat64()), float32(r.NormFloat64()*1e-2), float32(r.NormFloat64()*1e-3), float32(r.Float64()*1e-4)
		}
		if n > 3 {
			g[3] = 0
		}
		// Moments at and around the flush thresholds, subnormal and signed zeros, with zero
		// gradients so that the flush decides them.
		edge := []float32{flushMinM, -flushMinM, flushMinM * 1.2, -flushMinM * 1.2, flushMinM / 0.9, minNormal32, minNormal32 * 0.5, float32(math.Copysign(0, -1)), 1e-40, -1e-40}
		for j, x := range edge {
			if i := 5 + j; i < n {
				g[i], m[i], v[i] = 0, x, float32(math.Abs(float64(x)))
			}
		}
		w2, m2, v2 := append([]float32(nil), w...), append([]float32(nil), m...), append([]float32(nil), v...)
		for step := 0; step < 3; step++ {
			adamKernel(w, g, m, v, &k)
			adamGo(w2, g, m2, v2, &k)
		}
		for i := range w {
			if math.Float32bits(w[i]) != math.Float32bits(w2[i]) || math.Float32bits(m[i]) != math.Float32bits(m2[i]) || math.Float32bits(v[i]) != math.Float32bits(v2[i]) {
				t.Fatalf("n=%d, i=%d: kernel (w %v, m %v, v %v), reference (w %v, m %v, v %v)", n, i, w[i], m[i], v[i], w2[i], m2[i], v2[i])
			}
		}
	}
}

func BenchmarkAdamKernel(b *testing.B) {
	const n = 784*400 + 400*400 + 400*10 + 810
	w, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range g {
		g[i], v[i] = 1e-3, 1e-6
	}
	k := adamConsts{b1: 0.9, c1: 0.1, b2: 0.999, c2: 0.001, step: 1e-3, sq: 0.1, eps: 1e-8}
	b.Run("kernel", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			adamKernel(w, g, m, v, &k)
		}
	})
	b.Run("go", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			adamGo(w, g, m, v, &k)
		}
	})
}

// TestSGD: with SGD set an update is w -= lr · LRScale · g exactly, keeps no moments and
// allocates nothing.
func TestSGD(t *testing.T) {
	ps := NewParamSet()
	p := ps.Add("w", "g", 1, 3)
	copy(p.Data(), []float32{1, 2, 3})
	q := ps.Add("v", "g", 1, 2)
	copy(q.Data(), []float32{1, 1})
	q.LRScale = 0.5
	g := map[*Param][]float32{p: {0.5, -1, 2}, q: {2, 4}}
	a := NewAdam(0.1)
	a.SGD = true
	a.Update(ps.All(), func(x *Param) []float32 { return g[x] })
	want := map[*Param][]float32{p: {0.95, 2.1, 2.8}, q: {0.9, 0.8}}
	for x, w := range want {
		for i, v := range x.Data() {
			if d := v - w[i]; d > 1e-6 || d < -1e-6 {
				t.Errorf("%s[%d] = %v, want %v", x.Name, i, v, w[i])
			}
		}
	}
	if len(a.M) != 0 || len(a.V) != 0 || a.Steps["w"] != 1 {
		t.Errorf("SGD kept moments %d/%d, steps %v", len(a.M), len(a.V), a.Steps)
	}
	if n := testing.AllocsPerRun(10, func() { a.Update(ps.All(), func(x *Param) []float32 { return g[x] }) }); n != 0 {
		t.Errorf("an SGD update allocates %v times", n)
	}
}

// TestAdagrad: with Adagrad set V sums the squared gradients and w -= lr · LRScale · g /
// (sqrt(V) + eps), two steps by hand.
func TestAdagrad(t *testing.T) {
	ps := NewParamSet()
	p := ps.Add("w", "g", 1, 2)
	copy(p.Data(), []float32{1, 2})
	p.LRScale = 0.5
	a := NewAdam(0.1)
	a.Adagrad, a.Eps = true, 1e-10
	grads := [][]float32{{3, -4}, {4, 3}}
	for _, g := range grads {
		a.Update(ps.All(), func(*Param) []float32 { return g })
	}
	// Step 1: V = (9, 16), w -= 0.05·(3/3, -4/4) → (0.95, 2.05). Step 2: V = (25, 25),
	// w -= 0.05·(4/5, 3/5) → (0.91, 2.02).
	want := []float32{0.91, 2.02}
	for i, v := range p.Data() {
		if d := v - want[i]; d > 1e-6 || d < -1e-6 {
			t.Errorf("w[%d] = %v, want %v", i, v, want[i])
		}
	}
	if v := a.V["w"]; v[0] != 25 || v[1] != 25 || a.M["w"][0] != 0 || a.Steps["w"] != 2 {
		t.Errorf("state V %v, M %v, steps %d", v, a.M["w"], a.Steps["w"])
	}
}

// TestAdamSubnormalFlush follows moments whose gradient has become zero: they decay to exactly
// zero, and neither they nor step·m ever pass through subnormal numbers (slow on x86), in the
// kernel and the reference alike.
func TestAdamSubnormalFlush(t *testing.T) {
	const n = 24
	k := adamConsts{b1: 0.9, c1: 0.1, b2: 0.999, c2: 0.001, step: 1e-3, sq: 1, eps: 1e-8, tinyM: flushMinM, tinyV: minNormal32}
	w, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range m {
		w[i], m[i], v[i] = 0.5, float32(i+1)*1e-3*float32(1-2*(i%2)), float32(i+1)*1e-6
	}
	w2, m2, v2 := append([]float32(nil), w...), append([]float32(nil), m...), append([]float32(nil), v...)
	subnormal := func(x float32) bool { return x != 0 && math.Abs(float64(x)) < minNormal32 }
	steps := 0
	for ; steps < 200000; steps++ {
		adamKernel(w, g, m, v, &k)
		adamGo(w2, g, m2, v2, &k)
		zero := true
		for i := range m {
			if subnormal(m[i]) || subnormal(v[i]) || subnormal(k.step*m[i]) {
				t.Fatalf("step %d: value %d has m %g, v %g, step·m %g: subnormal", steps, i, m[i], v[i], k.step*m[i])
			}
			if m[i] != m2[i] || v[i] != v2[i] || w[i] != w2[i] {
				t.Fatalf("step %d: value %d differs between the kernel and the reference", steps, i)
			}
			zero = zero && m[i] == 0 && v[i] == 0
		}
		if zero {
			break
		}
	}
	if steps == 200000 {
		t.Fatal("the moments never reached zero")
	}
	t.Logf("every moment exactly zero after %d steps", steps+1)
}
