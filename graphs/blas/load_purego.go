//go:build (linux || darwin) && (amd64 || arm64) && !android && !faketime

package blas

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"
)

// callSgemmF77 calls the Fortran sgemm_ at fn with the scalars and matrices in p (the matrices
// already in column-major order). Every argument is a pointer, so purego.SyscallN passes them
// in integer registers and on the stack with no reflection. The arguments are handed over from
// p.args, not as fresh conversions in the call (which would allocate a slice per call): the
// matrices stay in place because p holds them as pointers, which puts them on the heap (the Go
// collector does not move heap objects), and alive because p does, which KeepAlive holds past
// the call.
func callSgemmF77(fn uintptr, p *f77Args) {
	p.args = [13]uintptr{
		uintptr(unsafe.Pointer(&p.ta)), uintptr(unsafe.Pointer(&p.tb)),
		uintptr(unsafe.Pointer(&p.m)), uintptr(unsafe.Pointer(&p.n)), uintptr(unsafe.Pointer(&p.k)),
		uintptr(unsafe.Pointer(&p.alpha)), uintptr(p.a), uintptr(unsafe.Pointer(&p.lda)),
		uintptr(p.b), uintptr(unsafe.Pointer(&p.ldb)),
		uintptr(unsafe.Pointer(&p.beta)), uintptr(p.c), uintptr(unsafe.Pointer(&p.ldc))}
	purego.SyscallN(fn, p.args[:]...)
	runtime.KeepAlive(p)
}

// candidates lists the shared libraries to try, in order.
func candidates() []string {
	var c []string
	if p := strings.TrimSpace(os.Getenv(EnvLibrary)); p != "" {
		c = append(c, p)
	}
	switch runtime.GOOS {
	case "darwin":
		return append(c, "libopenblas.dylib",
			"/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
			"/usr/local/opt/openblas/lib/libopenblas.dylib")
	}
	c = append(c, "libopenblas.so.0", "libopenblas.so")
	triplet := map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[runtime.GOARCH]
	for _, variant := range []string{"openblas-pthread", "openblas-openmp", "openblas-serial"} {
		c = append(c, "/usr/lib/"+triplet+"/"+variant+"/libopenblas.so.0")
	}
	return append(c,
		"/usr/lib64/libopenblas.so.0", "/usr/lib64/libopenblasp.so.0", "/usr/lib64/libopenblaso.so.0",
		"/usr/local/lib/libopenblas.so.0", "/usr/local/lib/libopenblas.so",
		"/opt/OpenBLAS/lib/libopenblas.so")
}

// loadLibrary opens the first candidate that exports the CBLAS routines we need.
func loadLibrary() (*cfuncs, string, error) {
	var tried []string
	for _, name := range candidates() {
		h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err != nil {
			tried = append(tried, name)
			continue
		}
		fn, err := bind(h)
		if err != nil {
			_ = purego.Dlclose(h)
			tried = append(tried, fmt.Sprintf("%s (%v)", name, err))
			continue
		}
		return fn, resolvePath(name), nil
	}
	return nil, "", fmt.Errorf("cannot dlopen OpenBLAS, tried %s", strings.Join(tried, ", "))
}

func bind(h uintptr) (*cfuncs, error) {
	fn := new(cfuncs)
	for _, s := range []struct {
		name string
		ptr  any
	}{
		{"cblas_sgemm", &fn.sgemm},
		{"cblas_dgemm", &fn.dgemm},
		{"cblas_sgemv", &fn.sgemv},
	} {
		sym, err := purego.Dlsym(h, s.name)
		if err != nil || sym == 0 {
			return nil, errors.New("no " + s.name)
		}
		purego.RegisterFunc(s.ptr, sym)
	}
	if sym, err := purego.Dlsym(h, "sgemm_"); err == nil && sym != 0 {
		fn.sgemmF77 = sym
	}
	for _, s := range []struct {
		name string
		ptr  any
	}{
		{"openblas_set_num_threads", &fn.setNumThreads},
		{"openblas_get_num_threads", &fn.getNumThreads},
		{"openblas_get_config", &fn.getConfig},
		{"openblas_get_corename", &fn.getCorename},
	} {
		if sym, err := purego.Dlsym(h, s.name); err == nil && sym != 0 {
			purego.RegisterFunc(s.ptr, sym)
		}
	}
	return fn, nil
}

// resolvePath finds the file that dlopen(name) mapped, via /proc/self/maps; it returns name
// when that is not possible.
func resolvePath(name string) string {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return name
	}
	defer f.Close()
	base := filepath.Base(name)
	if i := strings.Index(base, ".so"); i > 0 {
		base = base[:i]
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		p := fields[len(fields)-1]
		if strings.HasPrefix(filepath.Base(p), base) { // e.g. libopenblas.so.0 -> libopenblasp-r0.3.21.so
			return p
		}
	}
	return name
}
