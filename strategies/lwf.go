package strategies

import (
	"fmt"
	"io"
	"slices"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/stream"
)

// LwF is Learning without Forgetting (Li & Hoiem 2017) as van de Ven & Tolias's reference code
// runs it (GMvandeVen/continual-learning, --replay=current --distill, which sets lwf_weighting):
// while training task k > 0 the loss is
//
//	L_current + alpha * L_distill,  L_distill = sum over earlier tasks j < k of KD_j
//
// KD_j = mean over the batch of -sum_c p_old,c log softmax(z/T)_c is the distillation of task j's
// outputs: p_old = softmax(z_old/T) over the units the previous model scores for task j, z_old
// its logits on the current inputs, and the current model's log softmax over the units it scores
// for task j now (no T^2 factor, as the reference's loss_fn_kd by default). So in task-IL with
// one head per task every old head scores the current inputs and L_distill sums their KD; in
// domain-IL (and task-IL with a shared head) KD_j is one term over every unit, counted k times as
// the reference does; in class-IL the previous model's softmax runs over the classes of earlier
// tasks and the current one over every class seen so far (the targets of the new classes are 0,
// as the reference pads them), counted once, as the reference does in class-IL.
//
// Option weighting=rnt runs the loss of the reference code's 2018 and 2019 versions (commits
// e17b714 to f0b1461, behind arXiv 1809.10635's and 1904.07734's tables) instead:
//
//	rnt * L_current + (1 - rnt) * alpha * L_distill,  rnt = 1/k while training task k (1-based),
//
// where L_distill is the mean (not the sum) of the earlier tasks' KD_j in task-IL, and tnorm=true
// multiplies each KD_j by T^2 as those versions' loss_fn_kd does. (The 2022 version behind the
// default drops both: L_current + L_distill, the sum over earlier tasks, no T^2.) Option
// perclass=true divides each KD_j by the number of units the current model scores in it, as
// that code did until commit 26f00db (2019-05-17), which averaged -p_old * log softmax over the
// classes as well as the batch: the code the 2018 and 2019 tables were made with.
//
// The previous model is a frozen copy of the parameters at the end of task k-1, evaluated in pure
// Go (one extra forward pass per step). The distillation term is one fused op in the training
// graph over the logits (graphs.Distill), whose soft targets are tensors rewritten before each
// step, so its gradient flows and the graph is built once. It is reported as the step's Penalty.
type LwF struct {
	Base
	// Alpha weighs the distillation loss (settled at Setup when the option is auto: AlphaOpt);
	// T is the temperature.
	Alpha, T float64
	// RNT selects the 2019 reference weighting (weighting=rnt): rnt*L_current +
	// (1-rnt)*alpha*L_distill with rnt = 1/k, the old tasks' terms averaged.
	RNT bool
	// TNorm multiplies the distillation term by T^2 (tnorm=true).
	TNorm bool
	// PerClass divides each task's distillation by the number of units it scores (perclass=true).
	PerClass bool
	// AlphaOpt is the alpha option as given: a number, or auto (LwFAlphas).
	AlphaOpt AutoFloat
	// D is the distillation term in the training graph (after Setup).
	D *graphs.Distill

	prev     *plainNet   // the previous model: weights at the end of task done-1
	done     int         // tasks ended so far
	cur      int         // task whose terms are set in D (-1: none)
	now, old [][]float32 // per term in use: the current and the previous model's mask
	weight   []float64   // per term in use: the tasks it stands for in L_distill
}

// Compile-time interface checks.
var (
	_ Strategy     = (*LwF)(nil)
	_ TaskEnder    = (*LwF)(nil)
	_ Checkpointer = (*LwF)(nil)
	_ Requirer     = (*LwF)(nil)
	_ Modeler      = (*LwF)(nil)
)

// Setup builds the model with the distillation term in its training graph: room for one softmax
// per earlier task in task-IL (each old head, or each task's units of a shared head), else one.
func (l *LwF) Setup(env *Env) error {
	s := env.Stream
	l.ResolveHeads(s)
	l.Alpha = l.AlphaOpt.Resolve(env, l.Heads)
	rows := l.Rows
	if rows == 0 {
		rows = env.Batch
	}
	terms := 1
	if s.Scenario == stream.TaskIL {
		terms = max(1, len(s.Tasks)-1)
	}
	l.D = graphs.NewDistill(l.T, terms, rows, s.ModelOutputs(l.Heads))
	l.Penalty = l.D.Penalty()
	if err := l.Base.Setup(env); err != nil {
		return fmt.Errorf("lwf: %w", err)
	}
	l.prev, l.done, l.cur = newPlainNet(&l.Base, true), 0, -1
	return nil
}

