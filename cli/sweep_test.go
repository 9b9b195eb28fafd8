package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clgraph/clgraph/graphs/blas"
	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/sweep"
)

// sweepGrid is a small grid on real MNIST: 12 cells, an option grid, cells left out of class-IL.
const sweepGrid = `name: cli-test
streams: [split-mnist]
scenarios: [task, class]
strategies:
  naive: {heads: [single, multi]}
  joint: {}
  multihead: {}
seeds: [1, 2]
overrides: {iterations: 10, hidden: [16], tasks: 2, train_limit: 300, test_limit: 100}
`

func writeSweepFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "grid.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// sweepBinary builds cmd/clgraph into a temporary folder.
func sweepBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "clgraph")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/clgraph")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// sweepCmd prepares the binary with args; env adds variables.
func sweepCmd(bin string, env []string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(os.Environ(), env...)
	return cmd, &out
}

func runSweepCmd(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	cmd, out := sweepCmd(bin, env, args...)
	if err := cmd.Run(); err != nil {
		t.Fatalf("clgraph %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out.String()
}

// cellResults reads every cell's result, by cell id.
func cellResults(t *testing.T, dir string, p *sweep.Plan) map[string]*results.Result {
	t.Helper()
	out := map[string]*results.Result{}
	for _, c := range p.Cells {
		data, err := os.ReadFile(filepath.Join(p.CellDir(dir, c), results.ResultFile))
		if err != nil {
			t.Fatalf("cell %d (%s seed %d): %v", c.Index, c.Strategy, c.Seed, err)
		}
		var r results.Result
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatal(err)
		}
		out[c.ID] = &r
	}
	return out
}

func planOf(t *testing.T, path string) *sweep.Plan {
	t.Helper()
	f, err := sweep.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Expand(strategies.Default)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSweepProcesses runs the clgraph binary as separate processes on real MNIST.
func TestSweepProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary on real MNIST")
	}
	bin := sweepBinary(t)
	t.Run("shards", func(t *testing.T) { testShardProcesses(t, bin) })
	t.Run("kill-resume", func(t *testing.T) { testKillResume(t, bin) })
}

// testShardProcesses runs the grid unsharded in one process (two workers), then as three shard
// processes at once into another folder (one taking its index from JOB_COMPLETION_INDEX), merges
// the shards, and checks that every cell's R and B are bit-identical and that the sweep
// summaries are the same bytes.
func testShardProcesses(t *testing.T, bin string) {
	file := writeSweepFile(t, sweepGrid)
	p := planOf(t, file)
	if len(p.Cells) != 12 {
		t.Fatalf("%d cells", len(p.Cells))
	}
	one, many := filepath.Join(t.TempDir(), "one"), filepath.Join(t.TempDir(), "many")
	out := runSweepCmd(t, bin, nil, "sweep", file, "--out", one, "--workers", "2", "--log-level", "warn")
	if !strings.Contains(out, "12 run here (12 ok, 0 failed)") || !strings.Contains(out, "best setting") {
		t.Errorf("unsharded output:\n%s", out)
	}

	type proc struct {
		cmd *exec.Cmd
		out *bytes.Buffer
	}
	var procs []proc
	for i := 0; i < 3; i++ {
		args := []string{"sweep", file, "--out", many, "--workers", "1", "--log-level", "warn", "--shard", fmt.Sprintf("%d/3", i)}
		var env []string
		if i == 2 {
			args[len(args)-2], args[len(args)-1] = "--shards", "3"
			env = []string{sweep.EnvJobCompletionIndex + "=2"}
		}
		cmd, buf := sweepCmd(bin, env, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, proc{cmd, buf})
	}
	for i, pr := range procs {
		if err := pr.cmd.Wait(); err != nil {
			t.Fatalf("shard %d: %v\n%s", i, err, pr.out)
		}
		if !strings.Contains(pr.out.String(), fmt.Sprintf("Shard %d/3: 4 cells", i)) {
			t.Errorf("shard %d output:\n%s", i, pr.out)
		}
	}
	mout := runSweepCmd(t, bin, nil, "merge", many)
	if !strings.Contains(mout, "cells 12 ok, 0 failed, 0 missing of 12") || !strings.Contains(mout, "over 12 completed cells") {
		t.Errorf("merge output:\n%s", mout)
	}

	a, b := cellResults(t, one, p), cellResults(t, many, p)
	for _, c := range p.Cells {
		ra, rb := a[c.ID], b[c.ID]
		if ra.Status != results.StatusOK || rb.Status != results.StatusOK {
			t.Fatalf("cell %d: status %s / %s", c.Index, ra.Status, rb.Status)
		}
		if !reflect.DeepEqual(ra.R, rb.R) || !reflect.DeepEqual(ra.B, rb.B) {
			t.Errorf("cell %d (%s seed %d): R or B differ between the unsharded and the sharded sweep", c.Index, c.Strategy, c.Seed)
		}
		if !reflect.DeepEqual(ra.Metrics, rb.Metrics) {
			t.Errorf("cell %d: metrics differ", c.Index)
		}
	}
	sa, _ := os.ReadFile(filepath.Join(one, sweep.SummaryJSONFile))
	sb, _ := os.ReadFile(filepath.Join(many, sweep.SummaryJSONFile))
	if len(sa) == 0 || !bytes.Equal(sa, sb) {
		t.Errorf("sweep-summary.json differs:\n%s\n---\n%s", sa, sb)
	}
	ma, _ := os.ReadFile(filepath.Join(one, sweep.SummaryMDFile))
	mb, _ := os.ReadFile(filepath.Join(many, sweep.SummaryMDFile))
	if !bytes.Equal(ma, mb) {
		t.Error("sweep-summary.md differs")
	}
	// The groups are ordinary run folders with complete summaries.
	for _, g := range p.Groups {
		run, err := results.Read(filepath.Join(many, g.Dir))
		if err != nil {
			t.Fatal(err)
		}
		if len(run.Results) != len(g.Strategies)*2 {
			t.Errorf("%s: %d results", g.Dir, len(run.Results))
		}
		if _, err := os.Stat(filepath.Join(many, g.Dir, results.SummaryMDFile)); err != nil {
			t.Error(err)
		}
	}
	// A rerun resumes: nothing left to do.
	out = runSweepCmd(t, bin, nil, "sweep", file, "--out", many, "--log-level", "warn")
	if !strings.Contains(out, "12 cells: 12 already complete, 0 run here") {
		t.Errorf("rerun output:\n%s", out)
	}
}

