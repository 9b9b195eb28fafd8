package strategies_test

import (
	"math"
	"math/rand"
	"testing"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

func TestMASConformance(t *testing.T) {
	for _, spec := range []string{"mas", "mas:heads=single,lambda=3,samples=0", "mas:batch=10,replace=true,samples=0"} {
		t.Run(spec, func(t *testing.T) { strategytest.Run(t, strategies.Default, spec) })
	}
}

// masNet is a float64 copy of a strategy's MLP (ReLU trunk, heads side by side).
type masNet struct {
	layers []*graphs.Dense
	trunk  int
}

// norm2 returns ||f(x)||^2 over the model columns where mask is 0.
func (n masNet) norm2(x []float32, mask []float32) float64 {
	h := make([]float64, len(x))
	for i, v := range x {
		h[i] = float64(v)
	}
	var out []float64
	for k, d := range n.layers {
		sh := d.W.Shape()
		w, b := d.W.Data(), d.B.Data()
		y := make([]float64, sh[1])
		for j := range y {
			y[j] = float64(b[j])
			for i := range h {
				y[j] += h[i] * float64(w[i*sh[1]+j])
			}
		}
		if k < n.trunk {
			for j := range y {
				y[j] = math.Max(y[j], 0)
			}
			h = y
		} else {
			out = append(out, y...) // a head, fed the last hidden layer
		}
	}
	var s float64
	for c, v := range out {
		if mask[c] == 0 {
			s += v * v
		}
	}
	return s
}

// TestMASImportanceFiniteDifferences compares MASImportance with central differences of
// ||f(x)||^2 on a tiny MLP (2 inputs, hidden 3 and 2, heads of 2) over a task's 2 examples: in
// task-IL (head 2 only: head 1 is unimportant) and class-IL (a shared head, the classes of
// task 1 only when t = 0); per example (batch 0: the mean of |gradient|) and over one batch of
// both (batch 2: |the summed gradient| / 2).
func TestMASImportanceFiniteDifferences(t *testing.T) {
	for _, batch := range []int{0, 2} {
		testMASFiniteDifferences(t, batch, 1, stream.TaskIL, stream.ClassIL)
	}
	// 300 examples a task in batches of 7: chunks of 252 (36 batches), and a last batch of 6.
	testMASFiniteDifferences(t, 7, 150, stream.DomainIL)
}

// testMASFiniteDifferences is TestMASImportanceFiniteDifferences with perClass examples per
// class (the task's examples in order, in consecutive batches of batch; 0: per example).
func testMASFiniteDifferences(t *testing.T, batch, perClass int, scenarios ...stream.Scenario) {
	for _, sc := range scenarios {
		for task := range 2 {
			st := strategytest.Synthetic(sc, 2, 2, dimFor(perClass), perClass, 5)
			if perClass > 5 {
				mixSigns(st)
			}
			m := newStrategy(t, "mas").(*strategies.MAS)
			env := regEnv(st, 3)
			env.Hidden = []int{3, 2}
			if err := m.Setup(env); err != nil {
				t.Fatal(err)
			}
			omega, err := strategies.MASImportanceBatched(&m.Base, task, 0, batch, nil, m.PS.All())
			if err != nil {
				t.Fatal(err)
			}
			net := masNet{trunk: len(m.Trunk.Layers)}
			for i := range m.Trunk.Layers {
				net.layers = append(net.layers, &m.Trunk.Layers[i])
			}
			for i := range m.Out.Layers {
				net.layers = append(net.layers, &m.Out.Layers[i])
			}
			mask := strategies.MaskOf(&m.Base, task, task)
			tk := st.Tasks[task]
			b := stream.NewBatch(tk.Train.Len(), st.InputDim)
			for k := range tk.Train.Len() {
				b.Add(tk, &tk.Train, k)
			}
			if b.N != 2*perClass {
				t.Fatalf("the task has %d training examples, want %d", b.N, 2*perClass)
			}
			const h = 1e-3
			// Over many examples some sit near a ReLU's kink, where a central difference is off:
			// each entry gets more room, the whole importance (errSum / wantSum) as little.
			tol := 1e-3
			if b.N > 10 {
				tol = 3e-2
			}
			var nonzero int
			var errSum, wantSum float64
			for _, p := range m.PS.All() {
				d := p.Data()
				for i := range d {
					v := d[i]
					var want, summed float64 // summed: the current batch's
					for e := range b.N {
						x := b.X[e*st.InputDim : (e+1)*st.InputDim]
						d[i] = v + h
						up := net.norm2(x, mask)
						d[i] = v - h
						down := net.norm2(x, mask)
						d[i] = v
						g := (up - down) / (2 * h) / float64(b.N)
						if batch == 0 {
							want += math.Abs(g)
							continue
						}
						summed += g
						if (e+1)%batch == 0 || e == b.N-1 {
							want += math.Abs(summed)
							summed = 0
						}
					}
					got := float64(omega[p][i])
					errSum, wantSum = errSum+math.Abs(got-want), wantSum+math.Abs(want)
					if math.Abs(got-want) > tol*math.Abs(want)+1e-6 {
						t.Errorf("batch %d, %s-IL task %d: Omega %s[%d] = %v, central difference %v", batch, sc, task+1, p.Name, i, got, want)
					}
					if want > 1e-4 {
						nonzero++
					}
				}
			}
			if errSum > 1e-3*wantSum {
				t.Errorf("batch %d, %s-IL task %d: the importance is off its central differences by %.2g of its total", batch, sc, task+1, errSum/wantSum)
			}
			if nonzero < m.PS.Count()/3 {
				t.Errorf("%s-IL task %d: only %d of %d importances are non-zero", sc, task+1, nonzero, m.PS.Count())
			}
		}
	}
}

// TestMASAccumulates checks that EndTask adds each task's importance to the penalty's weights
// and anchors it at the current parameters.
func TestMASAccumulates(t *testing.T) {
	st := strategytest.Synthetic(stream.DomainIL, 2, 2, 8, 20, 6)
	m := newStrategy(t, "mas:samples=10").(*strategies.MAS)
	if err := m.Setup(regEnv(st, 4)); err != nil {
		t.Fatal(err)
	}
	sum := map[*graphs.Param][]float64{}
	for cur := range st.Tasks {
		regTrain(t, m, st, cur, 10, int64(cur))
		// The importance EndTask computes: the same draw of examples from a copy of the source.
		rng := rand.New(rand.NewSource(int64(10 + cur)))
		*m.Env.Rng = *rand.New(rand.NewSource(int64(10 + cur)))
		om, err := strategies.MASImportance(&m.Base, cur, 10, rng, m.Q.Params())
		if err != nil {
			t.Fatal(err)
		}
		if err := m.EndTask(cur); err != nil {
			t.Fatal(err)
		}
		for i := range m.Q.Terms {
			tm := &m.Q.Terms[i]
			if sum[tm.Param] == nil {
				sum[tm.Param] = make([]float64, tm.Param.Size())
			}
			for k, w := range tm.Weights() {
				sum[tm.Param][k] += float64(om[tm.Param][k])
				if math.Abs(float64(w)-sum[tm.Param][k]) > 1e-6*sum[tm.Param][k]+1e-9 {
					t.Fatalf("after task %d: Omega %s[%d] = %v, want the sum of the tasks' importances %v", cur+1, tm.Param.Name, k, w, sum[tm.Param][k])
				}
				if tm.Anchors()[k] != tm.Param.Data()[k] {
					t.Fatalf("after task %d: anchor of %s[%d] is not the parameter", cur+1, tm.Param.Name, k)
				}
			}
		}
	}
}

// BenchmarkMASStep is a MAS step on task 2 (benchStep, beside BenchmarkNaiveStep): the penalty
// of the importance of task 1 in the graph.
func BenchmarkMASStep(b *testing.B) { benchStep(b, "mas") }

// TestMASGraphMatchesDense checks the importance computed through the model's graph (the path
// of conv trunks) against the batched dense path on an MLP, in task- and class-IL, and that a
// conv trunk's importance covers its conv layers.
func TestMASGraphMatchesDense(t *testing.T) {
	for _, sc := range []stream.Scenario{stream.TaskIL, stream.ClassIL} {
		st := strategytest.Synthetic(sc, 3, 2, 6, 12, 5)
		m := newStrategy(t, "mas").(*strategies.MAS)
		if err := m.Setup(regEnv(st, 3)); err != nil {
			t.Fatal(err)
		}
		regTrain(t, m, st, 1, 20, 2)
		dense, err := strategies.MASImportance(&m.Base, 1, 0, nil, m.PS.All())
		if err != nil {
			t.Fatal(err)
		}
		strategies.MASViaGraph(true)
		graph, err := strategies.MASImportance(&m.Base, 1, 0, nil, m.PS.All())
		strategies.MASViaGraph(false)
		if err != nil {
			t.Fatal(err)
		}
		regCompareFisher(t, graph, widen(dense))
	}
	st := strategytest.Synthetic(stream.ClassIL, 3, 2, 16, 12, 5)
	m := newStrategy(t, "mas").(*strategies.MAS)
	env := regEnv(st, 3)
	env.Filters = []int{3}
	if err := m.Setup(env); err != nil {
		t.Fatal(err)
	}
	om, err := strategies.MASImportance(&m.Base, 0, 0, nil, m.PS.All())
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, v := range om[m.Trunk.Convs[0].W] {
		sum += float64(v)
	}
	if !(sum > 0) {
		t.Errorf("conv weight importance sums to %v", sum)
	}
}

// TestMASBatches checks batch=1 against the per-example importance (the same sum), that a
// larger batch never exceeds it (|sum| <= sum of ||), and that replace=true makes Omega the
// latest task's importance alone. (The grouping of batches across chunks is checked against
// central differences in TestMASImportanceFiniteDifferences.)
func TestMASBatches(t *testing.T) {
	st := strategytest.Synthetic(stream.DomainIL, 2, 2, 8, 300, 6)
	m := newStrategy(t, "mas:replace=true,batch=7,samples=0").(*strategies.MAS)
	if err := m.Setup(regEnv(st, 3)); err != nil {
		t.Fatal(err)
	}
	regTrain(t, m, st, 0, 10, 2)
	per, err := strategies.MASImportanceBatched(&m.Base, 0, 0, 0, nil, m.PS.All())
	if err != nil {
		t.Fatal(err)
	}
	one, err := strategies.MASImportanceBatched(&m.Base, 0, 0, 1, nil, m.PS.All())
	if err != nil {
		t.Fatal(err)
	}
	regCompareFisher(t, one, widen(per))
	seven, err := strategies.MASImportanceBatched(&m.Base, 0, 0, 7, nil, m.PS.All())
	if err != nil {
		t.Fatal(err)
	}
	var less int
	for p, v := range seven {
		for i, x := range v {
			if x > per[p][i]*(1+1e-5)+1e-7 {
				t.Fatalf("%s[%d]: batched importance %v above the per-example %v", p.Name, i, x, per[p][i])
			}
			if x < per[p][i]*0.999 {
				less++
			}
		}
	}
	if less == 0 {
		t.Fatal("batches of 7 gave the per-example importance everywhere")
	}
	for task := range 2 {
		regTrain(t, m, st, task, 5, int64(task))
		want, err := strategies.MASImportanceBatched(&m.Base, task, 0, 7, nil, m.Q.Params())
		if err != nil {
			t.Fatal(err)
		}
		if err := m.EndTask(task); err != nil {
			t.Fatal(err)
		}
		for i := range m.Q.Terms {
			tm := &m.Q.Terms[i]
			for k, w := range tm.Weights() {
				if w != want[tm.Param][k] {
					t.Fatalf("task %d: Omega %s[%d] = %v, want the task's importance %v (replace=true)", task+1, tm.Param.Name, k, w, want[tm.Param][k])
				}
			}
		}
	}
}

// dimFor is the input width of testMASFiniteDifferences' stream: 2, or 6 for a task of many
// examples.
func dimFor(perClass int) int {
	if perClass > 5 {
		return 6
	}
	return 2
}

// mixSigns centres st's training inputs on 0 and shuffles each task's training examples, so that
// consecutive examples (a batch) have gradients of different signs and how examples are grouped
// into batches shows in the importance (Synthetic's inputs lie in [0, 1], ordered by class).
func mixSigns(st *stream.Stream) {
	d := st.Tasks[0].Train.Data
	for i := range d.X {
		d.X[i] -= 0.5
	}
	rng := rand.New(rand.NewSource(9))
	for _, tk := range st.Tasks {
		sp := &tk.Train
		rng.Shuffle(len(sp.Index), func(i, j int) {
			sp.Index[i], sp.Index[j] = sp.Index[j], sp.Index[i]
			sp.Target[i], sp.Target[j] = sp.Target[j], sp.Target[i]
		})
	}
}
