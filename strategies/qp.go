package strategies

import (
	"errors"
	"fmt"
	"math"
)

// QPTol is the relative tolerance of SolveQP: a solution v is accepted when every KKT condition
// holds to QPTol times the problem's scale, max(|q|_inf, |P v|_inf), i.e. when for every i
// (w = P v + q the gradient) |w_i| <= QPTol*scale where v_i > 0 and w_i >= -QPTol*scale where
// v_i = 0. In GEM w is the projected gradient's dot product with each memory gradient, so the
// constraints hold to QPTol relative to the largest of them.
const QPTol = 1e-10

// qpSweeps bounds SolveQP's coordinate-descent polish, in sweeps over every variable.
const qpSweeps = 10000

// SolveQP solves the convex quadratic programme over n = len(q) non-negative variables
//
//	minimise ½ vᵀ P v + qᵀ v  subject to v >= 0,
//
// P being n x n, row-major, symmetric positive semi-definite, writing the solution into v (len
// n). It is meant for few variables (GEM's dual has one per earlier task) and costs O(n³) per
// active-set change.
//
// It runs a primal active-set method first (Lawson and Hanson's NNLS algorithm written for
// P and q: free the variable whose gradient is most negative, solve the equality-constrained
// problem on the free variables by Cholesky, and step back to the boundary while a free variable
// would turn negative), which ends, in finitely many changes, at the exact solution up to
// rounding. When that fails to meet QPTol (a singular or ill-conditioned P: a free block whose
// Cholesky pivot vanishes, or rounding stalls it), cyclic coordinate descent (each variable in
// turn minimised exactly over v_i >= 0) polishes its point, for at most 10000 sweeps. It
// returns the relative KKT residual reached (see QPTol; at most QPTol unless the polish ran
// out of sweeps). It fails on mismatched sizes, non-finite entries, a negative diagonal or an
// unbounded problem (P_ii = 0 with q_i < 0).
func SolveQP(P, q, v []float64) (float64, error) {
	n := len(q)
	if len(P) != n*n || len(v) != n {
		return 0, fmt.Errorf("strategies: QP of %d variables needs a %d x %d matrix and %d values, got %d and %d", n, n, n, n, len(P), len(v))
	}
	for i, x := range P {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, fmt.Errorf("strategies: QP matrix entry %d is %v", i, x)
		}
	}
	for i, x := range q {
		d := P[i*n+i]
		switch {
		case math.IsNaN(x) || math.IsInf(x, 0):
			return 0, fmt.Errorf("strategies: QP linear term %d is %v", i, x)
		case d < 0:
			return 0, fmt.Errorf("strategies: QP matrix has diagonal entry %v < 0: not positive semi-definite", d)
		case d == 0 && x < 0:
			return 0, errors.New("strategies: QP is unbounded below (a zero diagonal entry with a negative linear term)")
		}
	}
	clear(v)
	s := newQPState(P, q, v)
	if s.activeSet(); s.residual() > QPTol {
		s.polish()
	}
	return s.residual(), nil
}

// qpState is SolveQP's work: the problem, the current point and its gradient.
type qpState struct {
	P, q, v, w []float64
	y          []float64 // solveFree's scratch
	n          int
}

func newQPState(P, q, v []float64) *qpState {
	s := &qpState{P: P, q: q, v: v, w: make([]float64, len(q)), y: make([]float64, len(q)), n: len(q)}
	s.gradient()
	return s
}

// gradient sets w = P v + q.
func (s *qpState) gradient() {
	for i := range s.w {
		g := s.q[i]
		for j, vj := range s.v {
			g += s.P[i*s.n+j] * vj
		}
		s.w[i] = g
	}
}

// scale is max(|q|_inf, |P v|_inf), at least the smallest normal float64.
func (s *qpState) scale() float64 {
	sc := math.SmallestNonzeroFloat64
	for i, qi := range s.q {
		sc = max(sc, math.Abs(qi), math.Abs(s.w[i]-qi))
	}
	return sc
}

