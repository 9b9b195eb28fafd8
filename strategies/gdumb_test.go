package strategies_test

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/clgraph/clgraph/graphs/blas"
	"github.com/clgraph/clgraph/perf"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

func TestGDumbConformance(t *testing.T) {
	for _, spec := range []string{"gdumb", "gdumb:budget=50,epochs=30"} {
		t.Run(spec, func(t *testing.T) { strategytest.Run(t, strategies.Default, spec) })
	}
}

// TestGreedyMemoryBalancing offers a hand-made sequence to a memory of 4 and checks after each
// offer whether it was taken, the class counts, and which examples are held: an example is
// taken while there is room, then only when its class holds fewer than 4/|Y|, in the place of
// an example of the largest class (the first offered among equals).
func TestGDumbGreedyMemory(t *testing.T) {
	m := strategies.NewGreedyMemory(4, 1)
	rng := rand.New(rand.NewSource(1))
	held := map[float32]int32{} // example id -> class
	for i, tc := range []struct {
		class int32
		took  bool
		a, b  int // counts of classes 0 and 1 after the offer
		c     int // count of class 2
	}{
		{0, true, 1, 0, 0}, {0, true, 2, 0, 0}, {0, true, 3, 0, 0}, {0, true, 4, 0, 0},
		{0, false, 4, 0, 0}, // full, and class 0 holds 4 >= 4/1
		{1, true, 3, 1, 0},  // 0 < 4/2: replaces a class-0 example
		{1, true, 2, 2, 0},
		{1, false, 2, 2, 0}, // 2 >= 4/2
		{2, true, 1, 2, 1},  // 0 < 4/3; classes 0 and 1 tie at 2: class 0, offered first, gives way
		{2, true, 1, 1, 2},  // 1 < 4/3; class 1 is the largest
		{2, false, 1, 1, 2}, // 2 >= 4/3
		{0, true, 2, 1, 1},  // 1 < 4/3; class 2 is the largest
		{1, true, 1, 2, 1},
	} {
		id := float32(i)
		took := m.Offer([]float32{id}, tc.class, stream.NoTask, rng)
		got := []int{m.Count(0, stream.NoTask), m.Count(1, stream.NoTask), m.Count(2, stream.NoTask)}
		if took != tc.took || !reflect.DeepEqual(got, []int{tc.a, tc.b, tc.c}) {
			t.Fatalf("offer %d (class %d): took %v, counts %v; want %v, %v", i, tc.class, took, got, tc.took, []int{tc.a, tc.b, tc.c})
		}
		// The memory holds the examples taken and not replaced: check against its contents.
		b := stream.NewBatch(4, 1)
		for k := range m.Len() {
			m.AddTo(b, k)
		}
		now := map[float32]int32{}
		for k := range b.N {
			now[b.X[k]] = b.Target[k]
			if old, ok := held[b.X[k]]; !ok && b.X[k] != id || ok && old != b.Target[k] {
				t.Fatalf("offer %d: the memory holds example %v (class %d), never taken", i, b.X[k], b.Target[k])
			}
		}
		if _, ok := now[id]; ok != took {
			t.Fatalf("offer %d: taken %v, held %v", i, took, ok)
		}
		held = now
	}
	// Task-IL: the same unit of two tasks are two classes.
	m = strategies.NewGreedyMemory(2, 1)
	m.Offer([]float32{0}, 0, 0, rng)
	m.Offer([]float32{1}, 0, 0, rng)
	m.Offer([]float32{2}, 0, 1, rng)
	if m.Count(0, 0) != 1 || m.Count(0, 1) != 1 || m.Count(0, stream.NoTask) != 0 {
		t.Fatalf("counts per (task, unit): %d, %d, %d", m.Count(0, 0), m.Count(0, 1), m.Count(0, stream.NoTask))
	}
}

// TestGDumbMemoryStream checks what a task's steps offer: each training example once (the
// first epoch of the runner's sampler, later repeats ignored), no gradient step, and the
// balance across tasks with a budget smaller than the data.
func TestGDumbMemoryStream(t *testing.T) {
	st := strategytest.Synthetic(stream.ClassIL, 2, 2, 6, 40, 5) // 80 training examples per task
	run := func(spec string) *strategies.GDumb {
		g := newStrategy(t, spec).(*strategies.GDumb)
		if err := g.Setup(regEnv(st, 1)); err != nil {
			t.Fatal(err)
		}
		return g
	}
	g := run("gdumb")
	params := strategies.SaveParams(g.Params())
	smp := stream.NewSampler(rand.New(rand.NewSource(2)), st.Tasks[0])
	b := stream.NewBatch(16, st.InputDim)
	for range 12 { // 192 examples streamed: 2.4 epochs
		smp.Fill(b, 16)
		b.HideTasks()
		info, err := g.Step(0, b)
		if err != nil || info.Loss != 0 || info.Samples != 16 {
			t.Fatalf("step: %+v, %v; want no loss and 16 samples", info, err)
		}
	}
	if !reflect.DeepEqual(strategies.SaveParams(g.Params()), params) {
		t.Fatal("a step changed the parameters")
	}
	if g.Mem.Len() != 80 || g.Mem.Count(0, stream.NoTask) != 40 || g.Mem.Count(1, stream.NoTask) != 40 {
		t.Fatalf("memory of %d examples (%d, %d per class), want the 80 examples of the task once", g.Mem.Len(), g.Mem.Count(0, stream.NoTask), g.Mem.Count(1, stream.NoTask))
	}
	rows := map[string]bool{}
	mb := stream.NewBatch(80, st.InputDim)
	for k := range 80 {
		g.Mem.AddTo(mb, k)
	}
	for k := range 80 {
		rows[fmt.Sprint(mb.X[k*st.InputDim:(k+1)*st.InputDim])] = true
	}
	tb := stream.NewBatch(80, st.InputDim)
	for k := range 80 {
		tb.Add(st.Tasks[0], &st.Tasks[0].Train, k)
		if !rows[fmt.Sprint(tb.X[k*st.InputDim:(k+1)*st.InputDim])] {
			t.Fatalf("training example %d is not in the memory", k)
		}
	}

	g = run("gdumb:budget=50")
	for task := range 2 {
		smp := stream.NewSampler(rand.New(rand.NewSource(int64(task))), st.Tasks[task])
		for range 5 {
			smp.Fill(b, 16)
			b.HideTasks()
			if _, err := g.Step(task, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	var counts []int
	for u := range int32(4) {
		counts = append(counts, g.Mem.Count(u, stream.NoTask))
	}
	if g.Mem.Len() != 50 || !reflect.DeepEqual(counts, []int{12, 12, 13, 13}) {
		t.Fatalf("memory of %d with %v per class, want 50 as 12, 12, 13, 13", g.Mem.Len(), counts)
	}
}

// TestGDumbRetrainsFromScratch checks that the model after a task depends on the memory and the
// random source only: Reinit draws the parameters Setup draws from the same random state, and
// two runs with the same memory, one of which also took gradient steps on other data before
// (parameters and Adam moments changed), end the task with the same model, bit for bit.
func TestGDumbRetrainsFromScratch(t *testing.T) {
	st := strategytest.Synthetic(stream.TaskIL, 2, 2, 6, 20, 5)
	setup := func(seed int64) *strategies.GDumb {
		g := newStrategy(t, "gdumb:budget=30,epochs=3").(*strategies.GDumb)
		if err := g.Setup(regEnv(st, seed)); err != nil {
			t.Fatal(err)
		}
		return g
	}
	a, b := setup(7), setup(8)
	b.Env.Rng = rand.New(rand.NewSource(7))
	regTrain(t, &b.Base, st, 0, 5, 3)
	b.Reinit()
	if !reflect.DeepEqual(strategies.SaveParams(a.Params()), strategies.SaveParams(b.Params())) || len(b.Opt.M) != 0 {
		t.Fatal("Reinit does not draw the parameters Setup draws, or keeps Adam's moments")
	}

	a, b = setup(1), setup(1)
	regTrain(t, &b.Base, st, 1, 7, 4) // b also trains on task 2's data first
	if reflect.DeepEqual(strategies.SaveParams(a.Params()), strategies.SaveParams(b.Params())) {
		t.Fatal("the gradient steps changed nothing")
	}
	for _, g := range []*strategies.GDumb{a, b} {
		regTrain(t, g, st, 0, 4, 5) // the task's 40 examples offered to a memory of 30
		if err := g.EndTask(0); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(strategies.SaveParams(a.Params()), strategies.SaveParams(b.Params())) || !reflect.DeepEqual(a.Opt, b.Opt) {
		t.Fatal("the same memory retrained to different models")
	}
}

// BenchmarkGDumbStep is a step of GDumb: offering the batch to the memory (no training).
func BenchmarkGDumbStep(b *testing.B) { benchStep(b, "gdumb") }

// BenchmarkGDumbRetrain is GDumb's end of task with a full memory of 500 (the default) and 5
// epochs: re-initialisation and 5 x 4 training steps of batch 128 (the last of each epoch
// 116 rows), on the model and stream of benchStep.
func BenchmarkGDumbRetrain(b *testing.B) {
	blas.Setup()
	st := strategytest.Synthetic(stream.ClassIL, 2, 5, 784, 300, 1)
	s, err := strategies.Default.New("gdumb:epochs=5")
	if err != nil {
		b.Fatal(err)
	}
	g := s.(*strategies.GDumb)
	env := &strategies.Env{Stream: st, Hidden: []int{400, 400}, LR: 1e-3, Batch: 128, EvalBatch: 1000, Rng: rand.New(rand.NewSource(1))}
	if err := g.Setup(env); err != nil {
		b.Fatal(err)
	}
	smp := stream.NewSampler(rand.New(rand.NewSource(2)), st.Tasks[0])
	batch := stream.NewBatch(128, st.InputDim)
	for range 5 {
		smp.Fill(batch, 128)
		batch.HideTasks()
		if _, err := g.Step(0, batch); err != nil {
			b.Fatal(err)
		}
	}
	if g.Mem.Len() != 500 {
		b.Fatalf("memory of %d", g.Mem.Len())
	}
	b.ReportAllocs()
	b.ResetTimer()
	c0 := perf.CPUTime()
	for range b.N {
		if err := g.EndTask(0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(perf.CPUTime()-c0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}
