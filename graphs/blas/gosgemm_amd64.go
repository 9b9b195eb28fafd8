//go:build !purego

package blas

// kernel6x16 adds alpha · Ap·Bp to the 6×16 block of C at c (row stride ldc), where Ap holds k
// columns of 6 values and Bp k rows of 16 values (packA and packB's layouts).
//
//go:noescape
func kernel6x16(k int, a, b, c *float32, ldc int, alpha float32)

// cpuHasAVX2FMA reports AVX2, FMA and the OS's saving of YMM registers.
func cpuHasAVX2FMA() bool

var haveKernel = cpuHasAVX2FMA()
