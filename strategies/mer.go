package strategies

import (
	"fmt"
	"math"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/stream"
)

// MER is Meta-Experience Replay (Riemer et al. 2019), Algorithm 1 as the authors' code
// (mattriemer/MER, meralg1.py) runs it: experience replay from a reservoir memory, with Reptile
// meta-updates that favour gradients that agree across examples. For each incoming example, in
// order:
//
//	θ_A ← θ
//	for i = 1..Batches:
//	    B_i ← the example and Replay examples drawn from the memory
//	    θ_W ← θ
//	    for each (x, y) of B_i in turn: θ ← θ − LR ∇ℓ(x, y; θ)     (plain SGD, one example a step)
//	    θ ← θ_W + Beta (θ − θ_W)                                   (within-batch Reptile)
//	θ ← θ_A + Gamma (θ − θ_A)                                      (across-batch Reptile)
//	offer (x, y) to the reservoir
//
// One runner step (a batch of the protocol's size) is that many incoming examples: it runs
// Batches·(Replay+1) single-example SGD steps per example, so MER is meant for the online
// setting it was published in (one pass, batch 1, 1000 examples a task); at the quick protocol
// its steps are hundreds of times naive's. It learns with SGD at its own LR, not the protocol's
// Adam, as the algorithm is defined. It applies in every scenario.
type MER struct {
	Base
	// Budget is the reservoir's size, Replay the memory examples per batch, Batches the
	// batches per incoming example (the paper's s).
	Budget, Replay, Batches int
	// LR is the inner SGD's learning rate; Beta and Gamma the within- and across-batch Reptile
	// rates.
	LR, Beta, Gamma float64
	// Mem is the reservoir of examples seen.
	Mem *ReservoirBuffer

	theta, a0, w0 [][]float32   // views of the trainable parameters, and two snapshots
	rb, mb, one   *stream.Batch // memory sample, the batch B_i, one row of it
	noValues      []float32
	sgd           *graphs.Adam // plain SGD at LR (graphs.Adam with SGD set)
}

// Compile-time interface checks.
var (
	_ Strategy     = (*MER)(nil)
	_ Checkpointer = (*MER)(nil)
)

// Setup builds the model with a one-row training graph and the reservoir.
func (m *MER) Setup(env *Env) error {
	m.Rows = 1
	if err := m.Base.Setup(env); err != nil {
		return fmt.Errorf("mer: %w", err)
	}
	D := env.Stream.InputDim
	m.Mem = NewReservoirBuffer(m.Budget, D, 0)
	m.rb, m.mb = stream.NewBatch(m.Replay, D), stream.NewBatch(m.Replay+1, D)
	m.one = &stream.Batch{N: 1}
	m.sgd = graphs.NewAdam(m.LR)
	m.sgd.SGD = true
	m.theta, m.a0, m.w0 = nil, nil, nil
	for _, p := range m.Net.Trainable() {
		d := p.Data()
		m.theta = append(m.theta, d)
		m.a0, m.w0 = append(m.a0, make([]float32, len(d))), append(m.w0, make([]float32, len(d)))
	}
	return nil
}

// MERMeta runs MER's meta-update for one incoming example on the parameters theta (views of
// the model's tensors, changed in place), with a0 and w0 scratch of the same shapes: the across-
// batch snapshot, then for each of batches batches the within-batch snapshot, inner(b) (the
// batch's SGD steps), and the within-batch Reptile step θ_W + beta (θ − θ_W); finally the
// across-batch step θ_A + gamma (θ − θ_A). It returns inner's first error.
func MERMeta(theta, a0, w0 [][]float32, batches int, beta, gamma float64, inner func(b int) error) error {
	snapshot(a0, theta)
	for b := range batches {
		snapshot(w0, theta)
		if err := inner(b); err != nil {
			return err
		}
		reptile(theta, w0, beta)
	}
	reptile(theta, a0, gamma)
	return nil
}

// snapshot copies theta into dst.
func snapshot(dst, theta [][]float32) {
	for i, t := range theta {
		copy(dst[i], t)
	}
}

// reptile sets theta to from + k (theta - from).
func reptile(theta, from [][]float32, k float64) {
	kk := float32(k)
	for i, t := range theta {
		f := from[i]
		for j, v := range t {
			t[j] = f[j] + kk*(v-f[j])
		}
	}
}

