package benchmarks

import (
	"context"
	"sync"
	"testing"

	"github.com/clgraph/clgraph/benchmarks/mnist"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/stream"
)

var (
	dataOnce sync.Once
	data     *Data
	dataErr  error
)

// realMNIST loads real MNIST once per test binary.
func realMNIST(t testing.TB) *Data {
	t.Helper()
	dataOnce.Do(func() { data, dataErr = LoadMNIST(context.Background(), mnist.Options{}) })
	if dataErr != nil {
		t.Fatalf("loading MNIST: %v", dataErr)
	}
	return data
}

func quickSettings(iters int) Settings {
	return Settings{Protocol: Protocol{Name: "test", Iterations: iters, Batch: 64, EvalBatch: 500, LR: 1e-3, Hidden: []int{100}}, Seed: 1}
}

func TestRunNaiveClassIL(t *testing.T) {
	d := realMNIST(t)
	st, err := BuildStream(d, StreamConfig{Name: "split-mnist", Scenario: stream.ClassIL, TestLimit: 500})
	if err != nil {
		t.Fatal(err)
	}
	s, err := strategies.Default.New("naive")
	if err != nil {
		t.Fatal(err)
	}
	var steps int
	r := Runner{Hooks: []Hook{func(e Event) {
		if e.Kind == Step {
			steps++
		}
	}}}
	res, err := r.Run(context.Background(), st, s, "naive", quickSettings(100))
	if err != nil {
		t.Fatal(err)
	}
	if steps != 500 {
		t.Fatalf("%d step events, want 500", steps)
	}
	t.Logf("b=%v", res.B)
	for i, row := range res.R {
		t.Logf("R[%d]=%.3f", i, row)
	}
	t.Logf("metrics %+v cost %+v", *res.Metrics, res.Cost)
}
