package strategies_test

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

// TestICaRLConformance runs strategytest.Run's checks (in class-IL, the only scenario iCaRL's
// Requirements allow) and checks that task- and domain-IL are refused before training with the
// reason.
func TestICaRLConformance(t *testing.T) {
	for _, spec := range []string{"icarl", "icarl:budget=10,T=2"} {
		t.Run(spec, func(t *testing.T) { strategytest.Run(t, strategies.Default, spec) })
	}
	for _, sc := range []stream.Scenario{stream.TaskIL, stream.DomainIL} {
		st := strategytest.Synthetic(sc, 2, 2, 6, 10, 1)
		_, err := (&loop.Runner{}).Run(context.Background(), st, newStrategy(t, "icarl"), loop.Settings{Spec: quick.Cell("icarl", 1)})
		if err == nil || !strings.Contains(err.Error(), "class-incremental") || !strings.Contains(err.Error(), "--scenario class") {
			t.Errorf("icarl in %s-IL: %v, want a refusal with the reason", sc, err)
		}
	}
	st := strategytest.Synthetic(stream.ClassIL, 3, 2, 6, 10, 1)
	if _, err := (&loop.Runner{}).Run(context.Background(), st, newStrategy(t, "icarl:budget=5"), loop.Settings{Spec: quick.Cell("icarl:budget=5", 1)}); err == nil || !strings.Contains(err.Error(), "budget=5") {
		t.Errorf("a budget below the 6 classes: %v", err)
	}
}

// bruteHerding is the greedy rule as written: the k-th pick minimises |mean(picked + f) - mu|,
// computed from scratch for every candidate; ties go to the lowest row.
func bruteHerding(feats [][]float64, mu []float64, m int) []int {
	var order []int
	for len(order) < m {
		best, bi := math.Inf(1), -1
		for i := range feats {
			if slices.Contains(order, i) {
				continue
			}
			var d2 float64
			for j := range mu {
				s := feats[i][j]
				for _, o := range order {
					s += feats[o][j]
				}
				e := s/float64(len(order)+1) - mu[j]
				d2 += e * e
			}
			if d2 < best {
				best, bi = d2, i
			}
		}
		order = append(order, bi)
	}
	return order
}

// TestICaRLHerding checks Herding on a hand-computed case, against the brute-force greedy rule on
// random normalised features, and that a shorter order is a prefix of a longer one.
func TestICaRLHerding(t *testing.T) {
	// mu = (1, 1)/sqrt 2. The first pick is one of the two rows nearest mu, (0.6, 0.8) and
	// (0.8, 0.6) (a tie: the lower, row 2); the second the other, making the mean (0.7, 0.7);
	// then (1, 0) and (0, 1) tie again.
	r := float32(1 / math.Sqrt2)
	feats := []float32{1, 0, 0, 1, 0.6, 0.8, 0.8, 0.6}
	if got := strategies.Herding(feats, 2, []float32{r, r}, 4); !slices.Equal(got, []int{2, 3, 0, 1}) {
		t.Errorf("hand-made herding order %v, want [2 3 0 1]", got)
	}
	rng := rand.New(rand.NewSource(4))
	for trial := range 5 {
		n, d := 30, 5
		f := make([]float32, n*d)
		rows := make([][]float64, n)
		for i := range n {
			var s float64
			for j := range d {
				f[i*d+j] = float32(math.Abs(rng.NormFloat64()))
				s += float64(f[i*d+j]) * float64(f[i*d+j])
			}
			for j := range d {
				f[i*d+j] = float32(float64(f[i*d+j]) / math.Sqrt(s))
				rows[i] = append(rows[i], float64(f[i*d+j]))
			}
		}
		mu := strategies.ClassMean(f, d)
		mu64 := make([]float64, d)
		var norm float64
		for j := range mu {
			norm += float64(mu[j]) * float64(mu[j])
			mu64[j] = float64(mu[j])
		}
		if math.Abs(norm-1) > 1e-6 {
			t.Fatalf("class mean has norm^2 %v", norm)
		}
		got, want := strategies.Herding(f, d, mu, n), bruteHerding(rows, mu64, n)
		if !slices.Equal(got, want) {
			t.Errorf("trial %d: herding %v, brute force %v", trial, got, want)
		}
		if short := strategies.Herding(f, d, mu, 7); !slices.Equal(short, got[:7]) {
			t.Errorf("trial %d: order of 7 %v is not the prefix of %v", trial, short, got)
		}
	}
	if got := strategies.Herding(feats, 2, []float32{r, r}, 9); len(got) != 4 {
		t.Errorf("herding 9 of 4 rows gave %v", got)
	}
}

