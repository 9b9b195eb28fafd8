package strategies_test

import (
	"math"
	"math/rand"
	"slices"
	"testing"

	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

func TestPathNetConformance(t *testing.T) {
	for _, spec := range []string{"pathnet:modules=4,active=2,population=6,generations=2", "pathnet:modules=3,active=1,population=2,generations=1"} {
		t.Run(spec, func(t *testing.T) { strategytest.Run(t, strategies.Default, spec) })
	}
}

// newPathNet sets up pathnet on a small task-IL stream of 3 tasks (hidden 16 then 8 units,
// batches of 16, 20 steps a task).
func newPathNet(t *testing.T, spec string) (*strategies.PathNet, *stream.Stream) {
	t.Helper()
	st := strategytest.Synthetic(stream.TaskIL, 3, 2, 6, 40, 1)
	p := newStrategy(t, spec).(*strategies.PathNet)
	env := regEnv(st, 1)
	env.Hidden, env.Iterations = []int{16, 8}, 20
	if err := p.Setup(env); err != nil {
		t.Fatal(err)
	}
	return p, st
}

// TestPathNetTournament: on a toy fitness the tournament keeps the fitter path: the loser's
// slot becomes a copy of the winner, up to mutations, each a shift of at most 2 modules
// (modulo the layer's 8 modules); the winner itself is unchanged. With 2 layers of 3 active
// modules a mutation hits each index with probability 1/6 and a shift of 0 (one in five)
// leaves it: over many tournaments about 1/6 x 4/5 of the copied indices move.
func TestPathNetTournament(t *testing.T) {
	p, _ := newPathNet(t, "pathnet:modules=8,active=3,population=8,generations=2")
	rng := rand.New(rand.NewSource(5))
	moved, total := 0, 0
	for range 600 {
		a, b := strategies.PathNetPair(p)
		fa, fb := rng.Float64(), rng.Float64()
		strategies.PathNetSetFitness(p, a, fa)
		strategies.PathNetSetFitness(p, b, fb)
		win, lose := a, b
		if fb > fa {
			win, lose = b, a
		}
		before := strategies.PathNetPath(p, win)
		p.Tournament(rng)
		after, loser := strategies.PathNetPath(p, win), strategies.PathNetPath(p, lose)
		for l := range before {
			if !slices.Equal(before[l], after[l]) {
				t.Fatalf("the winner changed: %v -> %v", before, after)
			}
			for k, m := range loser[l] {
				switch d := ((m-before[l][k])%8 + 8) % 8; d {
				case 0:
				case 1, 2, 6, 7: // shifts of -2..2 modulo 8
					moved++
				default:
					t.Fatalf("layer %d index %d moved from %d to %d: more than 2", l, k, before[l][k], m)
				}
				total++
			}
		}
	}
	if share := float64(moved) / float64(total); math.Abs(share-1.0/6*0.8) > 0.03 {
		t.Errorf("%.3f of the copied indices moved, want about %.3f", share, 1.0/6*0.8)
	}
}

// TestPathNetFreezesWinner: after task 0 its path's modules are frozen; training tasks 1 and 2
// leaves them and task 0's head bit for bit unchanged, and so task 0's scores; the modules no
// task froze were re-initialised at task 0's end.
func TestPathNetFreezesWinner(t *testing.T) {
	p, st := newPathNet(t, "pathnet:modules=4,active=2,population=6,generations=2")
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
	params := p.Params().All()
	var s0 []float32
	var w0 [][]float32
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
			for _, q := range params {
				w0 = append(w0, slices.Clone(q.Data()))
			}
		}
	}
	if !slices.Equal(scores(), s0) {
		t.Error("task 0's scores changed after tasks 1 and 2")
	}
	paths, frozen := p.Paths()
	if len(paths) != 3 {
		t.Fatalf("%d paths after 3 tasks", len(paths))
	}
	for l, ms := range paths[0] {
		for _, m := range ms {
			if frozen[l][m] != 1 {
				t.Errorf("layer %d module %d of task 0's path is frozen by %d, want task 0 (1)", l, m, frozen[l][m])
			}
			for i, q := range params {
				if q == strategies.PathNetModule(p, l, m).W && !slices.Equal(q.Data(), w0[i]) {
					t.Errorf("layer %d module %d of task 0 changed", l, m)
				}
			}
		}
	}
	_, task, cum := p.Capacity()
	if len(task) != 3 || task[0] <= 0 || cum[2] < cum[1] || cum[1] < cum[0] || cum[2] > 1 {
		t.Errorf("capacity %v, cumulative %v: not shares of modules that accumulate", task, cum)
	}
}

// TestPathNetRefusals: more active modules than a layer has, a shared head and more modules
// than a layer has units are refused at setup.
func TestPathNetRefusals(t *testing.T) {
	st := strategytest.Synthetic(stream.TaskIL, 2, 2, 6, 20, 1)
	for _, spec := range []string{"pathnet:modules=3,active=4", "pathnet:heads=single", "pathnet:modules=20"} {
		env := regEnv(st, 1)
		env.Iterations = 10
		if err := newStrategy(t, spec).Setup(env); err == nil {
			t.Errorf("%s accepted (hidden %v)", spec, env.Hidden)
		}
	}
}

// BenchmarkPathNetStep is a pathnet step (task-IL): every module's forward pass (one fused op
// a layer), the path's gates and module sums, backward, and Adam on the path's modules.
func BenchmarkPathNetStep(b *testing.B) { benchStepIn(b, "pathnet", stream.TaskIL) }
