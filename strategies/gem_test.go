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

func TestGEMConformance(t *testing.T) {
	for _, spec := range []string{"gem", "gem:budget=30,margin=0"} {
		t.Run(spec, func(t *testing.T) { strategytest.Run(t, strategies.Default, spec) })
	}
}

func dot64(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// split cuts a flat gradient into per-parameter buffers of the given sizes (copies).
func split(flat []float32, sizes ...int) [][]float32 {
	var out [][]float32
	for _, n := range sizes {
		out = append(out, append([]float32(nil), flat[:n]...))
		flat = flat[n:]
	}
	return out
}

// TestGEMProject checks the projection on hand-computed cases and, on random ones, that it is
// the Euclidean projection onto the cone of the constraints (margin 0, eps 0): g~ = g + Gᵀv
// with v >= 0, G g~ >= 0, and v_k (g~·g_k) = 0 (complementary slackness).
func TestGEMProject(t *testing.T) {
	for _, tc := range []struct {
		g, want []float32
		refs    [][]float32
		margin  float64
		wantV   []float64 // nil: nothing projected
	}{
		// Two orthogonal constraints both violated: g~ = (0, 0, 1), v = (1, 2).
		{[]float32{-1, -2, 1}, []float32{0, 0, 1}, [][]float32{{1, 0, 0}, {0, 1, 0}}, 0, []float64{1, 2}},
		// Every constraint holds: g unchanged, no QP.
		{[]float32{1, 2, 0}, []float32{1, 2, 0}, [][]float32{{1, 0, 0}, {0, 1, 1}}, 0, nil},
		// One violated, one not (and still satisfied after projecting the first).
		{[]float32{-1, 1, 1}, []float32{0, 1, 1}, [][]float32{{1, 0, 0}, {0, 0, 1}}, 0, []float64{1, 0}},
		// A margin moves at least margin along every constraint: v = (max(1, 0.5), 0.5).
		{[]float32{-1, 1, 1}, []float32{0, 1.5, 1}, [][]float32{{1, 0, 0}, {0, 1, 0}}, 0.5, []float64{1, 0.5}},
	} {
		g := split(tc.g, 2, 1)
		v, err := strategies.GEMProject(g, tc.refs, tc.margin, 0)
		if err != nil {
			t.Fatal(err)
		}
		if (v == nil) != (tc.wantV == nil) {
			t.Fatalf("g %v: dual %v, want %v", tc.g, v, tc.wantV)
		}
		for k := range v {
			if math.Abs(v[k]-tc.wantV[k]) > 1e-9 {
				t.Fatalf("g %v: dual %v, want %v", tc.g, v, tc.wantV)
			}
		}
		if got := append(g[0], g[1]...); !equal32(got, tc.want) {
			t.Errorf("g %v: %v, want %v", tc.g, got, tc.want)
		}
	}
	if _, err := strategies.GEMProject([][]float32{{1, 2}}, [][]float32{{1}}, 0, 0); err == nil {
		t.Error("a reference gradient of the wrong size accepted")
	}

	rng := rand.New(rand.NewSource(3))
	for trial := range 200 {
		const p = 40
		T := 1 + rng.Intn(8)
		gf := make([]float32, p)
		for i := range gf {
			gf[i] = float32(rng.NormFloat64())
		}
		refs := make([][]float32, T)
		for k := range refs {
			refs[k] = make([]float32, p)
			for i := range refs[k] {
				refs[k][i] = float32(rng.NormFloat64()) - 0.3*gf[i] // mostly conflicting
			}
		}
		g := split(gf, 10, 0, 30)
		v, err := strategies.GEMProject(g, refs, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		gt := append(append(g[0], g[1]...), g[2]...)
		if v == nil {
			for k := range refs {
				if dot64(gf, refs[k]) < 0 {
					t.Fatalf("trial %d: constraint %d violated but nothing projected", trial, k)
				}
			}
			continue
		}
		for k, r := range refs {
			c := dot64(gt, r) / math.Sqrt(dot64(gt, gt)*dot64(r, r))
			if v[k] < 0 || c < -1e-5 || (v[k] > 1e-6 && math.Abs(c) > 1e-5) {
				t.Fatalf("trial %d, constraint %d: v = %v, cos(g~, g_k) = %v", trial, k, v[k], c)
			}
		}
		for i := range gt { // g~ = g + Gᵀ v
			want := float64(gf[i])
			for k, r := range refs {
				want += v[k] * float64(r[i])
			}
			if math.Abs(float64(gt[i])-want) > 1e-4 {
				t.Fatalf("trial %d: g~[%d] = %v, g + Gᵀv = %v", trial, i, gt[i], want)
			}
		}
	}
}

// TestGEMStep checks the real step on a small class-IL model of three tasks. On the third task
// each step computes two reference gradients, and after the step the gradient Adam used (the
// live buffers Model.Grad returns, as the parameters' change under fresh Adam moments shows)
// has a non-negative dot product with both (margin 0, eps 0: the paper's exact projection), zero
// for every constraint whose dual variable is positive. When the current batch is the memory of
// the only earlier task, g = g_ref (up to summation order) and nothing changes.
func TestGEMStep(t *testing.T) {
	step := func(m *strategies.GEM, b *stream.Batch, refs int) {
		t.Helper()
		lr := m.Env.LR
		m.Opt = graphs.NewAdam(lr)
		before := map[*graphs.Param][]float32{}
		for _, p := range m.Net.Trainable() {
			before[p] = append([]float32(nil), p.Data()...)
		}
		info, err := m.Step(len(m.Env.Stream.Tasks)-1, b)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Ref) != refs || info.Samples != b.N+16*refs {
			t.Fatalf("%d reference gradients and %d samples, want %d and %d", len(m.Ref), info.Samples, refs, b.N+16*refs)
		}
		var applied []float32
		for _, p := range m.Net.Trainable() {
			g := m.Net.Grad(p)
			applied = append(applied, g...)
			for k := range g {
				want := float64(before[p][k]) - lr*float64(g[k])/(math.Abs(float64(g[k]))+1e-8)
				if d := float64(p.Data()[k]) - want; math.Abs(d) > 1e-6 {
					t.Fatalf("%s[%d] = %v after the update, want %v for gradient %v", p.Name, k, p.Data()[k], want, g[k])
				}
			}
		}
		for k, r := range m.Ref {
			c := dot64(applied, r) / math.Sqrt(dot64(applied, applied)*dot64(r, r))
			if c < -1e-5 {
				t.Fatalf("the gradient applied has cosine %g with task %d's memory gradient", c, k+1)
			}
			if m.Dual != nil && m.Dual[k] > 0 && math.Abs(c) > 1e-5 {
				t.Fatalf("constraint %d has dual %v but cosine %g, want 0", k, m.Dual[k], c)
			}
		}
	}

	st := strategytest.Synthetic(stream.ClassIL, 3, 2, 6, 30, 5)
	m := newStrategy(t, "gem:per_class=10,margin=0,eps=0").(*strategies.GEM)
	if err := m.Setup(regEnv(st, 1)); err != nil {
		t.Fatal(err)
	}
	for task := range 2 {
		regTrain(t, m, st, task, 30, int64(task+1))
		if task == 0 && m.Ref != nil {
			t.Fatal("a reference gradient during the first task")
		}
		if err := m.EndTask(task); err != nil {
			t.Fatal(err)
		}
	}
	smp := stream.NewSampler(rand.New(rand.NewSource(3)), st.Tasks[2])
	b := stream.NewBatch(16, st.InputDim)
	projected := 0
	for range 20 {
		smp.Fill(b, 16)
		b.HideTasks()
		step(m, b, 2)
		if m.Dual != nil {
			projected++
		}
	}
	if projected == 0 {
		t.Error("no step projected")
	}
	t.Logf("%d of 20 steps projected", projected)

	// With the default margin every dual variable is at least 0.5.
	m.Margin, m.Eps = 0.5, 1e-3
	smp.Fill(b, 16)
	b.HideTasks()
	if _, err := m.Step(2, b); err != nil {
		t.Fatal(err)
	}
	for k, v := range m.Dual {
		if v < 0.5 {
			t.Fatalf("dual %d = %v below the margin", k, v)
		}
	}

	// Two tasks, task 1 of 16 examples, all in the memory: a step on them projects nothing.
	st = strategytest.Synthetic(stream.ClassIL, 2, 2, 6, 8, 5)
	m = newStrategy(t, "gem:per_class=8").(*strategies.GEM)
	if err := m.Setup(regEnv(st, 1)); err != nil {
		t.Fatal(err)
	}
	regTrain(t, m, st, 0, 10, 1)
	if err := m.EndTask(0); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	for k := range 16 {
		b.Add(st.Tasks[0], &st.Tasks[0].Train, k)
	}
	b.HideTasks()
	step(m, b, 1)
	var applied []float32
	for _, p := range m.Net.Trainable() {
		applied = append(applied, m.Net.Grad(p)...)
	}
	if c := dot64(applied, m.Ref[0]) / math.Sqrt(dot64(applied, applied)*dot64(m.Ref[0], m.Ref[0])); m.Dual != nil || c < 1-1e-5 {
		t.Fatalf("a step on the memory's own examples: dual %v, cosine %v with their gradient, want none and 1", m.Dual, c)
	}
}

// benchStepAfter is benchStep on a stream of tasks tasks of 2 classes (split MNIST's shape),
// timing a step of the last task after a few steps and the end of each earlier one.
func benchStepAfter(b *testing.B, spec string, tasks int) {
	blas.Setup()
	st := strategytest.Synthetic(stream.ClassIL, tasks, 2, 784, 300, 1)
	s, err := strategies.Default.New(spec)
	if err != nil {
		b.Fatal(err)
	}
	env := &strategies.Env{Stream: st, Hidden: []int{400, 400}, LR: 1e-3, Batch: 128, EvalBatch: 1000, Rng: rand.New(rand.NewSource(1))}
	if err := s.Setup(env); err != nil {
		b.Fatal(err)
	}
	batch := stream.NewBatch(128, st.InputDim)
	run := func(task, n int, smp *stream.Sampler) {
		for range n {
			smp.Fill(batch, 128)
			batch.HideTasks()
			if _, err := s.Step(task, batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	for task := range tasks - 1 {
		run(task, 3, stream.NewSampler(rand.New(rand.NewSource(int64(task))), st.Tasks[task]))
		if err := s.(strategies.TaskEnder).EndTask(task); err != nil {
			b.Fatal(err)
		}
	}
	smp := stream.NewSampler(rand.New(rand.NewSource(9)), st.Tasks[tasks-1])
	run(tasks-1, 3, smp)
	b.ReportAllocs()
	b.ResetTimer()
	c0 := perf.CPUTime()
	run(tasks-1, b.N, smp)
	b.ReportMetric(float64(perf.CPUTime()-c0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// BenchmarkGEMStep is a step of GEM on the fifth task of split MNIST's shape: four reference
// and one current forward and backward pass, and a 4-variable QP.
func BenchmarkGEMStep(b *testing.B) { benchStepAfter(b, "gem", 5) }

// TestGEMRefBatch checks ref: each task's reference gradient averages over ref of its memory
// examples, or the task's whole memory while it holds fewer (GEM's code), in a graph of its own
// when ref exceeds the batch; a step on exactly the memory's examples then has the reference
// gradient's direction (nothing projected), and a smaller ref draws that many through the
// model's own graph.
func TestGEMRefBatch(t *testing.T) {
	st := strategytest.Synthetic(stream.ClassIL, 2, 2, 6, 8, 5)
	for _, tc := range []struct {
		spec string
		want int // memory examples per reference gradient
	}{{"gem:per_class=8,ref=64", 16}, {"gem:per_class=8,ref=4", 4}} {
		m := newStrategy(t, tc.spec).(*strategies.GEM)
		if err := m.Setup(regEnv(st, 1)); err != nil {
			t.Fatal(err)
		}
		regTrain(t, m, st, 0, 10, 1)
		if err := m.EndTask(0); err != nil {
			t.Fatal(err)
		}
		b := stream.NewBatch(16, st.InputDim)
		for k := range 16 {
			b.Add(st.Tasks[0], &st.Tasks[0].Train, k)
		}
		b.HideTasks()
		info, err := m.Step(1, b)
		if err != nil {
			t.Fatal(err)
		}
		if info.Samples != 16+tc.want || len(m.Ref) != 1 {
			t.Errorf("%s: %d samples and %d reference gradients, want 16 current + %d from memory and 1", tc.spec, info.Samples, len(m.Ref), tc.want)
		}
		if big := m.RefBatch > m.Env.Batch; (m.RefNet != nil) != big || m.Net.Batch() != m.Env.Batch {
			t.Errorf("%s: step graph of %d rows (batch %d), own memory graph %v, want %v", tc.spec, m.Net.Batch(), m.Env.Batch, m.RefNet != nil, big)
		} else if big && m.RefNet.Batch() != m.RefBatch {
			t.Errorf("%s: memory graph of %d rows, want %d", tc.spec, m.RefNet.Batch(), m.RefBatch)
		}
		if tc.want < 16 {
			continue
		}
		var applied []float32
		for _, p := range m.Net.Trainable() {
			applied = append(applied, m.Net.Grad(p)...)
		}
		if r := dot64(applied, m.Ref[0]) / dot64(m.Ref[0], m.Ref[0]); m.Dual != nil || math.Abs(r-1) > 1e-4 {
			t.Errorf("%s: the memory's own examples give dual %v and g·ref/|ref|² = %v, want none and 1 (g_ref over the task's whole memory)", tc.spec, m.Dual, r)
		}
	}
}
