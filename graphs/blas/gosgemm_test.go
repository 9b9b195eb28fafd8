package blas

import (
	"fmt"
	"math/rand"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// TestPureGoSgemmMatchesGonum checks the packed kernel against gonum over shapes that cover
// partial micro-tiles, several KC, MC and NC blocks, both transposes, leading dimensions beyond
// the widths, and alpha and beta.
func TestPureGoSgemmMatchesGonum(t *testing.T) {
	t.Logf("kernel: %s", PureGo{}.Kernel())
	r := rand.New(rand.NewSource(7))
	shapes := [][3]int{{6, 16, 100}, {37, 53, 61}, {128, 400, 784}, {5, 17, 3}, {97, 33, 513}, {7, 2100, 9}, {200, 20, 1}, {1, 300, 40}}
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
			for _, tB := range []blas.Transpose{blas.NoTrans, blas.Trans} {
				for _, ab := range [][2]float32{{1, 0}, {0.7, 1}, {-1.3, 0.5}} {
					name := fmt.Sprintf("%dx%dx%d/%s%s/alpha=%g,beta=%g", m, n, k, transNames[tA], transNames[tB], ab[0], ab[1])
					ar, ac := m, k
					if tA == blas.Trans {
						ar, ac = k, m
					}
					br, bc := k, n
					if tB == blas.Trans {
						br, bc = n, k
					}
					lda, ldb, ldc := ac+1, bc+3, n+2
					a := randF32(r, (ar-1)*lda+ac)
					b := randF32(r, (br-1)*ldb+bc)
					c0 := randF32(r, (m-1)*ldc+n+1)
					want := append([]float32(nil), c0...)
					got := append([]float32(nil), c0...)
					gonum.Implementation{}.Sgemm(tA, tB, m, n, k, ab[0], a, lda, b, ldb, ab[1], want, ldc)
					PureGo{}.Sgemm(tA, tB, m, n, k, ab[0], a, lda, b, ldb, ab[1], got, ldc)
					closeRel32(t, name, got, want, 2e-4*float64(max(1, k/64)))
					got2 := append([]float32(nil), c0...)
					PureGo{Threads: 3}.Sgemm(tA, tB, m, n, k, ab[0], a, lda, b, ldb, ab[1], got2, ldc)
					closeRel32(t, name+"/3 threads", got2, got, 0)
				}
			}
		}
	}
	// beta = 0 overwrites C, NaNs included.
	c := []float32{float32NaN(), float32NaN()}
	PureGo{}.Sgemm(blas.NoTrans, blas.NoTrans, 1, 2, 1, 1, []float32{2}, 1, []float32{3, 4}, 2, 0, c, 2)
	closeRel32(t, "beta=0", c, []float32{6, 8}, 0)
}

func float32NaN() float32 {
	z := float32(0)
	return z / z
}

func TestPureGoPanicsMatchGonum(t *testing.T) {
	s := make([]float32, 100)
	for _, f := range []func(b blas.Float32){
		func(b blas.Float32) { b.Sgemm(blas.NoTrans, blas.NoTrans, 30, 30, 30, 1, s, 30, s, 30, 0, s, 30) },
		func(b blas.Float32) { b.Sgemm(blas.NoTrans, blas.NoTrans, 2, 3, 4, 1, s, 3, s, 3, 0, s, 3) },
	} {
		want := panicOf(func() { f(gonum.Implementation{}) })
		if got := panicOf(func() { f(PureGo{}) }); want == "" || got != want {
			t.Errorf("panic %q, gonum panics %q", got, want)
		}
	}
}
