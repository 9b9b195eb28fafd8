package strategies

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/stream"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// HAT is Hard Attention to the Task (Serra, Surís, Miron & Karatzoglou 2018), as the authors'
// code (joansj/hat) runs it. Each task t has a learnt embedding e_t^l per hidden layer l, and
// the layer's output after its ReLU is gated by a^l = sigmoid(s e_t^l) (graphs.AttentionGate).
// While training, s is annealed within each epoch of the task's training set from 1/SMax to
// SMax (s = (SMax - 1/SMax) b/B + 1/SMax at the b-th of B batches); at test time s = SMax, so
// the gate is nearly binary, and each example is gated by its task's embedding (task-IL only).
//
// After each task the cumulative mask a_<t = max over the tasks so far of sigmoid(SMax e) is
// kept. On later tasks the gradient of a weight between units i (below) and j (above) is
// multiplied by 1 - min(a_<t,i, a_<t,j) (for the first layer, by 1 - a_<t,j; a bias by
// 1 - a_<t,j): units earlier tasks use are not changed. The loss adds C times the attention
// regulariser sum a_t (1 - a_<t) / sum (1 - a_<t) (on the first task, the mean attention), which
// makes each task use few units that earlier tasks did not take. The embeddings' gradients are
// compensated for the annealing (times SMax/s (cosh(s e)+1)/(cosh(e)+1), s e clamped to
// +-ThresCosh), the global gradient norm is clipped at ClipGrad, and after each update the
// embeddings are clamped to +-ThresEmb.
//
// The reference code trains with SGD and a new optimiser per task; clgraph's protocols use Adam,
// so HAT resets Adam's moments at each task's start: a weight whose gradient the masks zero then
// does not move (Adam's update of a zero gradient with zero moments is zero).
type HAT struct {
	Base
	// SMax is the gate's scale at test time (the paper's s_max, 400); C weighs the attention
	// regulariser (the paper's c, 0.75).
	SMax, C float64
	// ThresCosh, ThresEmb and ClipGrad are the reference code's constants: 50, 6 and 10000.
	ThresCosh, ThresEmb, ClipGrad float64
	// E[t][l] is task t's embedding of hidden layer l (the active task's lives in Emb[l]).
	E [][][]float32
	// Emb are the parameters of the active task's embeddings, one [1, width] per hidden layer.
	Emb []*graphs.Param

	prev   [][]float32 // cumulative mask a_<t per hidden layer (nil before the first task ends)
	active int         // the task being trained
	step   int         // steps of the active task so far
	s      float32     // the gate's scale in the training graph, set before each step
	gates  map[int][]*tensor.Dense
	masks  [][]float32 // per layer, a scratch mask
	grads  [][]float32
	used   []float64 // per task ended, the fraction of hidden units its mask uses
	cum    []float64 // per task ended, the fraction the tasks so far use together
}

// Compile-time interface checks.
var (
	_ Strategy       = (*HAT)(nil)
	_ TaskStarter    = (*HAT)(nil)
	_ TaskEnder      = (*HAT)(nil)
	_ Checkpointer   = (*HAT)(nil)
	_ Requirer       = (*HAT)(nil)
	_ CapacityReport = (*HAT)(nil)
)

// Requires reports that the gates need the example's task at test time.
func (h *HAT) Requires() Requirements { return Requirements{TaskIdentity: true} }

// Setup builds the trunk, one embedding per task and hidden layer (drawn from N(0, 1), as
// PyTorch's Embedding), and the gated model.
func (h *HAT) Setup(env *Env) error {
	if len(env.Hidden) == 0 {
		return fmt.Errorf("hat: the gates sit on hidden layers: give the trunk at least one (hidden)")
	}
	if err := h.Base.Setup(env); err != nil {
		return fmt.Errorf("hat: %w", err)
	}
	s := env.Stream
	widths := h.widths()
	h.E = make([][][]float32, len(s.Tasks))
	for t := range h.E {
		for _, w := range widths {
			e := make([]float32, w)
			for j := range e {
				e[j] = float32(env.Rng.NormFloat64())
			}
			h.E[t] = append(h.E[t], e)
		}
	}
	h.Emb = nil
	for l, w := range widths {
		h.Emb = append(h.Emb, h.PS.Add(fmt.Sprintf("hat/e%d", l), "hat", 1, w))
	}
	h.masks = make([][]float32, len(widths))
	for l, w := range widths {
		h.masks[l] = make([]float32, w)
	}
	h.gates, h.prev, h.used, h.cum, h.active, h.step = map[int][]*tensor.Dense{}, nil, nil, nil, 0, 0
	h.load(0)
	net, err := graphs.NewModel(graphs.Config{
		Params: h.PS, Forward: h.forward, Penalty: h.Penalty,
		InputDim: s.InputDim, Outputs: s.ModelOutputs(h.Heads), Batch: h.Rows, EvalBatch: h.EvalRows(),
	})
	if err != nil {
		return fmt.Errorf("hat: %w", err)
	}
	h.Net = net
	return nil
}