// step trains on example i of b with one plain SGD step and returns its loss.
func (m *MER) step(cur int, b *stream.Batch, i int) (float32, error) {
	D := m.Env.Stream.InputDim
	m.one.X, m.one.Target, m.one.Task = b.X[i*D:(i+1)*D], b.Target[i:i+1], b.Task[i:i+1]
	if err := m.Fill(cur, Part{Batch: m.one, Weight: 1}); err != nil {
		return 0, err
	}
	loss, pen, err := m.Net.Step()
	if err != nil {
		return loss, err
	}
	if l := float64(loss + pen); math.IsNaN(l) || math.IsInf(l, 0) {
		return loss, Diverged(loss, pen)
	}
	m.sgd.Update(m.Net.Trainable(), m.Net.Grad)
	return loss, nil
}

// Step runs MERMeta for each example of bt in turn, then offers it to the reservoir. The loss
// reported is the mean over bt's examples of their own SGD steps' losses.
func (m *MER) Step(cur int, bt *stream.Batch) (StepInfo, error) {
	D := m.Env.Stream.InputDim
	rng := m.Env.Rng
	var sum float64
	var steps, samples int
	for i := range bt.N {
		task := bt.Task[i]
		err := MERMeta(m.theta, m.a0, m.w0, m.Batches, m.Beta, m.Gamma, func(int) error {
			m.Mem.Sample(m.rb, nil, m.Replay, rng)
			// The incoming example first, then the memory's, as the reference code orders them.
			mb := m.mb
			mb.Reset()
			mb.X = append(append(mb.X, bt.X[i*D:(i+1)*D]...), m.rb.X...)
			mb.Target = append(append(mb.Target, bt.Target[i]), m.rb.Target...)
			mb.Task = append(append(mb.Task, task), m.rb.Task...)
			mb.N = 1 + m.rb.N
			for k := range m.mb.N {
				loss, err := m.step(cur, m.mb, k)
				if err != nil {
					return err
				}
				if k == 0 {
					sum += float64(loss)
					steps++
				}
				samples++
			}
			return nil
		})
		if err != nil {
			return StepInfo{Loss: float32(sum / float64(max(1, steps))), Samples: samples}, fmt.Errorf("mer: %w", err)
		}
		if task < 0 {
			task = int32(cur) // not task-IL: the example is of the task being trained
		}
		m.Mem.Offer(bt.X[i*D:(i+1)*D], bt.Target[i], task, m.noValues, rng)
	}
	return StepInfo{Loss: float32(sum / float64(max(1, steps))), Samples: samples}, nil
}

// SaveState saves the reservoir.
func (m *MER) SaveState() ([]byte, error) {
	return saveMemory(m.Mem, "mer", "reservoir")
}

// LoadState restores the reservoir SaveState saved.
func (m *MER) LoadState(data []byte) error {
	return loadMemory(m.Mem, data, m.Env.Stream, "mer")
}

// Optimizer reports that MER's SGD keeps no optimiser state (the runner saves none).
func (m *MER) Optimizer() *graphs.Adam { return nil }

func init() {
	Register(Info{
		Name: "mer",
		Doc:  "meta-experience replay (Riemer et al. 2019, Algorithm 1): reservoir replay with per-example SGD and within- and across-batch Reptile meta-updates; for the online setting (batch 1, one pass): its step costs batches*(replay+1) SGD steps per example",
		Options: []Option{
			{Name: "budget", Default: "500", Doc: "examples the reservoir holds (the paper's MNIST runs: 200, 500, 5120)"},
			{Name: "replay", Default: "25", Doc: "memory examples per batch, beside the incoming one (the reference code's replay_batch_size; 25 at 500 memories on MNIST permutations)"},
			{Name: "batches", Default: "10", Doc: "batches per incoming example (the paper's s, batches_per_example)"},
			{Name: "lr", Default: "0.03", Doc: "learning rate of the inner SGD steps (MER learns with SGD, not the protocol's Adam)"},
			{Name: "beta", Default: "0.03", Doc: "within-batch Reptile rate"},
			{Name: "gamma", Default: "1", Doc: "across-batch Reptile rate"},
			HeadsOption,
		},
	}, func(o *Options) (Strategy, error) {
		m := &MER{Budget: o.Int("budget"), Replay: o.Int("replay"), Batches: o.Int("batches"), LR: o.Float("lr"), Beta: o.Float("beta"), Gamma: o.Float("gamma")}
		m.ParseHeads(o)
		o.Check("budget", m.Budget >= 1, "an integer of at least 1")
		o.Check("replay", m.Replay >= 0, "an integer of at least 0")
		o.Check("batches", m.Batches >= 1, "an integer of at least 1")
		o.Check("lr", m.LR > 0, "a number above 0")
		o.Check("beta", m.Beta > 0 && m.Beta <= 1, "a number in (0, 1]")
		o.Check("gamma", m.Gamma > 0 && m.Gamma <= 1, "a number in (0, 1]")
		return m, nil
	})
}
