package strategies

import (
	"fmt"
	"math"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/stream"
	"github.com/sirupsen/logrus"
)

// GEM is Gradient Episodic Memory (Lopez-Paz & Ranzato 2017, "Gradient Episodic Memory for
// Continual Learning"). An episodic memory (Memory, class-balanced, filled at the end of each
// task) holds examples of every earlier task. From the second task on, each step first computes
// one reference gradient g_k per earlier task k, the gradient of the loss on up to RefBatch
// (0: Env.Batch) of task k's memory examples (all of them when they fit, as GEM's code takes a
// task's whole memory; else drawn at random, without replacement, each step), each scored as the
// scenario scores its task, as replay does; then
// the gradient g of the current batch. When some g·g_k < 0, g is replaced by the closest
// gradient g~ that every constraint g~·g_k >= 0 allows, through the paper's dual QP (G's rows
// being the g_k):
//
//	minimise ½ vᵀ (G Gᵀ + eps I) v + (G g)ᵀ v  subject to v >= margin,   g~ = Gᵀ v + g,
//
// exactly as the reference code (project2cone2) solves it with quadprog: its eps = 1e-3 on the
// diagonal, and its margin (memory_strength, 0.5 in its experiments) as a lower bound on the
// dual variables, the paper's "small constant γ >= 0 added to v*" that biases the projection
// towards backward transfer. SolveQP solves it (tolerance QPTol). Adam then updates with g~.
// The dot products run over every trainable parameter jointly, in float64.
//
// Cost: a step is one forward and backward pass per earlier task plus the current one (t+1
// passes on task t+1, against A-GEM's 2), t gradient copies and t(t+1)/2 dot products over the
// parameters, and a t-variable QP; the reference gradients take t parameter-sized buffers.
// During the first task (empty memory) it trains as naive.
type GEM struct {
	Base
	// Mem is the episodic memory; the factory creates it.
	Mem *Memory
	// Margin is the dual variables' lower bound (settled at Setup when the option is auto:
	// MarginOpt), Eps the ridge on G Gᵀ's diagonal.
	Margin, Eps float64
	// MarginOpt is the margin option as given: a number, or auto (GEMMargins).
	MarginOpt AutoFloat
	// RefBatch, when > 0, is the number of a task's memory examples each reference gradient
	// averages over (the whole task memory while it holds fewer); 0 takes as many as the
	// current batch. Above the batch, the memory's passes run in a training graph of RefBatch
	// rows of their own over the same parameters (RefNet), as A-GEM's.
	RefBatch int
	// RefNet is the model of the memory's passes when RefBatch exceeds the batch (nil
	// otherwise), built at the first step that uses the memory and whenever Net was rebuilt.
	RefNet *graphs.Model
	// Ref holds the reference gradients of the last step that used the memory: Ref[k] is that of
	// the k-th earlier task with examples in memory, laid out as Net.Trainable()'s gradients end
	// to end. Dual is that step's dual solution v (nil when it projected nothing).
	Ref  [][]float32
	Dual []float64

	byTask [][]MemoryItem // the memory's items per earlier task (tasks without any omitted)
	g      [][]float32    // the current gradient's buffers (Model.Grad's), per trainable parameter
	rb     *stream.Batch
	perm   []int
	refFor *graphs.Model // the Net that RefNet was built beside
}

// Compile-time interface checks.
var (
	_ Strategy     = (*GEM)(nil)
	_ TaskEnder    = (*GEM)(nil)
	_ Requirer     = (*GEM)(nil)
	_ Checkpointer = (*GEM)(nil)
)

// Setup builds the model and the memory batch.
func (m *GEM) Setup(env *Env) error {
	m.ResolveHeads(env.Stream)
	m.Margin = m.MarginOpt.Resolve(env, m.Heads)
	if err := m.Base.Setup(env); err != nil {
		return fmt.Errorf("gem: %w", err)
	}
	m.rb = stream.NewBatch(max(env.Batch, m.RefBatch), env.Stream.InputDim)
	return nil
}

// refModel returns the model of the memory's passes (Base.RowsModel with RefBatch rows).
func (m *GEM) refModel() (*graphs.Model, error) {
	return m.RowsModel("gem", m.RefBatch, &m.RefNet, &m.refFor)
}

// GEMMargins is where gem:margin=auto takes its value: the stream's default (gem.margin), else
// the reference code's 0.5.
var GEMMargins = AutoTable{Key: "gem.margin", Fallback: 0.5}

