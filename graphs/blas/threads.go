package blas

import (
	"os"
	"strings"

	"gorgonia.org/gorgonia"
)

// StepThreadsMinFLOP is the size of a training step (floating-point operations of its matrix
// products) from which ThreadsForStep gives a process that trains one run at a time every
// core. Measured with clgraph bench on a quiet 2-core Intel Xeon (AVX-512, OpenBLAS 0.3.21),
// two threads against one, alternating pairs:
//
//	hidden     GFLOP/step  1 thread ms/step  2 threads ms/step  ratio
//	100,100    0.049       0.75-0.82         0.71-0.72          0.88-0.95
//	200,200    0.113       1.25-1.31         1.07-1.10          0.83-0.86
//	400,400    0.287       2.59-2.70         1.95-2.05          0.75-0.76
//	1000,1000  1.177       9.75-10.13        6.65-6.75          0.67-0.68
//
// Below 0.1 GFLOP a second thread saves under 12% of the time for nearly twice the CPU.
const StepThreadsMinFLOP = 1e8

// ThreadsForStep is the BLAS thread count for a process that trains one run at a time with
// steps of stepFLOP operations on cores usable cores: every core from StepThreadsMinFLOP on,
// else one.
func ThreadsForStep(stepFLOP float64, cores int) int {
	if cores < 1 || stepFLOP < StepThreadsMinFLOP {
		return 1
	}
	return cores
}

// ThreadsGiven reports whether the environment fixes the BLAS thread count
// (CLGRAPH_BLAS_THREADS, or OpenBLAS's OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS or
// OMP_NUM_THREADS): programs then keep it rather than choosing one per workload.
func ThreadsGiven() bool {
	return strings.TrimSpace(os.Getenv(EnvThreads)) != "" || threadsFromEnv()
}

// SetThreads changes the thread count of the BLAS Setup installed (OpenBLAS's
// openblas_set_num_threads, process-wide; the pure-Go kernel's goroutines per product) and
// returns the updated Info. Results are deterministic for a given count, but OpenBLAS's
// products with a small first dimension (batch rows) and a large inner one split that inner
// dimension across threads, so their last bits depend on the count: runs to be compared bit
// for bit must use the same count.
func SetThreads(n int) Info {
	info := Setup()
	if n < 1 {
		return info
	}
	setupMu.Lock()
	defer setupMu.Unlock()
	switch info.Name {
	case NameOpenBLAS:
		if ob, err := LoadOpenBLAS(); err == nil {
			ob.SetThreads(n)
			setupInfo.Threads = ob.Threads()
		}
	case NameGonum:
		if setupInfo.Kernel == NameKernel {
			gorgonia.Use(PureGo{Threads: n})
			setupInfo.Threads = n
		}
	}
	return setupInfo
}

// MLPStepFLOP is the floating-point operations of the matrix products of one training step of
// an MLP with the given layer widths (input, hidden..., outputs) at batch rows: per layer the
// forward product and the weight gradient, and the input gradient of every layer but the first.
func MLPStepFLOP(batch int, layers []int) float64 {
	var f float64
	for i := 0; i+1 < len(layers); i++ {
		mm := 2 * float64(batch) * float64(layers[i]) * float64(layers[i+1])
		f += 2 * mm
		if i > 0 {
			f += mm
		}
	}
	return f
}
