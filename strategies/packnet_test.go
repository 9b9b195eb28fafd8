package strategies_test

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

func TestPackNetConformance(t *testing.T) {
	for _, spec := range []string{"packnet", "packnet:prune=0.5,retrain=0", "packnet:prune=0.75,retrain=0.5"} {
		t.Run(spec, func(t *testing.T) { strategytest.Run(t, strategies.Default, spec) })
	}
}

// newPackNet sets up packnet on a small task-IL stream of 3 tasks (hidden 7 then 5 units,
// batches of 16, 20 steps a task).
func newPackNet(t *testing.T, spec string, filters ...int) (*strategies.PackNet, *stream.Stream) {
	t.Helper()
	dim := 6
	if len(filters) > 0 {
		dim = 16 // 4×4 images
	}
	st := strategytest.Synthetic(stream.TaskIL, 3, 2, dim, 40, 1)
	p := newStrategy(t, spec).(*strategies.PackNet)
	env := regEnv(st, 1)
	env.Iterations = 20
	env.Filters = filters
	if err := p.Setup(env); err != nil {
		t.Fatal(err)
	}
	return p, st
}

// TestPackNetPruneCounts: pruning task 0 at prune=0.5 sets to 0 exactly round(n/2) of each
// layer's n free weights, those of smallest magnitude (every kept weight is at least as large
// as every pruned one was), and task 0 owns the rest; pruning task 1 takes half of what is then
// free (the pruned weights, retrained by task 1) and leaves task 0's weights alone.
func TestPackNetPruneCounts(t *testing.T) {
	p, st := newPackNet(t, "packnet:prune=0.5,retrain=0")
	regTrain(t, p, st, 0, 5, 1)
	before := make([][]float32, len(p.Trunk.Layers))
	for l, d := range p.Trunk.Layers {
		before[l] = slices.Clone(d.W.Data())
	}
	if err := p.EndTask(0); err != nil {
		t.Fatal(err)
	}
	owners := p.Owners()
	for l, d := range p.Trunk.Layers {
		n := len(before[l])
		var kept, pruned int
		maxPruned, minKept := 0.0, math.Inf(1)
		for i, o := range owners[l] {
			switch o {
			case 0:
				pruned++
				maxPruned = math.Max(maxPruned, math.Abs(float64(before[l][i])))
				if d.W.Data()[i] != 0 {
					t.Errorf("layer %d weight %d pruned but %v, not 0", l, i, d.W.Data()[i])
				}
			case 1:
				kept++
				minKept = math.Min(minKept, math.Abs(float64(before[l][i])))
				if d.W.Data()[i] != before[l][i] {
					t.Errorf("layer %d weight %d kept but changed", l, i)
				}
			default:
				t.Fatalf("layer %d weight %d owned by %d after one task", l, i, o)
			}
		}
		if want := int(math.Round(0.5 * float64(n))); pruned != want || kept != n-want {
			t.Errorf("layer %d: %d pruned, %d kept of %d, want %d pruned", l, pruned, kept, n, want)
		}
		if maxPruned > minKept {
			t.Errorf("layer %d: a pruned weight (|w| %v) was larger than a kept one (%v)", l, maxPruned, minKept)
		}
	}
	if err := p.StartTask(1); err != nil {
		t.Fatal(err)
	}
	regTrain(t, p, st, 1, 5, 2)
	free := make([]int, len(owners))
	for l := range owners {
		for _, o := range owners[l] {
			if o == 0 {
				free[l]++
			}
		}
	}
	if err := p.EndTask(1); err != nil {
		t.Fatal(err)
	}
	for l := range owners {
		var one, two int
		for _, o := range owners[l] {
			switch o {
			case 1:
				one++
			case 2:
				two++
			}
		}
		if want := free[l] - int(math.Round(0.5*float64(free[l]))); two != want || one != len(owners[l])-free[l] {
			t.Errorf("layer %d: task 1 owns %d (want %d of %d free), task 0 %d (want %d)", l, two, want, free[l], one, len(owners[l])-free[l])
		}
	}
	of, task, cum := p.Capacity()
	if of != "trunk weights" || len(task) != 2 || math.Abs(task[0]-0.5) > 0.02 || math.Abs(task[1]-0.25) > 0.02 || math.Abs(cum[1]-0.75) > 0.02 {
		t.Errorf("capacity of %q: %v, cumulative %v; want about 0.5, 0.25 and 0.75 together", of, task, cum)
	}
}

// TestPackNetKeepsEarlierTasks: after tasks 1 and 2 are trained, task 0's weights and the
// trunk's biases are bit for bit what they were when task 0 ended, and so are task 0's scores:
// packnet forgets nothing. The equal schedule gives each of the 3 tasks a third of the trunk.
//
// With a conv trunk (a conv layer of 3 filters before the dense layers) the same holds for the
// conv layer's weights and biases too.
func TestPackNetKeepsEarlierTasks(t *testing.T) {
	t.Run("mlp", func(t *testing.T) { packNetKeepsEarlierTasks(t) })
	t.Run("conv", func(t *testing.T) { packNetKeepsEarlierTasks(t, 3) })
}

