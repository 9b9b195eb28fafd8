//go:build !((linux || darwin) && (amd64 || arm64) && !android && !faketime)

package blas

import (
	"errors"
	"runtime"
)

func loadLibrary() (*cfuncs, string, error) {
	return nil, "", errors.New("loading OpenBLAS without cgo is not supported on " + runtime.GOOS + "/" + runtime.GOARCH)
}

func callSgemmF77(fn uintptr, p *f77Args) {
	panic("blas: no Fortran sgemm_ on " + runtime.GOOS + "/" + runtime.GOARCH)
}
