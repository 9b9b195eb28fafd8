package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clgraph/clgraph/runspec"

	"github.com/clgraph/clgraph/results"
)

// reportCLI runs 'clgraph ARGS' and returns its exit code and output.
func reportCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	app := &App{Stdout: &o, Stderr: &e}
	code = app.Run(context.Background(), args)
	return code, o.String(), e.String()
}

// writeTestRun writes a small run folder (3 tasks, naive and joint, seeds 1
// and 2) with the given scenario and returns its path.
func writeTestRun(t *testing.T, scenario string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run-"+scenario)
	tasks := []string{"0/1", "2/3", "4/5"}
	cfg := results.Config{
		CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Command: []string{"clgraph", "run"}, Tasks: tasks, Seeds: []int64{1, 2},
		Strategies: []string{"naive", "joint"}, Spec: runspec.Spec{Stream: "split-mnist", Scenario: scenario, Protocol: "quick", Iterations: 10, Batch: 32, EvalBatch: 100, LR: 0.001, Hidden: []int{16}},
	}
	if err := results.WriteConfig(dir, cfg); err != nil {
		t.Fatal(err)
	}
	for k, spec := range cfg.Strategies {
		for _, seed := range cfg.Seeds {
			R := [][]float64{{0.99, 0.5, 0.5}, {0.6, 0.98, 0.5}, {0.4, 0.7, 0.97}}
			R[2][0] += 0.1*float64(k) + 0.01*float64(seed)
			b := []float64{0.5, 0.5, 0.5}
			m, err := results.Compute(R, b)
			if err != nil {
				t.Fatal(err)
			}
			res := &results.Result{Strategy: spec, Seed: seed, Status: results.StatusOK, Tasks: tasks, R: R, B: b, Metrics: &m,
				Cost: results.Cost{TrainSeconds: 1, Steps: 30, StepsPerSecond: 30, Params: 1000, PeakRSSBytes: 100 << 20}}
			if err := results.WriteResult(dir, res); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func TestReportCommand(t *testing.T) {
	run := writeTestRun(t, "task")
	code, stdout, stderr := reportCLI(t, "report", run)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	html := filepath.Join(run, ReportDir, "report.html")
	if !strings.Contains(stdout, html) {
		t.Errorf("stdout does not name %s:\n%s", html, stdout)
	}
	for _, f := range []string{"report.html", "report.md", "avg-accuracy.png", "avg-accuracy.svg", "metrics.png", "heatmap-01-naive.svg"} {
		if _, err := os.Stat(filepath.Join(run, ReportDir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}

	// Two runs, --out after the folders: strategies labelled by run.
	other := writeTestRun(t, "task")
	out := filepath.Join(t.TempDir(), "cmp")
	code, _, stderr = reportCLI(t, "report", run, other, "--out", out)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	page, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "naive (run 2)") {
		t.Errorf("report of two runs does not label naive (run 2)")
	}
	// --out before the folders works too.
	out2 := filepath.Join(t.TempDir(), "cmp2")
	if code, _, stderr = reportCLI(t, "report", "--out", out2, run); code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out2, "report.md")); err != nil {
		t.Error(err)
	}
}

func TestReportUsageErrors(t *testing.T) {
	task := writeTestRun(t, "task")
	class := writeTestRun(t, "class")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no folders", []string{"report"}, "at least one run folder"},
		{"not a run", []string{"report", t.TempDir()}, "missing config.json"},
		{"missing folder", []string{"report", filepath.Join(t.TempDir(), "nope")}, "cannot read the run folder"},
		{"bad flag", []string{"report", "--bogus", task}, "flag provided but not defined"},
		{"mismatch", []string{"report", task, class}, `has scenario "class", run 1 (` + task + `) has "task": reports compare runs of one stream, scenario and protocol`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := reportCLI(t, tc.args...)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d (stderr: %s)", code, ExitUsage, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q does not contain %q", stderr, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(task, ReportDir)); err == nil {
		t.Errorf("a refused report wrote %s", filepath.Join(task, ReportDir))
	}
	// Failing to write (the output is a file) is not a usage error.
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o644)
	if code, _, stderr := reportCLI(t, "report", task, "--out", filepath.Join(blocker, "sub")); code != ExitFailure {
		t.Errorf("exit %d, want %d (stderr: %s)", code, ExitFailure, stderr)
	}
}
