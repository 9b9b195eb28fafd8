// Package blas picks the BLAS that Gorgonia uses for its float32 (and float64) matrix products,
// at run time and without cgo.
//
// Setup tries to dlopen OpenBLAS's shared library with github.com/ebitengine/purego (which works
// with CGO_ENABLED=0) and, if it loads, installs an implementation whose Sgemm, Dgemm and Sgemv
// call cblas_sgemm, cblas_dgemm and cblas_sgemv; every other BLAS routine is gonum's pure-Go code.
// If the library is absent, Setup installs the pure-Go implementation, PureGo, and says why in
// Info.Reason: gonum's BLAS whose Sgemm is, on amd64 with AVX2 and FMA, clgraph's own packed
// product around a Go-assembly micro-kernel (still no cgo; several times gonum's speed). On
// Debian/Ubuntu the fast path needs only the runtime package:
//
//	apt-get install libopenblas0
//
// The choice is installed with gorgonia.Use, which also calls tensor.Use, so tensor.MatMul, and
// with it Gorgonia's Mul on matrices and both transposed products of Mul's backward pass, run on
// the chosen implementation; so does graphs.Linear, clgraph's fused dense layer, which calls
// gorgonia.WhichBLAS().Sgemm directly.
//
// Environment variables, read once by the first call to Setup or SetupStrict:
//
//	CLGRAPH_BLAS=gonum        force the pure-Go implementation (PureGo)
//	CLGRAPH_BLAS=openblas     require OpenBLAS: SetupStrict reports a missing library as an error
//	CLGRAPH_BLAS=auto or ""   OpenBLAS if it loads, gonum otherwise (the default)
//	CLGRAPH_BLAS_THREADS=N    call openblas_set_num_threads(N); unset: OPENBLAS_NUM_THREADS (or
//	                          OMP_NUM_THREADS) when set, else DefaultThreads (1)
//	CLGRAPH_BLAS_LIBRARY=PATH try this shared library before the usual OpenBLAS names
package blas
