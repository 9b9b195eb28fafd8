package strategies_test

import (
	"math/rand"
	"testing"

	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

// FuzzLoadState feeds the binary state decoders (Regularizer's, LwF's, DGR's) arbitrary bytes,
// seeded with real states after one task: nothing may panic, whatever is refused or accepted.
func FuzzLoadState(f *testing.F) {
	st := strategytest.Synthetic(stream.ClassIL, 2, 2, 6, 20, 5)
	specs := []string{"ewc:samples=0", "lwf", "dgr"}
	var ss []strategies.Strategy
	for i, spec := range specs {
		s, err := strategies.Default.New(spec)
		if err != nil {
			f.Fatal(err)
		}
		if err := s.Setup(&strategies.Env{Stream: st, Hidden: []int{7, 5}, LR: 3e-3, Batch: 16, EvalBatch: 64, Iterations: 3, Rng: rand.New(rand.NewSource(1))}); err != nil {
			f.Fatal(err)
		}
		smp := stream.NewSampler(rand.New(rand.NewSource(2)), st.Tasks[0])
		b := stream.NewBatch(16, st.InputDim)
		for k := 0; k < 3; k++ {
			smp.Fill(b, 16)
			if _, err := s.Step(0, b); err != nil {
				f.Fatal(err)
			}
		}
		if te, ok := s.(strategies.TaskEnder); ok {
			if err := te.EndTask(0); err != nil {
				f.Fatal(err)
			}
		}
		data, err := s.(strategies.Checkpointer).SaveState()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, uint8(i))
		ss = append(ss, s)
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		s := ss[int(which)%len(ss)]
		_ = s.(strategies.Checkpointer).LoadState(data)
	})
}
