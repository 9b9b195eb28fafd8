package loop

import (
	"context"
	"os"
	"testing"

	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/stream"
	"github.com/clgraph/clgraph/streams"
)

// longTest skips unless CLGRAPH_LONG=1: these tests run the paper protocol on full MNIST
// (minutes each). Run them with: CLGRAPH_LONG=1 go test -run Paper -v -timeout 60m ./loop/
func longTest(t *testing.T) {
	t.Helper()
	if os.Getenv("CLGRAPH_LONG") != "1" || testing.Short() {
		t.Skip("long test: set CLGRAPH_LONG=1 to run it")
	}
}

func paperRun(t *testing.T, streamName string, sc stream.Scenario, spec string, seed int64) [][]float64 {
	t.Helper()
	d := realMNIST(t)
	st, err := streams.Build(d, runspec.Spec{Stream: streamName, Scenario: sc.String(), Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	p, err := protocolFor("paper", streamName)
	if err != nil {
		t.Fatal(err)
	}
	s, err := strategies.Default.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&Runner{}).Run(context.Background(), st, s, Settings{Spec: p.Cell(spec, seed)})
	if err != nil {
		t.Fatal(err)
	}
	for i, row := range res.R {
		t.Logf("%s %s-IL R[%d] = %.3f", spec, sc, i, row)
	}
	t.Logf("%s: ACC %.3f BWT %.3f, %.0f steps/s", spec, res.Metrics.Get(results.KeyACC), res.Metrics.Get(results.KeyBWT), res.Cost.StepsPerSecond)
	return res.R
}

// TestPaperNaiveClassILForgets checks the catastrophic-forgetting signature: after the last task
// of class-IL split MNIST, naive fine-tuning scores near 0 on every earlier task.
func TestPaperNaiveClassILForgets(t *testing.T) {
	longTest(t)
	R := paperRun(t, "split-mnist", stream.ClassIL, "naive", 1)
	T := len(R)
	for j := 0; j < T-1; j++ {
		if R[T-1][j] > 0.05 {
			t.Errorf("naive class-IL: R[T][%d] = %.3f, want near 0 (catastrophic forgetting)", j, R[T-1][j])
		}
	}
	if R[T-1][T-1] < 0.95 {
		t.Errorf("the last task itself reached only %.3f", R[T-1][T-1])
	}
}

// TestPaperMultiheadTaskILRemembers checks that per-task heads keep every earlier task far above
// chance (0.5) in task-IL split MNIST. The shared trunk still drifts: van de Ven & Tolias (2019)
// report about 0.87 average accuracy for this baseline, so the bound per task is 0.6 (chance + 10
// points) and the average must reach 0.8.
func TestPaperMultiheadTaskILRemembers(t *testing.T) {
	longTest(t)
	R := paperRun(t, "split-mnist", stream.TaskIL, "multihead", 1)
	T := len(R)
	sum := 0.0
	for j := 0; j < T; j++ {
		sum += R[T-1][j]
		if R[T-1][j] < 0.6 {
			t.Errorf("multihead task-IL: R[T][%d] = %.3f, want far above chance 0.5 (>= 0.6)", j, R[T-1][j])
		}
	}
	if sum/float64(T) < 0.8 {
		t.Errorf("multihead task-IL: average final accuracy %.3f, want >= 0.8", sum/float64(T))
	}
}
