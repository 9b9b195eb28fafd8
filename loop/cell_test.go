package loop_test

import (
	"context"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

// TestRunCellResumesMidTask interrupts a cell mid-task as a sweep would (no result kept), checks
// that its checkpoint stays and no result is written, reruns it, and compares with an
// uninterrupted cell: the same R and b, bit for bit. A cell with a foreign checkpoint is refused
// before training.
func TestRunCellResumesMidTask(t *testing.T) {
	st := strategytest.Synthetic(stream.ClassIL, 3, 2, 12, 40, 9)
	spec := smallSettings(5).Spec.Cell("ewc", 5)
	cell := func(dir string) loop.Cell {
		return loop.Cell{Dir: dir, Spec: spec, Stream: st, Registry: strategies.Default, Resume: true}
	}
	ref, err := (&loop.Runner{}).RunCell(context.Background(), cell(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	steps := 0
	stop := loop.Observe(func(e loop.Event) {
		if e.Kind == loop.Step {
			if steps++; steps == 40 { // task 2, step 10
				cancel()
			}
		}
	})
	c := cell(dir)
	res, err := (&loop.Runner{Hooks: []loop.Hook{stop}}).RunCell(ctx, c)
	cancel()
	if !loop.Interrupted(err) || res == nil || res.Status != results.StatusInterrupted {
		t.Fatalf("interrupted cell: %v, %+v", err, res)
	}
	if _, err := os.Stat(c.CheckpointPath()); err != nil {
		t.Fatalf("no checkpoint left: %v", err)
	}
	if _, err := os.Stat(c.ResultDir() + "/" + results.ResultFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an interrupted sweep-style cell wrote a result: %v", err)
	}
	ck, err := (&loop.Runner{}).Checkpoint(&c)
	if err != nil || ck == nil || ck.Header.Task != 1 || ck.Header.Step != 10 {
		t.Fatalf("checkpoint %+v, %v", ck, err)
	}
	got, err := (&loop.Runner{}).RunCell(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.R, ref.R) || !reflect.DeepEqual(got.B, ref.B) {
		t.Fatalf("resumed cell differs:\n%v\n%v", got.R, ref.R)
	}
	if _, err := os.Stat(c.CheckpointPath()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the checkpoint of a finished cell was kept: %v", err)
	}
	if _, err := os.Stat(c.ResultDir() + "/" + results.ResultFile); err != nil {
		t.Fatalf("finished cell wrote no result: %v", err)
	}
	// A checkpoint of another seed in the cell's folder is refused before training.
	other := cell(t.TempDir())
	other.Spec.Seed = 6
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	(&loop.Runner{}).RunCell(ctx2, other)
	data, err := os.ReadFile(other.CheckpointPath())
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(c.ResultDir(), 0o755)
	os.WriteFile(c.CheckpointPath(), data, 0o644)
	if res, err := (&loop.Runner{}).RunCell(context.Background(), c); res != nil || err == nil || !errors.Is(err, loop.ErrCheckpointMismatch) {
		t.Fatalf("foreign checkpoint: %v, %v", res, err)
	}
}

// TestHookErrorStopsRun checks that a hook's error fails the run and ErrStop stops it cleanly.
func TestHookErrorStopsRun(t *testing.T) {
	st := strategytest.Synthetic(stream.TaskIL, 2, 2, 12, 40, 9)
	boom := errors.New("boom")
	for _, tc := range []struct {
		err    error
		status string
	}{{boom, results.StatusFailed}, {loop.ErrStop, results.StatusInterrupted}} {
		steps := 0
		h := func(e loop.Event) error {
			if e.Kind == loop.Step {
				if steps++; steps == 5 {
					return tc.err
				}
			}
			return nil
		}
		s, _ := strategies.Default.New("naive")
		res, err := (&loop.Runner{Hooks: []loop.Hook{h}}).Run(context.Background(), st, s, named(smallSettings(1), "naive"))
		if !errors.Is(err, tc.err) || res.Status != tc.status || steps != 5 {
			t.Errorf("%v: err %v, status %s after %d steps", tc.err, err, res.Status, steps)
		}
	}
}
