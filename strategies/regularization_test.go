package strategies_test

import (
	"testing"

	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategies/strategytest"
)

func TestRegularizationConformance(t *testing.T) {
	for _, spec := range []string{
		"ewc", "ewc:online=true,gamma=0.9", "ewc:fisher=sampled", "ewc:fisher=empirical,samples=0", "ewc:heads=multi",
		"l2", "l2:heads=multi",
		"replay", "replay:select=reservoir,budget=50", "replay:per_class=10", "replay:heads=multi",
	} {
		t.Run(spec, func(t *testing.T) { strategytest.Run(t, strategies.Default, spec) })
	}
}