// load copies task t's embeddings into the parameters and makes t the active task.
func (h *HAT) load(t int) {
	for l, p := range h.Emb {
		copy(p.Data(), h.E[t][l])
	}
	h.active = t
}

// forward is the trunk with each hidden ReLU's output gated: by the active task's embedding at
// the annealed scale in the training graph, by constant masks (each row its task's, at SMax) in
// the evaluation graph.
func (h *HAT) forward(bd *graphs.Binder, in *G.Node) (*G.Node, error) {
	n := in.Shape()[0]
	x := in
	nc := len(h.Trunk.Convs)
	gate := func(l int, x *G.Node) (*G.Node, error) {
		if bd.Training() {
			return graphs.AttentionGate(x, bd.Node(h.Emb[l]), &h.s)
		}
		g, ok := h.gates[n]
		if !ok {
			for _, c := range h.Trunk.Convs {
				g = append(g, tensor.New(tensor.WithShape(n, c.Out.Size()), tensor.Of(tensor.Float32)))
			}
			for _, d := range h.Trunk.Layers {
				g = append(g, tensor.New(tensor.WithShape(n, d.W.Shape()[1]), tensor.Of(tensor.Float32)))
			}
			h.gates[n] = g
		}
		return graphs.Gate(x, bd.Const(fmt.Sprintf("hat/gate%d", l), g[l]))
	}
	for l, c := range h.Trunk.Convs {
		z, err := graphs.ApplyConv(bd, x, c)
		if err != nil {
			return nil, err
		}
		if x, err = gate(l, z); err != nil { // the conv's output is ReLU'd and pooled: ≥ 0
			return nil, err
		}
	}
	for l, d := range h.Trunk.Layers {
		z, err := d.Apply(bd, x)
		if err != nil {
			return nil, err
		}
		if x, err = graphs.ReLU(z); err != nil {
			return nil, err
		}
		if x, err = gate(nc+l, x); err != nil {
			return nil, err
		}
	}
	return h.Out.Apply(bd, x)
}

// widths are the number of units each gated layer has: every conv layer's channels (one gate
// per channel), then every dense layer's units.
func (h *HAT) widths() []int {
	return append(append([]int(nil), h.Env.Filters...), h.Env.Hidden...)
}

// gatedLayers are the weights and biases of the gated layers, in widths' order.
func (h *HAT) gatedLayers() []graphs.Dense {
	var ls []graphs.Dense
	for _, c := range h.Trunk.Convs {
		ls = append(ls, graphs.Dense{W: c.W, B: c.B})
	}
	return append(ls, h.Trunk.Layers...)
}

// mask writes task t's test-time mask of layer l, sigmoid(SMax e), into dst.
func (h *HAT) mask(t, l int, dst []float32) {
	e := h.E[t][l]
	if t == h.active {
		e = h.Emb[l].Data()
	}
	for j, v := range e {
		dst[j] = graphs.HATGate(h.SMax * float64(v))
	}
}

// scale is the gate's scale at the active task's step-th step: annealed over each epoch of its
// training set.
func (h *HAT) scale() float32 {
	n := h.Env.Stream.Tasks[h.active].Train.Len()
	bs := h.Env.Batch
	perEpoch := max(1, (n+bs-1)/bs)
	frac := 0.0
	if n > 0 {
		frac = float64((h.step%perEpoch)*bs) / float64(n)
	}
	return float32((h.SMax-1/h.SMax)*frac + 1/h.SMax)
}

// StartTask makes cur the active task (its embeddings in the parameters) and resets Adam's
// moments (the reference code's new optimiser per task).
func (h *HAT) StartTask(cur int) error {
	if cur != h.active {
		h.load(cur)
	}
	h.step = 0
	h.Opt.Reset()
	return nil
}

