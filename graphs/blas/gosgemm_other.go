//go:build !amd64 || purego

package blas

const haveKernel = false

func kernel6x16(k int, a, b, c *float32, ldc int, alpha float32) {
	panic("blas: no Sgemm kernel on this platform")
}
