package graphs

import (
	"errors"
	"fmt"
	"math"
	"math/rand"

	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// VAE is a variational auto-encoder of MLPs (Kingma & Welling 2014), the generator of generative
// replay, laid out as van de Ven & Tolias's MNIST generator: an encoder MLP (ReLU after every
// layer) and a Decoder (the Gaussian latent, the reparameterisation, the mirrored decoder and the
// loss; see Decoder). One training graph (G.Grad over both loss terms) is bound to tensors filled
// in place, so a step builds nothing.
type VAE struct {
	// Params holds every parameter (and, when a strategy passed its own set, the strategy's).
	Params *ParamSet
	// Enc maps the input to the last hidden layer.
	Enc MLP
	*Decoder

	vm        G.VM
	grads     map[*Param]*G.Node
	trainable []*Param
	b         *Binder
}

// Decoder is the generative half of a VAE over an encoder's last hidden layer h: the Gaussian
// latent's mean and log-variance from one fused dense op over h (Stats), the reparameterisation
// z = mu + exp(logvar/2)·eps with eps drawn from a seeded source, a decoder MLP (Dec, ReLU after
// each layer) and a dense output layer (Out) whose sigmoid is the reconstruction. Its loss, per
// example i of weight w_i,
//
//	L = sum_i w_i [ (1/D) sum_p BCE(x_ip, sigmoid(y_ip)) + (1/D) KL(N(mu_i, exp(logvar_i)) || N(0, I)) ],
//	KL = -1/2 sum_j (1 + logvar_ij - mu_ij^2 - exp(logvar_ij)),
//
// averages the per-pixel binary cross-entropy over the D pixels and divides the KL by D, as the
// reference code does; with w_i = 1/n it is the batch mean. A VAE puts it over its own encoder;
// replay through feedback puts it over a classifier's trunk (Loss in the classifier's graph).
type Decoder struct {
	Stats []Dense
	Dec   MLP
	Out   Dense
	// InputDim is D, Latent the latent size, Batch the rows of a step.
	InputDim, Latent, Batch int

	x, eps, klw *tensor.Dense
	bce         *BCE
	reconV      *G.Value
	klV         *G.Value
}

// NewDecoder adds a Decoder to ps for an encoder with hidden layers hidden over inputs of size
// in: the decoder takes the hidden sizes in reverse. Parameters are named "<prefix>/..." in group
// prefix and initialised from rng as PyTorch initialises linear layers.
func NewDecoder(ps *ParamSet, prefix string, in int, hidden []int, latent, batch int, rng *rand.Rand) (*Decoder, error) {
	if in <= 0 || latent <= 0 || batch <= 0 || len(hidden) == 0 {
		return nil, errors.New("graphs: a VAE needs an input size, hidden layers, a latent size and a batch")
	}
	d := &Decoder{InputDim: in, Latent: latent, Batch: batch}
	top := hidden[len(hidden)-1]
	d.Stats = []Dense{NewDense(ps, prefix+"/mu", prefix, top, latent, rng), NewDense(ps, prefix+"/logvar", prefix, top, latent, rng)}
	rev := make([]int, len(hidden))
	for i, h := range hidden {
		rev[len(hidden)-1-i] = h
	}
	d.Dec = NewMLP(ps, prefix+"/dec", prefix, latent, rev, rng)
	d.Out = NewDense(ps, prefix+"/out", prefix, rev[len(rev)-1], in, rng)
	d.x, d.eps, d.klw = f32mat(batch, in), f32mat(batch, latent), f32mat(batch, 1)
	d.bce = &BCE{Targets: d.x, Weights: f32mat(batch, in)}
	return d, nil
}

// Input is the tensor of the rows Fill copies in (the VAE's encoder reads it too).
func (d *Decoder) Input() *tensor.Dense { return d.x }

// Loss adds the decoder and its loss over the encoder output h [Batch, hidden] to b's graph and
// returns the loss node; after a run, Terms reads its two terms.
func (d *Decoder) Loss(b *Binder, h *G.Node) (*G.Node, error) {
	stats, err := Linear(b, h, d.Stats...)
	if err != nil {
		return nil, err
	}
	z, err := Reparam(stats, b.Const("eps", d.eps))
	if err != nil {
		return nil, err
	}
	hd, err := d.Dec.Apply(b, z)
	if err != nil {
		return nil, err
	}
	y, err := d.Out.Apply(b, hd)
	if err != nil {
		return nil, err
	}
	recon, err := d.bce.Node(b, y)
	if err != nil {
		return nil, err
	}
	kl, err := GaussKL(stats, b.Const("klw", d.klw))
	if err != nil {
		return nil, err
	}
	d.reconV, d.klV = new(G.Value), new(G.Value)
	G.Read(recon, d.reconV)
	G.Read(kl, d.klV)
	return G.Add(recon, kl)
}

// Terms returns the reconstruction and KL terms of the last run of the graph Loss built.
func (d *Decoder) Terms() (recon, kl float32) {
	if d.reconV == nil || *d.reconV == nil {
		return 0, 0
	}
	return scalar(*d.reconV), scalar(*d.klV)
}

// NewVAE adds to ps (a new set when nil) a VAE over inputs of size in with the encoder's hidden
// layers hidden (the decoder takes them in reverse) and a latent of size latent, its parameters
// named "<prefix>/..." in group prefix and initialised from rng as PyTorch initialises linear
// layers, and builds its training graph for steps of batch rows. A strategy passes its own
// ParamSet so that checkpoints and one Adam cover the generator with the classifier.
func NewVAE(ps *ParamSet, prefix string, in int, hidden []int, latent, batch int, rng *rand.Rand) (v *VAE, err error) {
	if ps == nil {
		ps = NewParamSet()
	}
	v = &VAE{Params: ps}
	if len(hidden) > 0 {
		v.Enc = NewMLP(ps, prefix+"/enc", prefix, in, hidden, rng)
	}
	if v.Decoder, err = NewDecoder(ps, prefix, in, hidden, latent, batch, rng); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("graphs: building the VAE: %v", r)
		}
	}()
	if err := v.build(); err != nil {
		return nil, fmt.Errorf("graphs: VAE training graph: %w", err)
	}
	return v, nil
}

