package strategies_test

import (
	"math"
	"slices"
	"strconv"
	"testing"

	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

func TestMERConformance(t *testing.T) {
	for _, spec := range []string{"mer:batches=2,replay=3,budget=20", "mer:batches=1,replay=0,budget=5,beta=1,lr=0.01"} {
		t.Run(spec, func(t *testing.T) { strategytest.Run(t, strategies.Default, spec) })
	}
}

// TestMERMetaClosedForm: on quadratic losses l_c(θ) = (θ - c)²/2, an SGD step at rate a is
// θ <- (1-a) θ + a c, so MER's meta-update has a closed form. With θ = 1, a = 0.5, batches
// [3, -1] then [-1], beta = gamma = 0.5, by hand: batch 1 goes 1 -> 2 -> 0.5, within-batch
// Reptile 1 + 0.5 (0.5 - 1) = 0.75; batch 2 goes 0.75 -> -0.125, Reptile 0.75 + 0.5 (-0.125 -
// 0.75) = 0.3125; across-batch Reptile 1 + 0.5 (0.3125 - 1) = 0.65625. With beta = gamma = 1
// the meta-update is plain sequential SGD (1 -> 2 -> 0.5 -> -0.25), and a second parameter
// follows its own quadratic independently.
func TestMERMetaClosedForm(t *testing.T) {
	batches := [][]float64{{3, -1}, {-1}}
	run := func(beta, gamma float64, theta0 []float32, shift float64) []float32 {
		theta := [][]float32{slices.Clone(theta0)}
		a0, w0 := [][]float32{make([]float32, len(theta0))}, [][]float32{make([]float32, len(theta0))}
		err := strategies.MERMeta(theta, a0, w0, len(batches), beta, gamma, func(b int) error {
			for _, c := range batches[b] {
				for j := range theta[0] {
					cj := c + shift*float64(j)
					theta[0][j] -= float32(0.5 * (float64(theta[0][j]) - cj))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return theta[0]
	}
	if got := run(0.5, 0.5, []float32{1}, 0); math.Abs(float64(got[0])-0.65625) > 1e-6 {
		t.Errorf("beta = gamma = 0.5: θ = %v, want 0.65625", got[0])
	}
	if got := run(1, 1, []float32{1}, 0); math.Abs(float64(got[0])+0.25) > 1e-6 {
		t.Errorf("beta = gamma = 1: θ = %v, want plain SGD's -0.25", got[0])
	}
	// Two coordinates, the second's targets shifted by 2 (each coordinate follows its own
	// quadratic). By hand for targets [5, 1] then [1]: 1 -> 3 -> 2, Reptile 1.5; 1.5 -> 1.25,
	// Reptile 1.375; across 1 + 0.5 (1.375 - 1) = 1.1875.
	got := run(0.5, 0.5, []float32{1, 1}, 2)
	if math.Abs(float64(got[0])-0.65625) > 1e-6 || math.Abs(float64(got[1])-1.1875) > 1e-6 {
		t.Errorf("two coordinates: θ = %v, want [0.65625 1.1875]", got)
	}
}

// merOn sets up mer on a small class-IL stream and returns it with a one-example batch of
// task 0.
func merOn(t *testing.T, spec string) (*strategies.MER, *stream.Batch) {
	t.Helper()
	st := strategytest.Synthetic(stream.ClassIL, 2, 2, 6, 20, 1)
	m := newStrategy(t, spec).(*strategies.MER)
	if err := m.Setup(regEnv(st, 1)); err != nil {
		t.Fatal(err)
	}
	b := stream.NewBatch(1, st.InputDim)
	b.Add(st.Tasks[0], &st.Tasks[0].Train, 0)
	b.HideTasks()
	return m, b
}

// TestMERStepClosedForm: with an empty memory and one batch a step on one example is one SGD
// step scaled by the Reptile rates: θ - beta gamma lr g, g the example's gradient at θ; the
// example then enters the reservoir.
func TestMERStepClosedForm(t *testing.T) {
	for _, c := range []struct{ beta, gamma float64 }{{1, 1}, {0.5, 1}, {0.3, 0.5}} {
		m, b := merOn(t, "mer:batches=1,lr=0.1,beta="+ftoa(c.beta)+",gamma="+ftoa(c.gamma))
		params := m.Model().Trainable()
		before := make([][]float32, len(params))
		for i, p := range params {
			before[i] = slices.Clone(p.Data())
		}
		if err := m.Fill(0, strategies.Part{Batch: b, Weight: 1}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.Model().Step(); err != nil {
			t.Fatal(err)
		}
		grads := make([][]float32, len(params))
		for i, p := range params {
			grads[i] = slices.Clone(m.Model().Grad(p))
		}
		if _, err := m.Step(0, b); err != nil {
			t.Fatal(err)
		}
		k := c.beta * c.gamma * 0.1
		for i, p := range params {
			for j, v := range p.Data() {
				want := float64(before[i][j]) - k*float64(grads[i][j])
				if math.Abs(float64(v)-want) > 1e-6 {
					t.Fatalf("beta %v gamma %v: %s[%d] = %v, want %v", c.beta, c.gamma, p.Name, j, v, want)
				}
			}
		}
		if m.Mem.Seen() != 1 || m.Mem.Len() != 1 {
			t.Errorf("reservoir saw %d, holds %d after one example; want 1 and 1", m.Mem.Seen(), m.Mem.Len())
		}
	}
}

// TestMERStepReplays: with examples in the memory each incoming example costs batches x
// (replay + 1) SGD steps, which the step reports as its samples.
func TestMERStepReplays(t *testing.T) {
	m, b := merOn(t, "mer:batches=3,replay=2,budget=10")
	for range 4 {
		if _, err := m.Step(0, b); err != nil {
			t.Fatal(err)
		}
	}
	info, err := m.Step(0, b)
	if err != nil {
		t.Fatal(err)
	}
	if info.Samples != 3*3 {
		t.Errorf("a step on one example with 4 in memory processed %d examples, want 3 batches x 3", info.Samples)
	}
}

// ftoa formats an option value.
func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// BenchmarkMERStep is mer's step on one incoming example (the online setting, batch 1) with a
// full memory: batches x (replay + 1) single-example SGD steps and the Reptile updates.
func BenchmarkMERStep(b *testing.B) { benchStepBatch(b, "mer", stream.ClassIL, 1) }

// BenchmarkNaiveOnlineStep is naive's step on one example (batch 1), mer's baseline.
func BenchmarkNaiveOnlineStep(b *testing.B) { benchStepBatch(b, "naive", stream.ClassIL, 1) }
