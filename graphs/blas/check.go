package blas

import "gonum.org/v1/gonum/blas"

// Panic messages, identical to gonum's (gonum.org/v1/gonum/blas/gonum/errors.go).
const (
	zeroIncX     = "blas: zero x index increment"
	zeroIncY     = "blas: zero y index increment"
	mLT0         = "blas: m < 0"
	nLT0         = "blas: n < 0"
	kLT0         = "blas: k < 0"
	badTranspose = "blas: illegal transpose"
	badLdA       = "blas: bad leading dimension of A"
	badLdB       = "blas: bad leading dimension of B"
	badLdC       = "blas: bad leading dimension of C"
	shortX       = "blas: insufficient length of x"
	shortY       = "blas: insufficient length of y"
	shortA       = "blas: insufficient length of a"
	shortB       = "blas: insufficient length of b"
	shortC       = "blas: insufficient length of c"
)

func validTrans(t blas.Transpose) bool {
	return t == blas.NoTrans || t == blas.Trans || t == blas.ConjTrans
}

// checkGemm panics as gonum's ?gemm does on bad arguments. Lengths are only checked when
// m and n are positive, as in gonum.
func checkGemm(tA, tB blas.Transpose, m, n, k, lda, ldb, ldc, lenA, lenB, lenC int) {
	if !validTrans(tA) || !validTrans(tB) {
		panic(badTranspose)
	}
	if m < 0 {
		panic(mLT0)
	}
	if n < 0 {
		panic(nLT0)
	}
	if k < 0 {
		panic(kLT0)
	}
	aTrans := tA != blas.NoTrans
	bTrans := tB != blas.NoTrans
	if (aTrans && lda < max(1, m)) || (!aTrans && lda < max(1, k)) {
		panic(badLdA)
	}
	if (bTrans && ldb < max(1, k)) || (!bTrans && ldb < max(1, n)) {
		panic(badLdB)
	}
	if ldc < max(1, n) {
		panic(badLdC)
	}
	if m == 0 || n == 0 {
		return
	}
	if (aTrans && lenA < (k-1)*lda+m) || (!aTrans && lenA < (m-1)*lda+k) {
		panic(shortA)
	}
	if (bTrans && lenB < (n-1)*ldb+k) || (!bTrans && lenB < (k-1)*ldb+n) {
		panic(shortB)
	}
	if lenC < (m-1)*ldc+n {
		panic(shortC)
	}
}

// checkGemv panics as gonum's ?gemv does on bad arguments.
func checkGemv(tA blas.Transpose, m, n, lda, incX, incY, lenA, lenX, lenY int) {
	if !validTrans(tA) {
		panic(badTranspose)
	}
	if m < 0 {
		panic(mLT0)
	}
	if n < 0 {
		panic(nLT0)
	}
	if lda < max(1, n) {
		panic(badLdA)
	}
	if incX == 0 {
		panic(zeroIncX)
	}
	if incY == 0 {
		panic(zeroIncY)
	}
	if m == 0 || n == 0 {
		return
	}
	lenx, leny := m, n
	if tA == blas.NoTrans {
		lenx, leny = n, m
	}
	if (incX > 0 && (lenx-1)*incX >= lenX) || (incX < 0 && (1-lenx)*incX >= lenX) {
		panic(shortX)
	}
	if (incY > 0 && (leny-1)*incY >= lenY) || (incY < 0 && (1-leny)*incY >= lenY) {
		panic(shortY)
	}
	if lenA < lda*(m-1)+n {
		panic(shortA)
	}
}