// LwFAlphas is where lwf:alpha=auto takes its value: the default the stream registers
// (lwf.alpha), else 1 (van de Ven & Tolias's weight).
var LwFAlphas = AutoTable{Key: "lwf.alpha", Fallback: 1}

// Resolved reports the output layout and the alpha used.
func (l *LwF) Resolved() map[string]string { return withFloat(l.Base.Resolved(), "alpha", l.Alpha) }

// setTerms lays out D's terms for training task cur: one per distinct pair of the current and
// the previous model's masks of the tasks j < cur, weighted by how many tasks share it (1 in
// class-IL); the targets are cleared.
func (l *LwF) setTerms(cur int) error {
	l.now, l.old, l.weight = l.now[:0], l.old[:0], l.weight[:0]
	for j := range cur {
		now, old := l.mask(cur, j), l.mask(cur-1, j)
		t := 0
		for t < len(l.now) && !(slices.Equal(l.now[t], now) && slices.Equal(l.old[t], old)) {
			t++
		}
		if t == len(l.now) {
			l.now, l.old, l.weight = append(l.now, now), append(l.old, old), append(l.weight, 0)
		}
		l.weight[t]++
	}
	if len(l.now) > len(l.D.Masks) {
		return fmt.Errorf("lwf: task %d distils %d softmaxes, the graph has room for %d", cur+1, len(l.now), len(l.D.Masks))
	}
	switch {
	case l.Env.Stream.Scenario == stream.ClassIL:
		for t := range l.weight {
			l.weight[t] = 1
		}
	case l.RNT:
		// The mean over the earlier tasks' terms, as the 2019 reference divides by n_replays.
		for t := range l.weight {
			l.weight[t] /= float64(cur)
		}
	}
	for t := range l.D.Masks {
		clear(l.D.Targets[t].Float32s())
		if t < len(l.now) {
			m := l.D.Masks[t].Float32s()
			for r := 0; r < len(m); r += len(l.now[t]) {
				copy(m[r:], l.now[t])
			}
		}
	}
	l.cur = cur
	return nil
}

// Step writes the soft targets of the previous model on bt into the distillation term (none
// during the first task), then trains on bt.
func (l *LwF) Step(cur int, bt *stream.Batch) (StepInfo, error) {
	if bt.N > l.Rows {
		return StepInfo{}, fmt.Errorf("lwf: %d rows do not fit a step of %d", bt.N, l.Rows)
	}
	rnt := 1.0 // the current loss's weight
	if l.RNT {
		rnt = 1 / float64(cur+1)
	}
	if cur > 0 {
		if l.done != cur {
			return StepInfo{}, fmt.Errorf("lwf: training task %d with the previous model of task %d (EndTask of each task must run)", cur+1, l.done)
		}
		if l.cur != cur {
			if err := l.setTerms(cur); err != nil {
				return StepInfo{}, err
			}
		}
		M := l.prev.M
		z := l.prev.forward(bt.X, bt.N)
		alpha := l.Alpha
		if l.RNT {
			alpha *= 1 - rnt
		}
		if l.TNorm {
			alpha *= l.T * l.T
		}
		for t, w := range l.weight {
			q := l.D.Targets[t].Float32s()
			n := 1
			if l.PerClass {
				n = activeUnits(l.now[t])
			}
			scale := float32(alpha * w / float64(bt.N*n))
			for i := range bt.N {
				graphs.SoftTargets(q[i*M:(i+1)*M], z[i*M:(i+1)*M], l.old[t], l.T, scale)
			}
			clear(q[bt.N*M:])
		}
	}
	if err := l.Fill(cur, Part{Batch: bt, Weight: rnt}); err != nil {
		return StepInfo{}, fmt.Errorf("lwf: %w", err)
	}
	info, err := l.Train()
	info.Samples = bt.N
	if err != nil {
		return info, fmt.Errorf("lwf: %w", err)
	}
	return info, nil
}

// activeUnits counts the units a mask row leaves in the softmax.
func activeUnits(mask []float32) int {
	n := 0
	for _, m := range mask {
		if m == 0 {
			n++
		}
	}
	return n
}

// EndTask freezes the current parameters as the previous model of the next task.
func (l *LwF) EndTask(cur int) error {
	l.prev.snapshot()
	l.done = cur + 1
	return nil
}

