package streams

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/clgraph/clgraph/datasets/mnist"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/stream"
)

func TestSplitMNISTScenarios(t *testing.T) {
	d := realMNIST(t)
	for _, tc := range []struct {
		sc      stream.Scenario
		outputs int
		units1  []int // units of task 2 (digits 2,3)
		active  []int // ActiveUnits(cur=1, task 1)
	}{
		{stream.TaskIL, 10, []int{2, 3}, []int{2, 3}},
		{stream.DomainIL, 2, []int{0, 1}, []int{0, 1}},
		{stream.ClassIL, 10, []int{2, 3}, []int{0, 1, 2, 3}},
	} {
		st, err := Build(d, runspec.Spec{Stream: "split-mnist", Scenario: tc.sc.String()})
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Tasks) != 5 || st.Outputs != tc.outputs {
			t.Fatalf("%v: %d tasks, %d outputs", tc.sc, len(st.Tasks), st.Outputs)
		}
		t1 := st.Tasks[1]
		if !reflect.DeepEqual(t1.Units, tc.units1) || !reflect.DeepEqual(st.ActiveUnits(1, 1), tc.active) {
			t.Errorf("%v: task 2 units %v active %v, want %v and %v", tc.sc, t1.Units, st.ActiveUnits(1, 1), tc.units1, tc.active)
		}
		// Every example's target is consistent with its digit.
		total := 0
		for _, task := range st.Tasks {
			for k, row := range task.Train.Index {
				digit := int(d.Train.Labels[row])
				want := digit
				if tc.sc == stream.DomainIL {
					want = digit % 2
				}
				if int(task.Train.Target[k]) != want {
					t.Fatalf("%v: digit %d has target %d, want %d", tc.sc, digit, task.Train.Target[k], want)
				}
			}
			total += task.Train.Len()
		}
		if total != 60000 {
			t.Errorf("%v: tasks hold %d training examples, want all 60000", tc.sc, total)
		}
	}
	// Class-IL: evaluation after task 1 scores over the 4 classes seen so far; before any
	// training (cur = -1) task j is scored over the classes up to its own.
	st, _ := Build(d, runspec.Spec{Stream: "split-mnist", Scenario: "class"})
	if got := st.ActiveUnits(-1, 2); len(got) != 6 {
		t.Errorf("class-IL b for task 3 scores over %v, want 6 units", got)
	}
}

func TestSplitClassOrderAndTaskCount(t *testing.T) {
	d := realMNIST(t)
	st, err := Build(d, runspec.Spec{Stream: "split-mnist", Scenario: "class", Tasks: 2, ClassOrder: []int{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}})
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Tasks[0].Classes; !reflect.DeepEqual(got, []int{9, 8, 7, 6, 5}) {
		t.Fatalf("task 1 classes %v", got)
	}
	// In class-IL units follow the class order: digit 9 is unit 0.
	if st.Tasks[0].Train.Target[0] != int32(9-d.Train.Labels[st.Tasks[0].Train.Index[0]]) {
		t.Fatalf("class order not applied to targets")
	}
	for _, bad := range []runspec.Spec{{Stream: "split-mnist", Scenario: "class", Tasks: 11}, {Stream: "split-mnist", Scenario: "class", Tasks: 3}, {Stream: "split-mnist", Scenario: "class", ClassOrder: []int{0, 0, 1}}, {Stream: "split-mnist"}, {Stream: "cifar", Scenario: "task"}} {
		if _, err := Build(d, bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	_, err = Build(d, runspec.Spec{Stream: "cifar", Scenario: "task"})
	if !strings.Contains(err.Error(), "split-mnist") {
		t.Errorf("unknown stream error does not list the known ones: %v", err)
	}
}

func TestPermutedMNIST(t *testing.T) {
	d := realMNIST(t)
	a, err := Build(d, runspec.Spec{Stream: "permuted-mnist", Scenario: "class", Tasks: 3, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Build(d, runspec.Spec{Stream: "permuted-mnist", Scenario: "class", Tasks: 3, Seed: 4})
	c, _ := Build(d, runspec.Spec{Stream: "permuted-mnist", Scenario: "class", Tasks: 3, Seed: 5})
	if a.Tasks[0].Perm != nil {
		t.Fatal("task 1 must see the original pixels")
	}
	if !reflect.DeepEqual(a.Tasks[2].Perm, b.Tasks[2].Perm) {
		t.Fatal("the same seed gave different permutations")
	}
	if reflect.DeepEqual(a.Tasks[2].Perm, c.Tasks[2].Perm) {
		t.Fatal("different seeds gave the same permutation")
	}
	if a.Outputs != 30 || !reflect.DeepEqual(a.Tasks[1].Units[:2], []int{10, 11}) {
		t.Fatalf("class-IL permuted: %d outputs, task 2 units %v", a.Outputs, a.Tasks[1].Units)
	}
	// A batch of task 2 holds the permuted pixels of the same image.
	bt := stream.NewBatch(1, a.InputDim)
	bt.Add(a.Tasks[1], &a.Tasks[1].Train, 0)
	row := d.Train.Row(int(a.Tasks[1].Train.Index[0]))
	for i, p := range a.Tasks[1].Perm {
		if bt.X[i] != row[p] {
			t.Fatalf("pixel %d: %v, want %v", i, bt.X[i], row[p])
		}
	}
	dom, _ := Build(d, runspec.Spec{Stream: "permuted-mnist", Scenario: "domain", Tasks: 3})
	if dom.Outputs != 10 || !reflect.DeepEqual(dom.Tasks[2].Units, dom.Tasks[0].Units) {
		t.Fatal("domain-IL permuted tasks must share the 10 digit units")
	}
}

var (
	dataOnce sync.Once
	data     *Data
	dataErr  error
)

// realMNIST loads real MNIST once per test binary.
func realMNIST(t testing.TB) *Data {
	t.Helper()
	dataOnce.Do(func() { data, dataErr = LoadMNIST(context.Background(), mnist.Options{}) })
	if dataErr != nil {
		t.Fatalf("loading MNIST: %v", dataErr)
	}
	return data
}
