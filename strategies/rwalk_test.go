package strategies_test

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

func TestRWalkConformance(t *testing.T) {
	for _, spec := range []string{"rwalk", "rwalk:lambda=2,xi=0.01,every=3", "rwalk:window=task,scores=agem", "rwalk:heads=multi"} {
		t.Run(spec, func(t *testing.T) { strategytest.Run(t, strategies.Default, spec) })
	}
}

func TestRWalkOptionErrors(t *testing.T) {
	for _, spec := range []string{"rwalk:window=epoch", "rwalk:scores=sum", "rwalk:xi=0", "rwalk:every=0", "rwalk:decay=1.5"} {
		if _, err := strategies.Default.New(spec); err == nil {
			t.Errorf("%s: no error", spec)
		}
	}
}

// TestRWalkHandComputed works one parameter through a step and an interval by hand.
//
// A step from theta 1.0 to 0.8 with a total gradient of 2.6 under the penalty k/2 w (theta -
// a)^2 with k = 2, w = 0.5, a = 0.4: the penalty's gradient at 1.0 is 2*0.5*0.6 = 0.6, so the
// data gradient is 2; window += 4, omega += -2 * (0.8 - 1.0) = 0.4. The interval started at 1.1
// under a Fisher of 2: its score is 0.4 / (0.001 + 2 * (0.8 - 1.1)^2) = 0.4 / 0.181. A negative
// path integral adds nothing.
func TestRWalkHandComputed(t *testing.T) {
	omega, win := []float32{0}, []float32{0}
	strategies.RWalkAccumulate(omega, win, []float32{2.6}, []float32{1}, []float32{0.8}, []float32{0.5}, []float32{0.4}, 2)
	if math.Abs(float64(win[0])-4) > 1e-5 || math.Abs(float64(omega[0])-0.4) > 1e-6 {
		t.Fatalf("window %v omega %v, want 4 and 0.4", win[0], omega[0])
	}
	score := []float32{1}
	strategies.RWalkScore(score, omega, []float32{2}, []float32{0.8}, []float32{1.1}, 0.001)
	if want := 1 + 0.4/0.181; math.Abs(float64(score[0])-want) > 1e-5 {
		t.Fatalf("score %v, want %v", score[0], want)
	}
	strategies.RWalkScore(score, []float32{-0.4}, []float32{2}, []float32{0.8}, []float32{1.1}, 0.001)
	if want := 1 + 0.4/0.181; math.Abs(float64(score[0])-want) > 1e-5 {
		t.Fatalf("a negative path integral changed the score to %v", score[0])
	}
}

// rwalkRef recomputes RWalk in float64 from the gradients and parameters the model reports,
// following A-GEM's code's order: at a task's steps every, 2 every, ... (from 1) the interval
// closes before the step; a task's end folds the score (doubled after the first task) and
// rescales F and s by their minimum and maximum over every parameter.
type rwalkRef struct {
	fRun, fWin, omega, task, score, start [][]float64
}

func newRWalkRef(sizes []int, theta [][]float32) *rwalkRef {
	mk := func() [][]float64 {
		out := make([][]float64, len(sizes))
		for i, n := range sizes {
			out[i] = make([]float64, n)
		}
		return out
	}
	r := &rwalkRef{fRun: mk(), fWin: mk(), omega: mk(), task: mk(), score: mk(), start: mk()}
	r.mark(theta)
	return r
}

func (r *rwalkRef) mark(theta [][]float32) {
	for i := range theta {
		for j, v := range theta[i] {
			r.start[i][j] = float64(v)
		}
	}
}

func (r *rwalkRef) close(theta [][]float32, every int, taskWindow bool) {
	for i := range theta {
		for j, v := range theta[i] {
			d := float64(v) - r.start[i][j]
			if s := r.omega[i][j] / (1e-3 + r.fRun[i][j]*d*d); s > 0 {
				r.task[i][j] += s
			}
			r.fRun[i][j] = 0.1*r.fRun[i][j] + 0.9*r.fWin[i][j]/float64(every)
			if !taskWindow {
				r.fWin[i][j] = 0
			}
			r.omega[i][j] = 0
		}
	}
	r.mark(theta)
}

// end returns the penalty weights F_norm + s_norm after task cur.
func (r *rwalkRef) end(cur int, theta [][]float32, agem bool) [][]float64 {
	scale := func(x [][]float64) [][]float64 {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range x {
			for _, e := range v {
				lo, hi = math.Min(lo, e), math.Max(hi, e)
			}
		}
		out := make([][]float64, len(x))
		for i, v := range x {
			out[i] = make([]float64, len(v))
			for j, e := range v {
				out[i][j] = (e - lo) / (hi - lo + 1e-32)
			}
		}
		return out
	}
	for i := range r.score {
		for j := range r.score[i] {
			v := r.task[i][j]
			if cur == 0 {
				v *= 2
			}
			if agem {
				r.score[i][j] += (r.score[i][j] + v) / 2
			} else {
				r.score[i][j] = (r.score[i][j] + v) / 2
			}
			r.task[i][j], r.omega[i][j], r.fWin[i][j] = 0, 0, 0
		}
	}
	f, s := scale(r.fRun), scale(r.score)
	for i := range f {
		for j := range f[i] {
			f[i][j] += s[i][j]
		}
	}
	r.mark(theta)
	return f
}

