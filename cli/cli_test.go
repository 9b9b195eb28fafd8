package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	app := &App{Registry: strategies.Default, Stdout: &o, Stderr: &e}
	code = app.Run(context.Background(), args)
	return code, o.String(), e.String()
}

func TestUsageErrors(t *testing.T) {
	out := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "Usage"},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"run", "--bogus"}, "flag provided but not defined"},
		{[]string{"run", "--strategies", "nope"}, "known: "},
		{[]string{"run", "--strategies", "naive:lambda=3"}, "unknown option"},
		{[]string{"run", "--stream", "cifar"}, "known: permuted-mnist, rotated-mnist, split-mnist"},
		{[]string{"run", "--scenario", "sideways"}, "valid: task, domain, class"},
		{[]string{"run", "--lr", "-1"}, "learning rate"},
		{[]string{"run", "--batch", "-3"}, "batch"},
		{[]string{"run", "--seeds", ""}, "--seeds is empty"},
		{[]string{"run", "--seeds", "1,x"}, "not an integer"},
		{[]string{"run", "--scenario", "class", "--strategies", "multihead"}, "--scenario task"},
		{[]string{"run", "--tasks", "11", "--out", filepath.Join(out, "a")}, "1 to 10 tasks"},
		{[]string{"run", "--protocol", "fast"}, "known: hsu, paper, quick"},
		{[]string{"run", "--log-format", "xml"}, "text or json"},
		// Zero is a value, not "no override": refused like any other invalid value.
		{[]string{"run", "--batch", "0"}, "batch size must be at least 1, got 0"},
		{[]string{"run", "--iterations", "0"}, "iterations must be at least 1"},
		{[]string{"run", "--lr", "0"}, "learning rate must be in (0, 10]"},
		{[]string{"run", "--eval-batch", "0"}, "evaluation batch must be at least 1"},
		{[]string{"run", "--tasks", "0"}, "--tasks must be positive"},
		{[]string{"run", "--hidden", "0"}, "hidden sizes must be positive"},
		{[]string{"run", "--hidden", ""}, "at least one hidden layer"},
		{[]string{"run", "--test-limit", "-2"}, "--test-limit must be 0 (all) or positive"},
		{[]string{"run", "--train-limit", "-1"}, "--train-limit must be 0 (all) or positive"},
		{[]string{"run", "--seeds", "1,1"}, "lists 1 twice"},
		{[]string{"run", "--checkpoint-every", "-2"}, "--checkpoint-every -2"},
		{[]string{"run", "--tasks", "3", "--out", filepath.Join(out, "a")}, "do not split evenly"},
		{[]string{"run", "--resume", filepath.Join(out, "none")}, "cannot resume"},
		{[]string{"run", "--resume", out, "--lr", "0.1"}, "--lr cannot be combined with --resume"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tc.args, code, ExitUsage, stderr)
		}
		if !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: stderr %q does not say %q", tc.args, stderr, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "a", "config.json")); err == nil {
		t.Error("a refused run left a config.json")
	}
}

// TestBadOutAndData checks that an unwritable run folder and missing or corrupt data files are
// refused with one line giving the reason and a fix, exit 2, and no run files.
func TestBadOutAndData(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	junk := filepath.Join(dir, "junk")
	os.Mkdir(junk, 0o755)
	for _, name := range []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"} {
		os.WriteFile(filepath.Join(junk, name), []byte("\x00\x00\x08\x03truncated"), 0o644)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"out under a file", []string{"--out", filepath.Join(file, "run")}, []string{"cannot create the run folder", "choose a writable --out"}},
		{"missing data", []string{"--data-dir", filepath.Join(dir, "nope"), "--out", filepath.Join(dir, "r1")}, []string{"loading MNIST", "fix: point --data-dir"}},
		{"corrupt data", []string{"--data-dir", junk, "--out", filepath.Join(dir, "r2")}, []string{"loading MNIST", "checksum", "fix: a file in --data-dir"}},
	} {
		args := append([]string{"run", "--strategies", "naive", "--seeds", "1", "--iterations", "1", "--hidden", "8", "--train-limit", "50", "--test-limit", "20"}, tc.args...)
		code, _, stderr := runCLI(t, args...)
		var line string
		for _, l := range strings.Split(stderr, "\n") {
			if strings.HasPrefix(l, "clgraph: ") {
				line = l
			}
		}
		if code != ExitUsage {
			t.Errorf("%s: exit %d, want %d: %s", tc.name, code, ExitUsage, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(line, w) {
				t.Errorf("%s: the error line %q does not say %q (stderr %q)", tc.name, line, w, stderr)
			}
		}
	}
	for _, r := range []string{"r1", "r2"} {
		if _, err := os.Stat(filepath.Join(dir, r)); err == nil {
			t.Errorf("a run refused for its data created %s", r)
		}
	}
}

