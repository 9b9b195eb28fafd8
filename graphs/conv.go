package graphs

import (
	"errors"
	"fmt"
	"math/rand"

	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Image is the shape of one example as an image: Height × Width pixels of Channels values, laid
// out row by row with a pixel's channels side by side (HWC). A flattened MNIST digit is
// Image{28, 28, 1}; every conv layer's output is an Image too.
type Image struct {
	Height, Width, Channels int
}

// Size is the number of values of one image.
func (im Image) Size() int { return im.Height * im.Width * im.Channels }

// String writes the shape as height×width×channels.
func (im Image) String() string { return fmt.Sprintf("%d×%d×%d", im.Height, im.Width, im.Channels) }

// Conv is a convolution layer followed by ReLU and a 2×2 max-pool of stride 2: Kernel×Kernel
// filters over In with zero padding Kernel/2 (the output has In's height and width before the
// pool), Filters output channels. W is [Kernel·Kernel·In.Channels, Filters], its rows in (ky, kx,
// channel) order, and B is [1, Filters]. Out is the pooled image.
//
// With Mask set (one value per weight, like W) the layer uses W ⊙ Mask, written into a buffer the
// op owns at each run, in its forward pass and input gradient, and its weight gradient is masked
// too: a weight whose mask is 0 neither acts nor learns (PackNet's masks, as Dense.Mask).
type Conv struct {
	W, B   *Param
	In     Image
	Kernel int
	Out    Image
	Mask   []float32
}

// NewConv adds a conv layer's parameters to ps under prefix and initialises them like PyTorch's
// Conv2d (uniform within ±1/√fan_in, fan_in = Kernel²·channels, for weights and biases). Height
// and width of in must be even (the pool halves them); kernel must be odd.
func NewConv(ps *ParamSet, prefix, group string, in Image, kernel, filters int, rng *rand.Rand) (Conv, error) {
	if in.Height < 2 || in.Width < 2 || in.Height%2 != 0 || in.Width%2 != 0 || in.Channels < 1 {
		return Conv{}, fmt.Errorf("graphs: conv %s: input %v: the 2×2 pool needs an even height and width (each conv layer halves them: 28×28 images take at most 2 conv layers; give fewer --filters, or --pad 2 on permuted-mnist for 32×32)", prefix, in)
	}
	if kernel < 1 || kernel%2 == 0 || filters < 1 {
		return Conv{}, fmt.Errorf("graphs: conv %s: kernel %d and %d filters: want an odd kernel and at least one filter", prefix, kernel, filters)
	}
	c := Conv{In: in, Kernel: kernel, Out: Image{in.Height / 2, in.Width / 2, filters}}
	c.W = ps.Add(prefix+"/W", group, kernel*kernel*in.Channels, filters)
	c.B = ps.Add(prefix+"/b", group, 1, filters)
	InitLinear(c.W, c.B, rng)
	return c, nil
}

// convChunk is the number of examples whose patch matrix the conv ops build at once: enough rows
// for an efficient Sgemm, few enough to stay in cache. Measured at the conv trunk's shapes
// (BenchmarkStepConv): chunks of 4 built again for the weight gradient take 47.4–47.6 ms a step,
// chunks of 8 kept for the whole batch (50 MB of patches) 50.1–50.2 ms; keeping only the first
// layer's (keepLimit: 10 MB, its one channel makes patches slow to build) 43.7–45.7 ms against
// 46.7–47.3 in the same sitting.
const convChunk = 4

// keepLimit is the most patch values a training graph keeps for the weight gradient.
var keepLimit = 4 << 20

// convGeom holds a conv layer's sizes for n examples.
type convGeom struct {
	n, h, w, c, k, pad, f int
	hw, kk                int // pixels per image, values per patch (k·k·c)
	ph, pw                int // pooled height and width
}

func (c Conv) geom(n int) convGeom {
	return convGeom{n: n, h: c.In.Height, w: c.In.Width, c: c.In.Channels, k: c.Kernel, pad: c.Kernel / 2,
		f: c.Out.Channels, hw: c.In.Height * c.In.Width, kk: c.Kernel * c.Kernel * c.In.Channels,
		ph: c.In.Height / 2, pw: c.In.Width / 2}
}

// im2col writes the patches of examples [s0, s0+m) of x into cols: one row of kk values per
// output pixel, (ky, kx, channel) order, zeros outside the image.
func (g convGeom) im2col(cols, x []float32, s0, m int) {
	row := 0
	for s := s0; s < s0+m; s++ {
		img := x[s*g.hw*g.c : (s+1)*g.hw*g.c]
		for oy := 0; oy < g.h; oy++ {
			for ox := 0; ox < g.w; ox++ {
				dst := cols[row*g.kk : (row+1)*g.kk]
				for ky := 0; ky < g.k; ky++ {
					iy := oy + ky - g.pad
					seg := dst[ky*g.k*g.c : (ky+1)*g.k*g.c]
					if iy < 0 || iy >= g.h {
						clear(seg)
						continue
					}
					x0 := ox - g.pad
					lo, hi := max(0, -x0), min(g.k, g.w-x0)
					if g.c == 1 && lo == 0 && hi == g.k {
						// One channel, inside the image: a few values, faster stored one by one
						// than through a copy call.
						src := img[iy*g.w+x0 : iy*g.w+x0+g.k]
						for i, v := range src {
							seg[i] = v
						}
						continue
					}
					clear(seg[:lo*g.c])
					if hi > lo {
						copy(seg[lo*g.c:hi*g.c], img[(iy*g.w+x0+lo)*g.c:(iy*g.w+x0+hi)*g.c])
					}
					clear(seg[max(hi, lo)*g.c:])
				}
				row++
			}
		}
	}
}

// col2im adds the patch gradients gcols of examples [s0, s0+m) into dx (the transpose of im2col).
func (g convGeom) col2im(dx, gcols []float32, s0, m int) {
	row := 0
	for s := s0; s < s0+m; s++ {
		img := dx[s*g.hw*g.c : (s+1)*g.hw*g.c]
		for oy := 0; oy < g.h; oy++ {
			for ox := 0; ox < g.w; ox++ {
				src := gcols[row*g.kk : (row+1)*g.kk]
				for ky := 0; ky < g.k; ky++ {
					iy := oy + ky - g.pad
					if iy < 0 || iy >= g.h {
						continue
					}
					x0 := ox - g.pad
					lo, hi := max(0, -x0), min(g.k, g.w-x0)
					if hi <= lo {
						continue
					}
					addTo(img[(iy*g.w+x0+lo)*g.c:(iy*g.w+x0+hi)*g.c], src[ky*g.k*g.c+lo*g.c:ky*g.k*g.c+hi*g.c])
				}
				row++
			}
		}
	}
}

// convState is what a conv layer's forward op leaves for its gradient ops: for every pooled
// output value, the index (within its example's h·w pixels) of the pixel whose activation won the
// pool, or -1 when the pooled value is 0 (every candidate ≤ 0: ReLU passes no gradient).
type convState struct {
	g    convGeom
	arg  []int32
	cols []float32 // a chunk's patches, or with keep every example's
	keep bool
	mask []float32 // the layer's weight mask (nil: none)
	wm   []float32 // W ⊙ mask of the last forward pass
	z    []float32 // a chunk's pre-activations [rows, f]
	gc   []float32 // a chunk's patch gradients (dx)
}

// ApplyConv adds c to bd's graph: x [n, In.Size()] → [n, Out.Size()], relu(conv(x) + b) pooled
// 2×2. Like Linear it is a fused op over the installed BLAS: the forward pass builds the patches
// of a few examples at a time (im2col), multiplies them by W with one Sgemm, adds the bias, and
// pools the ReLU in the same pass, keeping only the winner of each pool. The weight gradient
// dW = Σ patchesᵀ·gz builds the patches again a chunk at a time, except in a layer with few
// patches (keepLimit: a first layer over one channel), whose batch of patches the forward pass
// keeps for one Sgemm; dx = col2im(gz·Wᵀ) takes one Sgemm per chunk; gz is the upstream gradient
// routed to the pools' winners. Every buffer is
// the ops' own, so a step allocates no tensor; no gradient is built for a frozen W or B, nor for x
// when no trainable parameter feeds it (the data).
func ApplyConv(bd *Binder, x *G.Node, c Conv) (*G.Node, error) {
	xs := x.Shape()
	if len(xs) != 2 || xs[1] != c.In.Size() {
		return nil, fmt.Errorf("graphs: conv %s: input shape %v, want (n, %d) for %v images", c.W.Name, xs, c.In.Size(), c.In)
	}
	g := c.geom(xs[0])
	if s := c.W.Shape(); s[0] != g.kk || s[1] != g.f {
		return nil, fmt.Errorf("graphs: conv %s: weight shape %v, want (%d, %d)", c.W.Name, s, g.kk, g.f)
	}
	st := &convState{g: g, arg: make([]int32, g.n*g.ph*g.pw*g.f), z: make([]float32, convChunk*g.hw*g.f),
		cols: make([]float32, convChunk*g.hw*g.kk)}
	if bd.Training() && !c.W.Frozen && g.n*g.hw*g.kk <= keepLimit {
		// Few patches (a first layer over one channel): keep the batch's for the weight
		// gradient rather than build them twice.
		st.keep = true
		st.cols = make([]float32, g.n*g.hw*g.kk)
	}
	if c.Mask != nil {
		if len(c.Mask) != g.kk*g.f {
			return nil, fmt.Errorf("graphs: conv %s: mask has %d values, the weight %d", c.W.Name, len(c.Mask), g.kk*g.f)
		}
		st.mask, st.wm = c.Mask, make([]float32, g.kk*g.f)
	}
	needX := bd.dependsOnTrainable(x)
	op := &fnOp{name: "Conv(" + c.W.Name + ")", scalarIn: []bool{false, false, false},
		outShape: func([]tensor.Shape) tensor.Shape { return tensor.Shape{g.n, c.Out.Size()} },
		diff:     []bool{needX, !c.W.Frozen, !c.B.Frozen}}
	op.fwd = func(out []float32, in [][]float32) float64 {
		w := in[1]
		if st.mask != nil {
			for i, v := range w {
				st.wm[i] = v * st.mask[i]
			}
			w = st.wm
		}
		st.forward(out, in[0], w, in[2])
		return 0
	}
	op.sym = func(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
		return st.grads(c, inputs, output, grad, op.diff)
	}
	return applyFn(op, x, bd.Node(c.W), bd.Node(c.B))
}

func (st *convState) forward(out, x, w, b []float32) {
	g, bl := st.g, G.WhichBLAS()
	pooled := g.ph * g.pw * g.f
	for s0 := 0; s0 < g.n; s0 += convChunk {
		m := min(convChunk, g.n-s0)
		rows := m * g.hw
		cols := st.cols
		if st.keep {
			cols = cols[s0*g.hw*g.kk:]
		}
		g.im2col(cols, x, s0, m)
		z := st.z[:rows*g.f]
		for r := 0; r < rows; r++ {
			copy(z[r*g.f:(r+1)*g.f], b)
		}
		bl.Sgemm(blas.NoTrans, blas.NoTrans, rows, g.f, g.kk, 1, cols, g.kk, w, g.f, 1, z, g.f)
		for s := 0; s < m; s++ {
			zs := z[s*g.hw*g.f : (s+1)*g.hw*g.f]
			o := out[(s0+s)*pooled : (s0+s+1)*pooled]
			a := st.arg[(s0+s)*pooled : (s0+s+1)*pooled]
			for py := 0; py < g.ph; py++ {
				for px := 0; px < g.pw; px++ {
					p0 := (2*py)*g.w + 2*px
					base := (py*g.pw + px) * g.f
					best, arg := o[base:base+g.f], a[base:base+g.f]
					clear(best) // ReLU: a pool of values ≤ 0 gives 0 and passes no gradient
					for i := range arg {
						arg[i] = -1
					}
					for _, p := range [4]int{p0, p0 + 1, p0 + g.w, p0 + g.w + 1} {
						poolMax(best, arg, zs[p*g.f:(p+1)*g.f], int32(p))
					}
				}
			}
		}
	}
}

// grads builds the gradient nodes of x, W and B (nil where diff is false).
func (st *convState) grads(c Conv, inputs G.Nodes, output, grad *G.Node, diff []bool) (G.Nodes, error) {
	g := st.g
	out := make(G.Nodes, 3)
	// gz [n·h·w, f]: the upstream gradient routed to each pool's winner.
	// It reads the pools' winners of this run's forward pass: the forward output is an input,
	// so the machine runs it after the forward op whatever the loss.
	gzOp := &fnOp{name: "ConvPoolGrad(" + c.W.Name + ")", scalarIn: []bool{false, false},
		outShape: func([]tensor.Shape) tensor.Shape { return tensor.Shape{g.n * g.hw, g.f} }}
	gzOp.fwd = func(gz []float32, in [][]float32) float64 {
		up, pooled := in[0], g.ph*g.pw*g.f
		clear(gz)
		for s := 0; s < g.n; s++ {
			gs := gz[s*g.hw*g.f : (s+1)*g.hw*g.f]
			for i, p := range st.arg[s*pooled : (s+1)*pooled] {
				if p >= 0 {
					gs[int(p)*g.f+i%g.f] = up[s*pooled+i]
				}
			}
		}
		return 0
	}
	gz, err := applyFn(gzOp, grad, output)
	if err != nil {
		return nil, err
	}
	if diff[1] {
		// dW [kk, f] = Σ over chunks of patchesᵀ · gz, the patches built again a chunk at a time
		// (cheaper here than keeping the batch's: see convChunk).
		dw := &fnOp{name: "ConvGradW(" + c.W.Name + ")", scalarIn: []bool{false, false},
			outShape: func([]tensor.Shape) tensor.Shape { return tensor.Shape{g.kk, g.f} }}
		var cols []float32
		if !st.keep {
			cols = make([]float32, convChunk*g.hw*g.kk)
		}
		dw.fwd = func(o []float32, in [][]float32) float64 {
			x, gz, bl := in[0], in[1], G.WhichBLAS()
			var beta float32
			if st.keep { // st.cols from this run's forward pass, which ran before gz (its input)
				bl.Sgemm(blas.Trans, blas.NoTrans, g.kk, g.f, g.n*g.hw, 1, st.cols, g.kk, gz, g.f, 0, o, g.f)
			}
			for s0 := 0; s0 < g.n && !st.keep; s0 += convChunk {
				m := min(convChunk, g.n-s0)
				g.im2col(cols, x, s0, m)
				bl.Sgemm(blas.Trans, blas.NoTrans, g.kk, g.f, m*g.hw, 1, cols, g.kk, gz[s0*g.hw*g.f:], g.f, beta, o, g.f)
				beta = 1
			}
			for i, v := range st.mask {
				o[i] *= v
			}
			return 0
		}
		if out[1], err = applyFn(dw, inputs[0], gz); err != nil {
			return nil, err
		}
	}
	if diff[2] {
		db := &fnOp{name: "ConvGradB(" + c.W.Name + ")", scalarIn: []bool{false},
			outShape: func([]tensor.Shape) tensor.Shape { return tensor.Shape{1, g.f} }}
		db.fwd = func(o []float32, in [][]float32) float64 {
			clear(o)
			gz := in[0]
			for r := 0; r < len(gz); r += g.f {
				for f, v := range gz[r : r+g.f] {
					o[f] += v
				}
			}
			return 0
		}
		if out[2], err = applyFn(db, gz); err != nil {
			return nil, err
		}
	}
	if diff[0] {
		// dx = col2im(gz · Wᵀ), a chunk at a time.
		dx := &fnOp{name: "ConvGradX(" + c.W.Name + ")", scalarIn: []bool{false, false},
			outShape: func([]tensor.Shape) tensor.Shape { return tensor.Shape{g.n, c.In.Size()} }}
		gc := make([]float32, convChunk*g.hw*g.kk)
		dx.fwd = func(o []float32, in [][]float32) float64 {
			gz, w, bl := in[0], in[1], G.WhichBLAS()
			if st.mask != nil {
				w = st.wm // W ⊙ mask, written by this run's forward pass
			}
			clear(o)
			for s0 := 0; s0 < g.n; s0 += convChunk {
				m := min(convChunk, g.n-s0)
				rows := m * g.hw
				bl.Sgemm(blas.NoTrans, blas.Trans, rows, g.kk, g.f, 1, gz[s0*g.hw*g.f:], g.f, w, g.f, 0, gc, g.kk)
				g.col2im(o, gc, s0, m)
			}
			return 0
		}
		if out[0], err = applyFn(dx, gz, inputs[1]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Trunk is a model's trunk: conv layers (each ReLU and 2×2 max-pool; none for an MLP trunk)
// followed by an MLP over the last pooled image, flattened. With two conv layers and one dense
// layer it is a LeNet-like network. Its MLP's dense layers are promoted: t.Layers are the dense
// layers after the convs.
type Trunk struct {
	Convs []Conv
	MLP
}

// NewConvTrunk adds to ps a trunk of conv layers with the given filters (kernel×kernel each) over
// in, then dense layers of the hidden widths, every layer followed by ReLU. Parameters are named
// prefix/c<i>/W, prefix/c<i>/b for the conv layers and prefix/l<i>/… for the dense ones.
func NewConvTrunk(ps *ParamSet, prefix, group string, in Image, kernel int, filters, hidden []int, rng *rand.Rand) (Trunk, error) {
	if len(filters) == 0 {
		return Trunk{}, errors.New("graphs: a conv trunk needs at least one conv layer")
	}
	var n Trunk
	im := in
	for i, f := range filters {
		c, err := NewConv(ps, fmt.Sprintf("%s/c%d", prefix, i), group, im, kernel, f, rng)
		if err != nil {
			return Trunk{}, err
		}
		n.Convs = append(n.Convs, c)
		im = c.Out
	}
	n.MLP = NewMLP(ps, prefix, group, im.Size(), hidden, rng)
	return n, nil
}

// Apply adds the trunk to b's graph and returns its last activation.
func (n Trunk) Apply(b *Binder, x *G.Node) (*G.Node, error) {
	h := x
	for _, c := range n.Convs {
		var err error
		if h, err = ApplyConv(b, h, c); err != nil {
			return nil, err
		}
	}
	return n.MLP.Apply(b, h)
}

// MLPTrunk returns the trunk of an MLP: dense layers only.
func MLPTrunk(m MLP) Trunk { return Trunk{MLP: m} }

// Params returns every parameter of the trunk: the conv layers' weights and biases, then the
// dense layers'.
func (n Trunk) Params() []*Param {
	var ps []*Param
	for _, c := range n.Convs {
		ps = append(ps, c.W, c.B)
	}
	for _, d := range n.Layers {
		ps = append(ps, d.W, d.B)
	}
	return ps
}

// ConvScratch holds ConvForward's buffers between calls.
type ConvScratch struct{ st *convState }

// ConvForward computes the conv layer c (ReLU and pool included) on the n examples of x with the
// weights w and biases b (c's shapes: a frozen copy, say) into out [n·c.Out.Size()], outside any
// graph: ApplyConv's forward pass, bit for bit. s keeps the buffers for the next call.
func ConvForward(c Conv, w, b, x []float32, n int, out []float32, s *ConvScratch) {
	want := c.geom(n)
	if s.st != nil {
		have := s.st.g
		have.n = n
		if have != want || s.st.g.n < n {
			s.st = nil // another layer's or a smaller batch's buffers
		}
	}
	if s.st == nil {
		g := want
		s.st = &convState{g: g, arg: make([]int32, g.n*g.ph*g.pw*g.f),
			cols: make([]float32, convChunk*g.hw*g.kk), z: make([]float32, convChunk*g.hw*g.f)}
	}
	st := *s.st
	st.g.n = n
	st.forward(out[:n*c.Out.Size()], x[:n*c.In.Size()], w, b)
}
