package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/sweep"
)

// tinyRun is a run of a few steps on a slice of MNIST.
func tinyRun(out, strategies string, extra ...string) []string {
	return append([]string{"run", "--strategies", strategies, "--seeds", "1", "--tasks", "2", "--iterations", "3", "--hidden", "8",
		"--train-limit", "60", "--test-limit", "20", "--progress", "none", "--log-level", "warn", "--out", out}, extra...)
}

// TestForceMovesTheOldRunAside: a --force run leaves nothing of the run it replaces in the folder
// (issue: the old results were kept, a later report mixed them in, a resume kept one as
// finished), and says where the old run went.
func TestForceMovesTheOldRunAside(t *testing.T) {
	out := filepath.Join(t.TempDir(), "f1")
	if code, _, stderr := runCLI(t, tinyRun(out, "naive,ewc")...); code != 0 {
		t.Fatalf("first run: %s", stderr)
	}
	code, _, stderr := runCLI(t, tinyRun(out, "naive", "--iterations", "4", "--force", "--log-level", "warn")...)
	if code != 0 {
		t.Fatalf("--force run: %s", stderr)
	}
	if !strings.Contains(stderr, "moved the run that was in") {
		t.Errorf("--force did not say where the old run went:\n%s", stderr)
	}
	run, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Results) != 1 || run.Results[0].Strategy != "naive" || run.Results[0].Cost.Steps != 8 {
		t.Fatalf("after --force the folder holds %d results: %+v", len(run.Results), run.Results)
	}
	old, _ := filepath.Glob(out + ".replaced-*")
	if len(old) != 1 {
		t.Fatalf("old run moved to %v", old)
	}
	if prev, err := results.Read(old[0]); err != nil || len(prev.Results) != 2 {
		t.Fatalf("the moved run: %v, %v", prev, err)
	}
}

// TestResumeRefusesMixedSettings: a resume checks every kept result against config.json and
// refuses, naming the setting, when config.json was edited (issue: exit 0 with results of two
// iteration counts).
func TestResumeRefusesMixedSettings(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r")
	if code, _, stderr := runCLI(t, tinyRun(out, "naive,joint")...); code != 0 {
		t.Fatalf("first run: %s", stderr)
	}
	if err := os.Remove(filepath.Join(results.ResultDir(out, "joint", 1), results.ResultFile)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(out, results.ConfigFile)
	data, _ := os.ReadFile(path)
	var m map[string]any
	json.Unmarshal(data, &m)
	m["spec"].(map[string]any)["iterations"] = 2
	data, _ = json.Marshal(m)
	os.WriteFile(path, data, 0o644)
	code, _, stderr := runCLI(t, "run", "--resume", out, "--progress", "none")
	if code != ExitUsage || !strings.Contains(stderr, "naive seed 1") || !strings.Contains(stderr, "iterations 2 in config.json, 3 in the result") {
		t.Fatalf("resume after an edited config.json: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(results.ResultDir(out, "joint", 1), results.ResultFile)); err == nil {
		t.Fatal("the refused resume trained joint")
	}
}

// TestResumeLeavesLockedRuns: a run locked by another live process is left to it (issue: two
// --resume processes on one folder both trained everything).
func TestResumeLeavesLockedRuns(t *testing.T) {
	out := filepath.Join(t.TempDir(), "l")
	if code, _, stderr := runCLI(t, tinyRun(out, "naive,joint")...); code != 0 {
		t.Fatalf("first run: %s", stderr)
	}
	jd := results.ResultDir(out, "joint", 1)
	if err := os.Remove(filepath.Join(jd, results.ResultFile)); err != nil {
		t.Fatal(err)
	}
	// This test process is alive: its lock holds.
	lock, err := sweep.TryLock(filepath.Join(jd, sweep.LockFile), sweep.Self("other"), sweep.DefaultStaleAfter)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	code, stdout, stderr := runCLI(t, "run", "--resume", out, "--progress", "none")
	if code != 0 || !strings.Contains(stdout, "1 runs were left to another process") || !strings.Contains(stderr, "another process is running this run") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(jd, results.ResultFile)); err == nil {
		t.Fatal("the locked run was trained anyway")
	}
	lock.Release()
	if code, _, stderr := runCLI(t, "run", "--resume", out, "--progress", "none"); code != 0 {
		t.Fatalf("resume once the lock is released: %s", stderr)
	}
	if _, err := os.Stat(filepath.Join(jd, results.ResultFile)); err != nil {
		t.Fatal("the released run was not trained")
	}
}
