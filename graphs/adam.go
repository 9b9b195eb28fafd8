package graphs

import "math"

// Adam is the Adam optimizer (Kingma & Ba 2015) updating parameters in place, with its moments
// allocated once per parameter: no tensor is allocated or cloned per step, unlike Gorgonia's own
// solver. With SGD set it is plain stochastic gradient descent instead (w -= LR g, in place, no
// moments: the online protocol's optimiser), and with Adagrad set Adagrad (Duchi et al. 2011, as
// PyTorch's: V accumulates g², w -= LR g / (sqrt(V) + Eps)), so that every strategy takes any of
// them through one type.
type Adam struct {
	OptimizerSettings
	// State per parameter name: first and second moments and the parameter's step count.
	M, V  map[string][]float32
	Steps map[string]int
}

// OptimizerSettings are Adam's settings, with the JSON names checkpoints record them under.
type OptimizerSettings struct {
	LR    float64 `json:"lr"`
	Beta1 float64 `json:"beta1"`
	Beta2 float64 `json:"beta2"`
	Eps   float64 `json:"eps"`
	// SGD makes Update plain SGD: no moments are kept or used.
	SGD bool `json:"sgd,omitempty"`
	// Adagrad makes Update Adagrad: V holds each weight's sum of squared gradients (M is kept
	// at zero, so a checkpoint's moments pair up as Adam's do); SGD takes precedence.
	Adagrad bool `json:"adagrad,omitempty"`
}

// NewAdam returns Adam with the given learning rate and the usual betas (0.9, 0.999), eps 1e-8.
func NewAdam(lr float64) *Adam {
	return &Adam{OptimizerSettings: OptimizerSettings{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}, M: map[string][]float32{}, V: map[string][]float32{}, Steps: map[string]int{}}
}

// Reset forgets every moment and step count, as a new optimiser would (a strategy that starts
// each task, or a phase of it, with fresh Adam state: hat, packnet, pathnet).
func (a *Adam) Reset() {
	clear(a.M)
	clear(a.V)
	clear(a.Steps)
}

// Update applies one Adam step to every parameter with a gradient; frozen parameters and those
// whose grad is nil are skipped. A parameter's LRScale multiplies the learning rate.
func (a *Adam) Update(params []*Param, grad func(*Param) []float32) {
	for _, p := range params {
		if p.Frozen {
			continue
		}
		g := grad(p)
		if g == nil {
			continue
		}
		w := p.Data()
		if a.SGD {
			lr := float32(a.LR)
			if p.LRScale != 0 {
				lr *= p.LRScale
			}
			a.Steps[p.Name]++
			for i, gi := range g[:len(w)] {
				w[i] -= lr * gi
			}
			continue
		}
		m, ok := a.M[p.Name]
		if !ok {
			m = make([]float32, len(w))
			a.M[p.Name] = m
			a.V[p.Name] = make([]float32, len(w))
		}
		v := a.V[p.Name]
		a.Steps[p.Name]++
		if a.Adagrad {
			lr := float32(a.LR)
			if p.LRScale != 0 {
				lr *= p.LRScale
			}
			eps := float32(a.Eps)
			for i, gi := range g[:len(w)] {
				v[i] += gi * gi
				w[i] -= lr * gi / (sqrt32(v[i]) + eps)
			}
			continue
		}
		t := float64(a.Steps[p.Name])
		lr := a.LR
		if p.LRScale != 0 {
			lr *= float64(p.LRScale)
		}
		b1, b2 := float32(a.Beta1), float32(a.Beta2)
		// Bias corrections folded into the step size, as PyTorch does.
		c1 := 1 - math.Pow(a.Beta1, t)
		c2 := 1 - math.Pow(a.Beta2, t)
		k := adamConsts{b1: b1, c1: 1 - b1, b2: b2, c2: 1 - b2, step: float32(lr / c1), sq: float32(math.Sqrt(c2)), eps: float32(a.Eps), tinyM: flushMinM, tinyV: minNormal32}
		adamKernel(w, g, m, v, &k)
	}
}

// adamConsts are one parameter's constants of an Adam step, laid out for the assembly kernel.
type adamConsts struct {
	b1, c1 float32 // beta1 and 1-beta1
	b2, c2 float32 // beta2 and 1-beta2
	step   float32 // learning rate / (1 - beta1^t)
	sq     float32 // sqrt(1 - beta2^t)
	eps    float32
	tinyM  float32 // first moments of smaller magnitude are flushed to zero (2^-100)
	tinyV  float32 // second moments below it are flushed to zero (2^-126)
}

// Adam's flush thresholds: flushMinM keeps step·m normal for learning rates from 2^-26 on;
// minNormal32 is the smallest positive normal float32.
const (
	flushMinM   = 0x1p-100
	minNormal32 = 0x1p-126
)

// adamGo is the reference update, element by element:
//
//	m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;  w -= step m / (sqrt(v)/sq + eps)
//
// with m flushed to zero when its magnitude falls below 2^-100 and v when it falls below the
// smallest normal float32, 2^-126 (k.tinyM, k.tinyV). A weight whose gradient stays zero (an
// input pixel that is rarely lit, a dead unit) has its first moment decay by b1 every step;
// unflushed, m and then step·m pass through subnormal numbers, on which x86 arithmetic takes a
// microcode assist (about 100 times slower), and the Adam update of a 784-400-400 model came to
// take the larger part of its training step (2.7 ms/step at first, 7.5 ms after 1000 steps of
// the benchmark's random data; TestAdamSubnormalFlush). The flush changes a weight's update by
// under 2^-100·step/eps, far below a float32 weight's resolution; with Eps = 0 a weight whose
// v was flushed while m was not would be updated by ±Inf, so Eps must be positive.
func adamGo(w, g, m, v []float32, k *adamConsts) {
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	for i, gi := range g {
		mi := k.b1*m[i] + k.c1*gi
		vi := k.b2*v[i] + k.c2*gi*gi
		if mi < k.tinyM && mi > -k.tinyM {
			mi = 0
		}
		if vi < k.tinyV {
			vi = 0
		}
		m[i], v[i] = mi, vi
		w[i] -= k.step * mi / (sqrt32(vi)/k.sq + k.eps)
	}
}

func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }
