package blas

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"gorgonia.org/gorgonia"
)

// Environment variables read by Setup and SetupStrict.
const (
	// EnvBLAS selects the implementation: "gonum", "openblas" or "auto" (the default).
	EnvBLAS = "CLGRAPH_BLAS"
	// EnvThreads, when set to a positive integer, is passed to openblas_set_num_threads.
	// Unset, OpenBLAS runs DefaultThreads threads unless OPENBLAS_NUM_THREADS (or
	// OMP_NUM_THREADS) says otherwise.
	EnvThreads = "CLGRAPH_BLAS_THREADS"
	// EnvLibrary names a shared library to try before the usual OpenBLAS names and paths.
	EnvLibrary = "CLGRAPH_BLAS_LIBRARY"
)

// Names reported in Info.Name.
const (
	NameOpenBLAS = "openblas"
	NameGonum    = "gonum (pure Go)"
)

// DefaultThreads is the OpenBLAS thread count Setup and Install choose when neither
// CLGRAPH_BLAS_THREADS nor OpenBLAS's own OPENBLAS_NUM_THREADS or OMP_NUM_THREADS is set. One
// thread per run is the right choice when runs share the cores (a sweep's parallel cells,
// clgraph run's concurrent runs): OpenBLAS's waiting threads spin, which costs CPU the other
// runs need. A process that trains one run at a time raises it with SetThreads to
// ThreadsForStep's count (clgraph run does); see the README's Performance section.
const DefaultThreads = 1

// InstallHint tells how to get the fast implementation on Debian and Ubuntu.
const InstallHint = "install Debian's libopenblas0 (apt-get install libopenblas0)"

// Info describes the BLAS that Setup installed.
type Info struct {
	// Name is NameOpenBLAS ("openblas") or NameGonum ("gonum (pure Go)").
	Name string
	// Library is the path of the loaded shared library (or the soname it was opened by);
	// empty for gonum.
	Library string
	// Threads is OpenBLAS's thread count (openblas_get_num_threads); for the pure-Go path,
	// PureGo.Threads with the AVX2 kernel, else GOMAXPROCS (gonum's Sgemm splits work over
	// goroutines).
	Threads int
	// Core is the kernel set OpenBLAS runs (openblas_get_corename, e.g. "SkylakeX"); empty for
	// gonum or when the library does not say.
	Core string
	// CoreChosen is true when clgraph set OPENBLAS_CORETYPE from the CPU's features (see
	// EnvCoreType), false when OpenBLAS detected it or the user set it.
	CoreChosen bool
	// Kernel names the pure-Go path's Sgemm (PureGo.Kernel: "avx2-fma" or "gonum"); empty
	// for OpenBLAS.
	Kernel string
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
	if i.Core != "" {
		s += ", kernels " + i.Core
		if i.CoreChosen {
			s += " (by CPU features; " + EnvCoreType + " overrides)"
		}
	}
	if i.Kernel != "" {
		s += ", sgemm " + i.Kernel
	}
	s += fmt.Sprintf(", %d threads", i.Threads)
	if i.Reason != "" {
		s += "; " + i.Reason
	}
	return s
}

var (
	setupOnce sync.Once
	setupMu   sync.Mutex // guards setupInfo after setupOnce (SetThreads changes it)
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
	setupMu.Lock()
	defer setupMu.Unlock()
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
	return install(mode, threads, fmt.Sprintf("forced by %s=gonum; unset it to use OpenBLAS", EnvBLAS), errs, load)
}

// Install installs the BLAS named by mode ("auto" or "", "openblas", "gonum") with gorgonia.Use,
// now, whatever Setup did before, and sets OpenBLAS's thread count when threads > 0 (otherwise
// DefaultThreads applies). It is for benchmarks that compare implementations in one process
// (clgraph bench); programs call Setup, which honours the environment. The error is non-nil
// when mode is unknown or is "openblas" and OpenBLAS cannot be loaded (gonum is then installed).
func Install(mode string, threads int) (Info, error) {
	var errs []string
	mode = strings.ToLower(strings.TrimSpace(mode))
	switch mode {
	case "", "auto", "gonum", "openblas":
	default:
		errs = append(errs, fmt.Sprintf("BLAS %q is not one of gonum, openblas, auto", mode))
		mode = "auto"
	}
	return install(mode, threads, "asked for gonum", errs, LoadOpenBLAS)
}

func install(mode string, threads int, forced string, errs []string, load func() (*OpenBLAS, error)) (Info, error) {
	var info Info
	if mode == "gonum" {
		info = gonumInfo(forced, threads)
	} else if ob, err := load(); err != nil {
		info = gonumInfo(fmt.Sprintf("OpenBLAS not available (%v); for fast matrix products %s", err, InstallHint), threads)
		if mode == "openblas" {
			errs = append(errs, fmt.Sprintf("openblas asked for but %v; %s", err, InstallHint))
		}
	} else {
		if threads <= 0 && !threadsFromEnv() {
			threads = DefaultThreads
		}
		if threads > 0 {
			ob.SetThreads(threads)
		}
		gorgonia.Use(ob)
		info = Info{Name: NameOpenBLAS, Library: ob.Library(), Threads: ob.Threads(), Core: ob.Core(), CoreChosen: ob.CoreChosen()}
	}
	if len(errs) > 0 {
		if info.Name == NameOpenBLAS {
			info.Reason = strings.Join(errs, "; ")
		}
		return info, fmt.Errorf("blas: %s", strings.Join(errs, "; "))
	}
	return info, nil
}

// threadsFromEnv reports whether OpenBLAS's own environment sets its thread count.
func threadsFromEnv() bool {
	for _, k := range []string{"OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"} {
		if n, err := strconv.Atoi(strings.TrimSpace(os.Getenv(k))); err == nil && n > 0 {
			return true
		}
	}
	return false
}

// gonumInfo installs the pure-Go BLAS, PureGo, with threads goroutines per product
// (DefaultThreads when threads is 0) when its AVX2 kernel is in use; gonum's own Sgemm splits
// over GOMAXPROCS goroutines.
func gonumInfo(reason string, threads int) Info {
	if threads <= 0 {
		threads = DefaultThreads
	}
	p := PureGo{Threads: threads}
	gorgonia.Use(p)
	if p.Kernel() != NameKernel {
		threads = runtime.GOMAXPROCS(0)
	}
	return Info{Name: NameGonum, Kernel: p.Kernel(), Threads: threads, Reason: reason}
}