// residual is the largest KKT violation at v, relative to the scale (w up to date).
func (s *qpState) residual() float64 {
	r := 0.0
	for i, wi := range s.w {
		if s.v[i] > 0 {
			r = max(r, math.Abs(wi))
		} else {
			r = max(r, -wi)
		}
	}
	return r / s.scale()
}

// activeSet runs the Lawson-Hanson active-set method from v = 0, leaving v feasible. It stops at
// the KKT point, or early (for the polish to finish) when a free block is numerically singular
// or rounding stalls it.
func (s *qpState) activeSet() {
	n := s.n
	free := make([]bool, n)
	z := make([]float64, n)
	L := make([]float64, n*n)
	var idx []int
	for range 3*n + 1 {
		j, best := -1, -QPTol*s.scale()
		for i, wi := range s.w {
			if !free[i] && s.P[i*n+i] > 0 && wi < best {
				j, best = i, wi
			}
		}
		if j < 0 {
			return // KKT point
		}
		free[j] = true
		for inner := 0; ; inner++ {
			idx = idx[:0]
			for i, f := range free {
				if f {
					idx = append(idx, i)
				}
			}
			if !s.solveFree(idx, z, L) || (inner == 0 && z[j] <= 0) || inner > n {
				s.gradient()
				return
			}
			// Step from v towards z, stopping where the first free variable reaches 0.
			alpha, hit := 1.0, -1
			for _, i := range idx {
				if z[i] > 0 {
					continue
				}
				a := 0.0
				if s.v[i] > 0 {
					a = s.v[i] / (s.v[i] - z[i])
				}
				if a < alpha {
					alpha, hit = a, i
				}
			}
			for _, i := range idx {
				s.v[i] += alpha * (z[i] - s.v[i])
			}
			if hit < 0 {
				break
			}
			for _, i := range idx {
				if s.v[i] <= 0 || i == hit {
					s.v[i], free[i] = 0, false
				}
			}
		}
		s.gradient()
	}
}

// solveFree solves P_FF z_F = -q_F for the free variables idx by Cholesky (L is scratch), with
// z = 0 elsewhere. It reports false when P_FF is not numerically positive definite.
func (s *qpState) solveFree(idx []int, z, L []float64) bool {
	n, m := s.n, len(idx)
	for a := range m {
		for b := 0; b <= a; b++ {
			x := s.P[idx[a]*n+idx[b]]
			for k := range b {
				x -= L[a*m+k] * L[b*m+k]
			}
			if a == b {
				if x <= 1e-13*s.P[idx[a]*n+idx[a]] {
					return false
				}
				L[a*m+a] = math.Sqrt(x)
			} else {
				L[a*m+b] = x / L[b*m+b]
			}
		}
	}
	y := s.y[:m]
	for a := range m {
		x := -s.q[idx[a]]
		for k := range a {
			x -= L[a*m+k] * y[k]
		}
		y[a] = x / L[a*m+a]
	}
	for a := m - 1; a >= 0; a-- {
		x := y[a]
		for k := a + 1; k < m; k++ {
			x -= L[k*m+a] * y[k]
		}
		y[a] = x / L[a*m+a]
	}
	clear(z)
	for a, i := range idx {
		z[i] = y[a]
	}
	return true
}

// polish runs cyclic coordinate descent from v until the residual meets QPTol, for at most
// qpSweeps sweeps, recomputing the gradient exactly after each sweep.
func (s *qpState) polish() {
	n := s.n
	for range qpSweeps {
		for i := range n {
			d := s.P[i*n+i]
			if d <= 0 {
				continue // a zero row (P is semi-definite): v_i does not matter, keep it
			}
			nv := max(0, s.v[i]-s.w[i]/d)
			if delta := nv - s.v[i]; delta != 0 {
				s.v[i] = nv
				for k := range n {
					s.w[k] += s.P[k*n+i] * delta
				}
			}
		}
		s.gradient()
		if s.residual() <= QPTol {
			return
		}
	}
}
