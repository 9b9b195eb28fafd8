package strategies_test

import (
	"context"
	"math"
	"testing"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

func TestHATConformance(t *testing.T) {
	for _, spec := range []string{"hat", "hat:smax=50,c=0.1"} {
		t.Run(spec, func(t *testing.T) { strategytest.Run(t, strategies.Default, spec) })
	}
}

// newHAT sets up hat on a small task-IL stream (hidden 3 then 2 units, batches of 16) and runs
// one step of task 0 so that the gradients are filled.
func newHAT(t *testing.T, spec string) (*strategies.HAT, *stream.Stream) {
	t.Helper()
	st := strategytest.Synthetic(stream.TaskIL, 3, 2, 5, 20, 1)
	h := newStrategy(t, spec).(*strategies.HAT)
	env := regEnv(st, 1)
	env.Hidden = []int{3, 2}
	if err := h.Setup(env); err != nil {
		t.Fatal(err)
	}
	return h, st
}

// TestHATAnnealing: s runs from 1/smax at each epoch's first batch up linearly in the examples
// seen, s = (smax - 1/smax) b*batch/N + 1/smax, and starts again with the next epoch (40
// training examples a task, batches of 16: three batches an epoch).
func TestHATAnnealing(t *testing.T) {
	h, st := newHAT(t, "hat:smax=400")
	N := float64(st.Tasks[0].Train.Len())
	if N != 40 {
		t.Fatalf("task 0 has %v training examples, the test assumes 40", N)
	}
	for _, c := range []struct {
		step int
		want float64
	}{{0, 1.0 / 400}, {1, (400-1.0/400)*16/40 + 1.0/400}, {2, (400-1.0/400)*32/40 + 1.0/400}, {3, 1.0 / 400}, {4, (400-1.0/400)*16/40 + 1.0/400}} {
		if got := strategies.HATScale(h, c.step); math.Abs(float64(got)-c.want) > 1e-4*c.want {
			t.Errorf("step %d: s = %v, want %v", c.step, got, c.want)
		}
	}
}

// TestHATRestrictAndCompensate checks the gradient rules against hand-computed values: a weight
// from unit i below to unit j above keeps 1 - min(a_<t,i, a_<t,j) of its gradient (the first
// layer 1 - a_<t,j, a bias 1 - a_<t,j), the heads all of it; an embedding's gradient is
// multiplied by smax/s (cosh(clamp(s e, +-50)) + 1)/(cosh(e) + 1).
func TestHATRestrictAndCompensate(t *testing.T) {
	h, st := newHAT(t, "hat:smax=400")
	regTrain(t, h, st, 0, 1, 1)
	net := h.Model()
	if _, _, err := net.Step(); err != nil {
		t.Fatal(err)
	}
	for _, p := range net.Trainable() {
		g := net.Grad(p)
		for i := range g {
			g[i] = 1
		}
	}
	prev := [][]float32{{1, 0, 0.25}, {0.5, 1}}
	strategies.HATSetPrev(h, prev)
	strategies.HATRestrict(h)
	l0, l1 := h.Trunk.Layers[0], h.Trunk.Layers[1]
	w0 := net.Grad(l0.W) // [5, 3]
	for i := range 5 {
		for j, want := range []float32{0, 1, 0.75} {
			if w0[i*3+j] != want {
				t.Errorf("layer 0 W[%d][%d] gradient %v, want %v", i, j, w0[i*3+j], want)
			}
		}
	}
	if b0 := net.Grad(l0.B); b0[0] != 0 || b0[1] != 1 || b0[2] != 0.75 {
		t.Errorf("layer 0 bias gradients %v, want [0 1 0.75]", b0)
	}
	w1 := net.Grad(l1.W) // [3, 2]: rows below (prev[0]), columns above (prev[1])
	want1 := []float32{1 - 0.5, 1 - 1, 1 - 0, 1 - 0, 1 - 0.25, 1 - 0.25}
	for k, want := range want1 {
		if w1[k] != want {
			t.Errorf("layer 1 W[%d][%d] gradient %v, want %v", k/2, k%2, w1[k], want)
		}
	}
	for _, p := range h.Out.Layers {
		for _, v := range net.Grad(p.W) {
			if v != 1 {
				t.Fatalf("a head's gradient was restricted: %v", v)
			}
		}
	}
	e := h.Emb[0].Data()
	copy(e, []float32{0.5, -0.01, 3})
	s := float32(2)
	strategies.HATCompensate(h, s)
	g := net.Grad(h.Emb[0])
	for j, ev := range []float64{0.5, -0.01, 3} {
		se := math.Max(-50, math.Min(50, 2*ev))
		want := 400 / 2.0 * (math.Cosh(se) + 1) / (math.Cosh(ev) + 1)
		if math.Abs(float64(g[j])-want) > 1e-4*want {
			t.Errorf("embedding %d: compensated gradient %v, want %v", j, g[j], want)
		}
	}
}

// TestHATRegulariser: the regulariser is sum a (1 - a_<t) / sum (1 - a_<t) over the hidden
// units (a = sigmoid(s e)), the mean attention before any task ended, and the gradient it adds
// to the embeddings matches a central difference.
func TestHATRegulariser(t *testing.T) {
	h, st := newHAT(t, "hat:c=1")
	regTrain(t, h, st, 0, 1, 1)
	net := h.Model()
	reg := func(s float32) float64 {
		if _, _, err := net.Step(); err != nil {
			t.Fatal(err)
		}
		return strategies.HATRegularise(h, s)
	}
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	for _, prev := range [][][]float32{nil, {{1, 0, 0.25}, {0.5, 0}}} {
		strategies.HATSetPrev(h, prev)
		s := float32(1.5)
		var num, den float64
		for l, p := range h.Emb {
			for j, e := range p.Data() {
				free := 1.0
				if prev != nil {
					free = 1 - float64(prev[l][j])
				}
				num += sig(1.5*float64(e)) * free
				den += free
			}
		}
		if got := reg(s); math.Abs(got-num/den) > 1e-6 {
			t.Errorf("prev %v: regulariser %v, want %v", prev, got, num/den)
		}
		// The gradient the regulariser adds (c = 1): the step's gradient before and after.
		if _, _, err := net.Step(); err != nil {
			t.Fatal(err)
		}
		before := append([]float32(nil), net.Grad(h.Emb[1])...)
		strategies.HATRegularise(h, s)
		added := append([]float32(nil), net.Grad(h.Emb[1])...)
		e := h.Emb[1].Data()
		for j := range added {
			added[j] -= before[j]
			old := e[j]
			const d = 1e-3
			e[j] = old + d
			up := strategies.HATRegularise(h, s)
			e[j] = old - d
			down := strategies.HATRegularise(h, s)
			e[j] = old
			fd := (up - down) / (2 * d)
			if math.Abs(float64(added[j])-fd) > 1e-3*math.Max(1e-2, math.Abs(fd)) {
				t.Errorf("prev %v: d reg / d e1[%d] = %v, central difference %v", prev, j, added[j], fd)
			}
		}
	}
}

// TestHATCapacityInResult: a run of hat records, per task, the share of hidden units its gate
// opens and the share all tasks so far open (never below the task's own, never falling).
func TestHATCapacityInResult(t *testing.T) {
	st := strategytest.Synthetic(stream.TaskIL, 3, 2, 6, 20, 1)
	res, err := (&loop.Runner{}).Run(context.Background(), st, newStrategy(t, "hat"), loop.Settings{Spec: quick.Cell("hat", 1)})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Capacity
	if c == nil || len(c.Task) != 3 || len(c.Cumulative) != 3 || c.Of != "hidden units" {
		t.Fatalf("capacity %+v, want 3 entries each, of hidden units", c)
	}
	for k := range 3 {
		if c.Task[k] < 0 || c.Task[k] > 1 || c.Cumulative[k] < c.Task[k] || (k > 0 && c.Cumulative[k] < c.Cumulative[k-1]) {
			t.Errorf("task %d: capacity %v of the units, %v together: not shares that accumulate", k, c.Task[k], c.Cumulative[k])
		}
	}
}

// BenchmarkHATStep is a hat step (task-IL): the gated forward and backward pass, the attention
// regulariser, gradient restriction and compensation, clipping, Adam and the clamp.
func BenchmarkHATStep(b *testing.B) { benchStepIn(b, "hat", stream.TaskIL) }

// BenchmarkNaiveTaskStep is naive fine-tuning's step in task-IL (one head per task), hat's baseline.
func BenchmarkNaiveTaskStep(b *testing.B) { benchStepIn(b, "naive", stream.TaskIL) }

// TestHATRestrictConv: on a conv trunk (4×4 images, a 5×5 conv layer of 2 channels, a dense layer of
// 3 units) the conv weight's gradient column j is scaled by 1 - (channel j's cumulative gate),
// and the dense weight's row i, which reads pooled pixel i/2's channel i mod 2, by
// 1 - min(that channel's gate, the unit's).
func TestHATRestrictConv(t *testing.T) {
	st := strategytest.Synthetic(stream.TaskIL, 3, 2, 16, 20, 1)
	h := newStrategy(t, "hat").(*strategies.HAT)
	env := regEnv(st, 1)
	env.Filters, env.Hidden = []int{2}, []int{3}
	if err := h.Setup(env); err != nil {
		t.Fatal(err)
	}
	if len(h.Emb) != 2 || h.Emb[0].Size() != 2 || h.Emb[1].Size() != 3 {
		t.Fatalf("embeddings %d, want one of 2 channels and one of 3 units", len(h.Emb))
	}
	regTrain(t, h, st, 0, 1, 1)
	net := h.Model()
	if _, _, err := net.Step(); err != nil {
		t.Fatal(err)
	}
	for _, p := range net.Trainable() {
		g := net.Grad(p)
		for i := range g {
			g[i] = 1
		}
	}
	strategies.HATSetPrev(h, [][]float32{{1, 0.25}, {0, 0.5, 1}})
	strategies.HATRestrict(h)
	c, d := h.Trunk.Convs[0], h.Trunk.Layers[0]
	wc := net.Grad(c.W) // [5·5·1, 2]
	for k, v := range wc {
		if want := []float32{0, 0.75}[k%2]; v != want {
			t.Fatalf("conv W gradient %d is %v, want %v", k, v, want)
		}
	}
	wd := net.Grad(d.W) // [2·2·2, 3]
	for i := range 8 {
		ch := []float32{1, 0.25}[i%2]
		for j, unit := range []float32{0, 0.5, 1} {
			if want := 1 - min(ch, unit); wd[i*3+j] != want {
				t.Fatalf("dense W[%d][%d] gradient %v, want %v", i, j, wd[i*3+j], want)
			}
		}
	}
}
