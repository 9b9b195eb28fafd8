package blas

import (
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/cpu"
)

// EnvCoreType is OpenBLAS's own variable naming the kernel set of a DYNAMIC_ARCH build
// (e.g. "SkylakeX", "Haswell"). When it is unset, LoadOpenBLAS sets it from the CPU's features
// before loading the library (see coreTypeHint); a value the user set is left alone.
const EnvCoreType = "OPENBLAS_CORETYPE"

// coreTypeHint returns the OpenBLAS kernel set for this CPU's vector features: "SkylakeX" with
// AVX-512 (F, BW, DQ, VL), "Haswell" with AVX2 and FMA, "" otherwise (OpenBLAS then detects).
//
// Why: OpenBLAS detects its kernels by CPU model number, and a build older than the CPU falls back
// to its generic "Prescott" (SSE3) kernels. Debian 12's OpenBLAS 0.3.21 does this on recent Intel
// Xeons ("Intel(R) Xeon(R) Processor"), where sgemm then runs at a third of the speed the
// SkylakeX kernels give on the same core (clgraph bench: 16.7 against 5.4 ms per step). Choosing
// by features picks kernels the CPU can run whatever its model number.
func coreTypeHint() string {
	if runtime.GOARCH != "amd64" {
		return ""
	}
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL:
		return "SkylakeX"
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return "Haswell"
	}
	return ""
}

// setCoreType sets OPENBLAS_CORETYPE to coreTypeHint() when it is unset, and returns the value
// in force afterwards with whether clgraph chose it.
func setCoreType() (value string, chosen bool) {
	if v := strings.TrimSpace(os.Getenv(EnvCoreType)); v != "" {
		return v, false
	}
	h := coreTypeHint()
	if h == "" {
		return "", false
	}
	// purego's runtime forwards os.Setenv to the C environment, where OpenBLAS reads it at load.
	if os.Setenv(EnvCoreType, h) != nil {
		return "", false
	}
	return h, true
}

// Core returns openblas_get_corename(), the kernel set OpenBLAS runs (e.g. "SkylakeX",
// "Prescott"), or "" when the library does not export it.
func (o *OpenBLAS) Core() string {
	if o.fn.getCorename == nil {
		return ""
	}
	return strings.TrimSpace(o.fn.getCorename())
}

// CoreChosen reports whether clgraph set OPENBLAS_CORETYPE (from the CPU's features) before
// loading the library; false when the user set it or OpenBLAS detected its kernels alone.
func (o *OpenBLAS) CoreChosen() bool { return o.coreChosen }
