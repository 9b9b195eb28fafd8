package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/results"
)

// TestCompareCommand: two runs of one protocol are compared strategy by strategy with the
// paired difference run 2 − run 1; mismatched runs and a wrong number of folders are refused.
func TestCompareCommand(t *testing.T) {
	a, b := writeTestRun(t, "task"), writeTestRun(t, "task")
	// Run 2's joint is 0.05 better on task 1 after the last task in both seeds: ACC +0.05/3.
	for _, seed := range []int64{1, 2} {
		r, err := results.Read(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, res := range r.Results {
			if res.Strategy == "joint" && res.Seed == seed {
				res.R[2][0] += 0.05
				m, err := results.Compute(res.R, res.B)
				if err != nil {
					t.Fatal(err)
				}
				res.Metrics = &m
				if err := results.WriteResult(b, res); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	code, stdout, stderr := reportCLI(t, "compare", a, b)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"run 1: " + a, "run 2: " + b, "run 2 − run 1", "ACC         joint", "+0.017", "ACC         naive", "+0.000"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	class := writeTestRun(t, "class")
	for _, args := range [][]string{{"compare", a, class}, {"compare", a}, {"compare", a, b, class}, {"compare", a, filepath.Join(t.TempDir(), "nope")}} {
		if code, _, stderr := reportCLI(t, args...); code != ExitUsage || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want a usage error", args[1:], code, stderr)
		}
	}
}
