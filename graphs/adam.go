package graphs

import "math"

// Adam is the Adam optimizer (Kingma & Ba 2015) updating parameters in place, with its moments
// allocated once per parameter: no tensor is allocated or cloned per step, unlike Gorgonia's own
// solver.
type Adam struct {
	LR, Beta1, Beta2, Eps float64
	// State per parameter name: first and second moments and the parameter's step count.
	M, V  map[string][]float32
	Steps map[string]int
}

// NewAdam returns Adam with the given learning rate and the usual betas (0.9, 0.999), eps 1e-8.
func NewAdam(lr float64) *Adam {
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, M: map[string][]float32{}, V: map[string][]float32{}, Steps: map[string]int{}}
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
		m, ok := a.M[p.Name]
		if !ok {
			m = make([]float32, len(w))
			a.M[p.Name] = m
			a.V[p.Name] = make([]float32, len(w))
		}
		v := a.V[p.Name]
		a.Steps[p.Name]++
		t := float64(a.Steps[p.Name])
		lr := a.LR
		if p.LRScale != 0 {
			lr *= float64(p.LRScale)
		}
		b1, b2 := float32(a.Beta1), float32(a.Beta2)
		// Bias corrections folded into the step size, as PyTorch does.
		c1 := 1 - math.Pow(a.Beta1, t)
		c2 := 1 - math.Pow(a.Beta2, t)
		step := float32(lr / c1)
		sq := float32(math.Sqrt(c2))
		eps := float32(a.Eps)
		for i, gi := range g {
			mi := b1*m[i] + (1-b1)*gi
			vi := b2*v[i] + (1-b2)*gi*gi
			m[i], v[i] = mi, vi
			w[i] -= step * mi / (sqrt32(vi)/sq + eps)
		}
	}
}

func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }
