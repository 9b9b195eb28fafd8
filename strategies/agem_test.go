package strategies_test

import (
	"math"
	"math/rand"
	"testing"
	"time"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/graphs/blas"
	"github.com/clgraph/clgraph/perf"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

func TestAGEMConformance(t *testing.T) {
	for _, spec := range []string{"agem", "agem:budget=30"} {
		t.Run(spec, func(t *testing.T) { strategytest.Run(t, strategies.Default, spec) })
	}
}

// TestAGEMProject checks the projection on hand-computed cases, the gradient split over two
// parameters so the dot products run over both.
func TestAGEMProject(t *testing.T) {
	for _, tc := range []struct {
		g, ref, want []float32
		projected    bool
	}{
		// g·ref = -2, |ref|² = 2: g - (-1) ref.
		{[]float32{1, -2, 0}, []float32{0, 1, 1}, []float32{1, -1, 1}, true},
		{[]float32{1, 2, 0}, []float32{0, 1, 1}, []float32{1, 2, 0}, false},   // g·ref = 2 > 0
		{[]float32{1, 1, -1}, []float32{0, 1, 1}, []float32{1, 1, -1}, false}, // g·ref = 0
		{[]float32{1, -2, 0}, []float32{0, 0, 0}, []float32{1, -2, 0}, false}, // no reference
		// g·ref = -6, |ref|² = 4: g + 1.5 ref.
		{[]float32{3, 0, -1}, []float32{-2, 0, 0}, []float32{0, 0, -1}, true},
	} {
		g := [][]float32{append([]float32(nil), tc.g[:2]...), append([]float32(nil), tc.g[2:]...)}
		ref := [][]float32{tc.ref[:2], tc.ref[2:]}
		if got := strategies.AGEMProject(g, ref); got != tc.projected {
			t.Errorf("g %v, ref %v: projected %v, want %v", tc.g, tc.ref, got, tc.projected)
		}
		if got := append(g[0], g[1]...); !equal32(got, tc.want) {
			t.Errorf("g %v, ref %v: %v, want %v", tc.g, tc.ref, got, tc.want)
		}
	}
	// A parameter without gradient on either side counts as zeros.
	g := [][]float32{{1, -2}, nil, {5}}
	if !strategies.AGEMProject(g, [][]float32{{0, 1}, {7}, {}}) || !equal32(g[0], []float32{1, 0}) || g[2][0] != 5 {
		t.Errorf("with empty gradients: %v", g)
	}
}

func equal32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestAGEMStep checks the real step on a small class-IL model. On the second task, after each
// step the gradient Adam used (the live buffers Model.Grad returns) has a non-negative dot
// product with the memory's reference gradient, zero where it was projected (most steps: the
// new classes' gradient lowers the old classes' scores). When the current batch is the memory
// itself, g = g_ref (up to summation order) and nothing is projected. Each time, it is that
// gradient that Adam applied: with fresh moments Adam moves each weight by -lr g/(|g| + eps),
// so the parameters' change gives away the gradient used.
func TestAGEMStep(t *testing.T) {
	// step runs one step of a on task 1 with fresh Adam moments and returns the cosine of the
	// gradient applied with the reference gradient.
	step := func(a *strategies.AGEM, b *stream.Batch) float64 {
		t.Helper()
		lr := a.Env.LR
		a.Opt = graphs.NewAdam(lr)
		before := map[*graphs.Param][]float32{}
		for _, p := range a.Net.Trainable() {
			before[p] = append([]float32(nil), p.Data()...)
		}
		info, err := a.Step(1, b)
		if err != nil {
			t.Fatal(err)
		}
		if info.Samples != 2*b.N {
			t.Fatalf("%d samples, want %d current + %d from memory", info.Samples, b.N, b.N)
		}
		var dot, gg, rr float64
		for i, p := range a.Net.Trainable() {
			g, ref := a.Net.Grad(p), a.Ref[i]
			if &g[0] != &a.Net.Grad(p)[0] {
				t.Fatalf("%s: Grad returns a copy, not the buffer Adam reads", p.Name)
			}
			for k := range g {
				dot += float64(g[k]) * float64(ref[k])
				gg += float64(g[k]) * float64(g[k])
				rr += float64(ref[k]) * float64(ref[k])
				want := float64(before[p][k]) - lr*float64(g[k])/(math.Abs(float64(g[k]))+1e-8)
				if d := float64(p.Data()[k]) - want; math.Abs(d) > 1e-6 {
					t.Fatalf("%s[%d] = %v after the update, want %v for gradient %v", p.Name, k, p.Data()[k], want, g[k])
				}
			}
		}
		return dot / math.Sqrt(gg*rr)
	}

	st := strategytest.Synthetic(stream.ClassIL, 2, 2, 6, 30, 5)
	a := newStrategy(t, "agem:per_class=10").(*strategies.AGEM)
	if err := a.Setup(regEnv(st, 1)); err != nil {
		t.Fatal(err)
	}
	regTrain(t, a, st, 0, 30, 1)
	if a.Ref != nil {
		t.Fatal("a reference gradient during the first task")
	}
	if err := a.EndTask(0); err != nil {
		t.Fatal(err)
	}
	if a.Mem.Len() != 20 {
		t.Fatalf("memory holds %d examples, want 10 per class", a.Mem.Len())
	}
	smp := stream.NewSampler(rand.New(rand.NewSource(2)), st.Tasks[1])
	b := stream.NewBatch(16, st.InputDim)
	projected := 0
	for i := 0; i < 20; i++ {
		smp.Fill(b, 16)
		b.HideTasks()
		cos := step(a, b)
		if cos < -1e-5 {
			t.Fatalf("step %d: the gradient applied has cosine %g with the reference", i, cos)
		}
		if cos < 1e-5 {
			projected++
		}
	}
	if projected == 0 {
		t.Error("no step projected")
	}
	t.Logf("%d of 20 steps projected", projected)

	// Task 1 of 16 examples, all in the memory: a step on them replays them.
	st = strategytest.Synthetic(stream.ClassIL, 2, 2, 6, 8, 5)
	a = newStrategy(t, "agem:per_class=8").(*strategies.AGEM)
	if err := a.Setup(regEnv(st, 1)); err != nil {
		t.Fatal(err)
	}
	regTrain(t, a, st, 0, 10, 1)
	if err := a.EndTask(0); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	for k := 0; k < 16; k++ {
		b.Add(st.Tasks[0], &st.Tasks[0].Train, k)
	}
	b.HideTasks()
	if cos := step(a, b); cos < 1-1e-5 {
		t.Fatalf("a step on the memory's own examples has cosine %v with their gradient, want 1", cos)
	}
}

// benchStep times one training step of spec on the 784-400-400-10 MLP at batch 128, on the
// second task of a random class-IL stream of MNIST's shape, after a few steps of the first task
// and its end (memories filled, previous models kept: outside the timed region), with the BLAS
// of the environment, reporting the process's CPU time per step too (steadier than wall time on
// a shared machine). Other strategies' step benchmarks use it too.
func benchStep(b *testing.B, spec string) { benchStepIn(b, spec, stream.ClassIL) }

// benchStepIn is benchStep in scenario sc: in task-IL the batches keep their task index (for
// strategies that require task identity, such as hat).
func benchStepIn(b *testing.B, spec string, sc stream.Scenario) { benchStepBatch(b, spec, sc, 128) }

// benchStepBatch is benchStepIn with batches of rows examples (mer's online setting: 1).
func benchStepBatch(b *testing.B, spec string, sc stream.Scenario, rows int) {
	blas.Setup()
	st := strategytest.Synthetic(sc, 2, 5, 784, 300, 1)
	s, err := strategies.Default.New(spec)
	if err != nil {
		b.Fatal(err)
	}
	// Iterations is large so that a strategy scheduling work within a task (packnet's pruning)
	// times its ordinary step.
	env := &strategies.Env{Stream: st, Hidden: []int{400, 400}, LR: 1e-3, Batch: rows, EvalBatch: 1000, Iterations: 1 << 20, Rng: rand.New(rand.NewSource(1))}
	if err := s.Setup(env); err != nil {
		b.Fatal(err)
	}
	batch := stream.NewBatch(rows, st.InputDim)
	run := func(task, n int, smp *stream.Sampler) {
		for range n {
			smp.Fill(batch, rows)
			if sc != stream.TaskIL {
				batch.HideTasks()
			}
			if _, err := s.Step(task, batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	warm := 5
	if rows < 32 {
		warm = 32 // a memory of at least 32 examples (mer replays 25 of them)
	}
	run(0, warm, stream.NewSampler(rand.New(rand.NewSource(2)), st.Tasks[0]))
	if te, ok := s.(strategies.TaskEnder); ok {
		if err := te.EndTask(0); err != nil {
			b.Fatal(err)
		}
	}
	smp := stream.NewSampler(rand.New(rand.NewSource(3)), st.Tasks[1])
	run(1, 3, smp)
	b.ReportAllocs()
	b.ResetTimer()
	c0 := perf.CPUTime()
	run(1, b.N, smp)
	b.ReportMetric(float64(perf.CPUTime()-c0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// BenchmarkNaiveStep is naive fine-tuning's step, the baseline of the other step benchmarks.
func BenchmarkNaiveStep(b *testing.B) { benchStep(b, "naive") }

// BenchmarkAGEMStep is a step of A-GEM: a reference and a current forward and backward pass.
func BenchmarkAGEMStep(b *testing.B) { benchStep(b, "agem") }

// TestAGEMRefBatch checks ref: the reference gradient averages over ref memory examples, or the
// whole memory while it holds fewer (A-GEM's code), in a graph of its own when ref exceeds the
// batch (the current batch's graph keeps the batch's rows); a step on exactly the memory's
// examples then has the reference gradient's direction (nothing projected), and a smaller ref
// draws that many through the model's own graph.
func TestAGEMRefBatch(t *testing.T) {
	st := strategytest.Synthetic(stream.ClassIL, 2, 2, 6, 8, 5)
	for _, tc := range []struct {
		spec string
		want int // memory examples per reference gradient
	}{{"agem:per_class=8,ref=64", 16}, {"agem:per_class=8,ref=8", 8}} {
		a := newStrategy(t, tc.spec).(*strategies.AGEM)
		if err := a.Setup(regEnv(st, 1)); err != nil {
			t.Fatal(err)
		}
		regTrain(t, a, st, 0, 10, 1)
		if err := a.EndTask(0); err != nil {
			t.Fatal(err)
		}
		b := stream.NewBatch(16, st.InputDim)
		for k := 0; k < 16; k++ {
			b.Add(st.Tasks[0], &st.Tasks[0].Train, k)
		}
		b.HideTasks()
		info, err := a.Step(1, b)
		if err != nil {
			t.Fatal(err)
		}
		if info.Samples != 16+tc.want {
			t.Errorf("%s: %d samples, want 16 current + %d from memory", tc.spec, info.Samples, tc.want)
		}
		if big := a.RefBatch > a.Env.Batch; (a.RefNet != nil) != big || a.Net.Batch() != a.Env.Batch {
			t.Errorf("%s: step graph of %d rows (batch %d), own reference graph %v, want %v", tc.spec, a.Net.Batch(), a.Env.Batch, a.RefNet != nil, big)
		} else if big && a.RefNet.Batch() != a.RefBatch {
			t.Errorf("%s: reference graph of %d rows, want %d", tc.spec, a.RefNet.Batch(), a.RefBatch)
		}
		if tc.want < 16 {
			continue
		}
		var dot, rr float64
		for i, p := range a.Net.Trainable() {
			for k, g := range a.Net.Grad(p) {
				dot += float64(g) * float64(a.Ref[i][k])
				rr += float64(a.Ref[i][k]) * float64(a.Ref[i][k])
			}
		}
		if math.Abs(dot/rr-1) > 1e-4 {
			t.Errorf("%s: the memory's own examples give g·ref/|ref|² = %v, want 1 (g_ref over the whole memory)", tc.spec, dot/rr)
		}
	}
}

// BenchmarkAGEMRefStep is A-GEM's step in A-GEM's own MNIST setting: batches of 10 and reference
// gradients over 256 memory examples, the memory's pass in a graph of its own.
func BenchmarkAGEMRefStep(b *testing.B) {
	benchStepBatch(b, "agem:ref=256", stream.ClassIL, 10)
}