// TestRWalkAgainstRecomputation trains rwalk on two tasks and checks its penalty weights and
// anchors against rwalkRef, fed with the model's own gradients, for both window and score
// options; it also checks that the options change the weights where they should (window: from
// the first task; scores: from the second only, as both give s = score after the first).
func TestRWalkAgainstRecomputation(t *testing.T) {
	got := map[string][][][]float32{}
	for _, window := range []string{"interval", "task"} {
		for _, scores := range []string{"mean", "agem"} {
			name := fmt.Sprintf("window=%s,scores=%s", window, scores)
			t.Run(name, func(t *testing.T) { got[name] = testRWalkRecompute(t, window, scores) })
		}
	}
	if len(got) != 4 {
		t.Fatal("a variant failed")
	}
	differ := func(a, b [][]float32) bool {
		for i := range a {
			for j := range a[i] {
				if a[i][j] != b[i][j] {
					return true
				}
			}
		}
		return false
	}
	m, a := "window=interval,scores=mean", "window=interval,scores=agem"
	if differ(got[m][0], got[a][0]) {
		t.Error("scores=mean and scores=agem differ after the first task; both should give s = the task's score")
	}
	if !differ(got[m][1], got[a][1]) {
		t.Error("scores=mean and scores=agem give the same weights after the second task")
	}
	if !differ(got[m][0], got["window=task,scores=mean"][0]) {
		t.Error("window=interval and window=task give the same weights after the first task")
	}
}

// testRWalkRecompute returns the penalty weights after each of two tasks.
func testRWalkRecompute(t *testing.T, window, scores string) [][][]float32 {
	const every, lambda = 4, 0.3
	st := strategytest.Synthetic(stream.DomainIL, 2, 2, 6, 20, 5)
	s, err := strategies.Default.New(fmt.Sprintf("rwalk:lambda=%g,every=%d,window=%s,scores=%s", lambda, every, window, scores))
	if err != nil {
		t.Fatal(err)
	}
	rw := s.(*strategies.RWalk)
	env := &strategies.Env{Stream: st, Hidden: []int{8}, LR: 1e-2, Batch: 8, EvalBatch: 32, Iterations: 15, Rng: rand.New(rand.NewSource(1))}
	if err := rw.Setup(env); err != nil {
		t.Fatal(err)
	}
	params := rw.Q.Params()
	theta := func() [][]float32 {
		out := make([][]float32, len(params))
		for i, p := range params {
			out[i] = append([]float32(nil), p.Data()...)
		}
		return out
	}
	sizes := make([]int, len(params))
	for i, p := range params {
		sizes[i] = p.Size()
	}
	ref := newRWalkRef(sizes, theta())
	var weights [][][]float32
	for task := 0; task < 2; task++ {
		smp := stream.NewSampler(rand.New(rand.NewSource(int64(task))), st.Tasks[task])
		b := stream.NewBatch(8, st.InputDim)
		for step := 0; step < 15; step++ {
			if (step+1)%every == 0 {
				ref.close(theta(), every, window == "task")
			}
			smp.Fill(b, 8)
			before := theta()
			if _, err := rw.Step(task, b); err != nil {
				t.Fatal(err)
			}
			for i, p := range params {
				g, tm := rw.Net.Grad(p), rw.Q.Term(p)
				for j, v := range p.Data() {
					d := float64(g[j]) - 2*lambda*float64(tm.Weights()[j])*(float64(before[i][j])-float64(tm.Anchors()[j]))
					ref.fWin[i][j] += d * d
					ref.omega[i][j] -= d * (float64(v) - float64(before[i][j]))
				}
			}
		}
		if err := rw.EndTask(task); err != nil {
			t.Fatal(err)
		}
		want := ref.end(task, theta(), scores == "agem")
		var w [][]float32
		lo, hi := math.Inf(1), math.Inf(-1)
		for i, p := range params {
			tm := rw.Q.Term(p)
			w = append(w, append([]float32(nil), tm.Weights()...))
			for j, x := range tm.Weights() {
				if e := math.Abs(float64(x) - want[i][j]); e > 1e-3*(1+want[i][j]) {
					t.Fatalf("task %d: %s[%d] weight %v, recomputed %v", task+1, p.Name, j, x, want[i][j])
				}
				if tm.Anchors()[j] != p.Data()[j] {
					t.Fatalf("task %d: %s[%d] anchor %v, parameter %v", task+1, p.Name, j, tm.Anchors()[j], p.Data()[j])
				}
				lo, hi = math.Min(lo, float64(x)), math.Max(hi, float64(x))
			}
		}
		// F and s are each rescaled to [0, 1]: their sum lies in [0, 2] and reaches at least 1.
		if lo < 0 || hi > 2 || hi < 1 {
			t.Fatalf("task %d: weights in [%v, %v], want within [0, 2] with a maximum of at least 1", task+1, lo, hi)
		}
		weights = append(weights, w)
	}
	return weights
}
