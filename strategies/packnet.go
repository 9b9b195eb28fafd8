package strategies

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/stream"
	G "gorgonia.org/gorgonia"
)

// PackNet is PackNet (Mallya & Lazebnik 2018): several tasks packed into one network by
// iterative pruning. Each trunk weight is free or owned by the task that kept it. A task trains
// the free weights (the weights earlier tasks own stay fixed); part-way through the task's steps
// (at step Iterations·(1-Retrain)) the strategy prunes, in every trunk layer, the Prune share of
// those weights with the smallest magnitude (set to 0 and left free for later tasks), and the
// task's remaining steps retrain only the weights it kept, which it then owns. At test time
// task j's examples run through the weights tasks 1..j own (graphs.Dense's Mask in the
// evaluation graph): later tasks' weights are masked out, so an earlier task's outputs are
// exactly what they were when it ended. The trunk's biases are trained on the first task only
// and fixed after it, as in the paper; each task has its own head (task-IL).
//
// With Prune < 0 (prune=equal) every task ends with the same share of the trunk: after task t
// of T (0-based), 1 - 1/(T-t) of the free weights are pruned, so the last task keeps all that
// is left (Avalanche's equal-capacity schedule). Adam's moments are reset at each task's start
// and at the pruning, so a weight whose gradient is masked does not move.
type PackNet struct {
	Base
	// Prune is the share of a task's trained free weights pruned after it, in [0, 1); negative
	// for the equal-capacity schedule.
	Prune float64
	// Retrain is the share of each task's steps spent retraining after the pruning, in [0, 1);
	// 0 prunes at the task's end without retraining.
	Retrain float64

	owner  [][]uint8   // per trunk layer and weight: 0 free, t+1 owned by task t
	masks  [][]float32 // per trunk layer, the evaluation graph's weight mask
	forTsk int         // the task masks hold (-1: none)
	active int         // the task being trained
	step   int         // steps of the active task so far
	pruned bool        // the active task has been pruned
	used   []float64   // per task ended, the share of trunk weights it owns
	cum    []float64   // per task ended, the share owned by the tasks so far
	order  []int
}

// Compile-time interface checks.
var (
	_ Strategy       = (*PackNet)(nil)
	_ TaskStarter    = (*PackNet)(nil)
	_ TaskEnder      = (*PackNet)(nil)
	_ Checkpointer   = (*PackNet)(nil)
	_ Requirer       = (*PackNet)(nil)
	_ CapacityReport = (*PackNet)(nil)
)

// Requires reports that the weight masks need the example's task at test time.
func (p *PackNet) Requires() Requirements { return Requirements{TaskIdentity: true} }

// Setup builds the trunk, one head per task and the model whose evaluation graph masks the
// trunk's weights by owner.
func (p *PackNet) Setup(env *Env) error {
	if len(env.Hidden) == 0 {
		return fmt.Errorf("packnet: it prunes the trunk's weights: give the trunk at least one hidden layer (hidden)")
	}
	if env.Iterations <= 0 && p.Retrain > 0 {
		return fmt.Errorf("packnet: retrain=%g needs the number of steps per task (Env.Iterations), which the runner sets", p.Retrain)
	}
	p.ResolveHeads(env.Stream)
	if p.Heads != stream.MultiHead {
		return fmt.Errorf("packnet: a shared output layer (heads=single) would be retrained by every task and forget; packnet needs one head per task (heads=auto or multi, task-IL)")
	}
	p.masks, p.forTsk, p.ForwardFunc = nil, -1, p.forward
	if len(env.Stream.Tasks) > math.MaxUint8 {
		return fmt.Errorf("packnet: %d tasks: at most %d (a weight's owner is a byte)", len(env.Stream.Tasks), math.MaxUint8)
	}
	if err := p.Base.Setup(env); err != nil {
		return fmt.Errorf("packnet: %w", err)
	}
	p.owner = make([][]uint8, len(p.layers()))
	for l, d := range p.layers() {
		p.owner[l] = make([]uint8, len(d.W.Data()))
	}
	p.active, p.step, p.pruned, p.used, p.cum = 0, 0, false, nil, nil
	return nil
}

