package blas

import (
	"fmt"
	"math/rand"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// gemmShape is C[m×n] = op(A)·op(B) with inner dimension k.
type gemmShape struct {
	name    string
	tA, tB  blas.Transpose
	m, n, k int
}

// mlpShapes are the products of a 784-400-400 MLP step at batch 128.
var mlpShapes = []gemmShape{
	{"fwd1_128x784@784x400", blas.NoTrans, blas.NoTrans, 128, 400, 784},
	{"fwd2_128x400@400x400", blas.NoTrans, blas.NoTrans, 128, 400, 400},
	{"dW1_784x128@128x400_TN", blas.Trans, blas.NoTrans, 784, 400, 128},
	{"dx2_128x400@400x400_NT", blas.NoTrans, blas.Trans, 128, 400, 400},
	{"tiny_16x16@16x16", blas.NoTrans, blas.NoTrans, 16, 16, 16},
}

func benchGemm(b *testing.B, impl blas.Float32, s gemmShape) {
	r := rand.New(rand.NewSource(1))
	lda, ldb := s.k, s.n
	if s.tA == blas.Trans {
		lda = s.m
	}
	if s.tB == blas.Trans {
		ldb = s.k
	}
	a, bb, c := randF32(r, s.m*s.k), randF32(r, s.k*s.n), make([]float32, s.m*s.n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		impl.Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
	}
	b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSgemm compares OpenBLAS (through purego), gonum and PureGo at the MLP's shapes.
func BenchmarkSgemm(b *testing.B) {
	for _, s := range mlpShapes {
		b.Run(s.name, func(b *testing.B) {
			b.Run("openblas", func(b *testing.B) { benchGemm(b, needOpenBLAS(b), s) })
			b.Run("gonum", func(b *testing.B) { benchGemm(b, gonum.Implementation{}, s) })
			b.Run("purego", func(b *testing.B) { benchGemm(b, PureGo{}, s) })
		})
	}
}

// BenchmarkCallOverhead measures a purego call into cblas_sgemm on a 4×4 product, which
// Sgemm itself would keep in Go.
func BenchmarkCallOverhead(b *testing.B) {
	ob := needOpenBLAS(b)
	r := rand.New(rand.NewSource(1)) // random data: gonum skips zeros in A
	a, c := randF32(r, 16), make([]float32, 16)
	b.Run("cblas_sgemm_4x4", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			ob.fn.sgemm(cblasRowMajor, cblasNoTrans, cblasNoTrans, 4, 4, 4, 1, &a[0], 4, &a[0], 4, 0, &c[0], 4)
		}
	})
	b.Run("gonum_4x4", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, 4, 4, 4, 1, a, 4, a, 4, 0, c, 4)
		}
	})
	for _, d := range []int{8, 16, 24, 32} {
		d := d
		a, c := randF32(r, d*d), make([]float32, d*d)
		b.Run(fmt.Sprintf("cblas_sgemm_%d", d), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				ob.fn.sgemm(cblasRowMajor, cblasNoTrans, cblasNoTrans, int32(d), int32(d), int32(d), 1, &a[0], int32(d), &a[0], int32(d), 0, &c[0], int32(d))
			}
		})
		b.Run(fmt.Sprintf("Sgemm_%d", d), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				ob.Sgemm(blas.NoTrans, blas.NoTrans, d, d, d, 1, a, d, a, d, 0, c, d)
			}
		})
		b.Run(fmt.Sprintf("gonum_%d", d), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, d, d, d, 1, a, d, a, d, 0, c, d)
			}
		})
	}
}

// convShapes are the products of a conv trunk step (5×5 conv 16 and 32 over 28×28, batch 128):
// graphs.ApplyConv's chunks of 4 examples for the forward passes, conv2's dx and dW, and
// conv1's dW over the whole batch's kept patches.
var convShapes = []gemmShape{
	{"c1fwd_3136x25@25x16", blas.NoTrans, blas.NoTrans, 3136, 16, 25},
	{"c1dW_25x100352@100352x16_TN", blas.Trans, blas.NoTrans, 25, 16, 100352},
	{"c2fwd_784x400@400x32", blas.NoTrans, blas.NoTrans, 784, 32, 400},
	{"c2dW_400x784@784x32_TN", blas.Trans, blas.NoTrans, 400, 32, 784},
	{"c2dx_784x32@32x400_NT", blas.NoTrans, blas.Trans, 784, 400, 32},
}

// BenchmarkSgemmConv is OpenBLAS at the conv trunk's shapes.
func BenchmarkSgemmConv(b *testing.B) {
	for _, s := range convShapes {
		b.Run(s.name, func(b *testing.B) { benchGemm(b, needOpenBLAS(b), s) })
	}
}
