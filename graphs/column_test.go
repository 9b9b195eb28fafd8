package graphs

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
)

// lateralForms are the forms of lateral connections progNet builds: linear, the paper's
// adapters, and A-GEM's code's (linear, from the input too, with biases).
var lateralForms = []string{"linear", "adapter", "input"}

// progNet builds a 3-column progressive network over 5 inputs with hidden widths [4,3] and heads
// of 2, 3 and 2 units, with lateral connections of the given form (lateralForms).
func progNet(t *testing.T, form string) (*Progressive, *ParamSet) {
	t.Helper()
	rng := rand.New(rand.NewSource(3))
	ps := NewParamSet()
	p := &Progressive{In: 5, Adapter: form == "adapter", FromInput: form == "input"}
	for _, out := range []int{2, 3, 2} {
		if _, err := p.AddColumn(ps, []int{4, 3}, out, rng); err != nil {
			t.Fatal(err)
		}
	}
	return p, ps
}

// progModel is a Model whose output is every column's logits side by side.
func progModel(t *testing.T, p *Progressive, ps *ParamSet, rows int) *Model {
	t.Helper()
	outs := 0
	for _, c := range p.Columns {
		outs += c.Out
	}
	m, err := NewModel(Config{Params: ps, InputDim: p.In, Outputs: outs, Batch: rows, EvalBatch: rows,
		Forward: func(b *Binder, x *G.Node) (*G.Node, error) {
			logits, err := p.Apply(b, x, len(p.Columns)-1)
			if err != nil {
				return nil, err
			}
			return G.Concat(1, logits...)
		}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// dense computes x W + b in float64 for n rows (b may be nil).
func dense(x []float64, n int, w, b *Param) []float64 {
	in, out := w.Shape()[0], w.Shape()[1]
	wd := w.Data()
	y := make([]float64, n*out)
	for r := 0; r < n; r++ {
		for o := 0; o < out; o++ {
			s := 0.0
			if b != nil {
				s = float64(b.Data()[o])
			}
			for i := 0; i < in; i++ {
				s += x[r*in+i] * float64(wd[i*out+o])
			}
			y[r*out+o] = s
		}
	}
	return y
}

func reluF(x []float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = math.Max(v, 0)
	}
	return out
}

// refForward is the progressive network written out by hand in float64: every column's logits.
func refForward(p *Progressive, x []float32, n int) [][]float64 {
	x64 := make([]float64, len(x))
	for i, v := range x {
		x64[i] = float64(v)
	}
	acts := make([][][]float64, len(p.Columns))
	logits := make([][]float64, len(p.Columns))
	for k, c := range p.Columns {
		h := x64
		L := len(c.Hidden)
		for i := 0; i <= L; i++ {
			d := c.Head
			if i < L {
				d = c.Layers[i]
			}
			z := dense(h, n, d.W, d.B)
			if lat := c.Laterals[i]; lat != nil {
				var lz []float64
				if a := lat.Adapter; a != nil {
					// concatenate the earlier columns' layer i-1 along the unit axis
					var cat []float64
					for r := 0; r < n; r++ {
						for j := 0; j < k; j++ {
							w := p.Columns[j].Hidden[i-1]
							cat = append(cat, acts[j][i-1][r*w:(r+1)*w]...)
						}
					}
					alpha := float64(a.Alpha.Data()[0])
					for q := range cat {
						cat[q] *= alpha
					}
					lz = dense(reluF(dense(cat, n, a.V.W, a.V.B)), n, a.U, nil)
				} else {
					lz = make([]float64, len(z))
					for j := 0; j < k; j++ {
						src := x64 // FromInput's laterals into the first layer
						if i > 0 {
							src = acts[j][i-1]
						}
						var bias *Param
						if lat.B != nil {
							bias = lat.B[j]
						}
						for q, v := range dense(src, n, lat.U[j], bias) {
							lz[q] += v
						}
					}
				}
				for q := range z {
					z[q] += lz[q]
				}
			}
			if i == L {
				logits[k] = z
				break
			}
			h = reluF(z)
			acts[k] = append(acts[k], h)
		}
	}
	return logits
}

func randomInput(rng *rand.Rand, n, d int) []float32 {
	x := make([]float32, n*d)
	for i := range x {
		x[i] = float32(rng.Float64())
	}
	return x
}

func TestProgressiveMatchesReference(t *testing.T) {
	for _, form := range lateralForms {
		t.Run(form, func(t *testing.T) {
			p, ps := progNet(t, form)
			for k, c := range p.Columns[1:] {
				if lat := c.Laterals[0]; (lat != nil) != (form == "input") || (form == "input" && (len(lat.U) != k+1 || len(lat.B) != k+1 || lat.U[0].Shape()[0] != p.In)) {
					t.Fatalf("column %d: first layer's laterals %+v with form %s", k+1, lat, form)
				}
				if lat := c.Laterals[1]; (lat.B != nil) != (form == "input") {
					t.Fatalf("column %d: lateral biases %v with form %s", k+1, lat.B, form)
				}
			}
			const n = 6
			m := progModel(t, p, ps, n)
			x := randomInput(rand.New(rand.NewSource(9)), n, p.In)
			out := make([]float32, n*m.Outputs())
			if err := m.Forward(x, n, out); err != nil {
				t.Fatal(err)
			}
			ref := refForward(p, x, n)
			off := 0
			for k, c := range p.Columns {
				for r := 0; r < n; r++ {
					for o := 0; o < c.Out; o++ {
						got, want := float64(out[r*m.Outputs()+off+o]), ref[k][r*c.Out+o]
						if math.Abs(got-want) > 1e-5 {
							t.Fatalf("column %d row %d unit %d: graph %v, reference %v", k, r, o, got, want)
						}
					}
				}
				off += c.Out
			}
		})
	}
}

// TestProgressiveLateralsMatter fails if the lateral connections are dropped: changing a weight of
// column 0 must change the logits of every later column, and never those of an earlier one.
func TestProgressiveLateralsMatter(t *testing.T) {
	for _, form := range lateralForms {
		t.Run(form, func(t *testing.T) {
			p, ps := progNet(t, form)
			const n = 4
			m := progModel(t, p, ps, n)
			x := randomInput(rand.New(rand.NewSource(2)), n, p.In)
			M := m.Outputs()
			before := make([]float32, n*M)
			after := make([]float32, n*M)
			if err := m.Forward(x, n, before); err != nil {
				t.Fatal(err)
			}
			for src := 0; src < 2; src++ {
				w := p.Columns[src].Layers[0].W.Data()
				saved := append([]float32(nil), w...)
				for i := range w {
					w[i] += 0.5
				}
				if err := m.Forward(x, n, after); err != nil {
					t.Fatal(err)
				}
				copy(w, saved)
				off := 0
				for k, c := range p.Columns {
					changed := false
					for r := 0; r < n; r++ {
						for o := off; o < off+c.Out; o++ {
							changed = changed || after[r*M+o] != before[r*M+o]
						}
					}
					if want := k >= src; changed != want {
						t.Errorf("changing column %d: column %d's logits changed=%v, want %v", src, k, changed, want)
					}
					off += c.Out
				}
			}
		})
	}
}

// TestProgressiveGradients checks the gradients of the last column (its own weights and its
// laterals) against finite differences of the hand-written reference, with earlier columns frozen.
func TestProgressiveGradients(t *testing.T) {
	for _, form := range lateralForms {
		t.Run(form, func(t *testing.T) {
			p, ps := progNet(t, form)
			for _, c := range p.Columns[:2] {
				c.SetFrozen(true)
			}
			const n = 6
			m := progModel(t, p, ps, n)
			last := p.Columns[2]
			if got, want := len(m.Trainable()), len(last.Params()); got != want {
				t.Fatalf("%d trainable parameters, want the last column's %d", got, want)
			}
			for _, q := range m.Trainable() {
				if q.Group != last.Group {
					t.Fatalf("trainable %s is not in %s", q.Name, last.Group)
				}
			}
			rng := rand.New(rand.NewSource(4))
			x, w, mask := m.Inputs()
			copy(x, randomInput(rng, n, p.In))
			M, off := m.Outputs(), m.Outputs()-last.Out
			target := make([]int, n)
			for r := 0; r < n; r++ {
				for o := 0; o < off; o++ {
					mask[r*M+o] = MaskOff
				}
				target[r] = rng.Intn(last.Out)
				w[r*M+off+target[r]] = 1.0 / n
			}
			loss := func() float64 {
				z := refForward(p, x, n)[2]
				s := 0.0
				for r := 0; r < n; r++ {
					row := z[r*last.Out : (r+1)*last.Out]
					mx := math.Inf(-1)
					for _, v := range row {
						mx = math.Max(mx, v)
					}
					se := 0.0
					for _, v := range row {
						se += math.Exp(v - mx)
					}
					s -= (row[target[r]] - mx - math.Log(se)) / n
				}
				return s
			}
			got, _, err := m.Step()
			if err != nil {
				t.Fatal(err)
			}
			if ref := loss(); math.Abs(float64(got)-ref) > 1e-5 {
				t.Fatalf("loss %v, reference %v", got, ref)
			}
			lateralGrads := 0
			for _, q := range last.Params() {
				g := append([]float32(nil), m.Grad(q)...)
				if len(g) != q.Size() {
					t.Fatalf("%s: gradient of %d values, want %d", q.Name, len(g), q.Size())
				}
				d := q.Data()
				for i := range d {
					const h = 1e-3
					old := d[i]
					d[i] = old + h
					lp := loss()
					d[i] = old - h
					lm := loss()
					d[i] = old
					fd := (lp - lm) / (2 * h)
					if math.Abs(fd-float64(g[i])) > 2e-3 {
						t.Errorf("%s[%d]: gradient %v, finite difference %v", q.Name, i, g[i], fd)
					}
					if g[i] != 0 && q != last.Head.W && q != last.Head.B && !isOwnLayer(last, q) {
						lateralGrads++
					}
				}
			}
			if lateralGrads == 0 {
				t.Fatal("no lateral parameter received a gradient")
			}
			for _, c := range p.Columns[:2] {
				for _, q := range c.Params() {
					if m.Grad(q) != nil {
						t.Fatalf("frozen %s has a gradient", q.Name)
					}
				}
			}
		})
	}
}

func isOwnLayer(c *Column, q *Param) bool {
	for _, d := range c.Layers {
		if q == d.W || q == d.B {
			return true
		}
	}
	return false
}

func TestProgressiveErrors(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	ps := NewParamSet()
	p := &Progressive{In: 3}
	if _, err := p.AddColumn(ps, []int{4, 4}, 2, rng); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AddColumn(ps, []int{4}, 2, rng); err == nil {
		t.Error("a column of another depth was accepted")
	}
	if _, err := p.AddColumn(ps, nil, 2, rng); err == nil {
		t.Error("a column without hidden layers was accepted")
	}
	if _, err := p.Apply(newBinder("t"), nil, 1); err == nil {
		t.Error("applying a missing column did not fail")
	}
	both := &Progressive{In: 3, Adapter: true, FromInput: true}
	if _, err := both.AddColumn(NewParamSet(), []int{4}, 2, rng); err == nil {
		t.Error("adapters with laterals from the input were accepted")
	}
}