// testKillResume runs two shards at once, kills shard 0 (SIGKILL) while it runs a cell, reruns
// it, and checks that every cell completed exactly once: one "done" in each cell.log, no extra
// results, and a second start only for the cell the killed process was running.
func testKillResume(t *testing.T, bin string) {
	file := writeSweepFile(t, `name: kill-test
streams: [split-mnist]
scenarios: [task]
strategies: {naive: {}, joint: {}}
seeds: [1, 2, 3]
overrides: {iterations: 150, hidden: [32], tasks: 2, train_limit: 300, test_limit: 100}
`)
	p := planOf(t, file)
	dir := filepath.Join(t.TempDir(), "sweep")
	args := func(shard string) []string {
		return []string{"sweep", file, "--out", dir, "--workers", "1", "--log-level", "warn", "--shard", shard}
	}
	other, otherOut := sweepCmd(bin, nil, args("1/2")...)
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	cmd, out := sweepCmd(bin, nil, args("0/2")...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	mine := p.Shard(0, 2)
	// Kill shard 0 once one of its cells is done and another is running.
	deadline := time.Now().Add(60 * time.Second)
	killed := false
	for time.Now().Before(deadline) && !killed {
		time.Sleep(10 * time.Millisecond)
		// A cell runs from its "start" line in cell.log to its result.
		done, running := 0, 0
		for _, c := range mine {
			cd := p.CellDir(dir, c)
			if _, err := os.Stat(filepath.Join(cd, results.ResultFile)); err == nil {
				done++
			} else if evs, _ := sweep.ReadCellLog(cd); len(evs) > 0 {
				running++
			}
		}
		if done >= 1 && running == 1 && done < len(mine)-1 {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	cmd.Wait()
	if !killed {
		t.Fatalf("shard 0 never had a cell done and one running:\n%s", out)
	}
	if err := other.Wait(); err != nil {
		t.Fatalf("shard 1: %v\n%s", err, otherOut)
	}
	locks, before := 0, 0
	for _, c := range mine {
		if _, err := os.Stat(filepath.Join(p.CellDir(dir, c), sweep.LockFile)); err == nil {
			locks++
		}
		if st, _ := p.StateOf(dir, c); st == sweep.Done {
			before++
		}
	}
	if locks != 1 {
		t.Fatalf("%d lock files left by the killed shard, want 1", locks)
	}
	if _, err := os.Stat(filepath.Join(dir, sweep.SummaryJSONFile)); err == nil {
		t.Error("a sweep summary was written before the grid was complete")
	}
	rerun := runSweepCmd(t, bin, nil, args("0/2")...)
	if want := fmt.Sprintf("Shard 0/2: %d cells: %d already complete, %d run here (%d ok", len(mine), before, len(mine)-before, len(mine)-before); !strings.Contains(rerun, want) {
		t.Errorf("rerun output lacks %q:\n%s", want, rerun)
	}
	restarted := 0
	for _, c := range p.Cells {
		cd := p.CellDir(dir, c)
		evs, err := sweep.ReadCellLog(cd)
		if err != nil {
			t.Fatal(err)
		}
		starts, dones := 0, 0
		for _, e := range evs {
			switch e.Event {
			case "start":
				starts++
			case "done":
				dones++
			}
		}
		if dones != 1 {
			t.Errorf("cell %d completed %d times", c.Index, dones)
		}
		if starts == 2 {
			restarted++
			if ci, err := sweep.ReadCellInfo(cd); err != nil || ci.Attempts != 2 {
				t.Errorf("cell %d: cell.json %+v, %v", c.Index, ci, err)
			}
		} else if starts != 1 {
			t.Errorf("cell %d started %d times", c.Index, starts)
		}
		if _, err := os.Stat(filepath.Join(cd, sweep.LockFile)); !os.IsNotExist(err) {
			t.Errorf("cell %d: lock left after the rerun", c.Index)
		}
	}
	if restarted != 1 {
		t.Errorf("%d cells started twice, want exactly the one that was killed", restarted)
	}
	var n int
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == results.ResultFile {
			n++
		}
		return nil
	})
	if n != len(p.Cells) {
		t.Errorf("%d result.json files for %d cells", n, len(p.Cells))
	}
	s, err := sweep.ReadSummary(dir)
	if err != nil || s.Cells != (sweep.Counts{Total: len(p.Cells), OK: len(p.Cells)}) {
		t.Errorf("summary after the rerun: %+v, %v", s, err)
	}
}

func TestSweepUsage(t *testing.T) {
	t.Setenv(blas.EnvThreads, "")
	file := writeSweepFile(t, sweepGrid)
	bad := writeSweepFile(t, "streams: [split-mnist]\nscenarios: [task]\nstrategies: {naive: {}}\nseeds: [1]\nfoo: 1\n")
	t.Setenv(sweep.EnvSlurmTaskID, "")
	t.Setenv(sweep.EnvJobCompletionIndex, "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sweep"}, "one experiment file"},
		{[]string{"sweep", "a.yaml", "b.yaml"}, "one experiment file"},
		{[]string{"sweep", "/nonexistent.yaml"}, "no such file"},
		{[]string{"sweep", bad}, `grid.yaml:5: unknown key "foo"`},
		{[]string{"sweep", file, "--shard", "3/3"}, "0..COUNT-1"},
		{[]string{"sweep", file, "--shard", "0/3", "--shards", "3"}, "not both"},
		{[]string{"sweep", file, "--shards", "3"}, "neither is set"},
		{[]string{"sweep", file, "--workers", "-1"}, "--workers"},
		{[]string{"sweep", file, "--stale-after", "10s", "--heartbeat", "10s"}, "--stale-after"},
		{[]string{"merge"}, "one sweep folder"},
		{[]string{"merge", t.TempDir()}, "not a sweep folder"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, stderr, tc.want)
		}
	}
}

func TestSweepDryRun(t *testing.T) {
	t.Setenv(blas.EnvThreads, "")
	file := writeSweepFile(t, sweepGrid)
	dir := filepath.Join(t.TempDir(), "out")
	// Flags after the file, calibration off (it would install a BLAS in this test process).
	code, out, stderr := runCLI(t, "sweep", file, "--dry-run", "--calibrate-steps", "0", "--out", dir, "--shard", "1/2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	p := planOf(t, file)
	for _, c := range p.Shard(1, 2) {
		if !strings.Contains(out, c.ID) {
			t.Errorf("cell %s missing from the listing", c.ID)
		}
	}
	for _, c := range p.Shard(0, 2) {
		if strings.Contains(out, c.ID) {
			t.Errorf("cell %s of shard 0 listed by shard 1", c.ID)
		}
	}
	for _, w := range []string{"Sweep cli-test: 12 cells in 2 groups (2 combinations left out); shard 1/2 runs 6", "left out: multihead in split-mnist-class", "6 pending"} {
		if !strings.Contains(out, w) {
			t.Errorf("dry run output lacks %q:\n%s", w, out)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Error("the dry run wrote the sweep folder")
	}
}