// TestICaRLNearestMean checks the nearest-mean rule on hand-made features: scores are minus the
// squared distances, MaskOff for a class without exemplars, and the nearest mean wins.
func TestICaRLNearestMean(t *testing.T) {
	means := [][]float32{{1, 0}, nil, {0, 1}, {0.6, 0.8}}
	feats := []float32{0.96, 0.28, 0, 1, 0.8, 0.6}
	out := make([]float32, 3*4)
	strategies.NearestMeanScores(out, feats, 2, means)
	want := []float32{
		-(0.04*0.04 + 0.28*0.28), graphs.MaskOff, -(0.96*0.96 + 0.72*0.72), -(0.36*0.36 + 0.52*0.52),
		-2, graphs.MaskOff, 0, -(0.36 + 0.04),
		-(0.04 + 0.36), graphs.MaskOff, -(0.64 + 0.16), -(0.04 + 0.04),
	}
	for i := range out {
		if math.Abs(float64(out[i]-want[i])) > 1e-6 {
			t.Errorf("score %d = %v, want %v", i, out[i], want[i])
		}
	}
	for i, best := range []int{0, 2, 3} {
		row := out[i*4 : (i+1)*4]
		if k := slices.Index(row, slices.Max(row)); k != best {
			t.Errorf("row %d: class %d wins, want %d", i, k, best)
		}
	}
}

// icarlFeatures is the trunk's output on x (relu(x W + b) per layer), normalised, in float64.
func icarlFeatures(c *strategies.ICaRL, x []float32) []float64 {
	a := make([]float64, len(x))
	for i, v := range x {
		a[i] = float64(v)
	}
	for _, l := range c.Trunk.Layers {
		in, out := l.W.Shape()[0], l.W.Shape()[1]
		h := make([]float64, out)
		for j := range out {
			s := float64(l.B.Data()[j])
			for k := range in {
				s += a[k] * float64(l.W.Data()[k*out+j])
			}
			h[j] = math.Max(s, 0)
		}
		a = h
	}
	var n float64
	for _, v := range a {
		n += v * v
	}
	for i := range a {
		a[i] /= math.Sqrt(n)
	}
	return a
}

// TestICaRLNoRehearsal checks that icarl:rehearse=false keeps exemplars for the classification
// but draws task 2's batches from task 2 alone, where the default draws old classes too.
func TestICaRLNoRehearsal(t *testing.T) {
	st := strategytest.Synthetic(stream.ClassIL, 2, 2, 6, 12, 5)
	for _, tc := range []struct {
		spec     string
		rehearse bool
	}{{"icarl:budget=8", true}, {"icarl:budget=8,rehearse=false", false}} {
		c := newStrategy(t, tc.spec).(*strategies.ICaRL)
		if err := c.Setup(regEnv(st, 1)); err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewSource(3))
		b := stream.NewBatch(16, st.InputDim)
		for range 5 {
			c.Sample(0, b, 16, rng)
			b.HideTasks()
			if _, err := c.Step(0, b); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.EndTask(0); err != nil {
			t.Fatal(err)
		}
		if len(c.Exemplars(0)) != 4 || len(c.Exemplars(1)) != 4 {
			t.Fatalf("%s: exemplars %v %v, want 4 per class", tc.spec, c.Exemplars(0), c.Exemplars(1))
		}
		old := 0
		for range 20 {
			c.Sample(1, b, 16, rng)
			for i := range b.N {
				if b.Target[i] < 2 {
					old++
				}
			}
		}
		if (old > 0) != tc.rehearse {
			t.Errorf("%s: %d examples of task 1's classes drawn in 20 batches of task 2", tc.spec, old)
		}
	}
}

