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
	"github.com/clgraph/clgraph/sweep"
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

// TestReportIncompleteRun: a run with an interrupted and a missing result is reported with a
// notice on stderr, exit 0, and the report counts the interrupted run as interrupted.
func TestReportIncompleteRun(t *testing.T) {
	run := writeTestRun(t, "task")
	// naive seed 2 was interrupted after one task; joint seed 2 never wrote its result.
	tasks := []string{"0/1", "2/3", "4/5"}
	if err := results.WriteResult(run, &results.Result{Strategy: "naive", Seed: 2, Status: results.StatusInterrupted,
		Error: "interrupted", Tasks: tasks, R: [][]float64{{0.99, 0.5, 0.5}}}); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(results.ResultDir(run, "joint", 2)); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := reportCLI(t, "report", run)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	want := "run " + run + " is incomplete: 2 of 4 runs finished, 1 interrupted, 1 missing; resume it with clgraph run --resume " + run + "\n"
	if stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	if !strings.Contains(stdout, "report.html") {
		t.Errorf("stdout does not name the report:\n%s", stdout)
	}
	md, err := os.ReadFile(filepath.Join(run, ReportDir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"is incomplete: 2 of 4 runs finished, 1 interrupted, 1 missing", "| naive | 1 | 0 | 1 | 0 |", "| joint | 1 | 0 | 0 | 1 |"} {
		if !strings.Contains(string(md), w) {
			t.Errorf("report.md lacks %q:\n%s", w, md)
		}
	}
	page, err := os.ReadFile(filepath.Join(run, ReportDir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "is incomplete: 2 of 4 runs finished") {
		t.Errorf("report.html does not say the run is incomplete")
	}

	// A missing run whose folder is locked may still be running.
	if err := os.MkdirAll(results.ResultDir(run, "joint", 2), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(results.ResultDir(run, "joint", 2), sweep.LockFile), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, stderr = reportCLI(t, "report", run); !strings.Contains(stderr, "1 missing (1 of them locked: a clgraph run may still be running it); resume it") {
		t.Errorf("stderr = %q, want the missing run said to be locked", stderr)
	}

	// A complete run: nothing on stderr.
	if code, _, stderr := reportCLI(t, "report", writeTestRun(t, "task")); code != ExitOK || stderr != "" {
		t.Errorf("complete run: exit %d, stderr %q; want 0 and nothing", code, stderr)
	}
}

// TestReportSameFolderTwice: naming one folder twice (also as DIR/ or through a symbolic link)
// is a usage error that names it, rather than a report with every row twice.
func TestReportSameFolderTwice(t *testing.T) {
	run := writeTestRun(t, "task")
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(run, link); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{run, run}, {run, run + string(filepath.Separator)}, {run, link}} {
		code, _, stderr := reportCLI(t, append([]string{"report"}, args...)...)
		if code != ExitUsage {
			t.Errorf("report %v: exit %d, want %d (stderr: %s)", args, code, ExitUsage, stderr)
		}
		if !strings.Contains(stderr, args[1]) || !strings.Contains(stderr, "a report lists each run folder once") {
			t.Errorf("report %v: stderr %q does not name %s", args, stderr, args[1])
		}
	}
	if _, err := os.Stat(filepath.Join(run, ReportDir)); err == nil {
		t.Errorf("a refused report wrote %s", filepath.Join(run, ReportDir))
	}
}
