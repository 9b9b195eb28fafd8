package graphs

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
)

// Sigmoid returns 1/(1+exp(-x)) in float32, flushed to 0 below float32's smallest normal number
// (2^-126): subnormal operands slow the arithmetic they enter by an order of magnitude on some
// CPUs.
func Sigmoid(x float64) float32 {
	y := float32(1 / (1 + math.Exp(-x)))
	if y < 0x1p-126 {
		return 0
	}
	return y
}

// GateFloor is the smallest HAT gate kept: sigmoid(s e) below it is 0. At s = 400 many gates are
// far below 1e-12; kept, they make the activations and gradients they multiply subnormal, and
// the matrix products over those run an order of magnitude slower on some CPUs (measured on an
// Intel Xeon: a hat step took 8x naive's); a gate of 2^-40 (9e-13) passes nothing a float32
// activation of order 1 would notice next to the others.
const GateFloor = 0x1p-40

// HATGate returns HAT's gate sigmoid(x), 0 below GateFloor.
func HATGate(x float64) float32 {
	y := Sigmoid(x)
	if y < GateFloor {
		return 0
	}
	return y
}

// AttentionGate adds y = x * sigmoid(s e) to x's graph (HAT's gate, Serra et al. 2018): x
// [n, w] a layer's output, e [1, c] a task embedding (a parameter) with c = w, or c dividing w
// for a conv layer's NHWC output (column k takes gate k mod c: one gate per channel), s the
// gate's scale, read from *s at every run (the strategy anneals it between steps). Both x and e are differentiated:
//
//	dL/dx_ij = g_ij a_j        dL/de_j = s a_j (1 - a_j) sum_i g_ij x_ij      (a = sigmoid(s e))
//
// A gate below GateFloor is 0 (see there).
// The ops are fused and write into buffers they own: a run allocates nothing.
func AttentionGate(x, e *G.Node, s *float32) (*G.Node, error) {
	xs, es := x.Shape(), e.Shape()
	if len(xs) != 2 || len(es) != 2 || es[0] != 1 || es[1] < 1 || xs[1]%es[1] != 0 {
		return nil, fmt.Errorf("graphs: attention gate over %v with embedding %v, want [n, w] and [1, c] with c dividing w", xs, es)
	}
	c := es[1]
	var a []float32 // sigmoid(s e) of the last forward run, read by the gradients
	op := &fnOp{name: "AttentionGate", scalarIn: []bool{false, false}, like: 0, diff: []bool{true, true}}
	op.fwd = func(out []float32, in [][]float32) float64 {
		xv, ev := in[0], in[1]
		if a == nil {
			a = make([]float32, c)
		}
		for j, v := range ev {
			a[j] = HATGate(float64(*s) * float64(v))
		}
		for i := range len(xv) / c {
			r, o := xv[i*c:(i+1)*c], out[i*c:(i+1)*c]
			for j, v := range r {
				o[j] = v * a[j]
			}
		}
		return 0
	}
	op.sym = func(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		gx := &fnOp{name: "AttentionGateGradX", scalarIn: []bool{false, false}, like: 0}
		gx.fwd = func(out []float32, in [][]float32) float64 {
			g := in[0]
			for i := range len(g) / c {
				r, o := g[i*c:(i+1)*c], out[i*c:(i+1)*c]
				for j, v := range r {
					o[j] = v * a[j]
				}
			}
			return 0
		}
		ge := &fnOp{name: "AttentionGateGradE", scalarIn: []bool{false, false, false}, like: 1}
		ge.fwd = func(out []float32, in [][]float32) float64 {
			g, xv := in[0], in[2]
			for j := range out {
				out[j] = 0
			}
			for i := range len(g) / c {
				gr, xr := g[i*c:(i+1)*c], xv[i*c:(i+1)*c]
				for j, v := range gr {
					out[j] += v * xr[j]
				}
			}
			for j := range out {
				out[j] *= *s * a[j] * (1 - a[j])
			}
			return 0
		}
		dx, err := applyFn(gx, grad, inputs[1])
		if err != nil {
			return nil, err
		}
		de, err := applyFn(ge, grad, inputs[1], inputs[0])
		if err != nil {
			return nil, err
		}
		return G.Nodes{dx, de}, nil
	}
	return applyFn(op, x, e)
}
