package strategies_test

import (
	"math"
	"math/rand"
	"reflect"
	"testing"

	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

type memKey struct {
	task *stream.Task
	k    int32
}

func memSet(m *strategies.Memory) map[memKey]bool {
	s := map[memKey]bool{}
	for _, it := range m.Items() {
		s[memKey{it.Task, it.K}] = true
	}
	return s
}

// fillMemory adds the stream's tasks one by one, calling check after each.
func fillMemory(t *testing.T, m *strategies.Memory, st *stream.Stream, seed int64, check func(task int)) {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	for i, tk := range st.Tasks {
		m.Add(tk, rng)
		check(i)
	}
}

func TestBalancedMemoryKeepsBudgetAndBalance(t *testing.T) {
	for _, sc := range stream.Scenarios {
		t.Run(sc.String(), func(t *testing.T) {
			st := strategytest.Synthetic(sc, 4, 3, 4, 30, 2) // 4 tasks x 3 classes x 30 examples
			m, err := strategies.NewMemory(strategies.Balanced, 50, 0)
			if err != nil {
				t.Fatal(err)
			}
			var prev map[memKey]bool
			fillMemory(t, m, st, 1, func(task int) {
				classes := 3 * (task + 1)
				if m.Len() != 50 {
					t.Fatalf("after task %d: %d examples, want the budget 50", task+1, m.Len())
				}
				counts := m.Counts()
				lo, hi, n := math.MaxInt, 0, 0
				for tk := 0; tk <= task; tk++ {
					for _, c := range counts[tk] {
						lo, hi, n = min(lo, c), max(hi, c), n+1
					}
				}
				if n != classes || hi-lo > 1 {
					t.Fatalf("after task %d: %d classes with %d..%d examples, want %d classes within 1 of each other: %v", task+1, n, lo, hi, classes, counts)
				}
				// Earlier examples are only ever dropped, never swapped for others of their class.
				cur := memSet(m)
				for k := range cur {
					if int(k.task.ID) < task && !prev[k] {
						t.Fatalf("after task %d: example %d of task %d entered the memory late", task+1, k.k, k.task.ID+1)
					}
				}
				prev = cur
			})
			// Seeded: the same seed gives the same memory, another seed another one.
			again, _ := strategies.NewMemory(strategies.Balanced, 50, 0)
			fillMemory(t, again, st, 1, func(int) {})
			if !reflect.DeepEqual(memSet(m), memSet(again)) {
				t.Fatal("the same seed gave different memories")
			}
			other, _ := strategies.NewMemory(strategies.Balanced, 50, 0)
			fillMemory(t, other, st, 2, func(int) {})
			if reflect.DeepEqual(memSet(m), memSet(other)) {
				t.Fatal("different seeds gave the same memory")
			}
		})
	}
}

func TestPerClassMemory(t *testing.T) {
	st := strategytest.Synthetic(stream.DomainIL, 3, 2, 4, 30, 2)
	m, err := strategies.NewMemory(strategies.Balanced, 0, 7)
	if err != nil {
		t.Fatal(err)
	}
	fillMemory(t, m, st, 1, func(task int) {
		if m.Len() != 7*2*(task+1) {
			t.Fatalf("after task %d: %d examples, want 7 per class", task+1, m.Len())
		}
		for tk, units := range m.Counts() {
			for u, c := range units {
				if c != 7 {
					t.Fatalf("task %d unit %d holds %d, want 7", tk+1, u, c)
				}
			}
		}
	})
	if _, err := strategies.NewMemory(strategies.Reservoir, 0, 7); err == nil {
		t.Fatal("per-class reservoir accepted")
	}
	if _, err := strategies.Default.New("replay:select=reservoir,per_class=3"); err == nil {
		t.Fatal("replay:select=reservoir,per_class=3 accepted")
	}
}

func TestReservoirMemory(t *testing.T) {
	st := strategytest.Synthetic(stream.ClassIL, 4, 2, 4, 100, 2) // 200 examples per task
	const budget = 120
	perTask := make([]float64, 4)
	const reps = 50
	for r := 0; r < reps; r++ {
		m, _ := strategies.NewMemory(strategies.Reservoir, budget, 0)
		fillMemory(t, m, st, int64(r), func(task int) {
			if want := min(budget, 200*(task+1)); m.Len() != want {
				t.Fatalf("after task %d: %d examples, want %d", task+1, m.Len(), want)
			}
		})
		for tk, units := range m.Counts() {
			for _, c := range units {
				perTask[tk] += float64(c) / reps
			}
		}
	}
	// Uniform over every example seen: each of 4 equal tasks holds about a quarter.
	for tk, c := range perTask {
		if math.Abs(c-budget/4) > 4 {
			t.Errorf("task %d holds %.1f examples on average, want about %d", tk+1, c, budget/4)
		}
	}
}

// TestReplayStepWeights checks the loss weighting (1/N) L_current + (1 - 1/N) L_replay and that
// the memory holds earlier tasks only while a task trains.
func TestReplayStepWeights(t *testing.T) {
	st := strategytest.Synthetic(stream.ClassIL, 3, 2, 6, 20, 5)
	s, err := strategies.Default.New("replay:budget=30")
	if err != nil {
		t.Fatal(err)
	}
	r := s.(*strategies.Replay)
	if err := r.Setup(regEnv(st, 1)); err != nil {
		t.Fatal(err)
	}
	for task := 0; task < 2; task++ {
		regTrain(t, r, st, task, 5, int64(task))
		if err := r.EndTask(task); err != nil {
			t.Fatal(err)
		}
	}
	smp := stream.NewSampler(rand.New(rand.NewSource(4)), st.Tasks[2])
	b := stream.NewBatch(16, st.InputDim)
	smp.Fill(b, 16)
	info, err := r.Step(2, b)
	if err != nil {
		t.Fatal(err)
	}
	if info.Samples != 32 {
		t.Fatalf("%d samples, want 16 current + 16 replayed", info.Samples)
	}
	_, w, _ := r.Net.Inputs()
	M := st.Outputs
	for row := 0; row < 32; row++ {
		var sum float64
		for _, v := range w[row*M : (row+1)*M] {
			sum += float64(v)
		}
		want := (1.0 / 3) / 16
		if row >= 16 {
			want = (2.0 / 3) / 16
		}
		if math.Abs(sum-want) > 1e-6 {
			t.Fatalf("row %d weighs %v, want %v", row, sum, want)
		}
	}
	for _, it := range r.Mem.Items() {
		if it.Task.ID >= 2 {
			t.Fatalf("memory holds task %d while training on task 3", it.Task.ID+1)
		}
	}
}
