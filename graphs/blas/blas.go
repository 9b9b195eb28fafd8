package blas

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"gonum.org/v1/gonum/blas/gonum"
	"gorgonia.org/gorgonia"
)

// Environment variables read by Setup and SetupStrict.
const (
	// EnvBLAS selects the implementation: "gonum", "openblas" or "auto" (the default).
	EnvBLAS = "CLGRAPH_BLAS"
	// EnvThreads, when set to a positive integer, is passed to openblas_set_num_threads.
	EnvThreads = "CLGRAPH_BLAS_THREADS"
	// EnvLibrary names a shared library to try before the usual OpenBLAS names and paths.
	EnvLibrary = "CLGRAPH_BLAS_LIBRARY"
)

// Names reported in Info.Name.
const (
	NameOpenBLAS = "openblas"
	NameGonum    = "gonum (pure Go)"
)

// InstallHint tells how to get the fast implementation on Debian and Ubuntu.
const InstallHint = "install Debian's libopenblas0 (apt-get install libopenblas0)"

// Info describes the BLAS that Setup installed.
type Info struct {
	// Name is NameOpenBLAS ("openblas") or NameGonum ("gonum (pure Go)").
	Name string
	// Library is the path of the loaded shared library (or the soname it was opened by);
	// empty for gonum.
	Library string
	// Threads is OpenBLAS's thread count (openblas_get_num_threads) or, for gonum, whose
	// Sgemm splits work over goroutines, GOMAXPROCS.
	Threads int
	// Reason is empty when OpenBLAS is in use; otherwise it says why gonum was chosen and how
	// to get OpenBLAS.
	Reason string
}

// String renders Info on one line, for logs.
func (i Info) String() string {
	s := fmt.Sprintf("blas: %s", i.Name)
	if i.Library != "" {
		s += " (" + i.Library + ")"
	}
	s += fmt.Sprintf(", %d threads", i.Threads)
	if i.Reason != "" {
		s += "; " + i.Reason
	}
	return s
}

var (
	setupOnce sync.Once
	setupInfo Info
	setupErr  error
)

// Setup picks a BLAS (see the package comment for the environment variables), installs it with
// gorgonia.Use (which also installs it in gorgonia.org/tensor) and reports the choice. Only the
// first call of Setup or SetupStrict does anything; later calls return the same Info. Problems
// that SetupStrict would report as errors are not fatal here: Setup falls back to gonum, or
// ignores a bad thread count, and says so in Info.Reason.
func Setup() Info {
	info, _ := SetupStrict()
	return info
}

// SetupStrict is Setup that also reports configuration errors: CLGRAPH_BLAS=openblas with no
// loadable OpenBLAS, an unknown CLGRAPH_BLAS value, or a CLGRAPH_BLAS_THREADS that is not a
// positive integer. A BLAS is installed even when it returns an error (gonum when OpenBLAS
// could not be loaded), and the error is returned again by every later call.
func SetupStrict() (Info, error) {
	setupOnce.Do(func() { setupInfo, setupErr = setup(LoadOpenBLAS) })
	return setupInfo, setupErr
}

// setup does the work of SetupStrict; load is LoadOpenBLAS except in tests.
func setup(load func() (*OpenBLAS, error)) (Info, error) {
	var errs []string
	mode := strings.ToLower(strings.TrimSpace(os.Getenv(EnvBLAS)))
	switch mode {
	case "", "auto", "gonum", "openblas":
	default:
		errs = append(errs, fmt.Sprintf("%s=%q is not one of gonum, openblas, auto", EnvBLAS, mode))
		mode = "auto"
	}

	threads := 0
	if s := strings.TrimSpace(os.Getenv(EnvThreads)); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Sprintf("%s=%q is not a positive integer; keeping the default", EnvThreads, s))
		} else {
			threads = n
		}
	}

	var info Info
	if mode == "gonum" {
		info = gonumInfo(fmt.Sprintf("forced by %s=gonum; unset it to use OpenBLAS", EnvBLAS))
	} else if ob, err := load(); err != nil {
		info = gonumInfo(fmt.Sprintf("OpenBLAS not available (%v); for fast matrix products %s", err, InstallHint))
		if mode == "openblas" {
			errs = append(errs, fmt.Sprintf("%s=openblas but %v; %s", EnvBLAS, err, InstallHint))
		}
	} else {
		if threads > 0 {
			ob.SetThreads(threads)
		}
		gorgonia.Use(ob)
		info = Info{Name: NameOpenBLAS, Library: ob.Library(), Threads: ob.Threads()}
	}
	if len(errs) > 0 {
		if info.Name == NameOpenBLAS {
			info.Reason = strings.Join(errs, "; ")
		}
		return info, fmt.Errorf("blas: %s", strings.Join(errs, "; "))
	}
	return info, nil
}

func gonumInfo(reason string) Info {
	gorgonia.Use(gonum.Implementation{})
	return Info{Name: NameGonum, Threads: runtime.GOMAXPROCS(0), Reason: reason}
}