func (v *VAE) build() error {
	b := newBinder("generator")
	v.b = b
	h, err := v.Enc.Apply(b, b.Const("x", v.x))
	if err != nil {
		return err
	}
	cost, err := v.Loss(b, h)
	if err != nil {
		return err
	}
	if v.trainable, v.grads, err = gradients(b, cost); err != nil {
		return err
	}
	v.vm = G.NewTapeMachine(b.g)
	return nil
}

// Fill copies the rows into the step's inputs: x [n*D] (pixels in [0, 1]), one weight per row
// (e.g. 1/n each; rows past len(w) get weight 0) and eps, the reparameterisation noise, drawn
// from rng (standard normal) for every row.
func (d *Decoder) Fill(x []float32, w []float32, rng *rand.Rand) error {
	n := len(w)
	if n > d.Batch || len(x) < n*d.InputDim {
		return fmt.Errorf("graphs: VAE step of %d rows (%d values) does not fit %d rows of %d", n, len(x), d.Batch, d.InputDim)
	}
	D := d.InputDim
	xs, ws, kw := d.x.Float32s(), d.bce.Weights.Float32s(), d.klw.Float32s()
	copy(xs, x[:n*D])
	clear(xs[n*D:])
	for i := range d.Batch {
		wi := float32(0)
		if i < n {
			wi = w[i] / float32(D)
		}
		kw[i] = wi
		row := ws[i*D : (i+1)*D]
		for p := range row {
			row[p] = wi
		}
	}
	e := d.eps.Float32s()
	for i := range e {
		e[i] = float32(rng.NormFloat64())
	}
	return nil
}

// Step runs the training graph once on the filled inputs and returns the reconstruction and KL
// terms; Grad then holds each parameter's gradient until the next Step.
func (v *VAE) Step() (recon, kl float32, err error) {
	defer v.vm.Reset()
	if err := v.vm.RunAll(); err != nil {
		return 0, 0, fmt.Errorf("graphs: VAE step: %w", err)
	}
	recon, kl = v.Terms()
	return recon, kl, nil
}

// Trainable returns the parameters that receive gradients.
func (v *VAE) Trainable() []*Param { return v.trainable }

// Grad returns p's gradient from the last Step.
func (v *VAE) Grad(p *Param) []float32 { return gradOf(v.grads, p) }

// Graph returns the training graph (for drawing it).
func (v *VAE) Graph() *G.ExprGraph { return v.b.g }

