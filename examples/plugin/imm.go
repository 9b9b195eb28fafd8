package main

import (
	"fmt"

	"github.com/clgraph/clgraph/strategies"
)

// IMM is mean-IMM, incremental moment matching (Lee et al. 2017, "Overcoming catastrophic
// forgetting by incremental moment matching", NeurIPS), written with clgraph's exported API only.
//
// Tasks are trained in sequence, each one starting from the previous task's solution: the
// paper's weight-transfer, i.e. fine-tuning. With l2 > 0 the paper's L2-transfer is added, the
// penalty (l2/2) sum (theta - theta*_{k-1})^2 toward the previous solution over the shared
// parameters, the Regularizer's penalty as in strategies/l2.go (l2=0, the default, is none).
//
// At the end of task k IMM keeps the solution theta*_k and installs the merge theta_{1:k}, which
// is what the runner evaluates after task k:
//
//   - alpha=uniform (the default): theta_{1:k} = (1/k) sum_i theta*_i, computed recursively as
//     theta_{1:k} = ((k-1) theta_{1:k-1} + theta*_k) / k;
//   - alpha=a, a number in (0, 1]: theta_{1:1} = theta*_1 and theta_{1:k} = a theta*_k +
//     (1-a) theta_{1:k-1}, so theta*_i weighs a (1-a)^(k-i) for i > 1 and theta*_1 (1-a)^(k-1).
//
// Each update is computed in float64 from the float32 values and rounded once to float32.
// Training goes on from the unmerged solution, as in the paper: StartTask of task k+1 puts
// theta*_k back, and EndTask installs the merge again. Every parameter is merged, per-task
// heads included (heads=multi), with no special case: task j's head keeps its initial values in
// the theta*_i before task j (no loss reaches it), so the merge pulls it back toward them; after
// task j it moves little (later losses do not reach it either, only Adam's momentum does).
//
// The Regularizer provides the model (Base: heads=auto|single|multi), the penalty and its
// checkpoints; IMM's own state (theta*_k, the merge, k) is its State, saved with the penalty.
type IMM struct {
	strategies.Regularizer
	// Alpha is the newest solution's weight in the merge; 0 means uniform (1/k after task k).
	Alpha float64

	mem immState
}

// immState is what IMM keeps between tasks, one slice per parameter in Params().All() order.
type immState struct {
	Tasks int              `json:"tasks"` // k, the solutions merged so far
	Last  []strategies.F32 `json:"last"`  // theta*_k
	Merge []strategies.F32 `json:"merge"` // theta_{1:k}
}

// Compile-time interface checks.
var (
	_ strategies.TaskStarter  = (*IMM)(nil)
	_ strategies.TaskEnder    = (*IMM)(nil)
	_ strategies.Checkpointer = (*IMM)(nil)
	_ strategies.Resolver     = (*IMM)(nil)
)

// Setup builds the model (with the L2-transfer penalty, zero until the first task ends) and
// zeroed buffers for theta*_k and the merge.
func (m *IMM) Setup(env *strategies.Env) error {
	if err := m.Regularizer.Setup(env); err != nil {
		return err
	}
	m.mem = immState{}
	for _, p := range m.PS.All() {
		m.mem.Last = append(m.mem.Last, make(strategies.F32, p.Size()))
		m.mem.Merge = append(m.mem.Merge, make(strategies.F32, p.Size()))
	}
	return nil
}

// StartTask restores theta*_k before task k+1 trains. It does nothing before the first task, nor
// when the runner replays StartTask on a fresh strategy to resume (it loads the parameters then).
func (m *IMM) StartTask(cur int) error {
	if m.mem.Tasks == 0 {
		return nil
	}
	for i, p := range m.PS.All() {
		copy(p.Data(), m.mem.Last[i])
	}
	return nil
}

// EndTask keeps theta*_k, anchors the L2-transfer penalty at it, and installs the merge.
func (m *IMM) EndTask(cur int) error {
	m.mem.Tasks++
	k := float64(m.mem.Tasks)
	wOld, wNew := k-1, 1.0 // uniform: ((k-1) merge + theta*_k) / k
	if m.Alpha > 0 {
		wOld, wNew = 1-m.Alpha, m.Alpha
	}
	if m.mem.Tasks == 1 {
		wOld = 0 // theta_{1:1} = theta*_1
	}
	for i := range m.Q.Terms {
		w := m.Q.Terms[i].Weights()
		for j := range w {
			w[j] = 1
		}
	}
	m.Q.SetAnchors() // before the merge is installed: the anchor is theta*_k
	for i, p := range m.PS.All() {
		theta, merge := p.Data(), m.mem.Merge[i]
		copy(m.mem.Last[i], theta)
		for j := range merge {
			merge[j] = float32((wOld*float64(merge[j]) + wNew*float64(theta[j])) / (wOld + wNew))
		}
		copy(theta, merge)
	}
	return nil
}

// LoadState restores the penalty and IMM's state (Regularizer.LoadState decodes it into
// m.mem) and checks that the saved buffers fit the model.
func (m *IMM) LoadState(data []byte) error {
	if err := m.Regularizer.LoadState(data); err != nil {
		return err
	}
	ps := m.PS.All()
	if len(m.mem.Last) != len(ps) || len(m.mem.Merge) != len(ps) {
		return fmt.Errorf("imm: the checkpoint holds %d solutions and %d merges, the model %d parameters", len(m.mem.Last), len(m.mem.Merge), len(ps))
	}
	for i, p := range ps {
		if len(m.mem.Last[i]) != p.Size() || len(m.mem.Merge[i]) != p.Size() {
			return fmt.Errorf("imm: the checkpoint's buffers for %s do not have its %d values", p.Name, p.Size())
		}
	}
	return nil
}

func init() {
	strategies.Register(strategies.Info{
		Name: "imm",
		Doc:  "mean-IMM (Lee et al. 2017): fine-tune each task from the last solution, evaluate the average of the task solutions",
		Options: []strategies.Option{
			{Name: "alpha", Default: "uniform", Doc: "merge weights: uniform (1/k each) or the newest solution's weight a in (0,1], the older merge getting 1-a"},
			{Name: "l2", Default: "0", Doc: "L2-transfer: penalty (l2/2) sum (theta - theta*_{k-1})^2 toward the previous solution (0: weight-transfer only)"},
			strategies.HeadsOption,
		},
	}, func(o *strategies.Options) (strategies.Strategy, error) {
		m := &IMM{}
		m.State = &m.mem
		m.ParseRegularizer(o, "l2", 0.5)
		if o.String("alpha") != "uniform" {
			m.Alpha = o.Float("alpha")
			o.Check("alpha", m.Alpha > 0 && m.Alpha <= 1, "uniform or a number in (0, 1]")
		}
		return m, nil
	})
}