// forward is the trunk and heads; in the evaluation graph each trunk layer's weights are masked
// (p.masks, set per evaluated task by setMasks).
func (p *PackNet) forward(bd *graphs.Binder, x *G.Node) (*G.Node, error) {
	if bd.Training() {
		return p.Base.Forward(bd, x)
	}
	if p.masks == nil {
		for _, d := range p.layers() {
			p.masks = append(p.masks, make([]float32, len(d.W.Data())))
		}
	}
	nc := len(p.Trunk.Convs)
	t := graphs.Trunk{MLP: graphs.MLP{Layers: make([]graphs.Dense, len(p.Trunk.Layers))}}
	for l, c := range p.Trunk.Convs {
		c.Mask = p.masks[l]
		t.Convs = append(t.Convs, c)
	}
	for l, d := range p.Trunk.Layers {
		t.Layers[l] = graphs.Dense{W: d.W, B: d.B, Mask: p.masks[nc+l]}
	}
	h, err := t.Apply(bd, x)
	if err != nil {
		return nil, err
	}
	return p.Out.Apply(bd, h)
}

// pruneAt is the step of a task at which it is pruned (Env.Iterations when it is pruned at
// the task's end).
func (p *PackNet) pruneAt() int {
	n := p.Env.Iterations
	return n - int(math.Round(p.Retrain*float64(n)))
}

// share is the fraction of task t's trained free weights pruned after it.
func (p *PackNet) share(t int) float64 {
	if p.Prune >= 0 {
		return p.Prune
	}
	return 1 - 1/float64(len(p.Env.Stream.Tasks)-t)
}

// StartTask makes cur the active task and resets Adam's moments.
func (p *PackNet) StartTask(cur int) error {
	p.active, p.step, p.pruned, p.forTsk = cur, 0, false, -1
	p.Opt.Reset()
	return nil
}

// Step trains on bt: the free weights before the pruning, the task's kept weights after it.
func (p *PackNet) Step(cur int, bt *stream.Batch) (StepInfo, error) {
	if cur != p.active {
		if err := p.StartTask(cur); err != nil {
			return StepInfo{}, err
		}
	}
	if !p.pruned && p.Env.Iterations > 0 && p.step >= p.pruneAt() {
		p.PruneTask(cur)
	}
	if err := p.Fill(cur, Part{Batch: bt, Weight: 1}); err != nil {
		return StepInfo{}, fmt.Errorf("packnet: %w", err)
	}
	info, err := p.TrainWith(func() error { p.restrict(cur); return nil })
	info.Samples = bt.N
	if err != nil {
		return info, err
	}
	p.step++
	return info, nil
}

// restrict zeroes the gradients of the trunk weights task cur may not change (those earlier
// tasks own; after the pruning, all but cur's own) and, after the first task, of the biases.
func (p *PackNet) restrict(cur int) {
	want := uint8(0)
	if p.pruned {
		want = uint8(cur + 1)
	}
	for l, d := range p.layers() {
		if g := p.Net.Grad(d.W); g != nil {
			for i, o := range p.owner[l] {
				if o != want {
					g[i] = 0
				}
			}
		}
		if cur > 0 {
			clear(p.Net.Grad(d.B))
		}
	}
}

// PruneTask prunes task cur: in each trunk layer the share(cur) of the free weights with the
// smallest magnitude are set to 0 and stay free; cur owns the rest. Ties in magnitude go to the
// lower index first, so a run is deterministic. Adam's moments are reset for the retraining.
func (p *PackNet) PruneTask(cur int) {
	frac := p.share(cur)
	for l, d := range p.layers() {
		w, own := d.W.Data(), p.owner[l]
		p.order = p.order[:0]
		for i, o := range own {
			if o == 0 {
				p.order = append(p.order, i)
			}
		}
		k := int(math.Round(frac * float64(len(p.order))))
		slices.SortStableFunc(p.order, func(a, b int) int {
			x, y := math.Abs(float64(w[a])), math.Abs(float64(w[b]))
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		})
		for n, i := range p.order {
			if n < k {
				w[i] = 0
			} else {
				own[i] = uint8(cur + 1)
			}
		}
	}
	p.pruned, p.forTsk = true, -1
	p.Opt.Reset()
}

// EndTask prunes the task if its steps did not (retrain=0) and records its share of the trunk.
func (p *PackNet) EndTask(cur int) error {
	if !p.pruned {
		p.PruneTask(cur)
	}
	p.record(cur)
	p.forTsk = -1
	return nil
}

// record sets the capacity entries of task cur from the owners.
func (p *PackNet) record(cur int) {
	var mine, taken, all float64
	for _, own := range p.owner {
		for _, o := range own {
			if int(o) == cur+1 {
				mine++
			}
			if o != 0 && int(o) <= cur+1 {
				taken++
			}
			all++
		}
	}
	p.used = append(p.used[:cur], mine/all)
	p.cum = append(p.cum[:cur], taken/all)
}

