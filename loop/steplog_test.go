package loop_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/results/tfevents"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

// stepLines reads a steps.csv into its lines without the header, each cut to its step, task,
// task step, loss, penalty and learning rate (the columns that do not depend on timing).
func stepLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if lines[0] != loop.StepsHeader {
		t.Fatalf("header %q", lines[0])
	}
	var out []string
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		out = append(out, strings.Join([]string{f[0], f[1], f[2], f[3], f[4], f[6]}, ","))
	}
	return out
}

// TestStepLog: a run with step_log 5 writes a steps.csv line every 5 steps of each task (global
// steps), and a TensorBoard event file whose train/loss scalars are the csv's losses and whose
// eval scalars are the accuracy matrix's rows and the run's ACC, every record's CRCs checked.
func TestStepLog(t *testing.T) {
	st := strategytest.Synthetic(stream.ClassIL, 3, 2, 12, 40, 9)
	set := smallSettings(5)
	set.StepLog = 5
	c := loop.Cell{Dir: t.TempDir(), Spec: set.Spec.Cell("naive", 5), Stream: st, Registry: strategies.Default}
	res, err := (&loop.Runner{}).RunCell(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	lines := stepLines(t, filepath.Join(c.ResultDir(), results.StepsFile))
	if want := 3 * 30 / 5; len(lines) != want {
		t.Fatalf("%d lines, want %d", len(lines), want)
	}
	if !strings.HasPrefix(lines[0], "5,1,5,") {
		t.Errorf("first line %q", lines[0])
	}
	if !strings.HasPrefix(lines[6], "35,2,5,") {
		t.Errorf("line 7 %q, want global step 35 (task 2, step 5)", lines[6])
	}
	files, _ := filepath.Glob(filepath.Join(c.ResultDir(), "events.out.tfevents.*"))
	if len(files) != 1 {
		t.Fatalf("event files %v", files)
	}
	evs, err := tfevents.Read(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var losses []string
	var acc float32
	var rows int
	for _, e := range evs {
		if v, ok := e.Values["train/loss"]; ok {
			losses = append(losses, strconv.FormatInt(e.Step, 10)+":"+strconv.FormatFloat(float64(v), 'g', -1, 32))
		}
		if _, ok := e.Values["eval/task_1"]; ok {
			rows++
		}
		if v, ok := e.Values["eval/ACC"]; ok {
			acc = v
		}
	}
	for i, l := range lines {
		f := strings.Split(l, ",")
		if losses[i] != f[0]+":"+f[3] {
			t.Fatalf("event %d: loss %s, steps.csv %s", i, losses[i], l)
		}
	}
	if rows != 3 || math.Abs(float64(acc)-res.Metrics.Get(results.KeyACC)) > 1e-6 {
		t.Errorf("%d evaluation events, eval/ACC %v; want 3 and the result's ACC %v", rows, acc, res.Metrics.Get(results.KeyACC))
	}
}

// TestStepLogResume: a run interrupted in task 2 and resumed from its checkpoint ends with the
// steps.csv of an uninterrupted run (its losses and steps, each once; resume is exact), and a
// second event file that starts with a SessionLog START at the step resumed from.
func TestStepLogResume(t *testing.T) {
	st := strategytest.Synthetic(stream.ClassIL, 3, 2, 12, 40, 9)
	set := smallSettings(5)
	set.StepLog, set.CheckpointEvery = 5, 10
	spec := set.Spec.Cell("ewc", 5)
	cell := func(dir string) loop.Cell {
		return loop.Cell{Dir: dir, Spec: spec, Stream: st, Registry: strategies.Default, Resume: true, KeepInterrupted: true}
	}
	ref := cell(t.TempDir())
	if _, err := (&loop.Runner{}).RunCell(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	c := cell(t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	steps := 0
	stop := loop.Observe(func(e loop.Event) {
		if e.Kind == loop.Step {
			if steps++; steps == 47 { // task 2, step 17: lines up to step 45 are written, and the interruption checkpoints here
				cancel()
			}
		}
	})
	if _, err := (&loop.Runner{Hooks: []loop.Hook{stop}}).RunCell(ctx, c); !loop.Interrupted(err) {
		t.Fatalf("not interrupted: %v", err)
	}
	cancel()
	if _, err := (&loop.Runner{}).RunCell(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	want := stepLines(t, filepath.Join(ref.ResultDir(), results.StepsFile))
	got := stepLines(t, filepath.Join(c.ResultDir(), results.StepsFile))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("resumed steps.csv:\n%s\nuninterrupted:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	files, _ := filepath.Glob(filepath.Join(c.ResultDir(), "events.out.tfevents.*"))
	if len(files) != 2 {
		t.Fatalf("event files %v, want one per attempt", files)
	}
	var starts []int64
	for _, f := range files {
		evs, err := tfevents.Read(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.SessionStart {
				starts = append(starts, e.Step)
			}
		}
	}
	if len(starts) != 1 || starts[0] != 47 {
		t.Errorf("session starts at %v, want one at step 47 (task 2, step 17: where the interruption checkpointed)", starts)
	}
}
