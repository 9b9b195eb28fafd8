package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clgraph/clgraph/datasets/mnist"
	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/results"
)

// buildCLI builds cmd/clgraph into a temporary folder. The tests that run the binary take
// minutes on a loaded machine: they run only with CLGRAPH_LONG=1, e.g.
//
//	CLGRAPH_LONG=1 go test -run Process -v ./cli/
func buildCLI(t *testing.T) string {
	t.Helper()
	if os.Getenv("CLGRAPH_LONG") != "1" || testing.Short() {
		t.Skip("builds and runs the clgraph binary: set CLGRAPH_LONG=1 to run it")
	}
	bin := filepath.Join(t.TempDir(), "clgraph")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/clgraph/clgraph/cmd/clgraph")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// mnistDir returns a folder holding the MNIST files, so that subprocesses load them directly.
func mnistDir(t *testing.T) string {
	t.Helper()
	d, err := loadMNIST(context.Background(), mnist.Options{Dir: mnist.DirFromEnv()})
	if err != nil {
		t.Fatal(err)
	}
	if dir, ok := strings.CutPrefix(d.Source, "module cache: "); ok {
		return dir
	}
	return mnist.DirFromEnv()
}

// procArgs is a run slow enough to be caught in the middle of a task: naive then joint, one
// seed, checkpoints every 7 steps.
func procArgs(dataDir, out string) []string {
	args := []string{"run", "--scenario", "class", "--strategies", "naive,joint", "--seeds", "1", "--iterations", "60",
		"--hidden", "64", "--train-limit", "1000", "--test-limit", "200", "--checkpoint-every", "7", "--progress", "log", "--out", out}
	if dataDir != "" {
		args = append(args, "--data-dir", dataDir)
	}
	return args
}

type proc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan error
}

func start(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.cmd.Process.Kill() })
	return p
}

// wait returns the exit code, failing after timeout.
func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case err := <-p.done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		t.Fatalf("%v did not exit within %v\nstderr:\n%s", p.cmd.Args, timeout, p.stderr.String())
	}
	return -1
}

// waitMidTask polls path until it holds a checkpoint in the middle of task 2 or later, and
// returns false if the process ends first.
func (p *proc) waitMidTask(t *testing.T, path string) bool {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			p.done <- err
			return false
		default:
		}
		if c, err := loop.ReadCheckpoint(path); err == nil && c.Header.Task >= 1 && !c.Header.Done {
			return true
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("no checkpoint in the middle of a task after 3 minutes")
	return false
}

// TestProcessKillAndInterrupt runs the clgraph binary three ways on a small slice of real MNIST:
// uninterrupted; killed with SIGKILL in the middle of a task, then resumed; stopped with SIGINT
// (exit 130, partial results, a checkpoint, how to resume), then resumed. Both resumed runs must
// end with the uninterrupted run's accuracy matrices, bit for bit.
func TestProcessKillAndInterrupt(t *testing.T) {
	bin := buildCLI(t)
	data := mnistDir(t)
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref")
	// The uninterrupted reference runs in this process: the same code and data give the same
	// numbers as the binary.
	if code, _, stderr := runCLI(t, procArgs(data, ref)...); code != 0 {
		t.Fatalf("reference run failed:\n%s", stderr)
	}
	resume := func(t *testing.T, out string) {
		p := start(t, bin, "run", "--resume", out, "--data-dir", data, "--progress", "log")
		if code := p.wait(t, 5*time.Minute); code != 0 {
			t.Fatalf("resume: exit %d\n%s", code, p.stderr.String())
		}
		if !strings.Contains(p.stderr.String(), "resuming from checkpoint") {
			t.Errorf("the resumed run did not start from a checkpoint:\n%s", p.stderr.String())
		}
		sameRuns(t, ref, out)
	}

	t.Run("SIGKILL", func(t *testing.T) {
		out := filepath.Join(dir, "killed")
		p := start(t, bin, procArgs(data, out)...)
		if !p.waitMidTask(t, checkpointPath(out, "naive", 1)) {
			t.Fatalf("the run ended before it could be killed:\n%s", p.stderr.String())
		}
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.wait(t, time.Minute)
		if _, err := os.Stat(filepath.Join(out, results.SummaryJSONFile)); err == nil {
			t.Fatal("the killed run had already finished")
		}
		c, err := loop.ReadCheckpoint(checkpointPath(out, "naive", 1))
		if err != nil {
			t.Fatalf("the checkpoint left by the killed process: %v", err)
		}
		t.Logf("killed; resuming at task %d, step %d", c.Header.Task+1, c.Header.Step)
		resume(t, out)
	})

	t.Run("SIGINT", func(t *testing.T) {
		out := filepath.Join(dir, "interrupted")
		p := start(t, bin, procArgs(data, out)...)
		if !p.waitMidTask(t, checkpointPath(out, "naive", 1)) {
			t.Fatalf("the run ended before it could be interrupted:\n%s", p.stderr.String())
		}
		p.cmd.Process.Signal(os.Interrupt)
		if code := p.wait(t, time.Minute); code != ExitInterrupted {
			t.Fatalf("exit %d after SIGINT, want %d\n%s", code, ExitInterrupted, p.stderr.String())
		}
		if !strings.Contains(p.stderr.String(), "clgraph run --resume "+out) {
			t.Errorf("stderr does not say how to resume:\n%s", p.stderr.String())
		}
		run, err := results.Read(out)
		if err != nil {
			t.Fatal(err)
		}
		if len(run.Results) != 1 || run.Results[0].Status != results.StatusInterrupted {
			t.Fatalf("after SIGINT the folder holds %+v", run.Results)
		}
		if _, err := loop.ReadCheckpoint(checkpointPath(out, "naive", 1)); err != nil {
			t.Fatal(err)
		}
		resume(t, out)
	})
}

