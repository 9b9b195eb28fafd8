package strategies_test

import (
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

// testEnv is a small environment: two hidden layers so that the Fisher's backward pass crosses
// a ReLU between trunk layers.
func regEnv(st *stream.Stream, seed int64) *strategies.Env {
	return &strategies.Env{Stream: st, Hidden: []int{7, 5}, LR: 3e-3, Batch: 16, EvalBatch: 64, Rng: rand.New(rand.NewSource(seed))}
}

// trainSteps runs n steps of s on task t with batches drawn by a sampler seeded with seed.
func regTrain(t *testing.T, s strategies.Strategy, st *stream.Stream, task, n int, seed int64) {
	t.Helper()
	smp := stream.NewSampler(rand.New(rand.NewSource(seed)), st.Tasks[task])
	b := stream.NewBatch(16, st.InputDim)
	for i := 0; i < n; i++ {
		smp.Fill(b, 16)
		if _, err := s.Step(task, b); err != nil {
			t.Fatal(err)
		}
	}
}

// regBruteFisher computes the diagonal Fisher the slow way: one Gorgonia graph with a single row,
// run once per example (and per label for the exact Fisher), squaring the gradient of
// -log p(y|x) that Gorgonia's own backward pass gives. Production's graph Fisher (the conv
// trunk's path) works alike; this copy is kept apart on purpose, as the tests' independent
// reference, so a change to production's cannot move both.
func regBruteFisher(t *testing.T, b *strategies.Base, cur, task int, exact bool) map[*graphs.Param][]float64 {
	t.Helper()
	st := b.Env.Stream
	M := st.ModelOutputs(b.Heads)
	m, err := graphs.NewModel(graphs.Config{Params: b.PS, Forward: b.Forward, InputDim: st.InputDim, Outputs: M, Batch: 1, EvalBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	mask := strategies.MaskOf(b, cur, task)
	tk := st.Tasks[task]
	out := map[*graphs.Param][]float64{}
	for _, p := range b.PS.All() {
		out[p] = make([]float64, p.Size())
	}
	one := stream.NewBatch(1, st.InputDim)
	logits := make([]float32, M)
	N := tk.Train.Len()
	for k := 0; k < N; k++ {
		one.Reset()
		one.Add(tk, &tk.Train, k)
		if err := m.Forward(one.X, 1, logits); err != nil {
			t.Fatal(err)
		}
		// p over the active units.
		p := make([]float64, M)
		mx := math.Inf(-1)
		for c := range logits {
			if mask[c] == 0 {
				mx = math.Max(mx, float64(logits[c]))
			}
		}
		var sum float64
		for c := range logits {
			if mask[c] == 0 {
				p[c] = math.Exp(float64(logits[c]) - mx)
				sum += p[c]
			}
		}
		type lw struct {
			y int
			w float64
		}
		var labels []lw
		if exact {
			for c := range p {
				if mask[c] == 0 {
					labels = append(labels, lw{c, p[c] / sum})
				}
			}
		} else {
			labels = []lw{{st.ModelUnit(b.Heads, task, int(one.Target[0])), 1}}
		}
		for _, l := range labels {
			x, w, mk := m.Inputs()
			copy(x, one.X)
			clear(w)
			w[l.y] = 1
			copy(mk, mask)
			if _, _, err := m.Step(); err != nil {
				t.Fatal(err)
			}
			for _, par := range b.PS.All() {
				g := m.Grad(par)
				if g == nil {
					continue
				}
				for i, v := range g {
					out[par][i] += l.w * float64(v) * float64(v) / float64(N)
				}
			}
		}
	}
	return out
}

// widen converts a float32 Fisher (or importance) to float64, as regBruteFisher gives it, so one
// comparison serves both.
func widen(f map[*graphs.Param][]float32) map[*graphs.Param][]float64 {
	out := make(map[*graphs.Param][]float64, len(f))
	for p, v := range f {
		w := make([]float64, len(v))
		for i, x := range v {
			w[i] = float64(x)
		}
		out[p] = w
	}
	return out
}

func regCompareFisher(t *testing.T, got map[*graphs.Param][]float32, want map[*graphs.Param][]float64) {
	t.Helper()
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			t.Fatalf("no Fisher for %s", p.Name)
		}
		var scale float64
		for _, v := range w {
			scale = math.Max(scale, math.Abs(v))
		}
		for i := range w {
			if d := math.Abs(float64(g[i]) - w[i]); d > 1e-4*scale+1e-7 {
				t.Fatalf("%s[%d]: fisher %g, brute force %g (max %g)", p.Name, i, g[i], w[i], scale)
			}
		}
	}
}

// TestFisherMatchesBruteForce checks DiagonalFisher (closed form per layer, batched) against a
// per-sample Gorgonia graph, in each scenario, with single and per-task heads, for a task other
// than the current one (class-IL's mask then covers the later task's classes too).
func TestFisherMatchesBruteForce(t *testing.T) {
	cases := []struct {
		sc       stream.Scenario
		heads    string
		cur, tsk int
	}{
		{stream.ClassIL, "single", 1, 0},
		{stream.ClassIL, "single", 2, 2},
		{stream.DomainIL, "single", 1, 1},
		{stream.TaskIL, "single", 0, 0},
		{stream.TaskIL, "multi", 2, 1},
	}
	for _, c := range cases {
		for _, kind := range []strategies.FisherKind{strategies.FisherExact, strategies.FisherEmpirical} {
			name := fmt.Sprintf("%s/%s/cur%d/task%d/%s", c.sc, c.heads, c.cur, c.tsk, kind)
			t.Run(name, func(t *testing.T) {
				st := strategytest.Synthetic(c.sc, 3, 2, 6, 12, 5)
				s, err := strategies.Default.New("naive:heads=" + c.heads)
				if err != nil {
					t.Fatal(err)
				}
				nv := s.(*strategies.Naive)
				if err := nv.Setup(regEnv(st, 1)); err != nil {
					t.Fatal(err)
				}
				regTrain(t, nv, st, c.tsk, 20, 2)
				got, err := strategies.DiagonalFisher(&nv.Base, c.cur, c.tsk, strategies.FisherConfig{Kind: kind}, nv.PS.All())
				if err != nil {
					t.Fatal(err)
				}
				want := regBruteFisher(t, &nv.Base, c.cur, c.tsk, kind == strategies.FisherExact)
				regCompareFisher(t, got, want)
			})
		}
	}
}

// TestSampledFisherIsUnbiased checks that the sampled-label Fisher averages to the exact one.
func TestSampledFisherIsUnbiased(t *testing.T) {
	st := strategytest.Synthetic(stream.ClassIL, 2, 2, 6, 20, 5)
	s, _ := strategies.Default.New("naive")
	nv := s.(*strategies.Naive)
	if err := nv.Setup(regEnv(st, 1)); err != nil {
		t.Fatal(err)
	}
	regTrain(t, nv, st, 1, 10, 2)
	exact, err := strategies.DiagonalFisher(&nv.Base, 1, 1, strategies.FisherConfig{Kind: strategies.FisherExact}, nv.PS.All())
	if err != nil {
		t.Fatal(err)
	}
	const reps = 400
	rng := rand.New(rand.NewSource(3))
	sums := map[*graphs.Param]float64{}
	for r := 0; r < reps; r++ {
		f, err := strategies.DiagonalFisher(&nv.Base, 1, 1, strategies.FisherConfig{Kind: strategies.FisherSampled, Rng: rng}, nv.PS.All())
		if err != nil {
			t.Fatal(err)
		}
		for p, v := range f {
			for _, x := range v {
				sums[p] += float64(x) / reps
			}
		}
	}
	for _, p := range nv.PS.All() {
		var es float64
		for _, v := range exact[p] {
			es += float64(v)
		}
		if rel := math.Abs(sums[p]-es) / es; rel > 0.05 {
			t.Errorf("%s: sampled Fisher sums to %g on average, exact %g (%.1f%% off, want < 5%%)", p.Name, sums[p], es, 100*rel)
		}
	}
	// A subset of examples is drawn reproducibly from the random source.
	f1, _ := strategies.DiagonalFisher(&nv.Base, 1, 1, strategies.FisherConfig{Kind: strategies.FisherSampled, Samples: 7, Rng: rand.New(rand.NewSource(9))}, nv.PS.All())
	f2, _ := strategies.DiagonalFisher(&nv.Base, 1, 1, strategies.FisherConfig{Kind: strategies.FisherSampled, Samples: 7, Rng: rand.New(rand.NewSource(9))}, nv.PS.All())
	for p := range f1 {
		for i := range f1[p] {
			if f1[p][i] != f2[p][i] {
				t.Fatalf("same seed, different Fisher for %s", p.Name)
			}
		}
	}
}

func TestConsolidateAnchor(t *testing.T) {
	// w (x-a)^2 + f (x-b)^2 = (w+f) (x - (wa+fb)/(w+f))^2 + wf/(w+f) (a-b)^2
	ps := graphs.NewParamSet()
	p := ps.Add("p", "trunk", 1, 3)
	q := graphs.NewQuadratic(1, ps.All())
	tm := q.Term(p)
	copy(tm.Weights(), []float32{2, 0, 1})
	copy(tm.Anchors(), []float32{1, 5, -1})
	rest := strategies.ConsolidateAnchor(tm, []float32{3, 4, 0}, []float32{2, 7, 3})
	wantW, wantA := []float32{5, 4, 1}, []float32{(2*1 + 3*2) / 5.0, 7, -1}
	for i := range wantW {
		if tm.Weights()[i] != wantW[i] || math.Abs(float64(tm.Anchors()[i]-wantA[i])) > 1e-6 {
			t.Fatalf("merged %v %v, want %v %v", tm.Weights(), tm.Anchors(), wantW, wantA)
		}
	}
	if want := 2.0 * 3 / 5 * 1; math.Abs(rest-want) > 1e-9 {
		t.Fatalf("remainder %v, want %v", rest, want)
	}
}

type ewcSnapshot struct {
	fisher, anchor map[*graphs.Param][]float32
}

func ewcSnap(e *strategies.EWC) ewcSnapshot {
	s := ewcSnapshot{map[*graphs.Param][]float32{}, map[*graphs.Param][]float32{}}
	for p, f := range e.LastFisher {
		s.fisher[p] = append([]float32(nil), f...)
		s.anchor[p] = append([]float32(nil), p.Data()...)
	}
	return s
}

// TestEWCPenaltyPerTask checks that classic EWC's merged penalty equals, in value (as the
// training graph reports it) and gradient, the sum of one penalty per past task computed from
// each task's Fisher and anchor.
func TestEWCPenaltyPerTask(t *testing.T) {
	for _, heads := range []string{"single", "multi"} {
		t.Run(heads, func(t *testing.T) {
			st := strategytest.Synthetic(stream.TaskIL, 3, 2, 6, 20, 5)
			s, err := strategies.Default.New("ewc:lambda=50,samples=0,heads=" + heads)
			if err != nil {
				t.Fatal(err)
			}
			e := s.(*strategies.EWC)
			if err := e.Setup(regEnv(st, 1)); err != nil {
				t.Fatal(err)
			}
			if len(e.Q.Terms) != len(strategies.SharedParams(&e.Base)) {
				t.Fatalf("penalty over %d params, want the %d shared ones", len(e.Q.Terms), len(strategies.SharedParams(&e.Base)))
			}
			for _, p := range e.Q.Params() {
				if heads == "multi" && p.Group == "head" {
					t.Fatalf("per-task head %s is penalised", p.Name)
				}
			}
			var snaps []ewcSnapshot
			for task := 0; task < 2; task++ {
				regTrain(t, e, st, task, 30, int64(task))
				if err := e.EndTask(task); err != nil {
					t.Fatal(err)
				}
				snaps = append(snaps, ewcSnap(e))
			}
			regTrain(t, e, st, 2, 10, 7) // move away from the anchors
			var want float64
			for _, sn := range snaps {
				for p, f := range sn.fisher {
					for i, v := range p.Data() {
						d := float64(v) - float64(sn.anchor[p][i])
						want += 25 * float64(f[i]) * d * d
					}
				}
			}
			if want == 0 {
				t.Fatal("zero penalty: the test does not test anything")
			}
			if got := e.Q.Value(); math.Abs(got-want) > 1e-4*want {
				t.Fatalf("Value() %v, per-task sum %v", got, want)
			}
			_, pen, err := e.Net.Step()
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(float64(pen)-want) > 1e-4*want {
				t.Fatalf("graph penalty %v, per-task sum %v", pen, want)
			}
			for _, p := range e.Q.Params() {
				g := e.Q.Grad(p, nil)
				for i, v := range p.Data() {
					var w float64
					for _, sn := range snaps {
						w += 50 * float64(sn.fisher[p][i]) * (float64(v) - float64(sn.anchor[p][i]))
					}
					if math.Abs(float64(g[i])-w) > 1e-3*(math.Abs(w)+1e-3) {
						t.Fatalf("%s[%d]: gradient %v, per-task sum %v", p.Name, i, g[i], w)
					}
				}
			}
		})
	}
}

// TestOnlineEWCAccumulates checks F <- gamma F + F_new and the single, latest anchor.
func TestOnlineEWCAccumulates(t *testing.T) {
	st := strategytest.Synthetic(stream.DomainIL, 3, 2, 6, 20, 5)
	s, err := strategies.Default.New("ewc:online=true,gamma=0.5,lambda=10,samples=0")
	if err != nil {
		t.Fatal(err)
	}
	e := s.(*strategies.EWC)
	if err := e.Setup(regEnv(st, 1)); err != nil {
		t.Fatal(err)
	}
	acc := map[*graphs.Param][]float64{}
	for task := 0; task < 3; task++ {
		regTrain(t, e, st, task, 20, int64(task))
		if err := e.EndTask(task); err != nil {
			t.Fatal(err)
		}
		for i := range e.Q.Terms {
			tm := &e.Q.Terms[i]
			p := tm.Param
			if acc[p] == nil {
				acc[p] = make([]float64, p.Size())
			}
			for k := range acc[p] {
				acc[p][k] = 0.5*acc[p][k] + float64(e.LastFisher[p][k])
				if d := math.Abs(float64(tm.Weights()[k]) - acc[p][k]); d > 1e-5*(acc[p][k]+1e-6) {
					t.Fatalf("after task %d: %s[%d] weight %v, want %v", task+1, p.Name, k, tm.Weights()[k], acc[p][k])
				}
				if tm.Anchors()[k] != p.Data()[k] {
					t.Fatalf("after task %d: %s anchor is not the latest parameters", task+1, p.Name)
				}
			}
		}
		if e.Q.Offset != 0 || e.Q.Value() != 0 {
			t.Fatalf("online EWC right after consolidation: value %v, offset %v", e.Q.Value(), e.Q.Offset)
		}
	}
}

func TestL2Penalty(t *testing.T) {
	st := strategytest.Synthetic(stream.ClassIL, 2, 2, 6, 20, 5)
	s, err := strategies.Default.New("l2:lambda=4")
	if err != nil {
		t.Fatal(err)
	}
	l := s.(*strategies.L2)
	if err := l.Setup(regEnv(st, 1)); err != nil {
		t.Fatal(err)
	}
	regTrain(t, l, st, 0, 10, 1)
	if _, pen, _ := l.Net.Step(); pen != 0 {
		t.Fatalf("penalty %v during the first task", pen)
	}
	if err := l.EndTask(0); err != nil {
		t.Fatal(err)
	}
	anchor := map[*graphs.Param][]float32{}
	for _, p := range l.Q.Params() {
		anchor[p] = append([]float32(nil), p.Data()...)
	}
	regTrain(t, l, st, 1, 10, 2)
	var want float64
	for p, a := range anchor {
		for i, v := range p.Data() {
			d := float64(v) - float64(a[i])
			want += 2 * d * d
		}
	}
	_, pen, err := l.Net.Step()
	if err != nil {
		t.Fatal(err)
	}
	if want == 0 || math.Abs(float64(pen)-want) > 1e-4*want {
		t.Fatalf("penalty %v, want (4/2) ||theta - theta*||^2 = %v", pen, want)
	}
}

func TestAutoLambda(t *testing.T) {
	st := strategytest.Synthetic(stream.ClassIL, 2, 2, 6, 20, 5)
	for _, c := range []struct {
		spec string
		want float64
	}{{"ewc", strategies.EWCLambdas.Fallback}, {"ewc:lambda=3", 3}, {"l2", strategies.L2Lambdas.Fallback}} {
		s, err := strategies.Default.New(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Setup(regEnv(st, 1)); err != nil {
			t.Fatal(err)
		}
		var got float64
		switch v := s.(type) {
		case *strategies.EWC:
			got = v.Strength.Value
		case *strategies.L2:
			got = v.Strength.Value
		}
		if got != c.want {
			t.Errorf("%s: lambda %v, want %v", c.spec, got, c.want)
		}
	}
	st.Defaults = map[string]float64{"ewc.lambda/class": 7, "ewc.lambda/class/multi": 8}
	if got := strategies.EWCLambdas.Pick(st, stream.SingleHead); got != 7 {
		t.Errorf("the stream's default: lookup gave %v, want 7", got)
	}
	if got := strategies.EWCLambdas.Pick(st, stream.MultiHead); got != 8 {
		t.Errorf("the stream's default for heads=multi: lookup gave %v, want 8", got)
	}
	// Online EWC takes its own lambda and gamma; classic EWC ignores gamma.
	st.Defaults = map[string]float64{"ewc.lambda/class": 7, "ewc_online.lambda/class": 70, "ewc_online.gamma/class": 0.8}
	for _, c := range []struct {
		spec     string
		resolved map[string]string
	}{
		{"ewc", map[string]string{"heads": "single", "lambda": "7"}},
		{"ewc:online=true", map[string]string{"heads": "single", "lambda": "70", "gamma": "0.8"}},
		{"ewc:online=true,gamma=0.5", map[string]string{"heads": "single", "lambda": "70", "gamma": "0.5"}},
		{"ewc:online=true,lambda=3", map[string]string{"heads": "single", "lambda": "3", "gamma": "0.8"}},
	} {
		s, err := strategies.Default.New(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Setup(regEnv(st, 1)); err != nil {
			t.Fatal(err)
		}
		if got := s.(strategies.Resolver).Resolved(); !reflect.DeepEqual(got, c.resolved) {
			t.Errorf("%s: resolved %v, want %v", c.spec, got, c.resolved)
		}
		if e := s.(*strategies.EWC); e.Online && e.Q.Scale != 0.5*e.Strength.Value {
			t.Errorf("%s: penalty scale %v for lambda %v", c.spec, e.Q.Scale, e.Strength.Value)
		}
	}
	for _, bad := range []string{"ewc:lambda=-1", "ewc:lambda=x", "ewc:gamma=2", "ewc:fisher=true", "ewc:samples=-3", "l2:lambda=nan"} {
		if _, err := strategies.Default.New(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestAutoZooOptions: the auto options of lwf, der (DER and DER++ apart), gem and xdg take the
// stream's default for the scenario, their fallback on a stream without one, and a number given
// wins; the value used is reported by Resolved.
func TestAutoZooOptions(t *testing.T) {
	cl := strategytest.Synthetic(stream.ClassIL, 2, 2, 6, 20, 5)
	ti := strategytest.Synthetic(stream.TaskIL, 2, 2, 6, 20, 5)
	defaults := map[string]float64{"lwf.alpha/class": 3, "der.alpha/class": 0.3, "derpp.alpha/class": 0.1, "gem.margin/class": 0, "xdg.gate/task": 0.5}
	for _, c := range []struct {
		spec     string
		st       *stream.Stream
		key, val string // with the stream's defaults
		fallback string // without
	}{
		{"lwf", cl, "alpha", "3", "1"},
		{"lwf:alpha=2", cl, "alpha", "2", "2"},
		{"der", cl, "alpha", "0.3", "1"},
		{"der:beta=0.5", cl, "alpha", "0.1", "1"},
		{"der:beta=0.5,alpha=4", cl, "alpha", "4", "4"},
		{"gem", cl, "margin", "0", "0.5"},
		{"xdg", ti, "gate", "0.5", "0.8"},
		{"xdg:gate=0.25", ti, "gate", "0.25", "0.25"},
	} {
		for _, withDefaults := range []bool{true, false} {
			st := *c.st
			st.Defaults = nil
			want := c.fallback
			if withDefaults {
				st.Defaults, want = defaults, c.val
			}
			s, err := strategies.Default.New(c.spec)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Setup(regEnv(&st, 1)); err != nil {
				t.Fatal(err)
			}
			if got := s.(strategies.Resolver).Resolved()[c.key]; got != want {
				t.Errorf("%s (stream defaults %v): %s=%s, want %s", c.spec, withDefaults, c.key, got, want)
			}
		}
	}
	for _, bad := range []string{"lwf:alpha=-1", "der:alpha=x", "gem:margin=-0.5", "xdg:gate=1", "xdg:gate=-0.1"} {
		if _, err := strategies.Default.New(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestGraphFisher checks the Fisher computed through the model's graph, the path of conv trunks:
// on a dense trunk it equals the closed-form batched Fisher (exact, empirical, predicted and
// sampled labels), and on a conv trunk (4×4 images, a conv layer of 3 filters) it equals the brute-force
// per-example graph in task- and class-IL.
func TestGraphFisher(t *testing.T) {
	// The sampled kind draws the same labels on both paths from equal random sources (one draw
	// per example, in example order).
	for _, kind := range []strategies.FisherKind{strategies.FisherExact, strategies.FisherEmpirical, strategies.FisherPredicted, strategies.FisherSampled} {
		st := strategytest.Synthetic(stream.ClassIL, 3, 2, 6, 12, 5)
		s, _ := strategies.Default.New("naive")
		nv := s.(*strategies.Naive)
		if err := nv.Setup(regEnv(st, 1)); err != nil {
			t.Fatal(err)
		}
		regTrain(t, nv, st, 1, 20, 2)
		dense, err := strategies.DiagonalFisher(&nv.Base, 2, 1, strategies.FisherConfig{Kind: kind, Rng: rand.New(rand.NewSource(4))}, nv.PS.All())
		if err != nil {
			t.Fatal(err)
		}
		graph, err := strategies.GraphFisher(&nv.Base, 2, 1, strategies.FisherConfig{Kind: kind, Rng: rand.New(rand.NewSource(4))}, nv.PS.All())
		if err != nil {
			t.Fatal(err)
		}
		regCompareFisher(t, graph, widen(dense))
	}
	for _, sc := range []stream.Scenario{stream.TaskIL, stream.ClassIL} {
		st := strategytest.Synthetic(sc, 3, 2, 16, 12, 5)
		s, _ := strategies.Default.New("naive")
		nv := s.(*strategies.Naive)
		env := regEnv(st, 1)
		env.Filters = []int{3}
		if err := nv.Setup(env); err != nil {
			t.Fatal(err)
		}
		if len(nv.Trunk.Convs) != 1 {
			t.Fatal("no conv layer")
		}
		regTrain(t, nv, st, 1, 20, 2)
		got, err := strategies.DiagonalFisher(&nv.Base, 1, 1, strategies.FisherConfig{Kind: strategies.FisherExact}, nv.PS.All())
		if err != nil {
			t.Fatal(err)
		}
		regCompareFisher(t, got, regBruteFisher(t, &nv.Base, 1, 1, true))
	}
}

// TestRunningFisher recomputes fisher=running from the gradients the model reports: each step's
// squared data-loss gradient (the total gradient less the penalty's, non-zero in the second
// task) summed over a window, folded before steps every, 2·every, ... of the task into F <- (1 -
// decay) F + decay·window/every; a task's end takes F (min-max rescaled with normalize=minmax),
// and with online=true,gamma=0 it replaces the penalty's weights.
func TestRunningFisher(t *testing.T) {
	const every, decay, steps = 3, 0.6, 11
	st := strategytest.Synthetic(stream.DomainIL, 2, 2, 6, 30, 3)
	for _, spec := range []string{"ewc:every=5", "ewc:decay=0.5", "ewc:fisher=running,every=0", "ewc:fisher=running,decay=1.5", "ewc:normalize=max"} {
		if _, err := strategies.Default.New(spec); err == nil {
			t.Errorf("%s accepted", spec)
		}
	}
	long, err := strategies.Default.New("ewc:fisher=running,every=31")
	if err != nil {
		t.Fatal(err)
	}
	env := regEnv(st, 1)
	env.Iterations = 30
	if err := long.Setup(env); err == nil || !strings.Contains(err.Error(), "every=31") {
		t.Errorf("a window longer than a task: %v", err)
	}
	for _, norm := range []string{"none", "minmax"} {
		s, err := strategies.Default.New(fmt.Sprintf("ewc:fisher=running,every=%d,decay=%g,normalize=%s,online=true,gamma=0,lambda=5", every, decay, norm))
		if err != nil {
			t.Fatal(err)
		}
		e := s.(*strategies.EWC)
		if err := e.Setup(regEnv(st, 2)); err != nil {
			t.Fatal(err)
		}
		params := e.Q.Params()
		run := make(map[*graphs.Param][]float64)
		for _, p := range params {
			run[p] = make([]float64, p.Size())
		}
		for task := 0; task < 2; task++ {
			win := make(map[*graphs.Param][]float64)
			for _, p := range params {
				win[p] = make([]float64, p.Size())
			}
			smp := stream.NewSampler(rand.New(rand.NewSource(int64(task))), st.Tasks[task])
			b := stream.NewBatch(16, st.InputDim)
			var penSeen bool
			for step := 0; step < steps; step++ {
				if (step+1)%every == 0 {
					for _, p := range params {
						for j := range run[p] {
							run[p][j] = (1-decay)*run[p][j] + decay*win[p][j]/every
							win[p][j] = 0
						}
					}
				}
				smp.Fill(b, 16)
				b.HideTasks()
				before := make(map[*graphs.Param][]float32)
				for _, p := range params {
					before[p] = append([]float32(nil), p.Data()...)
				}
				if _, err := e.Step(task, b); err != nil {
					t.Fatal(err)
				}
				for _, p := range params {
					tm, g := e.Q.Term(p), e.Net.Grad(p)
					for j := range g {
						pen := 2 * e.Q.Scale * float64(tm.Weights()[j]) * (float64(before[p][j]) - float64(tm.Anchors()[j]))
						penSeen = penSeen || pen != 0
						d := float64(g[j]) - pen
						win[p][j] += d * d
					}
				}
			}
			if penSeen != (task > 0) {
				t.Fatalf("task %d: a penalty gradient seen %v", task+1, penSeen)
			}
			if err := e.EndTask(task); err != nil {
				t.Fatal(err)
			}
			want := make(map[*graphs.Param][]float64)
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, p := range params {
				want[p] = append([]float64(nil), run[p]...)
				for _, v := range run[p] {
					lo, hi = math.Min(lo, v), math.Max(hi, v)
				}
			}
			var sum float64
			for _, p := range params {
				tm := e.Q.Term(p)
				for j, v := range want[p] {
					if norm == "minmax" {
						v = (v - lo) / (hi - lo)
					}
					sum += v
					if got := float64(e.LastFisher[p][j]); math.Abs(got-v) > 1e-4*(math.Abs(v)+1e-6) && math.Abs(got-v) > 1e-9 {
						t.Fatalf("%s task %d %s[%d]: Fisher %v, recomputed %v", norm, task+1, p.Name, j, got, v)
					}
					if tm.Weights()[j] != e.LastFisher[p][j] {
						t.Fatalf("%s task %d: gamma=0 should replace the penalty's weights by the task's Fisher", norm, task+1)
					}
				}
			}
			if !(sum > 0) {
				t.Fatalf("%s task %d: Fisher sums to %v", norm, task+1, sum)
			}
		}
	}
}
