package graphs

import (
	"context"
	"math"
	"math/rand"
	"testing"

	"github.com/clgraph/clgraph/datasets/mnist"
	G "gorgonia.org/gorgonia"
)

// TestReparamAndKLHandComputed checks both ops and their gradients on two rows against values
// worked out by hand: row 0 has mu = 0.5, logvar = -1, eps = 0.3, weight 1; row 1 has mu = -2,
// logvar = 0.4, eps = -1, weight 0.5. The loss is sum(z) + KL.
func TestReparamAndKLHandComputed(t *testing.T) {
	b := newBinder("t")
	st := f32mat(2, 2)
	copy(st.Float32s(), []float32{0.5, -1, -2, 0.4})
	ep, w := f32mat(2, 1), f32mat(2, 1)
	copy(ep.Float32s(), []float32{0.3, -1})
	copy(w.Float32s(), []float32{1, 0.5})
	sn := G.NewTensor(b.g, G.Float32, 2, G.WithShape(2, 2), G.WithName("stats"), G.WithValue(st))
	z, err := Reparam(sn, b.Const("eps", ep))
	if err != nil {
		t.Fatal(err)
	}
	kl, err := GaussKL(sn, b.Const("w", w))
	if err != nil {
		t.Fatal(err)
	}
	sz, err := G.Sum(z)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := G.Add(sz, kl)
	if err != nil {
		t.Fatal(err)
	}
	gs, err := G.Grad(cost, sn)
	if err != nil {
		t.Fatal(err)
	}
	var zv, klv G.Value
	G.Read(z, &zv)
	G.Read(kl, &klv)
	vm := G.NewTapeMachine(b.g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	e := math.Exp
	wantZ := []float64{0.5 + e(-0.5)*0.3, -2 - e(0.2)}
	// KL row = -1/2 (1 + lv - mu^2 - e^lv).
	wantKL := -0.5*(1-1-0.25-e(-1)) + 0.5*-0.5*(1+0.4-4-e(0.4))
	// d/dmu = 1 + w mu; d/dlv = eps e^(lv/2) / 2 + w (e^lv - 1) / 2.
	wantG := []float64{1 + 0.5, 0.3*e(-0.5)/2 + (e(-1)-1)/2, 1 + 0.5*-2, -1*e(0.2)/2 + 0.5*(e(0.4)-1)/2}
	got := zv.Data().([]float32)
	for i, v := range wantZ {
		if math.Abs(float64(got[i])-v) > 1e-6 {
			t.Errorf("z[%d] = %v, want %v", i, got[i], v)
		}
	}
	if g := scalar(klv); math.Abs(float64(g)-wantKL) > 1e-6 {
		t.Errorf("KL = %v, want %v", g, wantKL)
	}
	gg := gs[0].Value().Data().([]float32)
	for i, v := range wantG {
		if math.Abs(float64(gg[i])-v) > 1e-6 {
			t.Errorf("dcost/dstats[%d] = %v, want %v", i, gg[i], v)
		}
	}
}

// vaeLoss64 recomputes a VAE's loss for its filled inputs in float64, from its parameters, the
// way the doc comment states it: the reference the graph is checked against.
func vaeLoss64(v *VAE) (recon, kl float64) {
	D, Z := v.InputDim, v.Latent
	x, eps, kw := v.x.Float32s(), v.eps.Float32s(), v.klw.Float32s()
	dense := func(d Dense, h []float64, relu bool) []float64 {
		sh := d.W.Shape()
		w, bb := d.W.Data(), d.B.Data()
		out := make([]float64, sh[1])
		for j := range out {
			s := float64(bb[j])
			for k, hk := range h {
				s += hk * float64(w[k*sh[1]+j])
			}
			if relu {
				s = math.Max(s, 0)
			}
			out[j] = s
		}
		return out
	}
	for i := range v.Batch {
		if kw[i] == 0 {
			continue
		}
		h := make([]float64, D)
		for p := range h {
			h[p] = float64(x[i*D+p])
		}
		for _, l := range v.Enc.Layers {
			h = dense(l, h, true)
		}
		mu, lv := dense(v.Stats[0], h, false), dense(v.Stats[1], h, false)
		z := make([]float64, Z)
		var k float64
		for j := range z {
			z[j] = mu[j] + math.Exp(lv[j]/2)*float64(eps[i*Z+j])
			k += -0.5 * (1 + lv[j] - mu[j]*mu[j] - math.Exp(lv[j]))
		}
		for _, l := range v.Dec.Layers {
			z = dense(l, z, true)
		}
		y := dense(v.Out, z, false)
		var r float64
		for p, yp := range y {
			r += math.Max(yp, 0) + math.Log1p(math.Exp(-math.Abs(yp))) - float64(x[i*D+p])*yp
		}
		recon += float64(kw[i]) * r
		kl += float64(kw[i]) * k
	}
	return recon, kl
}

// TestVAELossAndGradients checks a small VAE's two terms against vaeLoss64 and every
// parameter's gradient against central differences of it.
func TestVAELossAndGradients(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	v, err := NewVAE(nil, "vae", 6, []int{5, 4}, 3, 4, rng)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 3*6)
	for i := range x {
		x[i] = float32(rng.Float64())
	}
	if err := v.Fill(x, []float32{20, 50, 30}, rng); err != nil {
		t.Fatal(err)
	}
	recon, kl, err := v.Step()
	if err != nil {
		t.Fatal(err)
	}
	r64, k64 := vaeLoss64(v)
	if math.Abs(float64(recon)-r64) > 1e-5*r64 || math.Abs(float64(kl)-k64) > 1e-5*math.Max(1, k64) {
		t.Fatalf("terms %v, %v; want %v, %v", recon, kl, r64, k64)
	}
	grads := map[*Param][]float32{}
	for _, p := range v.Trainable() {
		grads[p] = append([]float32(nil), v.Grad(p)...)
	}
	if len(grads) != len(v.Params.All()) {
		t.Fatalf("%d parameters have gradients, want all %d", len(grads), len(v.Params.All()))
	}
	const h = 1e-3
	for p, g := range grads {
		d := p.Data()
		for i := range d {
			old := d[i]
			d[i] = old + h
			rp, kp := vaeLoss64(v)
			d[i] = old - h
			rm, km := vaeLoss64(v)
			d[i] = old
			fd := (rp + kp - rm - km) / float64((old+h)-(old-h))
			if math.Abs(float64(g[i])-fd) > 1e-4+2e-3*math.Abs(fd) {
				t.Errorf("%s[%d]: gradient %v, finite differences %v", p.Name, i, g[i], fd)
			}
		}
	}
}

