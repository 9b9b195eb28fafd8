package strategies_test

import (
	"math"
	"math/rand"
	"testing"

	"github.com/clgraph/clgraph/strategies"
	"gonum.org/v1/gonum/mat"
)

// gram returns P = A Aᵀ for the n x p matrix A (row-major), and q = -A b for a random b: the
// shape of GEM's dual (A's rows being the memory gradients, b the current gradient).
func gram(rng *rand.Rand, a []float64, n, p int) (P, q []float64) {
	P, q = make([]float64, n*n), make([]float64, n)
	b := make([]float64, p)
	for i := range b {
		b[i] = rng.NormFloat64()
	}
	for i := range n {
		for j := range n {
			for k := range p {
				P[i*n+j] += a[i*p+k] * a[j*p+k]
			}
		}
		for k := range p {
			q[i] -= a[i*p+k] * b[k]
		}
	}
	return P, q
}

func randn(rng *rand.Rand, n int) []float64 {
	a := make([]float64, n)
	for i := range a {
		a[i] = rng.NormFloat64()
	}
	return a
}

// kkt is the largest KKT violation of v for min ½vᵀPv + qᵀv, v >= 0, relative to
// max(|q|, |Pv|), computed independently of SolveQP; it is +Inf for an infeasible v.
func kkt(P, q, v []float64) float64 {
	n := len(q)
	r, scale := 0.0, 0.0
	for i := range n {
		if v[i] < 0 {
			return math.Inf(1)
		}
		pv := 0.0
		for j := range n {
			pv += P[i*n+j] * v[j]
		}
		w := pv + q[i]
		scale = max(scale, math.Abs(q[i]), math.Abs(pv))
		if v[i] > 0 {
			r = max(r, math.Abs(w))
		} else {
			r = max(r, -w)
		}
	}
	return r / scale
}

func objective(P, q, v []float64) float64 {
	n, f := len(q), 0.0
	for i := range n {
		f += q[i] * v[i]
		for j := range n {
			f += 0.5 * v[i] * P[i*n+j] * v[j]
		}
	}
	return f
}

// bruteQP solves the QP by enumerating active sets: for every subset S of free variables it
// solves P_SS v_S = -q_S (v = 0 elsewhere) and keeps the point that satisfies every KKT
// condition (v_S >= 0, gradient >= 0 off S). With P positive definite exactly one does.
func bruteQP(t *testing.T, P, q []float64) []float64 {
	t.Helper()
	n := len(q)
	var best []float64
	for S := 0; S < 1<<n; S++ {
		var idx []int
		for i := range n {
			if S&(1<<i) != 0 {
				idx = append(idx, i)
			}
		}
		v := make([]float64, n)
		if m := len(idx); m > 0 {
			A, b := mat.NewDense(m, m, nil), mat.NewVecDense(m, nil)
			for a, i := range idx {
				b.SetVec(a, -q[i])
				for c, j := range idx {
					A.Set(a, c, P[i*n+j])
				}
			}
			var x mat.VecDense
			if err := x.SolveVec(A, b); err != nil {
				continue
			}
			for a, i := range idx {
				v[i] = x.AtVec(a)
			}
		}
		ok := true
		for i := range n {
			if v[i] < -1e-12 {
				ok = false
			}
		}
		if !ok {
			continue
		}
		for i := range v {
			v[i] = max(v[i], 0)
		}
		if kkt(P, q, v) < 1e-9 {
			if best != nil {
				t.Fatalf("two KKT points %v and %v", best, v)
			}
			best = v
		}
	}
	if best == nil {
		t.Fatal("no active set gives a KKT point")
	}
	return best
}