// Resolved reports the output layout and the margin used.
func (m *GEM) Resolved() map[string]string { return withFloat(m.Base.Resolved(), "margin", m.Margin) }

// Step trains on bt with the current gradient, projected when it conflicts with an earlier
// task's memory gradient.
func (m *GEM) Step(cur int, bt *stream.Batch) (StepInfo, error) {
	if len(m.byTask) == 0 {
		return m.Base.Step(cur, bt)
	}
	samples := bt.N
	m.Ref = m.Ref[:0]
	ref, err := m.refModel()
	if err != nil {
		return StepInfo{}, err
	}
	for _, items := range m.byTask {
		m.sample(items)
		if err := m.FillModel(ref, cur, Part{Batch: m.rb, Weight: 1}); err != nil {
			return StepInfo{}, fmt.Errorf("gem: %w", err)
		}
		loss, _, err := ref.Step()
		if err != nil {
			return StepInfo{}, err
		}
		if l := float64(loss); math.IsNaN(l) || math.IsInf(l, 0) {
			return StepInfo{}, fmt.Errorf("gem: the loss on task %d's memory: %w", items[0].Task.ID+1, Diverged(loss, 0))
		}
		m.keepRef(ref)
		samples += m.rb.N
	}
	if err := m.Fill(cur, Part{Batch: bt, Weight: 1}); err != nil {
		return StepInfo{}, fmt.Errorf("gem: %w", err)
	}
	// Grad returns the buffers Update reads: project them in place.
	info, err := m.TrainWith(func() error {
		m.g = m.g[:0]
		for _, p := range m.Net.Trainable() {
			m.g = append(m.g, m.Net.Grad(p))
		}
		var err error
		if m.Dual, err = GEMProject(m.g, m.Ref, m.Margin, m.Eps); err != nil {
			return fmt.Errorf("gem: %w", err)
		}
		return nil
	})
	info.Samples = samples
	return info, err
}

// sample fills rb with the task's memory items: all of them when they fit a batch, else
// Env.Batch of them drawn without replacement (a partial Fisher-Yates shuffle).
func (m *GEM) sample(items []MemoryItem) {
	m.rb.Reset()
	n := m.Env.Batch
	if m.RefBatch > 0 {
		n = m.RefBatch
	}
	if len(items) <= n {
		for _, it := range items {
			m.rb.Add(it.Task, &it.Task.Train, int(it.K))
		}
		return
	}
	m.perm = m.perm[:0]
	for i := range items {
		m.perm = append(m.perm, i)
	}
	for k := range n {
		j := k + m.Env.Rng.Intn(len(items)-k)
		m.perm[k], m.perm[j] = m.perm[j], m.perm[k]
		it := items[m.perm[k]]
		m.rb.Add(it.Task, &it.Task.Train, int(it.K))
	}
}

// keepRef appends the gradient of ref's last Step to Ref, in the order of Net.Trainable(),
// reusing Ref's buffers across steps.
func (m *GEM) keepRef(ref *graphs.Model) {
	k := len(m.Ref)
	if k < cap(m.Ref) {
		m.Ref = m.Ref[:k+1]
	} else {
		m.Ref = append(m.Ref, nil)
	}
	r := m.Ref[k][:0]
	for _, p := range m.Net.Trainable() {
		r = append(r, ref.Grad(p)...)
	}
	m.Ref[k] = r
}

