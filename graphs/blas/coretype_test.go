package blas

import (
	"os"
	"strings"
	"testing"
)

// userCoreType is OPENBLAS_CORETYPE as the test process started (before any test loaded OpenBLAS).
var userCoreType = os.Getenv(EnvCoreType)

// The kernel set clgraph chooses from the CPU's features is the one OpenBLAS runs, and a value
// the user set is left alone.
func TestCoreTypeChosenByFeatures(t *testing.T) {
	user := userCoreType
	ob, err := LoadOpenBLAS()
	if err != nil {
		t.Skip("OpenBLAS not installed:", err)
	}
	t.Logf("core %q, chosen %v, hint %q, config %q", ob.Core(), ob.CoreChosen(), coreTypeHint(), ob.Config())
	if user != "" {
		if ob.CoreChosen() {
			t.Fatalf("%s=%q was set by the user, but clgraph reports choosing the core", EnvCoreType, user)
		}
		return
	}
	if h := coreTypeHint(); h != "" {
		if !ob.CoreChosen() {
			t.Fatalf("hint %q but CoreChosen is false", h)
		}
		if !strings.EqualFold(ob.Core(), h) {
			t.Fatalf("OpenBLAS runs %q kernels, clgraph asked for %q (is OPENBLAS_CORETYPE reaching the C environment?)", ob.Core(), h)
		}
	}
}
