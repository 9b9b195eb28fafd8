package stream

import (
	"math/rand"
	"reflect"
	"strings"
	"testing"
)

func testTasks() []*Task {
	d := &Dataset{N: 10, Dim: 1, X: make([]float32, 10), Labels: make([]uint8, 10)}
	for i := range d.X {
		d.X[i] = float32(i)
	}
	mk := func(id int, idx ...int32) *Task {
		return &Task{ID: id, Train: Split{Data: d, Index: idx, Target: make([]int32, len(idx))}}
	}
	return []*Task{mk(0, 0, 1, 2, 3), mk(1, 4, 5, 6)}
}

func draw(s *Sampler, n int) []float32 {
	b := NewBatch(n, 1)
	s.Fill(b, n)
	return append([]float32(nil), b.X...)
}

func TestSamplerStateResumes(t *testing.T) {
	tasks := testTasks()
	// Two identical random sources: one for the original sampler, one for the restored.
	a := NewSampler(rand.New(rand.NewSource(3)), tasks...)
	draw(a, 5) // into the second epoch
	st := a.State()
	rngB := rand.New(rand.NewSource(3))
	NewSampler(rngB, tasks...) // consume what the original consumed
	b, err := RestoreSampler(rngB, st, tasks...)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := draw(b, 20), draw(a, 20); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored sampler draws %v, original %v", got, want)
	}
	for name, tc := range map[string]struct {
		st   SamplerState
		want string
	}{
		"short":     {SamplerState{Order: st.Order[:4]}, "want 14"},
		"position":  {SamplerState{Order: st.Order, Pos: 8}, "position 8"},
		"duplicate": {SamplerState{Order: []int32{0, 0, 0, 0, 0, 2, 0, 3, 1, 0, 1, 1, 1, 2}}, "twice"},
		"range":     {SamplerState{Order: []int32{0, 0, 0, 1, 0, 2, 0, 3, 1, 0, 1, 1, 2, 0}}, "outside"},
	} {
		if _, err := RestoreSampler(rngB, tc.st, tasks...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}