// GEMProject applies GEM's projection to the gradient g, given per parameter, against the
// reference gradients refs (refs[k] is g_k laid out as g's buffers end to end; a nil or empty
// buffer of g has no values there). When g·g_k < 0 for some k it solves the dual QP (see GEM)
// with SolveQP, sets, in place, g <- g + sum_k v_k g_k and returns v; otherwise it leaves g
// alone and returns nil. Dot products accumulate in float64.
func GEMProject(g [][]float32, refs [][]float32, margin, eps float64) ([]float64, error) {
	size := 0
	for _, gi := range g {
		size += len(gi)
	}
	t := len(refs)
	q := make([]float64, t) // q_k = g·g_k
	violated := false
	for k, r := range refs {
		if len(r) != size {
			return nil, fmt.Errorf("reference gradient %d has %d values, the gradient %d", k, len(r), size)
		}
		off := 0
		for _, gi := range g {
			q[k] += level1.Dsdot(len(gi), gi, 1, r[off:], 1)
			off += len(gi)
		}
		violated = violated || q[k] < 0
	}
	if !violated {
		return nil, nil
	}
	P := make([]float64, t*t)
	for k := range t {
		for l := k; l < t; l++ {
			P[k*t+l] = level1.Dsdot(size, refs[k], 1, refs[l], 1)
			P[l*t+k] = P[k*t+l]
		}
		P[k*t+k] += eps
	}
	// v = margin + u with u >= 0: minimise ½ uᵀPu + (q + P margin)ᵀu.
	for k := range t {
		for l := range t {
			q[k] += P[k*t+l] * margin
		}
	}
	v := make([]float64, t)
	if _, err := SolveQP(P, q, v); err != nil {
		return nil, fmt.Errorf("the projection's dual QP: %w", err)
	}
	for k, r := range refs {
		v[k] += margin
		if v[k] == 0 {
			continue
		}
		off := 0
		for _, gi := range g {
			level1.Saxpy(len(gi), float32(v[k]), r[off:], 1, gi, 1)
			off += len(gi)
		}
	}
	return v, nil
}

// group rebuilds byTask from the memory, in task order.
func (m *GEM) group() {
	m.byTask = m.byTask[:0]
	for _, tk := range m.Env.Stream.Tasks {
		var items []MemoryItem
		for _, it := range m.Mem.Items() {
			if it.Task == tk {
				items = append(items, it)
			}
		}
		if len(items) > 0 {
			m.byTask = append(m.byTask, items)
		}
	}
}

// EndTask adds the task's examples to the memory.
func (m *GEM) EndTask(cur int) error {
	m.Mem.Add(m.Env.Stream.Tasks[cur], m.Env.Rng)
	m.group()
	if m.Env.Log != nil {
		m.Env.Log.WithFields(logrus.Fields{"task": cur + 1, "memory": m.Mem.Len(), "constraints": len(m.byTask)}).Debug("gem: memory updated")
	}
	return nil
}

// SaveState saves the memory (the reference gradients are recomputed at every step).
func (m *GEM) SaveState() ([]byte, error) {
	return saveMemory(m.Mem, "gem", "memory")
}

// LoadState restores the memory SaveState saved.
func (m *GEM) LoadState(data []byte) error {
	if err := loadMemory(m.Mem, data, m.Env.Stream, "gem"); err != nil {
		return err
	}
	m.group()
	return nil
}

func init() {
	Register(Info{
		Name: "gem",
		Doc:  "GEM: project the gradient so as not to increase the loss on any earlier task's episodic memory (one QP per step)",
		Options: []Option{
			{Name: "per_class", Default: "100", Doc: "examples kept per class (task, unit), drawn at random at each task's end (as agem)"},
			{Name: "budget", Default: "0", Doc: "if > 0, keep this many examples in total, shared evenly by the classes seen, instead of per_class"},
			{Name: "margin", Default: "auto", Doc: "lower bound on the dual variables, biasing the projection towards backward transfer (the reference code's memory_strength, 0.5 in its experiments; 0 is the paper's plain projection)", Auto: &GEMMargins},
			{Name: "eps", Default: "0.001", Doc: "added to the diagonal of G Gᵀ in the dual QP (the reference code's eps)"},
			{Name: "ref", Default: "0", Doc: "memory examples per task's reference gradient (the task's whole memory while it holds fewer, as GEM's code takes it); 0: as many as the current batch"},
			HeadsOption,
		},
	}, func(o *Options) (Strategy, error) {
		m := &GEM{}
		m.ParseHeads(o)
		per, budget := o.Int("per_class"), o.Int("budget")
		m.MarginOpt, m.Eps = o.FloatOrAuto("margin"), o.Float("eps")
		m.Margin = m.MarginOpt.Value
		o.Check("per_class", per >= 0, "a non-negative integer")
		o.Check("budget", budget >= 0, "a non-negative integer")
		o.Check("eps", m.Eps >= 0, "a non-negative number")
		m.RefBatch = o.Int("ref")
		o.Check("ref", m.RefBatch >= 0, "a non-negative integer")
		if o.Err() != nil {
			return nil, o.Err()
		}
		if budget > 0 {
			per = 0
		}
		mem, err := NewMemory(Balanced, budget, per)
		if err != nil {
			return nil, err
		}
		m.Mem = mem
		return m, nil
	})
}
