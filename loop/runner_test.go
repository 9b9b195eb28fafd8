package loop

import (
	"context"
	"sync"
	"testing"

	"github.com/clgraph/clgraph/datasets/mnist"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/streams"
)

var (
	dataOnce sync.Once
	data     *streams.Data
	dataErr  error
)

// realMNIST loads real MNIST once per test binary.
func realMNIST(t testing.TB) *streams.Data {
	t.Helper()
	dataOnce.Do(func() { data, dataErr = streams.LoadMNIST(context.Background(), mnist.Options{}) })
	if dataErr != nil {
		t.Fatalf("loading MNIST: %v", dataErr)
	}
	return data
}

func quickSettings(iters int) Settings {
	return Settings{Spec: runspec.Spec{Protocol: "test", Iterations: iters, Batch: 64, EvalBatch: 500, LR: 1e-3, Hidden: []int{100}, Seed: 1}}
}

func TestRunNaiveClassIL(t *testing.T) {
	d := realMNIST(t)
	st, err := streams.Build(d, runspec.Spec{Stream: "split-mnist", Scenario: "class", TestLimit: 500})
	if err != nil {
		t.Fatal(err)
	}
	s, err := strategies.Default.New("naive")
	if err != nil {
		t.Fatal(err)
	}
	var steps int
	r := Runner{Hooks: []Hook{Observe(func(e Event) {
		if e.Kind == Step {
			steps++
		}
	})}}
	res, err := r.Run(context.Background(), st, s, named(quickSettings(100), "naive"))
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

// named returns set for strategy spec.
func named(set Settings, spec string) Settings {
	set.Strategy = spec
	return set
}

// protocolFor returns the preset of protocol on stream in scenario sc.
func protocolFor(protocol, streamName string) (runspec.Spec, error) {
	return streams.Preset(streamName, protocol, "task")
}
