package streams

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/stream"
)

// TestRandomClassOrder checks class_order_mode random: the same seed deals the same order, other
// seeds other orders, and the order is in the task names and Stream.ClassOrder, with every task's
// examples of its own classes. The default (fixed) keeps the natural order.
func TestRandomClassOrder(t *testing.T) {
	d := realMNIST(t)
	build := func(seed int64, mode string) *stream.Stream {
		t.Helper()
		st, err := Build(d, runspec.Spec{Stream: "split-mnist", Scenario: "class", TrainLimit: 50, TestLimit: 50, Seed: seed, ClassOrderMode: mode})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	for _, mode := range []string{"", runspec.ClassOrderFixed} {
		if st := build(7, mode); !reflect.DeepEqual(st.ClassOrder, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) || st.Tasks[0].Name != "0/1" {
			t.Fatalf("mode %q: order %v, task 1 %s; want the natural order", mode, st.ClassOrder, st.Tasks[0].Name)
		}
	}
	orders := map[string]int64{}
	for seed := int64(1); seed <= 5; seed++ {
		st := build(seed, runspec.ClassOrderRandom)
		if again := build(seed, runspec.ClassOrderRandom); !reflect.DeepEqual(again.ClassOrder, st.ClassOrder) {
			t.Fatalf("seed %d: orders %v and %v", seed, st.ClassOrder, again.ClassOrder)
		}
		if s := slices.Sorted(slices.Values(st.ClassOrder)); !reflect.DeepEqual(s, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
			t.Fatalf("seed %d: order %v is not a permutation of the 10 digits", seed, st.ClassOrder)
		}
		key := fmt.Sprint(st.ClassOrder)
		if prev, dup := orders[key]; dup {
			t.Fatalf("seeds %d and %d draw the same order %v", prev, seed, st.ClassOrder)
		}
		orders[key] = seed
		for i, task := range st.Tasks {
			cls := st.ClassOrder[2*i : 2*i+2]
			if want := fmt.Sprintf("%d/%d", cls[0], cls[1]); task.Name != want || !reflect.DeepEqual(task.Classes, cls) {
				t.Fatalf("seed %d task %d: name %s classes %v, want %s", seed, i+1, task.Name, task.Classes, want)
			}
			for k, row := range task.Train.Index {
				if c := int(d.Train.Labels[row]); !slices.Contains(cls, c) || int(task.Train.Target[k]) != 2*i+slices.Index(cls, c) {
					t.Fatalf("seed %d task %d: digit %d with target %d", seed, i+1, c, task.Train.Target[k])
				}
			}
		}
	}
	var o runspec.Overrides
	for k, v := range map[string]string{"class_order_mode": "random", "class_order": "1,0,3,2,5,4,7,6,9,8"} {
		if err := o.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Spec(o); err == nil || !strings.Contains(err.Error(), "exclude") {
		t.Fatalf("class_order with class_order_mode random: error %v", err)
	}
	var bad runspec.Overrides
	bad.Set("class_order_mode", "shuffled")
	if _, err := Spec(bad); err == nil {
		t.Fatal("class_order_mode shuffled accepted")
	}
}

// TestPermuteFirst checks permute_first: by default task 1 is the original images, with it every
// task is permuted (each by its own permutation), and the same seed draws the same permutations.
func TestPermuteFirst(t *testing.T) {
	d := realMNIST(t)
	build := func(first bool, seed int64) *stream.Stream {
		t.Helper()
		st, err := Build(d, runspec.Spec{Stream: "permuted-mnist", Scenario: "domain", Tasks: 3, TrainLimit: 10, TestLimit: 10, Seed: seed, PermuteFirst: first})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := build(false, 1); st.Tasks[0].Perm != nil || st.Tasks[0].Name != "orig" || st.Tasks[1].Perm == nil {
		t.Fatalf("default: task 1 %s permuted %v", st.Tasks[0].Name, st.Tasks[0].Perm != nil)
	}
	st := build(true, 1)
	for i, task := range st.Tasks {
		if task.Perm == nil || task.Name != fmt.Sprintf("perm%d", i) {
			t.Fatalf("permute_first: task %d (%s) not permuted", i+1, task.Name)
		}
		if i > 0 && reflect.DeepEqual(task.Perm, st.Tasks[i-1].Perm) {
			t.Fatalf("permute_first: tasks %d and %d share a permutation", i, i+1)
		}
	}
	if again := build(true, 1); !reflect.DeepEqual(again.Tasks[0].Perm, st.Tasks[0].Perm) {
		t.Fatal("permute_first: the same seed drew another permutation of task 1")
	}
	if other := build(true, 2); reflect.DeepEqual(other.Tasks[0].Perm, st.Tasks[0].Perm) {
		t.Fatal("permute_first: seeds 1 and 2 drew the same permutation of task 1")
	}
	// The setting reads from flags and files as true/false; the split stream refuses it.
	var o runspec.Overrides
	for k, v := range map[string]string{"stream": "permuted-mnist", "permute_first": "true"} {
		if err := o.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if spec, err := Spec(o); err != nil || !spec.PermuteFirst {
		t.Fatalf("permute_first=true: %+v, %v", spec, err)
	}
	if _, err := Build(d, runspec.Spec{Stream: "split-mnist", Scenario: "task", PermuteFirst: true}); err == nil {
		t.Fatal("split-mnist accepted permute_first")
	}
	if _, err := Build(d, runspec.Spec{Stream: "permuted-mnist", Scenario: "task", ClassOrderMode: runspec.ClassOrderRandom}); err == nil {
		t.Fatal("permuted-mnist accepted class_order_mode random")
	}
}

// TestPad checks pad on permuted MNIST: 32×32 inputs whose border is zero and whose inside is the
// original image (task 1 unpermuted), permutations over the 1024 padded pixels that move border
// pixels inside, the same padded copy for every build of the same data, and refusals of bad
// values and of rotated streams, and split MNIST padded alike.
func TestPad(t *testing.T) {
	d := realMNIST(t)
	spec := runspec.Spec{Stream: "permuted-mnist", Scenario: "domain", Tasks: 2, TrainLimit: 5, TestLimit: 5, Seed: 1, Pad: 2}
	st, err := Build(d, spec)
	if err != nil {
		t.Fatal(err)
	}
	if st.InputDim != 1024 {
		t.Fatalf("InputDim %d, want 1024", st.InputDim)
	}
	checkPadded(t, d, st.Tasks[0], 0, 1)
	p := st.Tasks[1].Perm
	if len(p) != 1024 {
		t.Fatalf("permutation of %d pixels, want 1024", len(p))
	}
	moved := 0
	for i, src := range p {
		y, x := i/32, i%32
		inside := y >= 2 && y < 30 && x >= 2 && x < 30
		sy, sx := int(src)/32, int(src)%32
		if inside && (sy < 2 || sy >= 30 || sx < 2 || sx >= 30) {
			moved++
		}
	}
	if moved == 0 {
		t.Fatal("no border pixel is permuted inside the image")
	}
	again, err := Build(d, spec)
	if err != nil {
		t.Fatal(err)
	}
	if again.Tasks[0].Train.Data != st.Tasks[0].Train.Data {
		t.Error("a second build padded the data again")
	}
	if _, err := Build(d, runspec.Spec{Stream: "rotated-mnist", Scenario: "domain", Tasks: 2, Seed: 1, Pad: 2}); err == nil || !strings.Contains(err.Error(), "pad and normalize apply to permuted-mnist and split-mnist") {
		t.Errorf("rotated-mnist with pad: %v", err)
	}
	// Split MNIST pads too (Hsu et al.'s setting): each task's images, border zero, inside the
	// original.
	split, err := Build(d, runspec.Spec{Stream: "split-mnist", Scenario: "class", TrainLimit: 5, TestLimit: 5, Seed: 1, Pad: 2})
	if err != nil {
		t.Fatal(err)
	}
	if split.InputDim != 1024 {
		t.Fatalf("padded split-mnist: InputDim %d, want 1024", split.InputDim)
	}
	for _, task := range split.Tasks {
		checkPadded(t, d, task, 0, 1)
	}
	if err := (runspec.Spec{Iterations: 1, Batch: 1, EvalBatch: 1, LR: 0.1, Hidden: []int{1}, Pad: -1}).Validate(); err == nil {
		t.Error("pad -1 accepted")
	}
}

// TestConvModelDefaults checks that model=conv records its filters and, unless hidden is given,
// takes one dense layer of 256 units instead of the protocol's MLP sizes.
func TestConvModelDefaults(t *testing.T) {
	spec := func(kv map[string]string) runspec.Spec {
		t.Helper()
		var o runspec.Overrides
		for k, v := range kv {
			if err := o.Set(k, v); err != nil {
				t.Fatal(err)
			}
		}
		s, err := Spec(o)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := spec(map[string]string{"stream": "split-mnist", "model": "conv"})
	if !reflect.DeepEqual(s.Filters, []int{16, 32}) || !reflect.DeepEqual(s.Hidden, []int{256}) {
		t.Errorf("model=conv: filters %v, hidden %v; want [16 32] and [256]", s.Filters, s.Hidden)
	}
	s = spec(map[string]string{"stream": "split-mnist", "model": "conv", "hidden": "100,50", "filters": "8"})
	if !reflect.DeepEqual(s.Filters, []int{8}) || !reflect.DeepEqual(s.Hidden, []int{100, 50}) {
		t.Errorf("given filters and hidden: %v, %v", s.Filters, s.Hidden)
	}
	if s := spec(map[string]string{"stream": "split-mnist"}); !reflect.DeepEqual(s.Hidden, []int{400, 400}) || s.Filters != nil {
		t.Errorf("the MLP: hidden %v, filters %v", s.Hidden, s.Filters)
	}
}

// TestHsuProtocol checks split MNIST's hsu preset: Hsu et al.'s 4 epochs of batch 128 (377 steps
// a task, 1884 over the five tasks' sizes spread evenly), 32×32 padding, the digits in order, and
// their strengths as the defaults in clgraph's conventions (EWC's lambda twice their coefficient,
// SI's c equal to it).
func TestHsuProtocol(t *testing.T) {
	d := realMNIST(t)
	spec, err := Preset("split-mnist", "hsu", "domain")
	if err != nil {
		t.Fatal(err)
	}
	if spec.Iterations != 377 || spec.Batch != 128 || spec.Pad != 2 || spec.LR != 1e-3 || spec.ClassOrderMode == runspec.ClassOrderRandom {
		t.Fatalf("hsu preset %+v", spec)
	}
	steps := 0
	for c := 0; c < 10; c += 2 {
		n := 0
		for _, l := range d.Train.Labels {
			if int(l) == c || int(l) == c+1 {
				n++
			}
		}
		steps += 4 * ((n + 127) / 128)
	}
	if steps != 1884 || (steps+4)/5 != spec.Iterations {
		t.Errorf("4 epochs of batch 128 over split MNIST's tasks: %d steps, the preset %d a task", steps, spec.Iterations)
	}
	spec.Seed = 7
	st, err := Build(d, spec)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Tasks[4].Classes; len(got) != 2 || got[0] != 8 || got[1] != 9 {
		t.Errorf("task 5's classes %v, want [8 9] (the digits in order whatever the seed)", got)
	}
	tun, ok := Default.TuningOf(spec)
	if !ok {
		t.Fatal("no defaults for the hsu protocol")
	}
	for key, want := range map[string]float64{"ewc.lambda/domain": 200, "ewc.lambda/class": 1200, "si.c/domain": 3000, "ewc_online.gamma/task/multi": 1, "l2.lambda/class": 200} {
		if got := tun.Values[key]; got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	// Their inputs: padded, then normalised, so the border is (0 - 0.1) / 0.2752.
	checkPadded(t, d, st.Tasks[0], 0.1, 0.2752)
	if raw, err := Build(d, runspec.Spec{Stream: "split-mnist", Scenario: "domain", Seed: 7}); err != nil || raw.Tasks[0].Train.Data == st.Tasks[0].Train.Data {
		t.Errorf("the raw stream shares the normalised data (%v)", err)
	}
	if err := (runspec.Spec{Iterations: 1, Batch: 1, EvalBatch: 1, LR: 0.1, Hidden: []int{1}, Normalize: []float64{0.1, 0}}).Validate(); err == nil {
		t.Error("normalize with std 0 accepted")
	}
	if tun.Values["lwf.alpha/domain"] != splitPaper.Values["lwf.alpha/domain"] {
		t.Error("a method Hsu et al. did not run should keep the paper protocol's value")
	}
}

// checkPadded checks the first training image of task: 32×32, MNIST's 28×28 image inside a
// border of zeros, every value then normalised as (v - mean) / std.
func checkPadded(t *testing.T, d *Data, task *stream.Task, mean, std float64) {
	t.Helper()
	b := stream.NewBatch(1, 32*32)
	b.Add(task, &task.Train, 0)
	orig := d.Train.Row(int(task.Train.Index[0]))
	for y := range 32 {
		for x := range 32 {
			want := float32(0)
			if y >= 2 && y < 30 && x >= 2 && x < 30 {
				want = orig[(y-2)*28+x-2]
			}
			want = (want - float32(mean)) * float32(1/std)
			if got := b.X[y*32+x]; math.Abs(float64(got-want)) > 1e-6 {
				t.Fatalf("task %s pixel (%d, %d) is %v, want %v", task.Name, y, x, got, want)
			}
		}
	}
}

// TestPretrainPrepared checks that pre-training images are padded and normalised as the stream's
// (the hsu protocol with pretrain_classes).
func TestPretrainPrepared(t *testing.T) {
	d := realMNIST(t)
	spec, err := Preset("split-mnist", "hsu", "class")
	if err != nil {
		t.Fatal(err)
	}
	spec.Seed, spec.Tasks, spec.ClassOrder, spec.PretrainClasses, spec.TrainLimit = 1, 2, []int{0, 1, 2, 3}, []int{5, 6}, 10
	st, err := Build(d, spec)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pretrain.Train.Data.Dim != st.InputDim {
		t.Fatalf("pre-training images of %d values, the stream's %d", st.Pretrain.Train.Data.Dim, st.InputDim)
	}
	checkPadded(t, d, st.Pretrain, 0.1, 0.2752)
}
