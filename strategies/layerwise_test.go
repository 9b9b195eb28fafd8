package strategies_test

import (
	"context"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

func TestLayerwiseConformance(t *testing.T) {
	for _, spec := range []string{"layerwise:freeze=1", "layerwise:decay=0.5", "layerwise:heads=multi,freeze=1,decay=0.5"} {
		t.Run(spec, func(t *testing.T) { strategytest.Run(t, strategies.Default, spec) })
	}
}

// driver trains a strategy by hand over a stream, drawing batches from its own seeded sampler, so
// two strategies driven with the same seeds see the same batches.
type driver struct {
	t  *testing.T
	st *stream.Stream
	s  strategies.Strategy
	b  *stream.Batch
	rs *rand.Rand
}

func newDriver(t *testing.T, spec string, st *stream.Stream) *driver {
	t.Helper()
	s := newStrategy(t, spec)
	env := &strategies.Env{Stream: st, Hidden: []int{8, 8}, LR: 3e-3, Batch: 16, EvalBatch: 64, Rng: rand.New(rand.NewSource(1))}
	if err := s.Setup(env); err != nil {
		t.Fatal(err)
	}
	return &driver{t: t, st: st, s: s, b: stream.NewBatch(16, st.InputDim), rs: rand.New(rand.NewSource(2))}
}

// task starts task k and trains steps steps on it.
func (d *driver) task(k, steps int) {
	d.t.Helper()
	if err := d.s.(strategies.TaskStarter).StartTask(k); err != nil {
		d.t.Fatal(err)
	}
	sm := stream.NewSampler(d.rs, d.st.Tasks[k])
	for i := 0; i < steps; i++ {
		sm.Fill(d.b, 16)
		if _, err := d.s.Step(k, d.b); err != nil {
			d.t.Fatal(err)
		}
	}
}

func snapshot(ps []*graphs.Param) [][]float32 {
	var out [][]float32
	for _, p := range ps {
		out = append(out, append([]float32(nil), p.Data()...))
	}
	return out
}

// TestLayerwiseRates checks that each layer gets lr*decay^(L-l) from the second task on, and
// that the optimizer applies it: one step from identical states moves every parameter of layer l
// by decay^(L-l) times what the same step moves it without decay.
func TestLayerwiseRates(t *testing.T) {
	st := strategytest.Synthetic(stream.TaskIL, 3, 2, 16, 30, 5)
	plain := newDriver(t, "layerwise:freeze=0,heads=single", st)
	dec := newDriver(t, "layerwise:freeze=0,decay=0.5,heads=single", st)
	plain.task(0, 20)
	dec.task(0, 20)
	pl, dl := plain.s.(*strategies.Layerwise).Layers(), dec.s.(*strategies.Layerwise).Layers()
	if len(dl) != 3 {
		t.Fatalf("%d layers, want 2 hidden + the output layer", len(dl))
	}
	for l := range dl {
		for i, p := range dl[l] {
			if p.LRScale != 0 {
				t.Fatalf("%s has LRScale %v during the first task", p.Name, p.LRScale)
			}
			for k, v := range p.Data() {
				if v != pl[l][i].Data()[k] {
					t.Fatalf("%s differs between decay=0.5 and decay=1 during the first task", p.Name)
				}
			}
		}
	}
	var before [][][]float32
	for _, ps := range dl {
		before = append(before, snapshot(ps))
	}
	plain.task(1, 1)
	dec.task(1, 1)
	want := []float64{0.25, 0.5, 1} // 0.5^(3-l) for l = 1, 2, 3
	for l, ps := range dl {
		for i, p := range ps {
			if float64(p.LRScale) != want[l] {
				t.Errorf("%s (layer %d of 3): LRScale %v, want %v", p.Name, l+1, p.LRScale, want[l])
			}
			var dd, dp float64
			for k, v := range p.Data() {
				dd += math.Abs(float64(v - before[l][i][k]))
				dp += math.Abs(float64(pl[l][i].Data()[k] - before[l][i][k]))
			}
			if dp == 0 {
				t.Fatalf("%s did not move without decay", p.Name)
			}
			if r := dd / dp; math.Abs(r-want[l]) > 0.01*want[l] {
				t.Errorf("%s (layer %d): moved %.4f times the undecayed step, want %v", p.Name, l+1, r, want[l])
			}
		}
	}
}

// TestLayerwiseFreeze checks that freeze=1 keeps the first layer bit-identical from the end of
// the first task on, out of the model's trainable parameters, while later layers keep learning.
func TestLayerwiseFreeze(t *testing.T) {
	st := strategytest.Synthetic(stream.TaskIL, 3, 2, 16, 30, 6)
	for _, spec := range []string{"layerwise:freeze=1", "layerwise:freeze=2,decay=0.5,heads=multi"} {
		t.Run(spec, func(t *testing.T) {
			d := newDriver(t, spec, st)
			lw := d.s.(*strategies.Layerwise)
			frozen := lw.Freeze
			d.task(0, 20)
			layers := lw.Layers()
			var after1 [][][]float32
			for _, ps := range layers {
				after1 = append(after1, snapshot(ps))
			}
			d.task(1, 20)
			d.task(2, 20)
			trainable := map[*graphs.Param]bool{}
			for _, p := range lw.Model().Trainable() {
				trainable[p] = true
			}
			for l, ps := range layers {
				moved := false
				for i, p := range ps {
					if p.Frozen != (l < frozen) {
						t.Errorf("%s: Frozen=%v", p.Name, p.Frozen)
					}
					if trainable[p] == (l < frozen) {
						t.Errorf("%s: trainable in the model=%v", p.Name, trainable[p])
					}
					for k, v := range p.Data() {
						moved = moved || v != after1[l][i][k]
					}
				}
				if moved == (l < frozen) {
					t.Errorf("layer %d of %d (freeze=%d) moved=%v after the first task", l+1, len(layers), frozen, moved)
				}
			}
		})
	}
}

func TestLayerwiseOptions(t *testing.T) {
	for _, spec := range []string{"layerwise:freeze=-1", "layerwise:decay=0", "layerwise:decay=2.6", "layerwise:freeze=x", "layerwise:heads=both"} {
		if _, err := strategies.Default.New(spec); err == nil {
			t.Errorf("%s accepted", spec)
		}
	}
	st := strategytest.Synthetic(stream.TaskIL, 2, 2, 16, 10, 1)
	set := quick
	set.Iterations = 1
	_, err := (&loop.Runner{}).Run(context.Background(), st, newStrategy(t, "layerwise:freeze=3"), loop.Settings{Spec: set.Cell("layerwise:freeze=3", 1)})
	if err == nil || !strings.Contains(err.Error(), "freeze takes 0 to 2") {
		t.Errorf("freeze=3 over 2 hidden layers: %v", err)
	}
	lw := newStrategy(t, "layerwise:heads=multi")
	if !strategies.RequirementsOf(lw).TaskIdentity {
		t.Error("layerwise:heads=multi does not require task identities")
	}
}
