package loop_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
)

// TestConvTrunkConformance is the conformance check of the conv trunk (--model conv): every
// registered strategy either is refused before training with the reason, or, on 4×4 synthetic
// images through a conv layer of 6 filters and a dense layer, learns its first task, gives the
// same results for the same seed, and resumes bit for bit from checkpoints inside and between
// tasks. The strategies that say they run on a conv trunk must run.
func TestConvTrunkConformance(t *testing.T) {
	spec := runspec.Spec{Protocol: "test", Iterations: 60, Batch: 32, EvalBatch: 64, LR: 3e-3, Hidden: []int{32},
		Model: runspec.ModelConv, Filters: []int{6}, Seed: 11}
	ran := map[string]bool{}
	for _, name := range strategies.Default.Names() {
		probe, err := strategies.Default.New(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := strategies.RequirementsOf(probe).Runs()[0]
		st := strategytest.Synthetic(sc, 3, 2, 16, 80, 7)
		spec := spec
		spec.Scenario = sc.String()
		slow := name == "mer" // one example per inner step: a short run, and no learning bar
		if slow {
			spec.Iterations, spec.Batch = 10, 8
		}
		filters := spec.Filters
		if name == "pathnet" { // 10 modules a layer of 4 filters each (one filter each learns too little)
			filters = []int{40}
		}
		spec.Filters = filters
		if err := loop.CheckSpec(spec, st, probe, name); err != nil {
			if strategies.RunsOnConv(probe) || !strings.Contains(err.Error(), "no conv-trunk version") {
				t.Errorf("%s refused: %v", name, err)
			}
			continue
		}
		if !strategies.RunsOnConv(probe) {
			t.Errorf("%s does not run on a conv trunk but was accepted", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			var Rs [2][][]float64
			for i := range Rs {
				s, _ := strategies.Default.New(name)
				res, err := (&loop.Runner{Log: quietLogger()}).Run(context.Background(), st, s, named(loop.Settings{Spec: spec}, name))
				if err != nil {
					t.Fatal(err)
				}
				Rs[i] = res.R
				convs := len(s.Params().Filter(func(p *graphs.Param) bool {
					return strings.HasPrefix(p.Name, "trunk/c0/") || strings.HasPrefix(p.Name, "pathnet/c0/")
				}))
				if want := map[bool]int{true: 20, false: 2}[name == "pathnet"]; convs != want {
					t.Fatalf("%d conv parameters in the model, want %d (a conv layer's weight and bias, for each of pathnet's modules)", convs, want)
				}
			}
			if !reflect.DeepEqual(Rs[0], Rs[1]) {
				t.Fatalf("the same seed gave different results: %v vs %v", Rs[0], Rs[1])
			}
			if !slow && Rs[0][0][0] < 0.9 {
				t.Errorf("task 1 learnt to only %.3f right after training on it", Rs[0][0][0])
			}
			rspec := strategytest.ResumeSettings
			rspec.Model, rspec.Filters = runspec.ModelConv, []int{4}
			if name == "pathnet" {
				rspec.Filters = filters
			}
			rst := strategytest.Synthetic(sc, 3, 2, 16, 40, 9)
			build := func() (strategies.Strategy, error) { return strategies.Default.New(name) }
			if !loop.Checkpointable(probe) {
				return
			}
			resumes := strategytest.ResumeMax
			if slow {
				resumes, rspec.Iterations, rspec.Batch = 1, 6, 4
			}
			if err := loop.VerifyResume(context.Background(), t.TempDir(), rst, build, loop.Settings{Spec: rspec.Cell(name, 5)}, strategytest.ResumeEvery, resumes); err != nil {
				t.Fatalf("does not resume exactly: %v", err)
			}
		})
		ran[name] = true
	}
	for _, want := range []string{"naive", "replay", "der", "agem", "gem", "si", "l2", "gdumb", "joint", "ewc", "mas", "lwf", "icarl", "dgr", "layerwise", "xdg", "packnet", "hat", "rtf", "pathnet"} {
		if !ran[want] {
			t.Errorf("%s did not run on the conv trunk", want)
		}
	}
	for _, refused := range []string{"pnn"} {
		if ran[refused] {
			t.Errorf("%s ran on the conv trunk, which its dense-layer code does not handle", refused)
		}
	}
	t.Logf("%d of %d strategies run on the conv trunk", len(ran), len(strategies.Default.Names()))
}
