package blas

import (
	"math"
	"sync"
	"unsafe"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// CBLAS enum values (cblas.h).
const (
	cblasRowMajor = 101
	cblasNoTrans  = 111
	cblasTrans    = 112
)

// minGemmFlops is the size m*n*k below which Sgemm and Dgemm stay in Go: for tiny products the
// cost of a purego call (reflection, a switch to the system stack and OpenBLAS's own dispatch)
// exceeds the arithmetic.
const minGemmFlops = 4096

// cfuncs holds the C entry points bound by purego. Enum and blasint arguments are int32 (the
// LP64 OpenBLAS ABI: C int), float arguments float32/float64 as in cblas.h.
type cfuncs struct {
	sgemm func(order, tA, tB, m, n, k int32, alpha float32, a *float32, lda int32, b *float32, ldb int32, beta float32, c *float32, ldc int32)
	dgemm func(order, tA, tB, m, n, k int32, alpha float64, a *float64, lda int32, b *float64, ldb int32, beta float64, c *float64, ldc int32)
	sgemv func(order, tA, m, n int32, alpha float32, a *float32, lda int32, x *float32, incX int32, beta float32, y *float32, incY int32)

	// sgemmF77 is the address of the Fortran sgemm_ (0 when absent), whose arguments are all
	// pointers: it is called with purego.SyscallN, without the reflection (and the dozen heap
	// allocations) of a RegisterFunc call.
	sgemmF77 uintptr

	setNumThreads func(n int32) // may be nil
	getNumThreads func() int32  // may be nil
	getConfig     func() string // may be nil
	getCorename   func() string // may be nil
}

// OpenBLAS is a gorgonia.BLAS (and tensor.BLAS) whose Sgemm, Dgemm and Sgemv call OpenBLAS's
// cblas_sgemm, cblas_dgemm and cblas_sgemv through purego; all other routines are those of the
// embedded gonum implementation. Arguments are checked exactly as gonum checks them (same
// panics) before any C call. Obtain one with LoadOpenBLAS; it is safe for concurrent use.
type OpenBLAS struct {
	gonum.Implementation

	fn         *cfuncs
	library    string
	coreChosen bool
}

var (
	loadOnce sync.Once
	loaded   *OpenBLAS
	loadErr  error
)

// LoadOpenBLAS dlopens OpenBLAS (once per process; later calls return the same value) without
// installing it anywhere. Unless OPENBLAS_CORETYPE is set, it first sets that variable from the
// CPU's vector features (EnvCoreType). It tries CLGRAPH_BLAS_LIBRARY, then "libopenblas.so.0",
// "libopenblas.so" and the usual distribution paths. The error says what was tried.
func LoadOpenBLAS() (*OpenBLAS, error) {
	loadOnce.Do(func() {
		var fn *cfuncs
		var lib string
		_, chosen := setCoreType()
		fn, lib, loadErr = loadLibrary()
		if loadErr == nil {
			loaded = &OpenBLAS{fn: fn, library: lib, coreChosen: chosen}
		}
	})
	return loaded, loadErr
}

// Library returns the path of the loaded shared library, or the name it was opened by when the
// path cannot be found.
func (o *OpenBLAS) Library() string { return o.library }

// Threads returns openblas_get_num_threads(), or 0 if the library does not export it.
func (o *OpenBLAS) Threads() int {
	if o.fn.getNumThreads == nil {
		return 0
	}
	return int(o.fn.getNumThreads())
}

// SetThreads calls openblas_set_num_threads(n) when the library exports it. The setting is
// process-wide.
func (o *OpenBLAS) SetThreads(n int) {
	if o.fn.setNumThreads != nil && n > 0 && n <= math.MaxInt32 {
		o.fn.setNumThreads(int32(n))
	}
}

// Config returns openblas_get_config() (build options and CPU core type), or "" if absent.
func (o *OpenBLAS) Config() string {
	if o.fn.getConfig == nil {
		return ""
	}
	return o.fn.getConfig()
}

// testHookGemm, when non-nil, is called just before each C gemm call (tests only).
var testHookGemm func(kind byte, tA, tB blas.Transpose, m, n, k int)

// f77Args holds the scalar arguments of a Fortran ?gemm call, which takes them by reference.
type f77Args struct {
	ta, tb        byte
	m, n, k       int32
	lda, ldb, ldc int32
	alpha, beta   float32
	// a, b and c are the matrices of the call. Holding them as pointers here makes them
	// escape to the heap (a pooled f77Args is on the heap), where the Go runtime never moves
	// them, and keeps them reachable while args refers to them as integers.
	a, b, c unsafe.Pointer
	// args are the call's 13 pointer arguments, kept here so that passing them to the
	// variadic purego.SyscallN allocates no slice per call.
	args [13]uintptr
}

var f77Pool = sync.Pool{New: func() any { return new(f77Args) }}

func f77Trans(t blas.Transpose) byte {
	if t == blas.NoTrans {
		return 'N'
	}
	return 'T'
}

func cTrans(t blas.Transpose) int32 {
	if t == blas.NoTrans {
		return cblasNoTrans
	}
	return cblasTrans // Trans and, for real matrices, ConjTrans
}

func fitsInt32(v ...int) bool {
	for _, x := range v {
		if x > math.MaxInt32 || x < math.MinInt32 {
			return false
		}
	}
	return true
}

// Sgemm computes C = alpha * op(A) * op(B) + beta * C with cblas_sgemm (row-major), where op is
// the identity or the transpose as selected by tA and tB; see gonum's Sgemm for the contract.
func (o *OpenBLAS) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(tA, tB, m, n, k, lda, ldb, ldc, len(a), len(b), len(c))
	if m == 0 || n == 0 {
		return
	}
	// k == 0 or alpha == 0 only scale C, and A or B may be empty: leave them to gonum, as well
	// as products too small to amortise the call, or dimensions beyond a 32-bit blasint.
	if k == 0 || alpha == 0 || m*n*k < minGemmFlops || !fitsInt32(m, n, k, lda, ldb, ldc) {
		o.Implementation.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if testHookGemm != nil {
		testHookGemm('s', tA, tB, m, n, k)
	}
	if o.fn.sgemmF77 != 0 {
		// Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the operands.
		p := f77Pool.Get().(*f77Args)
		*p = f77Args{ta: f77Trans(tB), tb: f77Trans(tA), m: int32(n), n: int32(m), k: int32(k),
			lda: int32(ldb), ldb: int32(lda), ldc: int32(ldc), alpha: alpha, beta: beta}
		p.a, p.b, p.c = unsafe.Pointer(&b[0]), unsafe.Pointer(&a[0]), unsafe.Pointer(&c[0])
		callSgemmF77(o.fn.sgemmF77, p)
		p.a, p.b, p.c = nil, nil, nil // the pool must not keep the matrices alive
		f77Pool.Put(p)
		return
	}
	o.fn.sgemm(cblasRowMajor, cTrans(tA), cTrans(tB), int32(m), int32(n), int32(k),
		alpha, &a[0], int32(lda), &b[0], int32(ldb), beta, &c[0], int32(ldc))
}

// Dgemm computes C = alpha * op(A) * op(B) + beta * C with cblas_dgemm (row-major); see Sgemm.
func (o *OpenBLAS) Dgemm(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	checkGemm(tA, tB, m, n, k, lda, ldb, ldc, len(a), len(b), len(c))
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 || m*n*k < minGemmFlops || !fitsInt32(m, n, k, lda, ldb, ldc) {
		o.Implementation.Dgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if testHookGemm != nil {
		testHookGemm('d', tA, tB, m, n, k)
	}
	o.fn.dgemm(cblasRowMajor, cTrans(tA), cTrans(tB), int32(m), int32(n), int32(k),
		alpha, &a[0], int32(lda), &b[0], int32(ldb), beta, &c[0], int32(ldc))
}

// Sgemv computes y = alpha * op(A) * x + beta * y with cblas_sgemv (row-major), where A is m×n;
// see gonum's Sgemv for the contract, including negative increments.
func (o *OpenBLAS) Sgemv(tA blas.Transpose, m, n int, alpha float32, a []float32, lda int, x []float32, incX int, beta float32, y []float32, incY int) {
	checkGemv(tA, m, n, lda, incX, incY, len(a), len(x), len(y))
	if m == 0 || n == 0 {
		return
	}
	if alpha == 0 || m*n < minGemmFlops || !fitsInt32(m, n, lda, incX, incY) {
		o.Implementation.Sgemv(tA, m, n, alpha, a, lda, x, incX, beta, y, incY)
		return
	}
	if testHookGemm != nil {
		testHookGemm('v', tA, blas.NoTrans, m, n, 1)
	}
	o.fn.sgemv(cblasRowMajor, cTrans(tA), int32(m), int32(n), alpha, &a[0], int32(lda),
		&x[0], int32(incX), beta, &y[0], int32(incY))
}
