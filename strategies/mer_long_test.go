package strategies_test

import (
	"testing"

	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/streams"
)

// TestLongMEROnline: in the online setting MER was published in (Riemer et al. 2019: MNIST
// permutations, one head, 1000 training examples a task seen once, one example a step, an MLP of
// two layers of 100 units), here with 10 tasks and seeds 1-3, mer at a reservoir of 500
// examples reaches a higher mean ACC than plain experience replay with a memory of the same
// size (replay:budget=500), and both than naive fine-tuning.
func TestLongMEROnline(t *testing.T) {
	data := longTest(t)
	p, err := streams.Preset("permuted-mnist", "quick", "domain")
	if err != nil {
		t.Fatal(err)
	}
	p.Tasks, p.TrainLimit, p.Batch, p.Iterations, p.Hidden = 10, 1000, 1, 1000, []int{100, 100}
	specs := []string{"naive", "replay:budget=500", "mer"}
	acc := map[string]float64{}
	seeds := []int64{1, 2, 3}
	for _, seed := range seeds {
		st, err := streams.Build(data, p.Cell("", seed))
		if err != nil {
			t.Fatal(err)
		}
		for _, spec := range specs {
			acc[spec] += longRun(t, st, spec, p, seed).Get(results.KeyACC) / float64(len(seeds))
		}
	}
	t.Logf("online permuted MNIST, 10 tasks: mean ACC naive %.3f, replay %.3f, mer %.3f", acc["naive"], acc["replay:budget=500"], acc["mer"])
	if acc["mer"] <= acc["replay:budget=500"] || acc["replay:budget=500"] <= acc["naive"] {
		t.Errorf("mean ACC mer %.3f, replay %.3f, naive %.3f: want mer > replay > naive", acc["mer"], acc["replay:budget=500"], acc["naive"])
	}
}