// TestSecondSignal checks that a first signal cancels and a second exits at once with 130.
func TestSecondSignal(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	done := make(chan struct{})
	ctx, cancel := context.WithCancelCause(context.Background())
	exited := make(chan int, 1)
	var w bytes.Buffer
	go watchSignals(sigs, done, cancel, &w, func(code int) { exited <- code })
	sigs <- os.Interrupt
	<-ctx.Done()
	if !errors.Is(context.Cause(ctx), errSignal) {
		t.Fatalf("cause %v", context.Cause(ctx))
	}
	select {
	case <-exited:
		t.Fatal("exited on the first signal")
	case <-time.After(20 * time.Millisecond):
	}
	sigs <- syscall.SIGTERM
	select {
	case code := <-exited:
		if code != ExitInterrupted {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(time.Second):
		t.Fatal("the second signal did not exit")
	}
	if !strings.Contains(w.String(), "again") || !strings.Contains(w.String(), "checkpoint") {
		t.Errorf("messages: %q", w.String())
	}
	close(done)
}

// TestProcessSweepInterrupt stops a real `clgraph sweep` with SIGINT in the middle of a cell's
// task: it must exit 130 and leave the cell's checkpoint (no result); the same command again
// resumes the cell where it stopped, and the grid ends with the uninterrupted sweep's matrices,
// bit for bit. (Issue: an interrupted sweep exited 1, kept no checkpoint and restarted its cells
// from step 0.)
func TestProcessSweepInterrupt(t *testing.T) {
	bin := buildCLI(t)
	data := mnistDir(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "grid.yaml")
	os.WriteFile(file, []byte(`name: grid
streams: [split-mnist]
scenarios: [class]
strategies: {naive: {}, joint: {}}
seeds: [1]
overrides: {iterations: 60, hidden: [64], train_limit: 1000, test_limit: 200, checkpoint_every: 7}
`), 0o644)
	ref := filepath.Join(dir, "ref")
	if code, _, stderr := runCLI(t, "sweep", file, "--out", ref, "--workers", "1", "--data-dir", data, "--log-level", "warn"); code != 0 {
		t.Fatalf("reference sweep: %s", stderr)
	}
	out := filepath.Join(dir, "out")
	args := []string{"sweep", file, "--out", out, "--workers", "1", "--data-dir", data}
	p := start(t, bin, args...)
	ck := checkpointPath(filepath.Join(out, "split-mnist-class"), "naive", 1)
	if !p.waitMidTask(t, ck) {
		t.Fatalf("the sweep ended before it could be interrupted:\n%s", p.stderr.String())
	}
	p.cmd.Process.Signal(os.Interrupt)
	if code := p.wait(t, time.Minute); code != ExitInterrupted {
		t.Fatalf("exit %d after SIGINT, want %d\n%s", code, ExitInterrupted, p.stderr.String())
	}
	c, err := loop.ReadCheckpoint(ck)
	if err != nil {
		t.Fatalf("no checkpoint after SIGINT: %v", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(ck), results.ResultFile)); err == nil {
		t.Fatal("the interrupted cell wrote a result")
	}
	p2 := start(t, bin, args...)
	if code := p2.wait(t, 5*time.Minute); code != 0 {
		t.Fatalf("rerun: exit %d\n%s", code, p2.stderr.String())
	}
	if !strings.Contains(p2.stderr.String(), "cell resumes from its checkpoint") {
		t.Errorf("the rerun did not resume the cell (checkpoint at task %d, step %d):\n%s", c.Header.Task+1, c.Header.Step, p2.stderr.String())
	}
	sameRuns(t, filepath.Join(ref, "split-mnist-class"), filepath.Join(out, "split-mnist-class"))
}
