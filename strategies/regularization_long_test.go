package strategies_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/clgraph/clgraph/runspec"

	"github.com/clgraph/clgraph/datasets/mnist"
	"github.com/clgraph/clgraph/graphs/blas"
	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/stream"
	"github.com/clgraph/clgraph/streams"
)

// The long tests train on real MNIST for minutes. They run only with CLGRAPH_LONG=1 and without
// -short:
//
//	CLGRAPH_LONG=1 go test -run Long -v -timeout 60m ./strategies/

func longTest(t *testing.T) *streams.Data {
	t.Helper()
	if os.Getenv("CLGRAPH_LONG") != "1" || testing.Short() {
		t.Skip("long test: set CLGRAPH_LONG=1 (and no -short) to run it")
	}
	longOnce.Do(func() {
		t.Logf("%v", blas.Setup())
		longData, longErr = streams.LoadMNIST(context.Background(), mnist.Options{})
	})
	if longErr != nil {
		t.Fatalf("loading MNIST: %v", longErr)
	}
	return longData
}

var (
	longOnce sync.Once
	longData *streams.Data
	longErr  error
)

// longRun trains spec over st with protocol p and the given seed, and returns its metrics.
func longRun(t *testing.T, st *stream.Stream, spec string, p runspec.Spec, seed int64) results.Metrics {
	t.Helper()
	s, err := strategies.Default.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	r := loop.Runner{}
	res, err := r.Run(context.Background(), st, s, loop.Settings{Spec: p.Cell(spec, seed)})
	if err != nil {
		t.Fatalf("%s: %v", spec, err)
	}
	m := *res.Metrics
	t.Logf("%-18s seed %d  ACC %.3f  BWT %+.3f  forgetting %.3f  learning acc %.3f  resolved %v  (%.0f s)", spec, seed, m.Get(results.KeyACC), m.Get(results.KeyBWT), m.Get(results.KeyForgetting), m.Get(results.KeyLearningAccuracy), res.Resolved, res.Cost.TrainSeconds)
	return m
}

// TestLongDefaultsForgetLess: at the quick protocol, with their default (tuned) strengths, EWC,
// online EWC, SI, L2 and MAS each forget less than naive fine-tuning (mean forgetting over the seeds)
// in task-IL (one head per task, the default) and domain-IL, on split MNIST (seeds 1-3) and
// permuted MNIST (seed 1), which is where van de Ven & Tolias (2019) report the regularisers
// beating fine-tuning. The seeds are reported seeds, disjoint from the tuning seeds.
func TestLongDefaultsForgetLess(t *testing.T) {
	data := longTest(t)
	for _, c := range []struct {
		stream   string
		scenario string
		seeds    []int64
	}{
		{"split-mnist", "task", []int64{1, 2, 3}},
		{"split-mnist", "domain", []int64{1, 2, 3}},
		{"permuted-mnist", "task", []int64{1}},
		{"permuted-mnist", "domain", []int64{1}},
	} {
		t.Run(c.stream+"/"+c.scenario, func(t *testing.T) {
			p, err := streams.Preset(c.stream, "quick", c.scenario)
			if err != nil {
				t.Fatal(err)
			}
			forget := map[string]float64{}
			for _, seed := range c.seeds {
				st, err := streams.Build(data, p.Cell("", seed))
				if err != nil {
					t.Fatal(err)
				}
				for _, spec := range []string{"naive", "ewc", "ewc:online=true", "si", "l2", "mas"} {
					forget[spec] += longRun(t, st, spec, p, seed).Get(results.KeyForgetting) / float64(len(c.seeds))
				}
			}
			for _, spec := range []string{"ewc", "ewc:online=true", "si", "l2", "mas"} {
				t.Logf("%s %s: %s forgetting %.3f, naive %.3f", c.stream, c.scenario, spec, forget[spec], forget["naive"])
				if forget[spec] >= forget["naive"] {
					t.Errorf("%s: mean forgetting %.3f, not below naive's %.3f", spec, forget[spec], forget["naive"])
				}
			}
		})
	}
}

// TestLongReplayClassIL: in class-IL split MNIST (quick protocol: 2x400 hidden units, Adam 1e-3,
// 200 steps of 128 per task, seed 1), where naive fine-tuning forgets every earlier task, replay
// with its default memory (1000 examples, class-balanced) ends at least 0.4 higher in ACC and BWT.
func TestLongReplayClassIL(t *testing.T) {
	data := longTest(t)
	p, err := streams.Preset("split-mnist", "quick", "class")
	if err != nil {
		t.Fatal(err)
	}
	st, err := streams.Build(data, p.Cell("", 1))
	if err != nil {
		t.Fatal(err)
	}
	naive := longRun(t, st, "naive", p, 1)
	replay := longRun(t, st, "replay", p, 1)
	if replay.Get(results.KeyACC) < naive.Get(results.KeyACC)+0.4 || replay.Get(results.KeyBWT) < naive.Get(results.KeyBWT)+0.4 {
		t.Errorf("replay ACC %.3f BWT %+.3f vs naive ACC %.3f BWT %+.3f: want both 0.4 higher", replay.Get(results.KeyACC), replay.Get(results.KeyBWT), naive.Get(results.KeyACC), naive.Get(results.KeyBWT))
	}
}
