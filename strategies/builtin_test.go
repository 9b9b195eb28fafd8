package strategies_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

func TestConformance(t *testing.T) {
	for _, spec := range []string{"naive", "naive:heads=multi", "multihead", "joint"} {
		t.Run(spec, func(t *testing.T) { strategytest.Run(t, strategies.Default, spec) })
	}
}

// In task-IL every strategy's default uses task identity: naive (heads=auto) trains the same
// model, bit for bit, as multihead and naive:heads=multi, and records heads=multi; a shared head
// in task-IL only comes when asked for (heads=single), and domain-IL's default is one shared layer.
func TestDefaultHeadsUseTaskIdentity(t *testing.T) {
	run := func(spec string, sc stream.Scenario) *results.Result {
		t.Helper()
		st := strategytest.Synthetic(sc, 3, 2, 16, 40, 1)
		set := quick
		set.Iterations = 20
		res, err := (&loop.Runner{}).Run(context.Background(), st, newStrategy(t, spec), loop.Settings{Spec: set.Cell(spec, 1)})
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		return res
	}
	auto := run("naive", stream.TaskIL)
	if h := auto.Resolved["heads"]; h != "multi" {
		t.Fatalf("naive in task-IL resolved heads=%q, want multi", h)
	}
	for _, spec := range []string{"multihead", "naive:heads=multi", "ewc", "l2", "replay", "joint"} {
		res := run(spec, stream.TaskIL)
		if h := res.Resolved["heads"]; h != "multi" {
			t.Errorf("%s in task-IL resolved heads=%q, want multi", spec, h)
		}
		if spec == "multihead" || spec == "naive:heads=multi" {
			if !reflect.DeepEqual(res.R, auto.R) {
				t.Errorf("%s R differs from naive (heads=auto) in task-IL:\n%v\n%v", spec, res.R, auto.R)
			}
		}
	}
	if single := run("naive:heads=single", stream.TaskIL); single.Resolved["heads"] != "single" || reflect.DeepEqual(single.R, auto.R) {
		t.Errorf("naive:heads=single in task-IL: heads %q, R equal to multi-head: %v", single.Resolved["heads"], reflect.DeepEqual(single.R, auto.R))
	}
	if d := run("naive", stream.DomainIL); d.Resolved["heads"] != "single" {
		t.Errorf("naive in domain-IL resolved heads=%q, want single", d.Resolved["heads"])
	}
}