// TestVAEFillChecksSize: a step larger than the batch is an error, not a panic.
func TestVAEFillChecksSize(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	v, err := NewVAE(nil, "vae", 4, []int{3}, 2, 2, rng)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Fill(make([]float32, 12), []float32{1, 1, 1}, rng); err == nil {
		t.Fatal("3 rows into a batch of 2: no error")
	}
}

// trainDigit trains a VAE 784-200-20 (200 steps of 64, Adam 1e-3) on the training images of one
// MNIST digit and returns it with the test images of that digit.
func trainDigit(t *testing.T, set *mnist.Set, digit uint8, seed int64) (*VAE, []float32) {
	t.Helper()
	pix := func(im *mnist.Images) []float32 {
		var out []float32
		for i := range im.N {
			if im.Labels[i] == digit {
				for _, p := range im.Image(i) {
					out = append(out, float32(p)/255)
				}
			}
		}
		return out
	}
	train, test := pix(set.Train), pix(set.Test)
	rng := rand.New(rand.NewSource(seed))
	const n, D = 64, 784
	v, err := NewVAE(nil, "vae", D, []int{200}, 20, n, rng)
	if err != nil {
		t.Fatal(err)
	}
	opt := NewAdam(1e-3)
	batch, w := make([]float32, n*D), make([]float32, n)
	for i := range w {
		w[i] = 1.0 / n
	}
	for range 200 {
		for i := range n {
			k := rng.Intn(len(train) / D)
			copy(batch[i*D:(i+1)*D], train[k*D:(k+1)*D])
		}
		if err := v.Fill(batch, w, rng); err != nil {
			t.Fatal(err)
		}
		if _, _, err := v.Step(); err != nil {
			t.Fatal(err)
		}
		opt.Update(v.Trainable(), v.Grad)
	}
	return v, test
}

// bcePerPixel is the mean binary cross-entropy of predictions p for targets x.
func bcePerPixel(x, p []float32) float64 {
	var s float64
	for i, xi := range x {
		q := math.Min(math.Max(float64(p[i]), 1e-7), 1-1e-7)
		s -= float64(xi)*math.Log(q) + (1-float64(xi))*math.Log(1-q)
	}
	return s / float64(len(x))
}

// TestVAELearnsADigit trains on real MNIST zeros and checks that test zeros are reconstructed far
// better than by chance (every pixel 0.5: BCE ln 2 = 0.693) and better than by the mean training
// zero (the best input-independent guess), that samples look like the class (closer to the mean
// zero than noise is), and that training is bit-reproducible for a seed.
func TestVAELearnsADigit(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on MNIST (a few seconds)")
	}
	set, err := mnist.Load(context.Background(), mnist.Options{})
	if err != nil {
		t.Fatalf("loading MNIST: %v", err)
	}
	v, test := trainDigit(t, set, 0, 7)
	const D = 784
	n := len(test) / D
	g := v.Snapshot()
	rec := make([]float32, len(test))
	g.Reconstruct(rec, test, n)
	got := bcePerPixel(test, rec)
	mean := make([]float32, D)
	for i := range n {
		for p := range D {
			mean[p] += test[i*D+p] / float32(n)
		}
	}
	meanPred := make([]float32, len(test))
	for i := range n {
		copy(meanPred[i*D:], mean)
	}
	base := bcePerPixel(test, meanPred)
	t.Logf("test zeros: reconstruction BCE %.4f per pixel; mean image %.4f; chance %.4f", got, base, math.Ln2)
	if got > 0.5*math.Ln2 || got >= base {
		t.Errorf("reconstruction BCE %.4f per pixel: want below half of chance (%.4f) and below the mean image's %.4f", got, 0.5*math.Ln2, base)
	}
	s := make([]float32, 100*D)
	g.Sample(s, 100, rand.New(rand.NewSource(1)))
	var ds, dn float64
	noise := rand.New(rand.NewSource(2))
	for i := range s {
		d := float64(s[i] - mean[i%D])
		ds += d * d
		e := noise.Float64() - float64(mean[i%D])
		dn += e * e
	}
	t.Logf("samples' squared distance to the mean zero %.1f per image, uniform noise's %.1f", ds/100, dn/100)
	if ds > 0.25*dn {
		t.Errorf("samples are %.1f from the mean zero per image, noise %.1f: want under a quarter", ds/100, dn/100)
	}
	v2, _ := trainDigit(t, set, 0, 7)
	for i, p := range v.Params.All() {
		q := v2.Params.All()[i]
		for k, x := range p.Data() {
			if math.Float32bits(x) != math.Float32bits(q.Data()[k]) {
				t.Fatalf("%s[%d] differs between two trainings of seed 7: %v vs %v", p.Name, k, x, q.Data()[k])
			}
		}
	}
}