// Step trains on bt: the gated network's loss, the attention regulariser, the masked and
// compensated gradients, clipping, Adam, and the embeddings' clamp.
func (h *HAT) Step(cur int, bt *stream.Batch) (StepInfo, error) {
	if cur != h.active {
		if err := h.StartTask(cur); err != nil {
			return StepInfo{}, err
		}
	}
	h.s = h.scale()
	if err := h.Fill(cur, Part{Batch: bt, Weight: 1}); err != nil {
		return StepInfo{}, fmt.Errorf("hat: %w", err)
	}
	loss, _, err := h.Net.Step()
	info := StepInfo{Loss: loss, Samples: bt.N}
	if err != nil {
		return info, err
	}
	info.Penalty = float32(h.C * h.regularise())
	if l := float64(loss + info.Penalty); math.IsNaN(l) || math.IsInf(l, 0) {
		return info, Diverged(loss, info.Penalty)
	}
	h.restrict()
	h.compensate()
	h.clip()
	h.Opt.Update(h.Net.Trainable(), h.Net.Grad)
	t := float32(h.ThresEmb)
	for _, p := range h.Emb {
		e := p.Data()
		for j, v := range e {
			e[j] = min(max(v, -t), t)
		}
	}
	h.step++
	return info, nil
}

// regularise adds C times the attention regulariser's gradient to the embeddings' and returns
// the regulariser: sum a (1 - a_<t) / sum (1 - a_<t), a = sigmoid(s e) at the training scale.
func (h *HAT) regularise() float64 {
	var count float64
	for l, p := range h.Emb {
		for j := range p.Data() {
			count += 1 - h.prevAt(l, j)
		}
	}
	if count == 0 {
		return 0 // every unit taken: nothing to regularise
	}
	var reg float64
	s := float64(h.s)
	for l, p := range h.Emb {
		g := h.Net.Grad(p)
		for j, e := range p.Data() {
			a := float64(graphs.HATGate(s * float64(e)))
			free := 1 - h.prevAt(l, j)
			reg += a * free
			if g != nil {
				g[j] += float32(h.C * free / count * s * a * (1 - a))
			}
		}
	}
	return reg / count
}

// prevAt is the cumulative mask of unit j of layer l (0 before the first task ends).
func (h *HAT) prevAt(l, j int) float64 {
	if h.prev == nil {
		return 0
	}
	return float64(h.prev[l][j])
}

// restrict multiplies the trunk's gradients by 1 - min(a_<t below, a_<t above).
func (h *HAT) restrict() {
	if h.prev == nil {
		return
	}
	for l, d := range h.gatedLayers() {
		post := h.prev[l]
		if g := h.Net.Grad(d.B); g != nil {
			for j := range g {
				g[j] *= 1 - post[j]
			}
		}
		g := h.Net.Grad(d.W)
		if g == nil {
			continue
		}
		out := len(post)
		for i := range len(g) / out {
			pre := float32(1)
			if l > 0 {
				// Row i of a weight reads unit i of the layer below, or, below a conv layer
				// (its weight rows and the flattened image run channel fastest), channel
				// i mod channels.
				below := h.prev[l-1]
				pre = below[i%len(below)]
			}
			row := g[i*out : (i+1)*out]
			for j := range row {
				row[j] *= 1 - min(pre, post[j])
			}
		}
	}
}

// compensate rescales the embeddings' gradients for the annealing.
func (h *HAT) compensate() {
	s := float64(h.s)
	for _, p := range h.Emb {
		g := h.Net.Grad(p)
		if g == nil {
			continue
		}
		for j, e := range p.Data() {
			se := math.Max(-h.ThresCosh, math.Min(h.ThresCosh, s*float64(e)))
			g[j] *= float32(h.SMax / s * (math.Cosh(se) + 1) / (math.Cosh(float64(e)) + 1))
		}
	}
}

// clip scales every gradient down so that their global L2 norm is at most ClipGrad.
func (h *HAT) clip() {
	h.grads = h.grads[:0]
	var sq float64
	for _, p := range h.Net.Trainable() {
		if g := h.Net.Grad(p); g != nil {
			h.grads = append(h.grads, g)
			for _, v := range g {
				sq += float64(v) * float64(v)
			}
		}
	}
	if n := math.Sqrt(sq); n > h.ClipGrad {
		k := float32(h.ClipGrad / n)
		for _, g := range h.grads {
			for j := range g {
				g[j] *= k
			}
		}
	}
}

// EndTask keeps task cur's embeddings, adds its mask to the cumulative one and records the
// fraction of units it uses.
func (h *HAT) EndTask(cur int) error {
	for l, p := range h.Emb {
		copy(h.E[cur][l], p.Data())
	}
	h.endMasks(cur)
	return nil
}

