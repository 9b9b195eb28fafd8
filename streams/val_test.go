package streams

import (
	"reflect"
	"testing"

	"github.com/clgraph/clgraph/runspec"
)

// TestValidationSplit checks val_per_task: each task's validation split holds that many of its
// training examples, drawn from the seed (the same for the same seed, others for another), no
// longer in its training split; 0 makes none and leaves the training split as it was.
func TestValidationSplit(t *testing.T) {
	d := realMNIST(t)
	spec := runspec.Spec{Stream: "split-mnist", Scenario: "class", TrainLimit: 300, TestLimit: 50, Seed: 4}
	plain, err := Build(d, spec)
	if err != nil {
		t.Fatal(err)
	}
	spec.ValPerTask = 40
	st, err := Build(d, spec)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Build(d, spec)
	spec.Seed = 5
	other, _ := Build(d, spec)
	for i, task := range st.Tasks {
		p := plain.Tasks[i]
		if p.Val.Len() != 0 {
			t.Fatalf("val_per_task 0: task %d has %d validation examples", i+1, p.Val.Len())
		}
		if task.Val.Len() != 40 || task.Train.Len() != p.Train.Len()-40 {
			t.Fatalf("task %d: %d validation and %d training examples, want 40 and %d", i+1, task.Val.Len(), task.Train.Len(), p.Train.Len()-40)
		}
		target := map[int32]int32{}
		for k, row := range p.Train.Index {
			target[row] = p.Train.Target[k]
		}
		inTrain := map[int32]bool{}
		for _, row := range task.Train.Index {
			inTrain[row] = true
		}
		for k, row := range task.Val.Index {
			if tg, ok := target[row]; !ok || tg != task.Val.Target[k] {
				t.Fatalf("task %d: validation example %d is not a training example of the task with its target", i+1, row)
			}
			if inTrain[row] {
				t.Fatalf("task %d: example %d is both validation and training", i+1, row)
			}
		}
		if !reflect.DeepEqual(task.Val.Index, again.Tasks[i].Val.Index) {
			t.Fatalf("task %d: the same seed carved other validation examples", i+1)
		}
		if reflect.DeepEqual(task.Val.Index, other.Tasks[i].Val.Index) {
			t.Fatalf("task %d: seeds 4 and 5 carved the same validation examples", i+1)
		}
	}
	spec.ValPerTask = 300
	if _, err := Build(d, spec); err == nil {
		t.Fatal("val_per_task taking every training example was accepted")
	}
	var o runspec.Overrides
	if err := o.Set("val_per_task", "-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := Spec(o); err == nil {
		t.Fatal("val_per_task -1 accepted")
	}
}
