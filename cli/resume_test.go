package cli

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/clgraph/clgraph/datasets/mnist"
	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/stream"
	"github.com/clgraph/clgraph/streams"
)

// The tests of this package share one loaded copy of MNIST per data source.
func init() { loadMNIST = memoMNIST(loadMNIST) }

func memoMNIST(load func(context.Context, mnist.Options) (*streams.Data, error)) func(context.Context, mnist.Options) (*streams.Data, error) {
	var mu sync.Mutex
	cache := map[string]*streams.Data{}
	return func(ctx context.Context, o mnist.Options) (*streams.Data, error) {
		if o.HTTPClient != nil || len(o.Mirrors) > 0 || o.CacheDir != "" {
			return load(ctx, o)
		}
		key := o.Dir + "|" + strings.Join(o.Sources, ",")
		if o.SkipChecksum {
			key += "|skip"
		}
		mu.Lock()
		defer mu.Unlock()
		if d := cache[key]; d != nil {
			return d, nil
		}
		d, err := load(ctx, o)
		if err == nil {
			cache[key] = d
		}
		return d, err
	}
}

// stopper is naive fine-tuning that calls stop after its at-th step (never when stop is nil),
// as a signal would cancel the run.
type stopper struct {
	strategies.Naive
	n, at int
	stop  func()
}

func (s *stopper) Step(cur int, b *stream.Batch) (strategies.StepInfo, error) {
	info, err := s.Naive.Step(cur, b)
	if s.n++; s.stop != nil && s.n == s.at {
		s.stop()
	}
	return info, err
}

// diverger is naive fine-tuning whose loss turns NaN at step 3 of task 2.
type diverger struct {
	strategies.Naive
	steps map[int]int
}

func (d *diverger) Step(cur int, b *stream.Batch) (strategies.StepInfo, error) {
	info, err := d.Naive.Step(cur, b)
	if d.steps[cur]++; cur == 1 && d.steps[cur] == 3 {
		info.Loss = float32(math.NaN())
	}
	return info, err
}

// testRegistry holds naive, stopper (stopping after at steps when stop is not nil) and nan
// (diverging at task 2, step 3).
func testRegistry(at int, stop func()) *strategies.Registry {
	reg := strategies.NewRegistry()
	reg.Register(strategies.Info{Name: "naive", Doc: "naive"}, func(*strategies.Options) (strategies.Strategy, error) { return &strategies.Naive{}, nil })
	reg.Register(strategies.Info{Name: "stopper", Doc: "naive that stops"}, func(*strategies.Options) (strategies.Strategy, error) {
		return &stopper{at: at, stop: stop}, nil
	})
	reg.Register(strategies.Info{Name: "nan", Doc: "naive that diverges"}, func(*strategies.Options) (strategies.Strategy, error) {
		return &diverger{steps: map[int]int{}}, nil
	})
	return reg
}

func runApp(ctx context.Context, reg *strategies.Registry, args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	app := &App{Registry: reg, Stdout: &o, Stderr: &e}
	code = app.Run(ctx, args)
	return code, o.String(), e.String()
}

// The runs train one at a time (--workers 1), so that an interruption finds one run in flight.
func smallRun(out string, extra ...string) []string {
	return append([]string{"run", "--scenario", "class", "--seeds", "1,2", "--iterations", "25", "--hidden", "32",
		"--train-limit", "300", "--test-limit", "100", "--checkpoint-every", "10", "--progress", "none", "--log-level", "warn", "--workers", "1", "--out", out}, extra...)
}

