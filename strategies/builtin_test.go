package strategies_test

import (
	"testing"

	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
)

func TestConformance(t *testing.T) {
	for _, spec := range []string{"naive", "naive:heads=multi", "multihead", "joint"} {
		t.Run(spec, func(t *testing.T) { strategytest.Run(t, strategies.Default, spec) })
	}
}
