package streams

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/stream"
)

// TestRotatedMNIST: without angles each of the 20 tasks draws one angle in its own 9-degree bin
// of [0, 180), the same for the same seed and others for another; given angles are used as
// they are; a batch of a task holds its images rotated (a 90-degree task moves whole pixels:
// the input's top-right pixel becomes the output's top-left); the wrong number of angles and
// split-only settings are refused.
func TestRotatedMNIST(t *testing.T) {
	d := realMNIST(t)
	spec := runspec.Spec{Stream: "rotated-mnist", Scenario: "domain", Tasks: 20, Seed: 3, TrainLimit: 50, TestLimit: 50}
	a, err := Build(d, spec)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Build(d, spec)
	spec.Seed = 4
	c, _ := Build(d, spec)
	same := true
	for i, task := range a.Tasks {
		if lo, hi := 9*float64(i), 9*float64(i+1); task.Angle < lo || task.Angle >= hi {
			t.Errorf("task %d: angle %v outside its bin [%v, %v)", i, task.Angle, lo, hi)
		}
		if task.Angle != b.Tasks[i].Angle {
			t.Errorf("task %d: the same seed drew %v and %v", i, task.Angle, b.Tasks[i].Angle)
		}
		same = same && task.Angle == c.Tasks[i].Angle
	}
	if same {
		t.Error("another seed drew the same angles")
	}
	if a.Outputs != 10 || !reflect.DeepEqual(a.Tasks[3].Units, a.Tasks[0].Units) {
		t.Errorf("domain-IL: %d outputs, units %v and %v", a.Outputs, a.Tasks[0].Units, a.Tasks[3].Units)
	}
	r, err := Build(d, runspec.Spec{Stream: "rotated-mnist", Scenario: "class", Tasks: 2, Angles: []float64{0, 90}, TrainLimit: 5, TestLimit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if r.Tasks[1].Angle != 90 || r.Outputs != 20 || r.Tasks[1].Units[0] != 10 {
		t.Fatalf("angles 0,90 class-IL: angle %v, %d outputs, units %v", r.Tasks[1].Angle, r.Outputs, r.Tasks[1].Units)
	}
	bt := stream.NewBatch(2, r.InputDim)
	bt.Add(r.Tasks[0], &r.Tasks[0].Train, 0)
	bt.Add(r.Tasks[1], &r.Tasks[1].Train, 0)
	row := d.Train.Row(int(r.Tasks[1].Train.Index[0]))
	if !reflect.DeepEqual(bt.X[:784], row) {
		t.Error("the 0-degree task changed its image")
	}
	// Rotating by 90 degrees counterclockwise: output (x, y) takes input (27 - y, x).
	for y := range 28 {
		for x := range 28 {
			if got, want := bt.X[784+y*28+x], row[x*28+27-y]; math.Abs(float64(got-want)) > 1e-6 {
				t.Fatalf("90 degrees: pixel (%d,%d) = %v, want the input's (%d,%d) %v", x, y, got, 27-y, x, want)
			}
		}
	}
	for _, bad := range []struct {
		spec runspec.Spec
		want string
	}{
		{runspec.Spec{Stream: "rotated-mnist", Scenario: "domain", Tasks: 3, Angles: []float64{0, 90}}, "2 angles for 3 tasks"},
		{runspec.Spec{Stream: "rotated-mnist", Scenario: "domain", Tasks: 2, ClassOrder: []int{1, 0}}, "class orders apply to split streams"},
	} {
		if _, err := Build(d, bad.spec); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%+v: error %v, want %q", bad.spec, err, bad.want)
		}
	}
}

// TestOnlineProtocol: --protocol online on permuted and rotated MNIST is one pass over 1000
// examples a task in batches of 10 (100 steps) with plain SGD, 20 tasks, an MLP of 256-256.
func TestOnlineProtocol(t *testing.T) {
	for _, name := range []string{"permuted-mnist", "rotated-mnist"} {
		s, err := Preset(name, "online", "domain")
		if err != nil {
			t.Fatal(err)
		}
		if s.Optimizer != runspec.OptimizerSGD || s.Batch*s.Iterations != s.TrainLimit || s.TrainLimit != 1000 || s.Tasks != 20 || !reflect.DeepEqual(s.Hidden, []int{256, 256}) {
			t.Errorf("%s online: %+v", name, s)
		}
	}
	if _, err := Preset("split-mnist", "online", "class"); err == nil {
		t.Error("split-mnist accepted the online protocol")
	}
}

// TestSplitTaskSizes: task_sizes deals the class order into tasks of unequal size (2, 3, 5
// classes), the task count following it; class-IL units are the classes' positions in the
// order, domain-IL units each task's own positions (as many outputs as the largest task); sizes
// that do not add up, or a task of no class, are refused.
func TestSplitTaskSizes(t *testing.T) {
	d := realMNIST(t)
	var o runspec.Overrides
	for k, v := range map[string]string{"stream": "split-mnist", "scenario": "class", "task_sizes": "2,3,5", "train_limit": "20", "test_limit": "20"} {
		if err := o.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	spec, err := Spec(o)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Tasks != 3 {
		t.Fatalf("tasks %d, want 3 from task_sizes", spec.Tasks)
	}
	s, err := Build(d, spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Tasks) != 3 || s.Tasks[1].Name != "2/3/4" || !reflect.DeepEqual(s.Tasks[2].Units, []int{5, 6, 7, 8, 9}) || s.Outputs != 10 {
		t.Fatalf("class-IL: %d tasks, task 2 %q, task 3 units %v, %d outputs", len(s.Tasks), s.Tasks[1].Name, s.Tasks[2].Units, s.Outputs)
	}
	spec.Scenario = "domain"
	dom, err := Build(d, spec)
	if err != nil {
		t.Fatal(err)
	}
	if dom.Outputs != 5 || !reflect.DeepEqual(dom.Tasks[1].Units, []int{0, 1, 2}) {
		t.Errorf("domain-IL: %d outputs, task 2 units %v", dom.Outputs, dom.Tasks[1].Units)
	}
	for _, bad := range [][]int{{2, 3, 4}, {5, 0, 5}} {
		spec.TaskSizes, spec.Tasks = bad, len(bad)
		if _, err := Build(d, spec); err == nil {
			t.Errorf("task_sizes %v accepted", bad)
		}
	}
}

// TestLongStreams: permuted and rotated MNIST build 50 tasks (rotated: 3.6-degree bins).
func TestLongStreams(t *testing.T) {
	d := realMNIST(t)
	for _, name := range []string{"permuted-mnist", "rotated-mnist"} {
		s, err := Build(d, runspec.Spec{Stream: name, Scenario: "domain", Tasks: 50, TrainLimit: 10, TestLimit: 10, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Tasks) != 50 {
			t.Errorf("%s: %d tasks", name, len(s.Tasks))
		}
		if name == "rotated-mnist" && (s.Tasks[49].Angle < 176.4 || s.Tasks[49].Angle >= 180) {
			t.Errorf("rotated task 50 angle %v, want in [176.4, 180)", s.Tasks[49].Angle)
		}
	}
}