func packNetKeepsEarlierTasks(t *testing.T, filters ...int) {
	p, st := newPackNet(t, "packnet", filters...)
	layers := func() []graphs.Dense {
		var ls []graphs.Dense
		for _, c := range p.Trunk.Convs {
			ls = append(ls, graphs.Dense{W: c.W, B: c.B})
		}
		return append(ls, p.Trunk.Layers...)
	}
	if len(p.Trunk.Convs) != len(filters) {
		t.Fatalf("%d conv layers, want %d", len(p.Trunk.Convs), len(filters))
	}
	test := &st.Tasks[0].Test
	bt := stream.NewBatch(test.Len(), st.InputDim)
	for i := range test.Len() {
		bt.Add(st.Tasks[0], test, i)
	}
	scores := func() []float32 {
		out := make([]float32, bt.N*st.Outputs)
		if err := p.Scores(bt, out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	var w0, b0 [][]float32
	var s0 []float32
	for task := range 3 {
		if err := p.StartTask(task); err != nil {
			t.Fatal(err)
		}
		regTrain(t, p, st, task, 20, int64(task+1))
		if err := p.EndTask(task); err != nil {
			t.Fatal(err)
		}
		if task == 0 {
			s0 = scores()
			for _, d := range layers() {
				w0, b0 = append(w0, slices.Clone(d.W.Data())), append(b0, slices.Clone(d.B.Data()))
			}
		}
	}
	if got := scores(); !slices.Equal(got, s0) {
		t.Errorf("task 0's scores changed after tasks 1 and 2")
	}
	owners := p.Owners()
	for l, d := range layers() {
		if !slices.Equal(d.B.Data(), b0[l]) {
			t.Errorf("layer %d: biases changed after task 0", l)
		}
		for i, o := range owners[l] {
			if o == 1 && d.W.Data()[i] != w0[l][i] {
				t.Fatalf("layer %d weight %d of task 0 changed: %v, was %v", l, i, d.W.Data()[i], w0[l][i])
			}
		}
	}
	_, task, cum := p.Capacity()
	for k, v := range task {
		if math.Abs(v-1.0/3) > 0.02 {
			t.Errorf("equal schedule: task %d owns %.3f of the trunk, want about 1/3", k, v)
		}
	}
	if cum[2] != 1 {
		t.Errorf("after the last task %.3f of the trunk is owned, want all of it", cum[2])
	}
}

// TestPackNetPrunesPartWay: with retrain=0.25 and 20 steps a task, the pruning happens before
// step 15 (0-based), not at the task's end: after 15 steps nothing is owned, after 16 task 0
// owns its share.
func TestPackNetPrunesPartWay(t *testing.T) {
	p, st := newPackNet(t, "packnet:prune=0.5")
	count := func() (n int) {
		for _, own := range p.Owners() {
			for _, o := range own {
				if o != 0 {
					n++
				}
			}
		}
		return n
	}
	regTrain(t, p, st, 0, 15, 1)
	if n := count(); n != 0 {
		t.Fatalf("after 15 of 20 steps %d weights are owned: pruned too early", n)
	}
	regTrain(t, p, st, 0, 1, 2)
	if n := count(); n == 0 {
		t.Fatal("after 16 of 20 steps nothing is owned: not pruned at step 15")
	}
}

// TestPackNetRefusals: packnet refuses a shared head and a trunk without hidden layers, and is
// refused outside task-IL by the runner (it requires task identity).
func TestPackNetRefusals(t *testing.T) {
	st := strategytest.Synthetic(stream.TaskIL, 2, 2, 6, 20, 1)
	env := regEnv(st, 1)
	env.Iterations = 10
	if err := newStrategy(t, "packnet:heads=single").Setup(env); err == nil {
		t.Error("heads=single accepted")
	}
	env = regEnv(st, 1)
	env.Iterations, env.Hidden = 10, nil
	if err := newStrategy(t, "packnet").Setup(env); err == nil {
		t.Error("a trunk without hidden layers accepted")
	}
	cl := strategytest.Synthetic(stream.ClassIL, 2, 2, 6, 20, 1)
	set := loop.Settings{Spec: runspec.Spec{Protocol: "t", Iterations: 4, Batch: 8, EvalBatch: 16, LR: 1e-3, Hidden: []int{8}, Seed: 1}}
	if _, err := (&loop.Runner{}).Run(context.Background(), cl, newStrategy(t, "packnet"), set); err == nil {
		t.Error("packnet ran in class-IL")
	}
	for _, bad := range []string{"packnet:prune=1", "packnet:prune=-0.1", "packnet:retrain=1", "packnet:prune=half"} {
		if _, err := strategies.Default.New(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// BenchmarkPackNetStep is a packnet step (task-IL, after the first task's pruning): the forward
// and backward pass, the gradient masks of the owned weights and the biases, and Adam.
func BenchmarkPackNetStep(b *testing.B) { benchStepIn(b, "packnet", stream.TaskIL) }
