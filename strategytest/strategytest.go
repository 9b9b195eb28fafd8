// Package strategytest is the conformance suite every clgraph strategy, built-in or third-party,
// passes with one call: Run(t, registry, spec). It trains the strategy on small synthetic streams
// and checks determinism (the same seed gives the bit-identical accuracy matrix), shapes, that a
// single task is learnt far above chance, that the listed parameters are the graph's learnables,
// and that the strategy resumes from its checkpoints bit for bit (CheckResume), so that state a
// strategy forgets to save fails a test instead of silently changing resumed runs.
package strategytest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"testing"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/stream"
)

// Synthetic returns a stream of tasks over Gaussian blobs: classesPerTask new classes per task
// (class c centred on a random point), n training and n/2 test examples per class, dim features
// in [0,1]. It is laid out like split MNIST in the given scenario, for fast tests.
func Synthetic(sc stream.Scenario, tasks, classesPerTask, dim, n int, seed int64) *stream.Stream {
	rng := rand.New(rand.NewSource(seed))
	C := tasks * classesPerTask
	centres := make([][]float64, C)
	for c := range centres {
		centres[c] = make([]float64, dim)
		for i := range centres[c] {
			centres[c][i] = rng.Float64()
		}
	}
	mk := func(per int) *stream.Dataset {
		d := &stream.Dataset{Dim: dim}
		for c := 0; c < C; c++ {
			for k := 0; k < per; k++ {
				for i := 0; i < dim; i++ {
					v := centres[c][i] + rng.NormFloat64()*0.15
					d.X = append(d.X, float32(math.Min(1, math.Max(0, v))))
				}
				d.Labels = append(d.Labels, uint8(c))
				d.N++
			}
		}
		return d
	}
	train, test := mk(n), mk(max(1, n/2))
	s := &stream.Stream{Name: "synthetic", Scenario: sc, InputDim: dim, Outputs: C}
	if sc == stream.DomainIL {
		s.Outputs = classesPerTask
	}
	for t := 0; t < tasks; t++ {
		task := &stream.Task{ID: t, Name: string(rune('A' + t))}
		for k := 0; k < classesPerTask; k++ {
			c := t*classesPerTask + k
			task.Classes = append(task.Classes, c)
			u := c
			if sc == stream.DomainIL {
				u = k
			}
			task.Units = append(task.Units, u)
		}
		split := func(d *stream.Dataset) stream.Split {
			sp := stream.Split{Data: d}
			for i := 0; i < d.N; i++ {
				c := int(d.Labels[i])
				if c/classesPerTask == t {
					u := c
					if sc == stream.DomainIL {
						u = c % classesPerTask
					}
					sp.Index = append(sp.Index, int32(i))
					sp.Target = append(sp.Target, int32(u))
				}
			}
			return sp
		}
		task.Train, task.Test = split(train), split(test)
		s.Tasks = append(s.Tasks, task)
	}
	return s
}

// Settings are the small protocol the suite trains with.
var Settings = runspec.Spec{Protocol: "conformance", Iterations: 60, Batch: 32, EvalBatch: 64, LR: 3e-3, Hidden: []int{32}}

func train(t *testing.T, reg *strategies.Registry, spec string, st *stream.Stream, seed int64) (strategies.Strategy, [][]float64, []float64) {
	t.Helper()
	s, err := reg.New(spec)
	if err != nil {
		t.Fatalf("%s: %v", spec, err)
	}
	r := loop.Runner{}
	res, err := r.Run(context.Background(), st, s, loop.Settings{Spec: Settings.Cell(spec, seed)})
	if err != nil {
		t.Fatalf("%s on %s-IL: %v", spec, st.Scenario, err)
	}
	return s, res.R, res.B
}

// ResumeSettings are the protocol CheckResume trains with: short tasks (a run takes milliseconds)
// with checkpoints in the middle of every task.
var ResumeSettings = runspec.Spec{Protocol: "conformance-resume", Iterations: 16, Batch: 16, EvalBatch: 64, LR: 3e-3, Hidden: []int{16, 12}}

// Resume cadence of CheckResume: a checkpoint every ResumeEvery steps, and at most ResumeMax of
// them resumed (spread over the run), besides every task boundary's and an interruption's.
const (
	ResumeEvery = 6
	ResumeMax   = 3
)

// ErrNotCheckpointable is returned by CheckResume for a strategy that does not implement
// strategies.Checkpointer: the runner never resumes it (an interrupted run restarts), so there is
// nothing to check.
var ErrNotCheckpointable = errors.New("strategytest: the strategy does not implement strategies.Checkpointer")