// sameRuns checks that two run folders hold the same results, R and b bit for bit.
func sameRuns(t *testing.T, wantDir, gotDir string) {
	t.Helper()
	want, err := results.Read(wantDir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := results.Read(gotDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Results) != len(got.Results) {
		t.Fatalf("%d results, want %d", len(got.Results), len(want.Results))
	}
	for i, w := range want.Results {
		g := got.Results[i]
		if g.Strategy != w.Strategy || g.Seed != w.Seed || g.Status != w.Status {
			t.Fatalf("result %d is %s seed %d (%s), want %s seed %d (%s)", i, g.Strategy, g.Seed, g.Status, w.Strategy, w.Seed, w.Status)
		}
		if !bitsEqual(w.B, g.B) || len(w.R) != len(g.R) {
			t.Fatalf("%s seed %d: b or R differ from the uninterrupted run", w.Strategy, w.Seed)
		}
		for k := range w.R {
			if !bitsEqual(w.R[k], g.R[k]) {
				t.Fatalf("%s seed %d: R[%d] = %v, uninterrupted %v", w.Strategy, w.Seed, k, g.R[k], w.R[k])
			}
		}
		if _, err := os.Stat(checkpointPath(gotDir, g.Strategy, g.Seed)); err == nil {
			t.Errorf("%s seed %d: the checkpoint of a finished run was kept", g.Strategy, g.Seed)
		}
	}
}

func bitsEqual(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

// TestInterruptResume interrupts a run in the middle of a task (as a first SIGINT does: the
// context is cancelled), checks what it leaves, refuses corrupt and foreign checkpoints, and
// resumes it to the uninterrupted run's matrices, bit for bit.
func TestInterruptResume(t *testing.T) {
	dir := t.TempDir()
	ref, out := filepath.Join(dir, "ref"), filepath.Join(dir, "int")
	if code, _, stderr := runApp(context.Background(), testRegistry(0, nil), smallRun(ref, "--strategies", "stopper,naive")...); code != 0 {
		t.Fatalf("reference run: exit %d: %s", code, stderr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code, stdout, stderr := runApp(ctx, testRegistry(37, cancel), smallRun(out, "--strategies", "stopper,naive")...)
	if code != ExitInterrupted || !strings.Contains(stderr, "clgraph run --resume "+out) {
		t.Fatalf("interrupted run: exit %d, want %d and how to resume; stderr:\n%s\nstdout:\n%s", code, ExitInterrupted, stderr, stdout)
	}
	run, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Results) != 1 || run.Results[0].Status != results.StatusInterrupted || len(run.Results[0].R) != 1 {
		t.Fatalf("interrupted run holds %d results: %+v", len(run.Results), run.Results)
	}
	if _, err := os.Stat(filepath.Join(out, results.SummaryJSONFile)); err != nil {
		t.Errorf("no summary of the partial results: %v", err)
	}
	ckPath := checkpointPath(out, "stopper", 1)
	good, err := os.ReadFile(ckPath)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := loop.DecodeCheckpoint(good)
	if err != nil {
		t.Fatal(err)
	}
	if h := ck.Header; h.Task != 1 || h.Step != 12 || h.Done {
		t.Fatalf("checkpoint at task %d step %d done=%v, want task 2 (index 1) step 12", h.Task, h.Step, h.Done)
	}

	// Refusals: each exits 2 with the reason and a fix, before training anything.
	resume := func() (int, string) {
		code, _, stderr := runApp(context.Background(), testRegistry(0, nil), "run", "--resume", out, "--progress", "none", "--log-level", "warn")
		return code, stderr
	}
	foreign := checkpointPath(out, "stopper", 2)
	if err := os.MkdirAll(filepath.Dir(foreign), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(foreign, good, 0o644)
	if code, stderr := resume(); code != ExitUsage || !strings.Contains(stderr, "seed is 1 in the checkpoint but 2") || !strings.Contains(stderr, "delete "+foreign) {
		t.Errorf("a checkpoint of another seed: exit %d, %s", code, stderr)
	}
	os.Remove(foreign)
	if _, err := os.Stat(filepath.Join(filepath.Dir(foreign), results.ResultFile)); err == nil {
		t.Error("a refused resume trained")
	}
	flip := bytes.Clone(good)
	flip[len(flip)/2] ^= 1
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"corrupt":   {flip, "checksum mismatch"},
		"truncated": {good[:len(good)/2], "truncated"},
	} {
		os.WriteFile(ckPath, tc.data, 0o644)
		if code, stderr := resume(); code != ExitUsage || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "to rerun it from the start") {
			t.Errorf("%s checkpoint: exit %d, %s", name, code, stderr)
		}
	}
	os.WriteFile(ckPath, good, 0o644)
	if code, _, stderr := runApp(context.Background(), testRegistry(0, nil), "run", "--resume", out, "--seeds", "3"); code != ExitUsage || !strings.Contains(stderr, "--seeds cannot be combined with --resume") {
		t.Errorf("--resume with --seeds: exit %d, %s", code, stderr)
	}

	if code, stderr := resume(); code != 0 {
		t.Fatalf("resume: exit %d: %s", code, stderr)
	}
	sameRuns(t, ref, out)
	// Resuming a finished run trains nothing and changes nothing.
	before, _ := os.ReadFile(filepath.Join(results.ResultDir(out, "naive", 2), results.ResultFile))
	if code, stderr := resume(); code != 0 {
		t.Fatalf("second resume: exit %d: %s", code, stderr)
	}
	after, _ := os.ReadFile(filepath.Join(results.ResultDir(out, "naive", 2), results.ResultFile))
	if !bytes.Equal(before, after) {
		t.Error("resuming a finished run rewrote a result")
	}
}

// TestDivergence checks that a run whose loss turns NaN stops with an error naming the
// strategy, task and step, that the other runs of the command go on, that the summary marks
// it, and that the command exits 1.
func TestDivergence(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := runApp(context.Background(), testRegistry(0, nil), smallRun(out, "--strategies", "nan,naive")...)
	if code != ExitFailure {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, ExitFailure, stdout, stderr)
	}
	if !strings.Contains(stderr, "nan: task 2, step 3: strategies: loss diverged") || !strings.Contains(stderr, "2 of 4 runs failed") {
		t.Errorf("stderr does not name the strategy, task and step:\n%s", stderr)
	}
	run, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range run.Results {
		want := results.StatusOK
		if r.Strategy == "nan" {
			want = results.StatusFailed
			if len(r.R) != 1 || !strings.Contains(r.Error, "task 2, step 3") {
				t.Errorf("failed result: %d rows, error %q", len(r.R), r.Error)
			}
		}
		if r.Status != want || len(run.Results) != 4 {
			t.Errorf("%s seed %d: status %s, want %s (%d results)", r.Strategy, r.Seed, r.Status, want, len(run.Results))
		}
		if _, err := os.Stat(checkpointPath(out, r.Strategy, r.Seed)); err == nil {
			t.Errorf("%s seed %d: checkpoint kept after a final result", r.Strategy, r.Seed)
		}
	}
	md, _ := os.ReadFile(filepath.Join(out, results.SummaryMDFile))
	if !strings.Contains(string(md), "loss diverged") || !strings.Contains(stdout, "2 failed") {
		t.Errorf("the summary does not mark the failed run:\n%s\n%s", md, stdout)
	}
}

// checkpointPath is the checkpoint file of a run inside the run folder dir.
func checkpointPath(dir, spec string, seed int64) string {
	c := loop.Cell{Dir: dir, Spec: runspec.Spec{Strategy: spec, Seed: seed}}
	return c.CheckpointPath()
}