// lwfFormat starts LwF's saved state.
const lwfFormat = "clgraph.lwf/v1"

// WriteState writes the number of tasks ended and the previous model's weights (trunk then
// heads; none before the first task ends), straight from its tensors.
func (l *LwF) WriteState(w io.Writer) error {
	e := NewStateEncoder(w)
	e.String(lwfFormat)
	e.Int(l.done)
	if l.done > 0 {
		layers := l.prev.layers()
		e.Int(2 * len(layers))
		for _, L := range layers {
			e.Float32s(L.w)
			e.Float32s(L.b)
		}
	} else {
		e.Int(0)
	}
	if err := e.Close(); err != nil {
		return fmt.Errorf("lwf: saving the previous model: %w", err)
	}
	return nil
}

// SaveState returns what WriteState writes.
func (l *LwF) SaveState() ([]byte, error) { return SaveStateBytes(l) }

// LoadState restores what SaveState saved, on a strategy set up for the same stream and spec.
func (l *LwF) LoadState(data []byte) error {
	d := NewStateDecoder(data)
	if f := d.String(); d.err != nil {
		return fmt.Errorf("lwf: state: %w", d.err)
	} else if f != lwfFormat {
		return fmt.Errorf("lwf: state in format %q, want %q", clipString(f), lwfFormat)
	}
	done, n := d.Int(), d.Int()
	layers := l.prev.layers()
	if d.err == nil && (done < 0 || n < 0 || (done > 0) != (n > 0)) {
		return fmt.Errorf("lwf: state after %d tasks holds %d weight tensors", done, n)
	}
	if d.err == nil && n > 0 && n != 2*len(layers) {
		return fmt.Errorf("lwf: state holds %d weight tensors, the model %d", n, 2*len(layers))
	}
	var ws [][]float32
	for i := 0; i < n && d.err == nil; i++ {
		ws = append(ws, d.Float32s())
	}
	if err := d.Done(); err != nil {
		return fmt.Errorf("lwf: state: %w", err)
	}
	if err := finiteTensors(ws); err != nil {
		return fmt.Errorf("lwf: saved previous model: %w", err)
	}
	for i, L := range layers {
		if n > 0 && (len(ws[2*i]) != len(L.w) || len(ws[2*i+1]) != len(L.b)) {
			return fmt.Errorf("lwf: saved layer %d has %d+%d values, the model's %d+%d", i, len(ws[2*i]), len(ws[2*i+1]), len(L.w), len(L.b))
		}
	}
	if n > 0 {
		for i, L := range layers {
			copy(L.w, ws[2*i])
			copy(L.b, ws[2*i+1])
		}
	}
	l.done, l.cur = done, -1
	return nil
}

func init() {
	Register(Info{
		Name: "lwf",
		Doc:  "learning without forgetting (Li & Hoiem 2017): L + alpha * distillation of the previous model's softened outputs on the current inputs",
		Options: []Option{
			{Name: "alpha", Default: "auto", Doc: "weight of the distillation loss, which sums one term per earlier task (in class-IL one term), as van de Ven & Tolias's code (their weight: 1)", Auto: &LwFAlphas},
			{Name: "T", Default: "2", Doc: "distillation temperature"},
			{Name: "weighting", Default: "sum", Doc: "sum: L + alpha * (sum of the earlier tasks' terms), the reference code's 2022 version; rnt: rnt*L + (1-rnt)*alpha*(their mean), rnt = 1/k on task k, its 2018/2019 versions (arXiv 1809.10635, 1904.07734)"},
			{Name: "tnorm", Default: "false", Doc: "multiply the distillation term by T^2 (the reference's 2018/2019 versions do)"},
			{Name: "perclass", Default: "false", Doc: "average each task's distillation over the units it scores, not only over the batch (the reference code until commit 26f00db, which made the 2018 and 2019 tables)"},
			HeadsOption,
		},
	}, func(o *Options) (Strategy, error) {
		l := &LwF{}
		l.ParseHeads(o)
		l.AlphaOpt, l.T = o.FloatOrAuto("alpha"), o.Float("T")
		l.Alpha = l.AlphaOpt.Value
		l.RNT = o.Choice("weighting", "sum", "rnt") == "rnt"
		l.TNorm = o.Bool("tnorm")
		l.PerClass = o.Bool("perclass")
		o.Check("T", l.T > 0, "a positive number")
		return l, nil
	})
}
