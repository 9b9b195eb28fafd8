package loop_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
	"github.com/sirupsen/logrus"
)

// batchRecorder wraps a strategy and records, per step, the task passed to Step and how many rows of
// the batch come from each task (read from the targets: class c belongs to task c/2).
type batchRecorder struct {
	strategies.Strategy
	cur  []int
	rows [][]int
}

func (r *batchRecorder) Step(cur int, b *stream.Batch) (strategies.StepInfo, error) {
	n := make([]int, 3)
	for _, u := range b.Target[:b.N] {
		n[u/2]++
	}
	r.cur, r.rows = append(r.cur, cur), append(r.rows, n)
	return r.Strategy.Step(cur, b)
}

// TestBlurryTransition checks the blurry stream's batches: in the first W steps of every task
// after the first, the new task's rows are round(BlurryShare(i, W)·batch) and the rest come from
// the previous task; other steps hold the current task only. With hidden boundaries every step
// is told the last task, with given ones the current task.
func TestBlurryTransition(t *testing.T) {
	const T, it, W, B = 3, 10, 4, 8
	for _, hidden := range []bool{false, true} {
		st := strategytest.Synthetic(stream.ClassIL, T, 2, 6, 30, 2)
		set := loop.Settings{Spec: runspec.Spec{Protocol: "test", Scenario: "class", Iterations: it, Batch: B, EvalBatch: 32, LR: 1e-3, Hidden: []int{8}, Seed: 1, Blurry: W}}
		if hidden {
			set.Boundaries = runspec.BoundariesHidden
		}
		inner, err := strategies.Default.New("naive")
		if err != nil {
			t.Fatal(err)
		}
		rec := &batchRecorder{Strategy: inner}
		if _, err := (&loop.Runner{Log: quietLogger()}).Run(context.Background(), st, rec, named(set, "naive")); err != nil {
			t.Fatal(err)
		}
		if len(rec.rows) != T*it {
			t.Fatalf("%d steps recorded, want %d", len(rec.rows), T*it)
		}
		for k, n := range rec.rows {
			task, i := k/it, k%it
			want := make([]int, 3)
			want[task] = B
			if task > 0 && i < W {
				fresh := int(loop.BlurryShare(i, W)*B + 0.5)
				want[task], want[task-1] = fresh, B-fresh
			}
			if n[0] != want[0] || n[1] != want[1] || n[2] != want[2] {
				t.Errorf("hidden=%v, task %d step %d: rows per task %v, want %v", hidden, task+1, i+1, n, want)
			}
			wantCur := task
			if hidden {
				wantCur = T - 1
			}
			if rec.cur[k] != wantCur {
				t.Errorf("hidden=%v, task %d step %d: Step got task %d, want %d", hidden, task+1, i+1, rec.cur[k], wantCur)
			}
		}
	}
	if s := loop.BlurryShare(0, 4); s != 0.2 {
		t.Errorf("BlurryShare(0, 4) = %v, want 0.2", s)
	}
}

// TestBlurryRefusals: every registered strategy, on a blurry class-IL stream with hidden
// boundaries, either runs to a result or is refused before training, saying why (it needs task
// boundaries, draws its own batches, or needs task identity).
func TestBlurryRefusals(t *testing.T) {
	st := strategytest.Synthetic(stream.ClassIL, 2, 2, 6, 30, 2)
	set := loop.Settings{Spec: runspec.Spec{Protocol: "test", Scenario: "class", Iterations: 6, Batch: 8, EvalBatch: 32, LR: 1e-3, Hidden: []int{8}, Seed: 1, Blurry: 3, Boundaries: runspec.BoundariesHidden}}
	ran := 0
	for _, name := range strategies.Default.Names() {
		s, err := strategies.Default.New(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := loop.CheckSpec(set.Spec, st, s, name); err != nil {
			msg := err.Error()
			if !strings.Contains(msg, "needs task boundaries") && !strings.Contains(msg, "draws its own batches") && !strings.Contains(msg, "task identity") && !strings.Contains(msg, "scenario") {
				t.Errorf("%s refused without a reason it names: %v", name, err)
			}
			continue
		}
		res, err := (&loop.Runner{Log: quietLogger()}).Run(context.Background(), st, s, named(set, name))
		if err != nil || len(res.R) != 2 {
			t.Errorf("%s accepted but did not run: %v", name, err)
		}
		ran++
		t.Logf("ran with hidden boundaries: %s", name)
	}
	for _, want := range []string{"naive", "der", "mer"} {
		s, _ := strategies.Default.New(want)
		if err := loop.CheckSpec(set.Spec, st, s, want); err != nil {
			t.Errorf("%s is boundary-free but refused: %v", want, err)
		}
	}
	for _, want := range []string{"ewc", "replay", "joint"} {
		s, _ := strategies.Default.New(want)
		if err := loop.CheckSpec(set.Spec, st, s, want); err == nil {
			t.Errorf("%s accepted with hidden boundaries on a blurry stream", want)
		}
	}
	t.Logf("%d of %d strategies ran with hidden boundaries", ran, len(strategies.Default.Names()))
}

// TestBlurryResume: a blurry run resumes bit for bit from checkpoints in and after the
// transition.
func TestBlurryResume(t *testing.T) {
	for _, spec := range []string{"naive", "der", "replay"} {
		st := strategytest.Synthetic(stream.ClassIL, 3, 2, 12, 40, 9)
		set := named(smallSettings(5), spec)
		set.Blurry = 12
		if err := loop.VerifyResume(context.Background(), t.TempDir(), st, builder(t, spec), set, 5, 6); err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
	}
}

// quietLogger is a logger that writes nothing, for runs whose log the tests do not read.
func quietLogger() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}