// CheckResume checks that the strategy built from spec by reg resumes exactly in scenario sc: it
// runs loop.VerifyResume on a small synthetic stream of 3 tasks with ResumeSettings, resuming
// from checkpoints at task boundaries, in the middle of tasks and after an interruption, and
// comparing the accuracy matrix and the final parameters bit for bit with an uninterrupted run.
// It returns nil when the strategy resumes exactly, ErrNotCheckpointable when it cannot be
// checkpointed, else the first difference. A strategy that keeps state it does not save
// (Checkpointer) fails here. dir is a scratch folder for checkpoints.
func CheckResume(ctx context.Context, dir string, reg *strategies.Registry, spec string, sc stream.Scenario) error {
	probe, err := reg.New(spec)
	if err != nil {
		return err
	}
	if !loop.Checkpointable(probe) {
		return ErrNotCheckpointable
	}
	st := Synthetic(sc, 3, 2, 12, 40, 9)
	set := loop.Settings{Spec: ResumeSettings.Cell(spec, 5)}
	build := func() (strategies.Strategy, error) { return reg.New(spec) }
	if err := loop.VerifyResume(ctx, dir, st, build, set, ResumeEvery, ResumeMax); err != nil {
		return fmt.Errorf("%s does not resume exactly in %s-IL: %w", spec, sc, err)
	}
	return nil
}

// Run checks the strategy built from spec by reg against the conformance suite. Strategies that
// need task identities are tested in task-IL only; others in all three scenarios. In each, a
// "resume" subtest runs CheckResume (skipped for a strategy that cannot be checkpointed).
func Run(t *testing.T, reg *strategies.Registry, spec string) {
	probe, err := reg.New(spec)
	if err != nil {
		t.Fatalf("building %s: %v", spec, err)
	}
	scenarios := strategies.RequirementsOf(probe).Runs()
	for _, sc := range scenarios {
		t.Run(sc.String(), func(t *testing.T) {
			st := Synthetic(sc, 3, 2, 16, 80, 7)
			s1, R1, b1 := train(t, reg, spec, st, 11)
			_, R2, b2 := train(t, reg, spec, st, 11)
			T := len(st.Tasks)
			if len(R1) != T || len(b1) != T {
				t.Fatalf("R has %d rows and b %d entries, want %d", len(R1), len(b1), T)
			}
			for i, row := range R1 {
				if len(row) != T {
					t.Fatalf("R[%d] has %d entries, want %d", i, len(row), T)
				}
				for j, v := range row {
					if !(v >= 0 && v <= 1) {
						t.Fatalf("R[%d][%d] = %v outside [0,1]", i, j, v)
					}
				}
			}
			if !reflect.DeepEqual(R1, R2) || !reflect.DeepEqual(b1, b2) {
				t.Fatalf("the same seed gave different results:\nR %v\nvs %v\nb %v vs %v", R1, R2, b1, b2)
			}
			if R1[0][0] < 0.9 {
				t.Errorf("task 1 learnt to only %.3f right after training on it (want >= 0.9, chance is %.2f)", R1[0][0], 1/float64(len(st.Tasks[0].Units)))
			}
			checkParams(t, s1)
			checkScores(t, s1, st)
			t.Run("resume", func(t *testing.T) {
				err := CheckResume(context.Background(), t.TempDir(), reg, spec, sc)
				if errors.Is(err, ErrNotCheckpointable) {
					t.Skip("not checkpointable: an interrupted run restarts from scratch")
				}
				if err != nil {
					t.Fatal(err)
				}
			})
		})
	}
	t.Run("single-task", func(t *testing.T) {
		sc := scenarios[0]
		st := Synthetic(sc, 1, 4, 16, 80, 3)
		_, R, _ := train(t, reg, spec, st, 5)
		if R[0][0] < 0.85 {
			t.Errorf("a single 4-class task reached only %.3f (chance 0.25; want >= 0.85)", R[0][0])
		}
	})
}

func checkParams(t *testing.T, s strategies.Strategy) {
	t.Helper()
	ps := s.Params()
	if ps == nil || len(ps.All()) == 0 {
		t.Fatal("Params() lists no parameters")
	}
	m, ok := s.(strategies.Modeler)
	if !ok || m.Model() == nil {
		return
	}
	listed := map[*graphs.Param]bool{}
	for _, p := range ps.All() {
		listed[p] = true
	}
	used := map[*graphs.Param]bool{}
	for _, p := range m.Model().Used() {
		used[p] = true
		if !listed[p] {
			t.Errorf("the graph learns %s, which Params() does not list", p.Name)
		}
	}
	for _, p := range m.Model().Trainable() {
		if !listed[p] {
			t.Errorf("trainable %s is not listed", p.Name)
		}
	}
	for _, p := range ps.All() {
		for _, v := range p.Data() {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("parameter %s holds %v", p.Name, v)
			}
		}
	}
}

// checkScores checks that units outside the example's active set never win by accident: scores
// are finite, and in task-IL units of other tasks hold graphs.MaskOff or are scored normally.
func checkScores(t *testing.T, s strategies.Strategy, st *stream.Stream) {
	t.Helper()
	task := st.Tasks[0]
	b := stream.NewBatch(4, st.InputDim)
	for k := 0; k < 4 && k < task.Test.Len(); k++ {
		b.Add(task, &task.Test, k)
	}
	out := make([]float32, b.N*st.Outputs)
	for i := range out {
		out[i] = float32(math.NaN())
	}
	if err := s.Scores(b, out); err != nil {
		t.Fatalf("Scores: %v", err)
	}
	for i, v := range out {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("Scores left %v at %d: every unit must be written (graphs.MaskOff where the model has no output)", v, i)
		}
	}
}
