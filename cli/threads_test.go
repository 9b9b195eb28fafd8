package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/graphs/blas"
	"github.com/clgraph/clgraph/results"
)

// TestRunThreadsPerModel checks the BLAS thread count clgraph run chooses and records: a job of
// one run at a time of a model past blas.StepThreadsMinFLOP gets every core, a job of
// concurrent runs one thread per run, and a resumed folder the count its config.json records.
func TestRunThreadsPerModel(t *testing.T) {
	if threadsFromUser() {
		t.Skip("the environment fixes the BLAS thread count")
	}
	t.Cleanup(func() { blas.SetThreads(1) })
	dir := t.TempDir()
	base := []string{"run", "--scenario", "class", "--strategies", "naive", "--iterations", "2", "--hidden", "400,400",
		"--train-limit", "300", "--test-limit", "100", "--progress", "none"}
	recorded := func(out string) int {
		t.Helper()
		r, err := results.Read(out)
		if err != nil {
			t.Fatal(err)
		}
		v, ok := r.Config.Extra["blas_threads"].(float64)
		if !ok {
			t.Fatalf("config.json records no blas_threads: %v", r.Config.Extra)
		}
		return int(v)
	}
	one := filepath.Join(dir, "one")
	code, _, stderr := runCLI(t, append(base, "--seeds", "1", "--out", one)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := blas.ThreadsForStep(blas.MLPStepFLOP(128, []int{784, 400, 400, 10}), usableCores())
	if got := recorded(one); got != want || !strings.Contains(stderr, fmt.Sprintf("threads=%d", want)) {
		t.Errorf("one run of 784-400-400-10: %d threads recorded, want %d (log: %s)", got, want, stderr)
	}
	two := filepath.Join(dir, "two")
	if code, _, stderr := runCLI(t, append(base, "--seeds", "1,2", "--workers", "2", "--out", two)...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got := recorded(two); got != 1 {
		t.Errorf("two concurrent runs: %d threads recorded, want 1", got)
	}
	// Resuming the one-run folder after the two-run job restores its count.
	code, _, stderr = runCLI(t, "run", "--resume", one, "--progress", "none")
	if code != 0 {
		t.Fatalf("resume: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, fmt.Sprintf("threads=%d", want)) || !strings.Contains(stderr, "resumed folder") {
		t.Errorf("resume: want the folder's %d threads, log: %s", want, stderr)
	}
}