// TestICaRLExemplarsAndScores checks, on a small class-IL stream, that each task's end keeps
// budget/classes exemplars per class, cutting old classes to a prefix of their herding order,
// that a new class's exemplars are the herding order of its features (recomputed here), that a
// step on task 2 draws from the task and the exemplars, and that Scores are minus the squared
// distances to the exemplar means recomputed here.
func TestICaRLExemplarsAndScores(t *testing.T) {
	st := strategytest.Synthetic(stream.ClassIL, 3, 2, 6, 12, 5)
	c := newStrategy(t, "icarl:budget=14").(*strategies.ICaRL)
	if err := c.Setup(regEnv(st, 1)); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(3))
	b := stream.NewBatch(16, st.InputDim)
	var before [][]int32
	for cur, task := range st.Tasks {
		for range 10 {
			c.Sample(cur, b, 16, rng)
			b.HideTasks()
			if _, err := c.Step(cur, b); err != nil {
				t.Fatal(err)
			}
		}
		if cur == 1 { // one pass over the union of task 2 and the exemplars: each exemplar once
			union := task.Train.Len() + len(c.Exemplars(0)) + len(c.Exemplars(1))
			var seen []string
			for start := 0; start < 2*union; start += 16 { // rest of the pass, then a full one
				c.Sample(cur, b, 16, rng)
				for i := range b.N {
					if u := b.Target[i]; u < 2 {
						seen = append(seen, fmt.Sprint(u, b.X[i*st.InputDim:(i+1)*st.InputDim]))
					}
				}
			}
			var want []string
			for u := range 2 {
				for _, k := range c.Exemplars(u) {
					x := st.Tasks[0].Train.Data.Row(int(st.Tasks[0].Train.Index[k]))
					want = append(want, fmt.Sprint(u, x))
				}
			}
			for _, w := range want {
				if n := strings.Count(strings.Join(seen, "\n"), w); n < 1 || n > 3 {
					t.Errorf("exemplar %s drawn %d times in about two passes", w, n)
				}
			}
			for _, s := range seen {
				if !slices.Contains(want, s) {
					t.Fatalf("task 1 example %s drawn while training task 2, not an exemplar", s)
				}
			}
		}
		if err := c.EndTask(cur); err != nil {
			t.Fatal(err)
		}
		m := 14 / (2 * (cur + 1))
		for u := range 2 * (cur + 1) {
			ex := c.Exemplars(u)
			if len(ex) != m {
				t.Errorf("after task %d class %d keeps %d exemplars, want %d", cur+1, u, len(ex), m)
			}
			if u < 2*cur && !slices.Equal(ex, before[u][:m]) {
				t.Errorf("after task %d class %d keeps %v, not a prefix of %v", cur+1, u, ex, before[u])
			}
		}
		for _, u := range task.Units {
			var ks []int32
			var f []float32
			for k := range task.Train.Len() {
				if int(task.Train.Target[k]) == u {
					ks = append(ks, int32(k))
					for _, v := range icarlFeatures(c, task.Train.Data.Row(int(task.Train.Index[k]))) {
						f = append(f, float32(v))
					}
				}
			}
			d := len(f) / len(ks)
			order := strategies.Herding(f, d, strategies.ClassMean(f, d), m)
			for i, o := range order {
				if ks[o] != c.Exemplars(u)[i] {
					t.Fatalf("class %d exemplars %v, herding of its features picks %v", u, c.Exemplars(u), order)
				}
			}
		}
		before = nil
		for u := range st.Outputs {
			before = append(before, slices.Clone(c.Exemplars(u)))
		}
	}
	// Scores: minus the squared distance to each class's exemplar mean.
	task := st.Tasks[1]
	b.Reset()
	for k := range 8 {
		b.Add(task, &task.Test, k)
	}
	b.HideTasks()
	out := make([]float32, b.N*st.Outputs)
	if err := c.Scores(b, out); err != nil {
		t.Fatal(err)
	}
	var means [][]float64
	for u := range st.Outputs {
		tk := st.Tasks[u/2]
		mu := make([]float64, 0)
		for _, k := range c.Exemplars(u) {
			f := icarlFeatures(c, tk.Train.Data.Row(int(tk.Train.Index[k])))
			if len(mu) == 0 {
				mu = make([]float64, len(f))
			}
			for j, v := range f {
				mu[j] += v
			}
		}
		var n float64
		for _, v := range mu {
			n += v * v
		}
		for j := range mu {
			mu[j] /= math.Sqrt(n)
		}
		means = append(means, mu)
	}
	for i := range b.N {
		f := icarlFeatures(c, b.X[i*st.InputDim:(i+1)*st.InputDim])
		for u, mu := range means {
			var d2 float64
			for j := range f {
				d2 += (f[j] - mu[j]) * (f[j] - mu[j])
			}
			if got := float64(out[i*st.Outputs+u]); math.Abs(got+d2) > 1e-5 {
				t.Errorf("example %d, class %d: score %v, want -%v", i, u, got, d2)
			}
		}
	}
}

