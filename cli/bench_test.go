package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/strategies"
)

func TestBenchCommand(t *testing.T) {
	for _, mode := range []string{"gonum", "auto"} {
		var out, errb bytes.Buffer
		app := &App{Registry: strategies.Default, Stdout: &out, Stderr: &errb}
		code := app.Run(context.Background(), []string{"bench", "--blas", mode, "--input", "20", "--hidden", "8,8", "--batch", "4",
			"--steps", "3", "--warmup", "1", "--eval", "50", "--fisher", "10", "--train-rows", "100"})
		if code != ExitOK {
			t.Fatalf("%s: exit %d: %s", mode, code, errb.String())
		}
		for _, want := range []string{"blas: ", "MLP 20-8-8-10", "ms/step", "samples/s", "GFLOP/s", "allocs/step", "eval: 50 rows", "fisher: "} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s: output lacks %q:\n%s", mode, want, out.String())
			}
		}
	}
	var out, errb bytes.Buffer
	app := &App{Registry: strategies.Default, Stdout: &out, Stderr: &errb}
	if code := app.Run(context.Background(), []string{"bench", "--blas", "mkl"}); code != ExitUsage {
		t.Errorf("--blas mkl: exit %d, want %d", code, ExitUsage)
	}
	// The environment's choice is the default.
	t.Setenv("CLGRAPH_BLAS", "gonum")
	out.Reset()
	code := app.Run(context.Background(), []string{"bench", "--input", "20", "--hidden", "8", "--batch", "4", "--steps", "1", "--warmup", "0", "--eval", "0", "--train-rows", "10"})
	if code != ExitOK || !strings.Contains(out.String(), "blas: gonum") {
		t.Errorf("CLGRAPH_BLAS=gonum: exit %d, output %q", code, out.String())
	}
}

func TestMemStatus(t *testing.T) {
	rss, peak := memStatus()
	if rss == 0 && peak == 0 {
		t.Skip("no /proc/self/status")
	}
	if rss <= 0 || peak < rss {
		t.Errorf("rss %d, peak %d", rss, peak)
	}
}
