package strategies_test

import (
	"context"
	"fmt"
	"math/rand"
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

// TestMultitaskResumes checks multitask's exact resume in every scenario. strategytest.Run's
// check that task 1 is learnt right after training on it does not apply: multitask spends the
// first task's steps on every task's data (in class-IL, on all classes at once).
func TestMultitaskResumes(t *testing.T) {
	for _, sc := range []stream.Scenario{stream.TaskIL, stream.DomainIL, stream.ClassIL} {
		if err := strategytest.CheckResume(context.Background(), t.TempDir(), strategies.Default, "multitask", sc); err != nil {
			t.Error(err)
		}
	}
}

// TestMultitaskOnePass checks that multitask draws, over T tasks of n/B steps of batches of B,
// every training example of every task exactly once (A-GEM's single pass over shuffled data of
// all tasks), with tasks yet to come in the very first batch, where joint draws the first
// task's only.
func TestMultitaskOnePass(t *testing.T) {
	st := strategytest.Synthetic(stream.DomainIL, 3, 2, 5, 20, 3) // 40 training examples a task
	const batch = 8
	for _, spec := range []string{"multitask", "joint"} {
		s, err := strategies.Default.New(spec)
		if err != nil {
			t.Fatal(err)
		}
		env := &strategies.Env{Stream: st, Hidden: []int{4}, LR: 1e-2, Batch: batch, EvalBatch: 32, Iterations: 40 / batch, Rng: rand.New(rand.NewSource(1))}
		if err := s.Setup(env); err != nil {
			t.Fatal(err)
		}
		smp := s.(strategies.Sampler)
		rng := rand.New(rand.NewSource(2))
		b := stream.NewBatch(batch, st.InputDim)
		seen := map[string]int{}
		for task := range st.Tasks {
			for step := 0; step < 40/batch; step++ {
				smp.Sample(task, b, batch, rng)
				tasks := map[int32]bool{}
				for i := 0; i < b.N; i++ {
					tasks[b.Task[i]] = true
					seen[fmt.Sprint(b.Task[i], b.X[i*st.InputDim:(i+1)*st.InputDim])]++
				}
				if task == 0 && step == 0 {
					future := false
					for k := range tasks {
						future = future || k > 0
					}
					if future != (spec == "multitask") {
						t.Errorf("%s: the first batch draws from tasks %v", spec, tasks)
					}
				}
			}
		}
		if spec == "joint" {
			continue
		}
		if len(seen) != 3*40 {
			t.Fatalf("multitask drew %d distinct examples over one pass, want all %d", len(seen), 3*40)
		}
		for k, n := range seen {
			if n != 1 {
				t.Fatalf("multitask drew example %.30s %d times in one pass", k, n)
			}
		}
	}
}