func TestListings(t *testing.T) {
	code, out, _ := runCLI(t, "strategies")
	if code != 0 || !strings.Contains(out, "multihead") || !strings.Contains(out, "task only") || !strings.Contains(out, "heads=auto") {
		t.Fatalf("strategies listing (exit %d):\n%s", code, out)
	}
	code, out, _ = runCLI(t, "streams")
	if code != 0 || !strings.Contains(out, "permuted-mnist") || !strings.Contains(out, "task, domain, class") {
		t.Fatalf("streams listing (exit %d):\n%s", code, out)
	}
}

// TestRunEndToEnd trains two strategies on a small slice of real MNIST twice with the same seed
// and checks the files and that the matrices are identical.
func TestRunEndToEnd(t *testing.T) {
	dir := t.TempDir()
	args := func(out string, workers int) []string {
		return []string{"run", "--scenario", "class", "--strategies", "naive,joint", "--seeds", "3,4",
			"--iterations", "20", "--hidden", "32", "--train-limit", "500", "--test-limit", "200",
			"--progress", "log", "--out", out, "--workers", strconv.Itoa(workers)}
	}
	code, stdout, stderr := runCLI(t, args(filepath.Join(dir, "a"), 2)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"ACC", "BWT", "naive", "joint", "±", filepath.Join(dir, "a")} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "task end") {
		t.Errorf("no progress log lines in stderr:\n%s", stderr)
	}
	a, err := results.Read(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Results) != 4 || a.Config.Spec.Iterations != 20 || a.Config.Spec.Scenario != "class" {
		t.Fatalf("run holds %d results, config %+v", len(a.Results), a.Config)
	}
	for _, f := range []string{"summary.md", "summary.json", "config.json"} {
		if _, err := os.Stat(filepath.Join(dir, "a", f)); err != nil {
			t.Error(err)
		}
	}
	for _, r := range a.Results {
		if r.Status != "ok" || len(r.R) != 5 || r.Metrics == nil {
			t.Fatalf("result %s seed %d: status %s, %d rows", r.Strategy, r.Seed, r.Status, len(r.R))
		}
		if _, err := os.Stat(filepath.Join(results.ResultDir(filepath.Join(dir, "a"), r.Strategy, r.Seed), "matrix.csv")); err != nil {
			t.Error(err)
		}
	}
	// Same command, same seeds, one run at a time instead of two: bit-identical matrices, in the
	// same order.
	if code, _, stderr := runCLI(t, args(filepath.Join(dir, "b"), 1)...); code != 0 {
		t.Fatalf("second run: exit %d: %s", code, stderr)
	}
	b, err := results.Read(filepath.Join(dir, "b"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Results {
		if a.Results[i].Strategy != b.Results[i].Strategy || a.Results[i].Seed != b.Results[i].Seed {
			t.Fatalf("result %d: %s seed %d with two workers, %s seed %d with one", i, a.Results[i].Strategy, a.Results[i].Seed, b.Results[i].Strategy, b.Results[i].Seed)
		}
		if !reflect.DeepEqual(a.Results[i].R, b.Results[i].R) || !reflect.DeepEqual(a.Results[i].B, b.Results[i].B) {
			t.Fatalf("%s seed %d: matrices differ between identical runs", a.Results[i].Strategy, a.Results[i].Seed)
		}
	}
	// Different seeds give different matrices (the seed is used).
	if reflect.DeepEqual(a.Results[0].R, a.Results[1].R) {
		t.Error("seeds 3 and 4 gave identical matrices")
	}
	// The folder now holds a run: a new run into it is refused without --force.
	code, _, stderr = runCLI(t, args(filepath.Join(dir, "a"), 2)...)
	if code != ExitUsage || !strings.Contains(stderr, "--force") {
		t.Errorf("run into an existing run folder: exit %d, %s", code, stderr)
	}
}

func TestSplitSpecs(t *testing.T) {
	for in, want := range map[string][]string{
		"naive,joint":                        {"naive", "joint"},
		"naive,ewc:lambda=10,online=true,l2": {"naive", "ewc:lambda=10,online=true", "l2"},
		"naive;ewc:lambda=10,online=true":    {"naive", "ewc:lambda=10,online=true"},
	} {
		if got := splitSpecs(in); !reflect.DeepEqual(got, want) {
			t.Errorf("splitSpecs(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBadDataDir(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "train-images-idx3-ubyte.gz"), []byte("not gzip"), 0o644)
	code, _, stderr := runCLI(t, "run", "--data-dir", dir, "--out", filepath.Join(dir, "out"))
	if code != ExitUsage || !strings.Contains(stderr, "train-images-idx3-ubyte") {
		t.Fatalf("corrupt data dir: exit %d, stderr %q", code, stderr)
	}
}

// TestRefusedBeforeTraining checks settings that used to be refused only after setup, or not at
// all (issue 14, item 5): each is a usage error (exit 2) naming the setting, and no run folder is
// written.
func TestRefusedBeforeTraining(t *testing.T) {
	dir := t.TempDir()
	for i, tc := range []struct {
		args []string
		want []string
	}{
		// Known only at setup: the trunk's depth (pre-flight).
		{[]string{"--strategies", "naive,layerwise:freeze=99"}, []string{"layerwise:freeze=99", "freeze=99", "trunk has 1 layers"}},
		{[]string{"--strategies", "pnn:width=8/8"}, []string{"pnn:width=8/8", "has 2 layers"}},
		// Strengths are applied in float32.
		{[]string{"--strategies", "ewc:lambda=1e300"}, []string{"ewc:lambda=1e300", "lambda", "float32"}},
		{[]string{"--strategies", "l2:lambda=1e39"}, []string{"l2:lambda=1e39", "float32"}},
		{[]string{"--strategies", "layerwise:decay=1e-60"}, []string{"decay", "float32"}},
		// The same configuration twice, once defaults are filled in.
		{[]string{"--strategies", "ewc;ewc:lambda=auto"}, []string{"ewc and ewc:lambda=auto", "same configuration"}},
		{[]string{"--strategies", "naive,naive:heads=auto"}, []string{"naive and naive:heads=auto", "same configuration"}},
		{[]string{"--strategies", "ewc:lambda=100;ewc:lambda=1e2"}, []string{"ewc:lambda=100 and ewc:lambda=1e2"}},
		{[]string{"--strategies", "naive,naive"}, []string{"lists naive twice"}},
		{[]string{"--progress", "fancy"}, []string{"progress", `"fancy"`, "auto, bar, log, none"}},
		{[]string{"--hidden", "1-3"}, []string{"hidden", `"1-3"`}},
		{[]string{"--class-order", "0-9"}, []string{"class_order", `"0-9"`}},
	} {
		out := filepath.Join(dir, strconv.Itoa(i))
		args := append([]string{"run", "--strategies", "naive", "--seeds", "1", "--iterations", "2", "--hidden", "8",
			"--train-limit", "50", "--test-limit", "20", "--progress", "none", "--out", out}, tc.args...)
		code, _, stderr := runCLI(t, args...)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tc.args, code, ExitUsage, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: stderr %q does not say %q", tc.args, stderr, w)
			}
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%v: the refused run created %s", tc.args, out)
		}
	}
}

// TestUnknownCommandListsAll checks that an unknown command lists every command (issue 14,
// item 8).
func TestUnknownCommandListsAll(t *testing.T) {
	code, _, stderr := runCLI(t, "frobnicate")
	if code != ExitUsage {
		t.Fatalf("exit %d, want %d", code, ExitUsage)
	}
	for _, c := range []string{"run", "strategies", "streams", "graph", "sweep", "merge", "report", "bench", "version"} {
		if !strings.Contains(stderr, c) {
			t.Errorf("the unknown-command error %q does not list %s", stderr, c)
		}
	}
}

// TestResumeNamesTheBrokenFile checks that a folder --resume cannot read is refused with the
// file at fault and what to do about it (issue 14, item 8: a broken config.json was met with
// "repair a damaged result.json").
func TestResumeNamesTheBrokenFile(t *testing.T) {
	dir := t.TempDir()
	cfg := results.Config{Spec: runspec.Spec{Stream: "split-mnist", Scenario: "task", Protocol: "quick"}, Seeds: []int64{1}, Strategies: []string{"naive"}, Tasks: []string{"0/1"}}
	good := func(name string) string {
		d := filepath.Join(dir, name)
		if err := results.WriteConfig(d, cfg); err != nil {
			t.Fatal(err)
		}
		return d
	}
	badConfig := good("bad-config")
	os.WriteFile(filepath.Join(badConfig, results.ConfigFile), []byte("{"), 0o644)
	newerConfig := good("newer-config")
	os.WriteFile(filepath.Join(newerConfig, results.ConfigFile), []byte(`{"schema": "clgraph.run/v99"}`), 0o644)
	badResult := good("bad-result")
	rd := results.ResultDir(badResult, "naive", 1)
	os.MkdirAll(rd, 0o755)
	os.WriteFile(filepath.Join(rd, results.ResultFile), []byte("{"), 0o644)
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	for _, tc := range []struct {
		dir       string
		want, not []string
	}{
		{badConfig, []string{"config.json", "malformed", "restore"}, []string{"result.json"}},
		{newerConfig, []string{"config.json", "newer", "the build that"}, []string{"result.json"}},
		{badResult, []string{filepath.Join(rd, results.ResultFile), "delete"}, []string{"restore config.json"}},
		{empty, []string{"config.json", "give a folder written by clgraph run"}, []string{"result.json"}},
	} {
		code, _, stderr := runCLI(t, "run", "--resume", tc.dir)
		if code != ExitUsage {
			t.Errorf("%s: exit %d, want %d (%s)", tc.dir, code, ExitUsage, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: %q does not say %q", filepath.Base(tc.dir), stderr, w)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(stderr, w) {
				t.Errorf("%s: %q says %q", filepath.Base(tc.dir), stderr, w)
			}
		}
	}
}

// TestPreflightLeavesRunsAlone checks that the pre-flight setup of every strategy changes no
// run's result (its random sources and the stream are the runs' own), and that it turns a setup
// error into a usage error naming the strategy.
func TestPreflightLeavesRunsAlone(t *testing.T) {
	app := &App{Registry: strategies.Default}
	specs := []string{"naive", "joint", "ewc", "l2:lambda=10", "layerwise", "replay", "pnn"}
	spec := runspec.Spec{Stream: "synthetic", Scenario: "task", Iterations: 4, Batch: 8, EvalBatch: 16, LR: 0.01, Hidden: []int{8, 8}}
	run := func(st *stream.Stream, name string) *results.Result {
		t.Helper()
		s, err := strategies.Default.New(name)
		if err != nil {
			t.Fatal(err)
		}
		res, err := (&loop.Runner{}).Run(context.Background(), st, s, loop.Settings{Spec: spec.Cell(name, 7)})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return res
	}
	synth := func() *stream.Stream { return strategytest.Synthetic(stream.TaskIL, 2, 2, 6, 30, 1) }
	st := synth()
	if err := app.preflight(specs, st, spec); err != nil {
		t.Fatal(err)
	}
	for _, name := range specs {
		want, got := run(synth(), name), run(st, name)
		if !reflect.DeepEqual(want.R, got.R) || !reflect.DeepEqual(want.B, got.B) {
			t.Errorf("%s: the pre-flight changed the run's results", name)
		}
	}
	err := app.preflight([]string{"naive", "layerwise:freeze=3"}, st, spec)
	if !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "layerwise:freeze=3") || !strings.Contains(err.Error(), "freeze=3") {
		t.Errorf("layerwise:freeze=3 on 2 hidden layers: %v, want a usage error naming it", err)
	}
}

// TestInterruptBeforeAnyCheckpoint checks that a run stopped before any checkpoint was written
// does not promise to continue from checkpoints (issue 14, item 8).
func TestInterruptBeforeAnyCheckpoint(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	args := func(out string) []string {
		return []string{"run", "--strategies", "naive", "--seeds", "1", "--iterations", "2", "--hidden", "8",
			"--train-limit", "50", "--test-limit", "20", "--progress", "none", "--out", out}
	}
	// Load the data once (the tests share a copy), then stop before the first run starts, as a
	// SIGINT right after loading does.
	if code, _, stderr := runCLI(t, args(out+"-warm")...); code != 0 {
		t.Fatalf("warm-up run: %s", stderr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, _, stderr := runApp(ctx, strategies.Default, args(out)...)
	if code != ExitInterrupted {
		t.Fatalf("exit %d, want %d: %s", code, ExitInterrupted, stderr)
	}
	if strings.Contains(stderr, "from their checkpoints") || !strings.Contains(stderr, "no checkpoint") || !strings.Contains(stderr, "--resume "+out) {
		t.Errorf("stopped before any checkpoint: %q", stderr)
	}
}