// Reparam adds z = mu + exp(logvar/2)·eps to the graph of stats [n, 2Z] = [mu | logvar] and eps
// [n, Z] (a constant: the noise). Its gradient with respect to stats is [g, g·eps·exp(logvar/2)/2].
func Reparam(stats, eps *G.Node) (*G.Node, error) {
	s, e := stats.Shape(), eps.Shape()
	if len(s) != 2 || len(e) != 2 || s[0] != e[0] || s[1] != 2*e[1] {
		return nil, fmt.Errorf("graphs: reparameterisation of stats %v with noise %v, want [n, 2Z] and [n, Z]", s, e)
	}
	Z := e[1]
	op := &fnOp{name: "Reparam", scalarIn: []bool{false, false}, like: 1, diff: []bool{true, false}}
	op.fwd = func(out []float32, in [][]float32) float64 {
		st, ep := in[0], in[1]
		for i := range len(ep) / Z {
			mu, lv := st[i*2*Z:i*2*Z+Z], st[i*2*Z+Z:(i+1)*2*Z]
			for j := range Z {
				out[i*Z+j] = mu[j] + float32(math.Exp(0.5*float64(lv[j])))*ep[i*Z+j]
			}
		}
		return 0
	}
	op.sym = func(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		g := &fnOp{name: "ReparamGrad", scalarIn: []bool{false, false, false}, like: 0}
		g.fwd = func(out []float32, in [][]float32) float64 {
			st, ep, gz := in[0], in[1], in[2]
			for i := range len(ep) / Z {
				lv := st[i*2*Z+Z : (i+1)*2*Z]
				dmu, dlv := out[i*2*Z:i*2*Z+Z], out[i*2*Z+Z:(i+1)*2*Z]
				for j := range Z {
					k := i*Z + j
					dmu[j] = gz[k]
					dlv[j] = gz[k] * ep[k] * 0.5 * float32(math.Exp(0.5*float64(lv[j])))
				}
			}
			return 0
		}
		n, err := applyFn(g, inputs[0], inputs[1], grad)
		return G.Nodes{n, nil}, err
	}
	return applyFn(op, stats, eps)
}

// GaussKL adds sum_i w_i KL(N(mu_i, exp(logvar_i)) || N(0, I)) to the graph of stats [n, 2Z] =
// [mu | logvar] and row weights w [n, 1] (a constant). Its gradient with respect to stats is
// w_i [mu, (exp(logvar) - 1)/2] times the upstream gradient.
func GaussKL(stats, w *G.Node) (*G.Node, error) {
	s, ws := stats.Shape(), w.Shape()
	if len(s) != 2 || s[1]%2 != 0 || len(ws) != 2 || ws[0] != s[0] || ws[1] != 1 {
		return nil, fmt.Errorf("graphs: KL of stats %v with weights %v, want [n, 2Z] and [n, 1]", s, ws)
	}
	Z := s[1] / 2
	op := &fnOp{name: "GaussKL", scalarIn: []bool{false, false}, scalarOut: true, diff: []bool{true, false}}
	op.fwd = func(_ []float32, in [][]float32) float64 {
		st, wt := in[0], in[1]
		var total float64
		for i, wi := range wt {
			if wi == 0 {
				continue
			}
			var kl float64
			for j := range Z {
				mu, lv := float64(st[i*2*Z+j]), float64(st[i*2*Z+Z+j])
				kl += 1 + lv - mu*mu - math.Exp(lv)
			}
			total += float64(wi) * -0.5 * kl
		}
		return total
	}
	op.sym = func(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		g := &fnOp{name: "GaussKLGrad", scalarIn: []bool{false, false, true}, like: 0}
		g.fwd = func(out []float32, in [][]float32) float64 {
			st, wt, up := in[0], in[1], in[2][0]
			for i, wi := range wt {
				k := up * wi
				for j := range Z {
					mu, lv := st[i*2*Z+j], float64(st[i*2*Z+Z+j])
					out[i*2*Z+j] = k * mu
					out[i*2*Z+Z+j] = k * 0.5 * float32(math.Exp(lv)-1)
				}
			}
			return 0
		}
		n, err := applyFn(g, inputs[0], inputs[1], grad)
		return G.Nodes{n, nil}, err
	}
	return applyFn(op, stats, w)
}

// Generator is a frozen copy of a VAE's weights that samples and reconstructs in plain Go (BLAS
// products, no graph): the previous generator of generative replay, and the pictures of what a
// strategy replays.
type Generator struct {
	convs      []convCopy // the encoder's conv layers, before enc (a conv trunk's)
	enc, dec   []plainDense
	mu, logvar plainDense
	out        plainDense
	// InputDim and Latent are the VAE's sizes.
	InputDim, Latent int
	bufs             [2][]float32 // activation buffers, reused
	z                []float32
}

// convCopy is a conv layer's weights copied out of a graph, with ConvForward's buffers.
type convCopy struct {
	c       Conv
	w, b    []float32
	scratch ConvScratch
	buf     []float32
}