// Capacity returns, per task ended, the share of trunk weights it owns and the share the tasks
// so far own together.
func (p *PackNet) Capacity() (of string, task, cumulative []float64) {
	return "trunk weights", append([]float64(nil), p.used...), append([]float64(nil), p.cum...)
}

// Owners returns, per trunk layer and weight, its owner: 0 free, t+1 owned by task t (a view,
// not a copy).
func (p *PackNet) Owners() [][]uint8 { return p.owner }

// setMasks sets the evaluation masks for task j: the weights tasks 1..j own, and the free
// weights when j is the active task or later (they hold its training, or 0).
func (p *PackNet) setMasks(j int) {
	if p.forTsk == j {
		return
	}
	for l, own := range p.owner {
		m := p.masks[l]
		for i, o := range own {
			if (o != 0 && int(o) <= j+1) || (o == 0 && j >= p.active) {
				m[i] = 1
			} else {
				m[i] = 0
			}
		}
	}
	p.forTsk = j
}

// Scores evaluates bt, each run of consecutive examples of one task through that task's
// weights.
func (p *PackNet) Scores(bt *stream.Batch, out []float32) error {
	return p.ScoresByTask("packnet", "the weight masks need", bt, out, true, func(_ int, tasks []int32) { p.setMasks(int(tasks[0])) })
}

// packnetState is what SaveState writes (the weights are parameters, saved by the runner).
type packnetState struct {
	Active int       `json:"active"`
	Step   int       `json:"step"`
	Pruned bool      `json:"pruned"`
	Ended  int       `json:"ended"`
	Owner  [][]byte  `json:"owner"` // base64 in JSON
	Used   []float64 `json:"used"`
	Cum    []float64 `json:"cumulative"`
}

// SaveState saves every weight's owner, the active task, its step and whether it was pruned.
func (p *PackNet) SaveState() ([]byte, error) {
	return json.Marshal(packnetState{Active: p.active, Step: p.step, Pruned: p.pruned, Ended: len(p.used), Owner: p.owner, Used: p.used, Cum: p.cum})
}

// LoadState restores what SaveState saved.
func (p *PackNet) LoadState(data []byte) error {
	var st packnetState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("packnet: state: %w", err)
	}
	if len(st.Owner) != len(p.owner) || len(st.Used) != st.Ended || len(st.Cum) != st.Ended || st.Active < 0 || st.Active >= len(p.Env.Stream.Tasks) {
		return fmt.Errorf("packnet: state holds %d layers' owners (active task %d, %d ended), the model %d layers", len(st.Owner), st.Active, st.Ended, len(p.owner))
	}
	for l := range p.owner {
		if len(st.Owner[l]) != len(p.owner[l]) {
			return fmt.Errorf("packnet: layer %d: state holds %d owners, the layer %d weights", l, len(st.Owner[l]), len(p.owner[l]))
		}
		copy(p.owner[l], st.Owner[l])
	}
	p.active, p.step, p.pruned, p.used, p.cum, p.forTsk = st.Active, st.Step, st.Pruned, st.Used, st.Cum, -1
	return nil
}

func init() {
	Register(Info{
		Name: "packnet",
		Doc:  "PackNet (Mallya & Lazebnik 2018), task-IL only: after each task prune its trained free weights by magnitude, retrain the kept ones and fix them; each task is evaluated through its own and earlier tasks' weights",
		Options: []Option{
			{Name: "prune", Default: "equal", Doc: "share of a task's free weights pruned after it, in [0, 1), or equal (every task ends with the same share: 1 - 1/(T-t) after task t)"},
			{Name: "retrain", Default: "0.25", Doc: "share of each task's steps spent retraining the kept weights after the pruning, in [0, 1) (0: prune at the task's end)"},
			HeadsOption,
		},
	}, func(o *Options) (Strategy, error) {
		p := &PackNet{Prune: -1, Retrain: o.Float("retrain")}
		if v := o.String("prune"); v != "equal" {
			p.Prune = o.Float("prune")
			o.Check("prune", p.Prune >= 0 && p.Prune < 1, "a share in [0, 1), or equal")
		}
		p.ParseHeads(o)
		o.Check("retrain", p.Retrain >= 0 && p.Retrain < 1, "a share in [0, 1)")
		return p, nil
	})
}

// layers are the layers PackNet prunes: the trunk's conv layers, then its dense layers.
func (p *PackNet) layers() []graphs.Dense {
	var ls []graphs.Dense
	for _, c := range p.Trunk.Convs {
		ls = append(ls, graphs.Dense{W: c.W, B: c.B})
	}
	return append(ls, p.Trunk.Layers...)
}