// endMasks folds task cur's test-time masks into the cumulative mask and records its use.
func (h *HAT) endMasks(cur int) {
	if h.prev == nil {
		h.prev = make([][]float32, len(h.Emb))
		for l := range h.prev {
			h.prev[l] = make([]float32, len(h.masks[l]))
		}
	}
	var on, taken, all float64
	for l := range h.Emb {
		h.mask(cur, l, h.masks[l])
		for j, v := range h.masks[l] {
			h.prev[l][j] = max(h.prev[l][j], v)
			if v > 0.5 {
				on++
			}
			if h.prev[l][j] > 0.5 {
				taken++
			}
			all++
		}
	}
	h.used = append(h.used[:cur], on/all)
	h.cum = append(h.cum[:cur], taken/all)
}

// Capacity returns, per task ended, the fraction of hidden units (and conv channels) whose
// test-time gate is open (above 0.5), and the fraction open for at least one task so far.
func (h *HAT) Capacity() (of string, task, cumulative []float64) {
	of = "hidden units"
	if len(h.Trunk.Convs) > 0 {
		of = "hidden units and conv channels"
	}
	return of, append([]float64(nil), h.used...), append([]float64(nil), h.cum...)
}

// Scores evaluates bt with each example's task's test-time gates.
func (h *HAT) Scores(bt *stream.Batch, out []float32) error {
	return h.ScoresByTask("hat", "the gates need", bt, out, false, h.setGates)
}

// setGates fills the evaluation graph's gate rows with the masks of the rows' tasks.
func (h *HAT) setGates(rows int, tasks []int32) {
	g := h.gates[rows]
	last := int32(-1)
	for i, t := range tasks {
		for l := range h.Emb {
			m := h.masks[l]
			if t != last {
				h.mask(int(t), l, m)
			}
			w := g[l].Shape()[1] // a conv layer's row repeats its channels' gates per pixel
			row := g[l].Float32s()[i*w : (i+1)*w]
			for k := 0; k < w; k += len(m) {
				copy(row[k:], m)
			}
		}
		last = t
	}
}

// hatState is what SaveState writes (the active task's embeddings are parameters, saved by
// the runner).
type hatState struct {
	Active int   `json:"active"`
	Step   int   `json:"step"`
	Ended  int   `json:"ended"`
	E      []F32 `json:"embeddings"`
}

// SaveState saves the embeddings of every task, the active task, its step count and the number
// of tasks ended.
func (h *HAT) SaveState() ([]byte, error) {
	st := hatState{Active: h.active, Step: h.step, Ended: len(h.used)}
	for _, es := range h.E {
		for _, e := range es {
			st.E = append(st.E, F32(e))
		}
	}
	return json.Marshal(st)
}

// LoadState restores what SaveState saved and rebuilds the cumulative masks of the tasks ended.
func (h *HAT) LoadState(data []byte) error {
	var st hatState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("hat: state: %w", err)
	}
	L := len(h.Emb)
	if len(st.E) != len(h.E)*L || st.Active < 0 || st.Active >= len(h.E) || st.Ended < 0 || st.Ended > len(h.E) {
		return fmt.Errorf("hat: state holds %d embeddings (active task %d, %d ended), the model %d tasks x %d layers", len(st.E), st.Active, st.Ended, len(h.E), L)
	}
	for t := range h.E {
		for l := range h.E[t] {
			if len(st.E[t*L+l]) != len(h.E[t][l]) {
				return fmt.Errorf("hat: task %d layer %d embedding has %d units, the model %d", t, l, len(st.E[t*L+l]), len(h.E[t][l]))
			}
			copy(h.E[t][l], st.E[t*L+l])
		}
	}
	h.active, h.step, h.prev, h.used, h.cum = st.Active, st.Step, nil, nil, nil
	saved := h.active
	h.active = -1 // masks from E for every task while rebuilding
	for t := range st.Ended {
		h.endMasks(t)
	}
	h.active = saved
	return nil
}

func init() {
	Register(Info{
		Name: "hat",
		Doc:  "hard attention to the task (Serra et al. 2018), task-IL only: a learnt, annealed sigmoid gate per task over every hidden unit; units earlier tasks use are protected, and an attention regulariser keeps each task's share small",
		Options: []Option{
			{Name: "smax", Default: "400", Doc: "the gate's scale at test time (the paper's s_max; annealed from 1/smax within each epoch while training)"},
			{Name: "c", Default: "0.75", Doc: "weight of the attention regulariser (the paper's c)"},
			HeadsOption,
		},
	}, func(o *Options) (Strategy, error) {
		h := &HAT{SMax: o.Float("smax"), C: o.Float("c"), ThresCosh: 50, ThresEmb: 6, ClipGrad: 10000}
		h.ParseHeads(o)
		o.Check("smax", h.SMax >= 1, "a number of at least 1")
		o.Check("c", h.C >= 0, "a number of at least 0")
		return h, nil
	})
}
