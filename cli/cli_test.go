package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/strategies"
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
		{[]string{"run", "--stream", "cifar"}, "known: permuted-mnist, split-mnist"},
		{[]string{"run", "--scenario", "sideways"}, "valid: task, domain, class"},
		{[]string{"run", "--lr", "-1"}, "learning rate"},
		{[]string{"run", "--batch", "-3"}, "batch"},
		{[]string{"run", "--seeds", ""}, "--seeds is empty"},
		{[]string{"run", "--seeds", "1,x"}, "not an integer"},
		{[]string{"run", "--scenario", "class", "--strategies", "multihead"}, "--scenario task"},
		{[]string{"run", "--tasks", "11", "--out", filepath.Join(out, "a")}, "1 to 10 tasks"},
		{[]string{"run", "--protocol", "fast"}, "known: paper, quick"},
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
	if code != 0 || !strings.Contains(out, "multihead") || !strings.Contains(out, "task only") || !strings.Contains(out, "heads=single") {
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
	args := func(out string) []string {
		return []string{"run", "--scenario", "class", "--strategies", "naive,joint", "--seeds", "3,4",
			"--iterations", "20", "--hidden", "32", "--train-limit", "500", "--test-limit", "200",
			"--progress", "log", "--out", out}
	}
	code, stdout, stderr := runCLI(t, args(filepath.Join(dir, "a"))...)
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
	// Same command, same seeds: bit-identical matrices.
	if code, _, stderr := runCLI(t, args(filepath.Join(dir, "b"))...); code != 0 {
		t.Fatalf("second run: exit %d: %s", code, stderr)
	}
	b, err := results.Read(filepath.Join(dir, "b"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Results {
		if !reflect.DeepEqual(a.Results[i].R, b.Results[i].R) || !reflect.DeepEqual(a.Results[i].B, b.Results[i].B) {
			t.Fatalf("%s seed %d: matrices differ between identical runs", a.Results[i].Strategy, a.Results[i].Seed)
		}
	}
	// Different seeds give different matrices (the seed is used).
	if reflect.DeepEqual(a.Results[0].R, a.Results[1].R) {
		t.Error("seeds 3 and 4 gave identical matrices")
	}
	// The folder now holds a run: a new run into it is refused without --force.
	code, _, stderr = runCLI(t, args(filepath.Join(dir, "a"))...)
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
