package blas

import (
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// NameKernel is the value of Info.Kernel when Sgemm runs clgraph's own AVX2/FMA kernel.
const NameKernel = "avx2-fma"

// PureGo is the pure-Go BLAS (no cgo, no shared library): gonum's implementation, whose Sgemm
// is replaced, on amd64 processors with AVX2 and FMA, by a packed, cache-blocked matrix product
// around a 6×16 Go-assembly micro-kernel. The kernel's products run on Threads goroutines (0 or
// 1: the calling goroutine only); gonum's own Sgemm, used where the processor lacks AVX2 or FMA,
// splits large products over GOMAXPROCS goroutines. Setup installs it when OpenBLAS is absent or
// CLGRAPH_BLAS=gonum. It is safe for concurrent use.
type PureGo struct {
	gonum.Implementation
	// Threads is the number of goroutines a large product is split over (by columns of C).
	Threads int
}

// Kernel names the Sgemm in use: NameKernel, or "gonum" where the processor lacks AVX2 or FMA.
func (p PureGo) Kernel() string {
	if haveKernel {
		return NameKernel
	}
	return "gonum"
}

// Block sizes of the packed product: an MC×KC block of A stays in L2, a KC×NR micro-panel of B
// in L1, and the KC×NC block of B in L2/L3.
const (
	kernMR = 6
	kernNR = 16
	blkMC  = 96
	blkKC  = 256
	blkNC  = 2048
)

// minKernelFlops is the size m*n*k below which PureGo leaves a product to gonum (packing costs
// more than it saves on tiny products).
const minKernelFlops = 8192

type packBufs struct {
	a   []float32 // MC×KC, MR-row panels
	b   []float32 // KC×NC, NR-column panels
	tmp [kernMR * kernNR]float32
}

var packPool = sync.Pool{New: func() any {
	return &packBufs{a: make([]float32, blkMC*blkKC), b: make([]float32, blkKC*blkNC)}
}}

// Sgemm computes C = alpha * op(A) * op(B) + beta * C (row-major); see gonum's Sgemm for the
// contract, which it keeps (same argument checks and panics).
func (p PureGo) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(tA, tB, m, n, k, lda, ldb, ldc, len(a), len(b), len(c))
	if !haveKernel || m == 0 || n == 0 || k == 0 || alpha == 0 || m*n*k < minKernelFlops {
		p.Implementation.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	ta, tb := tA != blas.NoTrans, tB != blas.NoTrans
	// Split C's columns into one range of whole micro-panels per goroutine.
	chunk := (n + p.Threads - 1) / max(1, p.Threads)
	chunk = (chunk + kernNR - 1) / kernNR * kernNR
	if p.Threads <= 1 || m*n*k < minParallelFlops || chunk >= n {
		sgemmPacked(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	var wg sync.WaitGroup
	for j0 := 0; j0 < n; j0 += chunk {
		nc := min(chunk, n-j0)
		bj := b[j0:] // op(B)[:, j0:]
		if tb {
			bj = b[j0*ldb:]
		}
		if j0+nc == n {
			sgemmPacked(ta, tb, m, nc, k, alpha, a, lda, bj, ldb, beta, c[j0:], ldc)
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sgemmPacked(ta, tb, m, nc, k, alpha, a, lda, bj, ldb, beta, c[j0:], ldc)
		}()
	}
	wg.Wait()
}

// minParallelFlops is the size m*n*k below which PureGo keeps a product on one goroutine.
const minParallelFlops = 1 << 21

func sgemmPacked(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	// C = beta C first; every block then adds alpha A B.
	if beta != 1 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			if beta == 0 {
				clear(row)
				continue
			}
			for j := range row {
				row[j] *= beta
			}
		}
	}
	bufs := packPool.Get().(*packBufs)
	defer packPool.Put(bufs)
	for jc := 0; jc < n; jc += blkNC {
		nc := min(blkNC, n-jc)
		for pc := 0; pc < k; pc += blkKC {
			kc := min(blkKC, k-pc)
			packB(bufs.b, b, ldb, tB, pc, jc, kc, nc)
			for ic := 0; ic < m; ic += blkMC {
				mc := min(blkMC, m-ic)
				packA(bufs.a, a, lda, tA, ic, pc, mc, kc)
				for jr := 0; jr < nc; jr += kernNR {
					bp := bufs.b[jr*kc:]
					nr := min(kernNR, nc-jr)
					for ir := 0; ir < mc; ir += kernMR {
						ap := bufs.a[ir*kc:]
						mr := min(kernMR, mc-ir)
						ci := (ic+ir)*ldc + jc + jr
						if mr == kernMR && nr == kernNR {
							kernel6x16(kc, &ap[0], &bp[0], &c[ci], ldc, alpha)
							continue
						}
						t := &bufs.tmp
						clear(t[:])
						kernel6x16(kc, &ap[0], &bp[0], &t[0], kernNR, alpha)
						for r := 0; r < mr; r++ {
							row := c[ci+r*ldc : ci+r*ldc+nr]
							for j := range row {
								row[j] += t[r*kernNR+j]
							}
						}
					}
				}
			}
		}
	}
}

// packA copies op(A)[i0:i0+mc, p0:p0+kc] into dst as panels of kernMR rows, each laid out
// column by column (kernMR values per column), padding the last panel with zeros.
func packA(dst, a []float32, lda int, trans bool, i0, p0, mc, kc int) {
	for ir := 0; ir < mc; ir += kernMR {
		mr := min(kernMR, mc-ir)
		d := dst[ir*kc : ir*kc+kc*kernMR]
		if trans { // op(A)[i, p] = a[p*lda + i]: each column of the panel is contiguous
			for p := 0; p < kc; p++ {
				src := a[(p0+p)*lda+i0+ir:]
				col := d[p*kernMR : p*kernMR+kernMR]
				copy(col[:mr], src[:mr])
				clear(col[mr:])
			}
			continue
		}
		for r := 0; r < kernMR; r++ {
			if r >= mr {
				for p := 0; p < kc; p++ {
					d[p*kernMR+r] = 0
				}
				continue
			}
			src := a[(i0+ir+r)*lda+p0 : (i0+ir+r)*lda+p0+kc]
			for p, v := range src {
				d[p*kernMR+r] = v
			}
		}
	}
}

// packB copies op(B)[p0:p0+kc, j0:j0+nc] into dst as panels of kernNR columns, each laid out row
// by row (kernNR values per row), padding the last panel with zeros.
func packB(dst, b []float32, ldb int, trans bool, p0, j0, kc, nc int) {
	for jr := 0; jr < nc; jr += kernNR {
		nr := min(kernNR, nc-jr)
		d := dst[jr*kc : jr*kc+kc*kernNR]
		if !trans { // op(B)[p, j] = b[p*ldb + j]: each row of the panel is contiguous
			for p := 0; p < kc; p++ {
				src := b[(p0+p)*ldb+j0+jr:]
				row := d[p*kernNR : p*kernNR+kernNR]
				copy(row[:nr], src[:nr])
				clear(row[nr:])
			}
			continue
		}
		for j := 0; j < kernNR; j++ {
			if j >= nr {
				for p := 0; p < kc; p++ {
					d[p*kernNR+j] = 0
				}
				continue
			}
			src := b[(j0+jr+j)*ldb+p0 : (j0+jr+j)*ldb+p0+kc]
			for p, v := range src {
				d[p*kernNR+j] = v
			}
		}
	}
}