// TestSolveQPBruteForce checks SolveQP on 3-variable problems against the enumeration of every
// active set: random GEM-shaped duals (P a Gram matrix of 3 random vectors, of 2 to 8
// dimensions), and hand-made ones.
func TestSolveQPBruteForce(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	type problem struct{ P, q []float64 }
	var ps []problem
	for range 300 {
		p := 3 + rng.Intn(6)
		P, q := gram(rng, randn(rng, 3*p), 3, p)
		ps = append(ps, problem{P, q})
	}
	ps = append(ps,
		problem{[]float64{1, 0, 0, 0, 1, 0, 0, 0, 1}, []float64{-1, 2, -3}},                     // separable: v = (1, 0, 3)
		problem{[]float64{2, 1, 0, 1, 2, 1, 0, 1, 2}, []float64{1, 1, 1}},                       // q >= 0: v = 0
		problem{[]float64{1, 0.99, 0.98, 0.99, 1, 0.99, 0.98, 0.99, 1}, []float64{-1, 0.5, -1}}, // near-collinear
	)
	bound, active := 0, 0
	for k, pr := range ps {
		want := bruteQP(t, pr.P, pr.q)
		v := make([]float64, 3)
		res, err := strategies.SolveQP(pr.P, pr.q, v)
		if err != nil {
			t.Fatal(err)
		}
		if res > strategies.QPTol || kkt(pr.P, pr.q, v) > strategies.QPTol {
			t.Fatalf("problem %d: residual %g (independently %g)", k, res, kkt(pr.P, pr.q, v))
		}
		scale := 1.0
		for _, x := range want {
			scale = max(scale, math.Abs(x))
		}
		for i := range v {
			if math.Abs(v[i]-want[i]) > 1e-8*scale {
				t.Fatalf("problem %d (P %v, q %v): v = %v, enumeration %v", k, pr.P, pr.q, v, want)
			}
			if want[i] == 0 {
				bound++
			} else {
				active++
			}
		}
	}
	if bound == 0 || active == 0 {
		t.Fatalf("%d variables at their bound, %d free: the cases do not exercise both", bound, active)
	}
	v := []float64{9, 9, 9} // SolveQP starts from 0 whatever v holds
	if _, err := strategies.SolveQP(ps[300].P, ps[300].q, v); err != nil || v[0] != 1 || v[1] != 0 || v[2] != 3 {
		t.Errorf("separable problem: v = %v (%v), want exactly (1, 0, 3)", v, err)
	}
}

// TestSolveQPLarge checks the KKT conditions on problems of up to 50 variables: positive
// definite, singular (fewer dimensions than variables: the active-set phase meets singular
// blocks and the polish finishes), and ill-conditioned (vectors within 1e-3 of each other), and
// that no feasible perturbation of the solution lowers the objective.
func TestSolveQPLarge(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, tc := range []struct {
		name string
		n, p int
		near bool
	}{{"definite", 50, 400, false}, {"singular", 50, 20, false}, {"ill-conditioned", 20, 300, true}, {"small", 5, 100, false}} {
		t.Run(tc.name, func(t *testing.T) {
			for trial := range 5 {
				a := randn(rng, tc.n*tc.p)
				if tc.near {
					base := randn(rng, tc.p)
					for i := range a {
						a[i] = base[i%tc.p] + 1e-3*a[i]
					}
				}
				P, q := gram(rng, a, tc.n, tc.p)
				v := make([]float64, tc.n)
				res, err := strategies.SolveQP(P, q, v)
				if err != nil {
					t.Fatal(err)
				}
				if r := kkt(P, q, v); res > strategies.QPTol || r > strategies.QPTol {
					t.Fatalf("trial %d: residual %g (independently %g) > %g", trial, res, r, strategies.QPTol)
				}
				f := objective(P, q, v)
				for range 100 {
					u := append([]float64(nil), v...)
					for i := range u {
						u[i] = max(0, u[i]+1e-4*rng.NormFloat64())
					}
					if g := objective(P, q, u); g < f-1e-9*math.Abs(f) {
						t.Fatalf("trial %d: a perturbation lowers the objective from %v to %v", trial, f, g)
					}
				}
			}
		})
	}
}

func TestSolveQPErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		P, q  []float64
		nv    int
		valid bool
	}{
		{"sizes", []float64{1, 0, 0}, []float64{1, 1}, 2, false},
		{"solution size", []float64{1}, []float64{1}, 2, false},
		{"NaN", []float64{1, 0, 0, math.NaN()}, []float64{1, 1}, 2, false},
		{"negative diagonal", []float64{-1}, []float64{1}, 1, false},
		{"unbounded", []float64{0, 0, 0, 1}, []float64{-1, 1}, 2, false},
		{"zero row", []float64{0, 0, 0, 1}, []float64{0, -2}, 2, true}, // v = (0, 2)
		{"empty", nil, nil, 0, true},
	} {
		v := make([]float64, tc.nv)
		_, err := strategies.SolveQP(tc.P, tc.q, v)
		if (err == nil) != tc.valid {
			t.Errorf("%s: error %v, want valid=%v", tc.name, err, tc.valid)
		}
		if tc.name == "zero row" && (v[0] != 0 || v[1] != 2) {
			t.Errorf("zero row: v = %v, want (0, 2)", v)
		}
	}
}