// TestICaRLLoss checks the step's loss against the BCE computed here at the first step of task 2
// (the parameters are still the previous model's, so the old classes' targets are the model's
// own sigmoids), and its gradient against central differences of the training graph's loss
// with the targets kept.
func TestICaRLLoss(t *testing.T) {
	const T = 1.5
	st := strategytest.Synthetic(stream.ClassIL, 3, 2, 6, 20, 2)
	c := newStrategy(t, "icarl:T=1.5").(*strategies.ICaRL)
	if err := c.Setup(regEnv(st, 1)); err != nil {
		t.Fatal(err)
	}
	regTrain(t, c, st, 0, 20, 1)
	if err := c.EndTask(0); err != nil {
		t.Fatal(err)
	}
	// Task 2's batch with two task-1 exemplars in it.
	b := stream.NewBatch(16, st.InputDim)
	smp := stream.NewSampler(rand.New(rand.NewSource(5)), st.Tasks[1])
	smp.Fill(b, 14)
	b.Add(st.Tasks[0], &st.Tasks[0].Train, int(c.Exemplars(0)[0]))
	b.Add(st.Tasks[0], &st.Tasks[0].Train, int(c.Exemplars(1)[0]))
	b.HideTasks()
	M := c.Net.Outputs()
	z := make([]float32, b.N*M)
	if err := c.Net.Forward(b.X, b.N, z); err != nil {
		t.Fatal(err)
	}
	var want float64
	for i := range b.N {
		for u := range 4 { // classes 0, 1 old, 2, 3 new; 4, 5 unseen
			x := float64(z[i*M+u])
			q := 1 / (1 + math.Exp(-x/T))
			if u >= 2 {
				q = 0
				if int(b.Target[i]) == u {
					q = 1
				}
			}
			want += (math.Log1p(math.Exp(x)) - q*x) / float64(b.N)
		}
	}
	info, err := c.Step(1, b)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(info.Loss)-want) > 1e-5*want || info.Penalty != 0 {
		t.Fatalf("loss %v, penalty %v; want the BCE %v", info.Loss, info.Penalty, want)
	}
	// The graph's gradient at the updated parameters, targets unchanged, vs central differences.
	if _, _, err := c.Net.Step(); err != nil {
		t.Fatal(err)
	}
	const h = 1e-2
	for _, p := range []*graphs.Param{c.Out.Layers[0].W, c.Out.Layers[0].B, c.Trunk.Layers[0].W, c.Trunk.Layers[1].B} {
		g := slices.Clone(c.Net.Grad(p))
		for _, k := range []int{0, 3, len(g) - 1} {
			v := p.Data()[k]
			p.Data()[k] = v + h
			l1, b1, _ := c.Net.Step()
			p.Data()[k] = v - h
			l2, b2, _ := c.Net.Step()
			p.Data()[k] = v
			if fd := (float64(l1+b1) - float64(l2+b2)) / (2 * h); math.Abs(float64(g[k])-fd) > 2e-3 {
				t.Errorf("d loss / d %s[%d] = %v, central difference %v", p.Name, k, g[k], fd)
			}
		}
	}
	for u := 4; u < 6; u++ { // unseen classes get no gradient
		if g := c.Net.Grad(c.Out.Layers[0].B)[u]; g != 0 {
			t.Errorf("unseen class %d's bias has gradient %v", u, g)
		}
	}
}

// BenchmarkICaRLStep is an iCaRL step on task 2 (benchStep, beside BenchmarkNaiveStep): the
// previous model's forward pass, the BCE targets and the BCE in the graph.
func BenchmarkICaRLStep(b *testing.B) { benchStep(b, "icarl") }
