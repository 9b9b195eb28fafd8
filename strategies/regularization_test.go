package strategies_test

import (
	"context"
	"testing"

	"github.com/clgraph/clgraph/runspec"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

func TestRegularizationConformance(t *testing.T) {
	for _, spec := range []string{
		"ewc", "ewc:online=true,gamma=0.9", "ewc:fisher=sampled", "ewc:fisher=empirical,samples=0", "ewc:heads=multi",
		"ewc:fisher=running,normalize=minmax,online=true,gamma=0", "ewc:fisher=running,every=3",
		"l2", "l2:heads=multi",
		"replay", "replay:select=reservoir,budget=50", "replay:per_class=10", "replay:heads=multi",
	} {
		t.Run(spec, func(t *testing.T) { strategytest.Run(t, strategies.Default, spec) })
	}
}

// TestRegularizationResumes checks that every strategy of this family resumes from its
// checkpoints to the uninterrupted run's results and parameters, bit for bit.
func TestRegularizationResumes(t *testing.T) {
	set := loop.Settings{Spec: runspec.Spec{Protocol: "test", Iterations: 30, Batch: 16, EvalBatch: 64, LR: 3e-3, Hidden: []int{24, 16}, Seed: 5}}
	for _, tc := range []struct {
		spec string
		sc   stream.Scenario
	}{
		{"ewc:samples=50", stream.ClassIL},
		{"ewc:online=true,gamma=0.8,fisher=sampled", stream.DomainIL},
		{"ewc:fisher=running,every=4,normalize=minmax,online=true,gamma=0", stream.DomainIL},
		{"l2", stream.DomainIL},
		{"replay:budget=40", stream.ClassIL},
		{"replay:select=reservoir,budget=30", stream.DomainIL},
		{"replay:heads=multi,per_class=5", stream.TaskIL},
	} {
		t.Run(tc.spec+"/"+tc.sc.String(), func(t *testing.T) {
			st := strategytest.Synthetic(tc.sc, 3, 2, 12, 40, 9)
			build := func() (strategies.Strategy, error) { return strategies.Default.New(tc.spec) }
			if err := loop.VerifyResume(context.Background(), t.TempDir(), st, build, withStrategy(set, tc.spec), 7, 6); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// withStrategy returns set for strategy spec.
func withStrategy(set loop.Settings, spec string) loop.Settings {
	set.Strategy = spec
	return set
}