// plainDense is a dense layer's weights copied out of a graph: w [in*out], b [out].
type plainDense struct {
	w, b    []float32
	in, out int
}

func copyDense(d Dense) plainDense {
	sh := d.W.Shape()
	return plainDense{w: append([]float32(nil), d.W.Data()...), b: append([]float32(nil), d.B.Data()...), in: sh[0], out: sh[1]}
}

// apply writes x·w + b (then ReLU when relu) for n rows of x into dst, which it returns.
func (l plainDense) apply(dst, x []float32, n int, relu bool) []float32 {
	dst = growF32(dst, n*l.out)
	for i := range n {
		copy(dst[i*l.out:(i+1)*l.out], l.b)
	}
	G.WhichBLAS().Sgemm(blas.NoTrans, blas.NoTrans, n, l.out, l.in, 1, x[:n*l.in], l.in, l.w, l.out, 1, dst, l.out)
	if relu {
		for i, v := range dst {
			dst[i] = max(v, 0)
		}
	}
	return dst
}

func growF32(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// Snapshot returns a Generator holding a copy of v's current weights.
func (v *VAE) Snapshot() *Generator { return NewGenerator(MLPTrunk(v.Enc), v.Decoder) }

// NewGenerator returns a Generator holding a copy of the current weights of encoder enc and
// decoder d (a VAE's, or a classifier's trunk, conv layers included, and the decoder over it).
func NewGenerator(enc Trunk, d *Decoder) *Generator {
	g := &Generator{InputDim: d.InputDim, Latent: d.Latent, mu: copyDense(d.Stats[0]), logvar: copyDense(d.Stats[1]), out: copyDense(d.Out)}
	for _, c := range enc.Convs {
		g.convs = append(g.convs, convCopy{c: c, w: append([]float32(nil), c.W.Data()...), b: append([]float32(nil), c.B.Data()...)})
	}
	for _, l := range enc.Layers {
		g.enc = append(g.enc, copyDense(l))
	}
	for _, l := range d.Dec.Layers {
		g.dec = append(g.dec, copyDense(l))
	}
	return g
}

// hidden applies the ReLU layers ls to n rows of x, alternating between two reused buffers, and
// returns the last activation.
func (g *Generator) hidden(ls []plainDense, x []float32, n int) []float32 {
	h := x
	for i, l := range ls {
		g.bufs[i%2] = l.apply(g.bufs[i%2], h, n, true)
		h = g.bufs[i%2]
	}
	return h
}

// decode writes sigmoid(decoder(z)) for n latent rows z into dst [n*InputDim].
func (g *Generator) decode(dst, z []float32, n int) {
	h := g.hidden(g.dec, z, n)
	y := g.out.apply(dst, h, n, false)
	for i, v := range y {
		y[i] = Sigmoid(float64(v))
	}
}

// Sample writes n generated inputs into dst [n*InputDim]: z drawn from N(0, I) with rng, then
// decoded.
func (g *Generator) Sample(dst []float32, n int, rng *rand.Rand) {
	g.z = growF32(g.z, n*g.Latent)
	for i := range g.z {
		g.z[i] = float32(rng.NormFloat64())
	}
	g.decode(dst, g.z, n)
}

// Reconstruct writes into dst [n*InputDim] the decoding of the latent mean of each of the n
// inputs x (the reconstruction without noise).
func (g *Generator) Reconstruct(dst, x []float32, n int) {
	for i := range g.convs {
		c := &g.convs[i]
		c.buf = growF32(c.buf, n*c.c.Out.Size())
		ConvForward(c.c, c.w, c.b, x, n, c.buf, &c.scratch)
		x = c.buf
	}
	g.z = g.mu.apply(g.z, g.hidden(g.enc, x, n), n, false)
	g.decode(dst, g.z, n)
}

// Weights returns the Generator's weight slices in a fixed order (each layer's weights then
// biases: the encoder's conv layers, encoder, mu, logvar, decoder, output), to save them or to
// load saved ones into (copy into the slices returned).
func (g *Generator) Weights() [][]float32 {
	var out [][]float32
	for _, c := range g.convs {
		out = append(out, c.w, c.b)
	}
	for _, l := range g.layers() {
		out = append(out, l.w, l.b)
	}
	return out
}

func (g *Generator) layers() []*plainDense {
	var ls []*plainDense
	for i := range g.enc {
		ls = append(ls, &g.enc[i])
	}
	ls = append(ls, &g.mu, &g.logvar)
	for i := range g.dec {
		ls = append(ls, &g.dec[i])
	}
	return append(ls, &g.out)
}
