package strategies

import (
	"encoding/json"
	"fmt"
	"math/rand"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/stream"
	"github.com/sirupsen/logrus"
)

// GreedyMemory is GDumb's class-balanced greedy sampler: a memory of Budget examples offered one
// at a time. An example is added while the memory has room; once it is full, an example of
// class y is added only if y holds fewer than Budget/|Y| examples (|Y| the number of classes
// offered so far, y's included; compared exactly, count·|Y| < Budget), in the place of a
// uniformly drawn example of the largest class (the first offered among equals). Like
// ReservoirBuffer it stores examples by value (a stream.Batch row does not say where it came
// from): input, target unit and task as given. A class is a (task, unit) pair, the task being
// stream.NoTask where the scenario gives none, so outside task-IL classes are the output units.
type GreedyMemory struct {
	// Budget is the number of examples kept, Dim the features of an input.
	Budget, Dim int

	x            []float32 // Len x Dim inputs
	target, task []int32
	classes      []class // every class offered, in order of first offer
	count        []int   // examples held per class
}

// NewGreedyMemory returns an empty memory of budget examples of dim features.
func NewGreedyMemory(budget, dim int) *GreedyMemory {
	return &GreedyMemory{Budget: budget, Dim: dim, x: make([]float32, 0, budget*dim),
		target: make([]int32, 0, budget), task: make([]int32, 0, budget)}
}

// Len is the number of examples held.
func (m *GreedyMemory) Len() int { return len(m.target) }

// Count returns how many examples of unit target of task (stream.NoTask outside task-IL) the
// memory holds.
func (m *GreedyMemory) Count(target, task int32) int {
	if i := m.classIndex(class{task, target}); i >= 0 {
		return m.count[i]
	}
	return 0
}

func (m *GreedyMemory) classIndex(c class) int {
	for i, k := range m.classes {
		if k == c {
			return i
		}
	}
	return -1
}

// Offer offers one example (x holds Dim features) and reports whether the memory took it. It
// draws one number from rng when it replaces an example, none otherwise.
func (m *GreedyMemory) Offer(x []float32, target, task int32, rng *rand.Rand) bool {
	c := class{task, target}
	ci := m.classIndex(c)
	if ci < 0 {
		ci = len(m.classes)
		m.classes, m.count = append(m.classes, c), append(m.count, 0)
	}
	if m.Len() < m.Budget {
		m.x = append(m.x, x[:m.Dim]...)
		m.target, m.task = append(m.target, target), append(m.task, task)
		m.count[ci]++
		return true
	}
	if m.count[ci]*len(m.classes) >= m.Budget {
		return false
	}
	big := 0
	for i, n := range m.count {
		if n > m.count[big] {
			big = i
		}
	}
	// Replace the r-th example of the largest class (which is not c: it holds at least the
	// mean Budget/|Y| > count[ci]).
	r := rng.Intn(m.count[big])
	for s := range m.target {
		if (class{m.task[s], m.target[s]}) != m.classes[big] {
			continue
		}
		if r--; r < 0 {
			copy(m.x[s*m.Dim:(s+1)*m.Dim], x)
			m.target[s], m.task[s] = target, task
			break
		}
	}
	m.count[big]--
	m.count[ci]++
	return true
}

// AddTo appends example i of the memory to b.
func (m *GreedyMemory) AddTo(b *stream.Batch, i int) {
	b.X = append(b.X, m.x[i*m.Dim:(i+1)*m.Dim]...)
	b.Target, b.Task = append(b.Target, m.target[i]), append(b.Task, m.task[i])
	b.N++
}

// greedyState is a saved GreedyMemory: its examples and the classes offered, in order.
type greedyState struct {
	X           F32 `json:"x"`
	Target      I32 `json:"target"`
	Task        I32 `json:"task"`
	ClassTask   I32 `json:"class_task"`
	ClassTarget I32 `json:"class_target"`
}

// MarshalJSON saves the memory's contents (its sizes come from the strategy).
func (m *GreedyMemory) MarshalJSON() ([]byte, error) {
	s := greedyState{X: m.x, Target: m.target, Task: m.task}
	for _, c := range m.classes {
		s.ClassTask, s.ClassTarget = append(s.ClassTask, c.task), append(s.ClassTarget, c.unit)
	}
	return json.Marshal(s)
}

// Restore loads, in place, a state MarshalJSON saved, checking its sizes, that every example is
// of a task and unit of st and of a class listed. Nothing changes on error.
func (m *GreedyMemory) Restore(data []byte, st *stream.Stream) error {
	var s greedyState
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("greedy memory state: %w", err)
	}
	n := len(s.Target)
	if n > m.Budget || len(s.Task) != n || len(s.X) != n*m.Dim || len(s.ClassTask) != len(s.ClassTarget) {
		return fmt.Errorf("greedy memory state: %d examples (%d tasks, %d inputs), %d/%d classes, for a memory of %d examples of %d features",
			n, len(s.Task), len(s.X), len(s.ClassTask), len(s.ClassTarget), m.Budget, m.Dim)
	}
	out := &GreedyMemory{Budget: m.Budget, Dim: m.Dim}
	for i := range s.ClassTask {
		c := class{s.ClassTask[i], s.ClassTarget[i]}
		if out.classIndex(c) >= 0 {
			return fmt.Errorf("greedy memory state: class (task %d, unit %d) listed twice", c.task+1, c.unit)
		}
		out.classes, out.count = append(out.classes, c), append(out.count, 0)
	}
	for i := range n {
		if s.Task[i] < stream.NoTask || int(s.Task[i]) >= len(st.Tasks) || s.Target[i] < 0 || int(s.Target[i]) >= st.Outputs {
			return fmt.Errorf("greedy memory state: example %d is of task %d, unit %d, outside the stream", i, s.Task[i]+1, s.Target[i])
		}
		ci := out.classIndex(class{s.Task[i], s.Target[i]})
		if ci < 0 {
			return fmt.Errorf("greedy memory state: example %d is of an unlisted class", i)
		}
		out.count[ci]++
	}
	m.x, m.target, m.task = append(m.x[:0], s.X...), append(m.target[:0], s.Target...), append(m.task[:0], s.Task...)
	m.classes, m.count = out.classes, out.count
	return nil
}

// GDumb is GDumb (Prabhu, Torr & Dokania 2020, "GDumb: A Simple Approach that Questions Our
// Progress in Continual Learning"): a class-balanced greedy memory (GreedyMemory) filled as the
// task's examples stream by, and, at each task's end (before each evaluation), a model trained
// from scratch on the memory alone. Training steps take no gradient step: they offer the batch
// to the memory and report a loss of 0 (Samples: the batch's size). The runner's sampler streams
// a task in shuffled epochs without replacement, so only the first |train split| examples of a
// task are offered, each training example once as in GDumb's one-pass stream; later epochs'
// repeats are ignored (with fewer steps than that, only the examples streamed are offered).
//
// At EndTask the parameters are re-initialised as Setup initialises them (graphs.InitLinear,
// drawing from Env.Rng), a fresh Adam is made, and the model trains for Epochs passes over the
// memory in shuffled mini-batches of Env.Batch rows (the last one smaller), each example masked
// as the scenario scores it (task-IL: its task's units or head; class-IL: every class seen so
// far; domain-IL: every unit), so the model after task t depends only on the memory and the
// random source. This is the paper's plain version: no cutmix (its MNIST runs use none either),
// Adam at the protocol's learning rate instead of SGD with warm restarts and gradient clipping,
// and Epochs passes instead of its 128. The retraining (Epochs * ceil(memory / batch) steps)
// runs in EndTask, which the runner counts as training time.
type GDumb struct {
	Base
	// Budget is the memory's size and Epochs the retraining passes; the factory sets them.
	Budget, Epochs int
	// Mem is the memory, made by Setup.
	Mem *GreedyMemory

	task, offered int // the task being streamed and the examples of it offered so far
	rb            *stream.Batch
	order         []int
}

// Compile-time interface checks.
var (
	_ Strategy     = (*GDumb)(nil)
	_ TaskEnder    = (*GDumb)(nil)
	_ Requirer     = (*GDumb)(nil)
	_ Checkpointer = (*GDumb)(nil)
)

// Setup builds the model, the memory and its batch.
func (g *GDumb) Setup(env *Env) error {
	if err := g.Base.Setup(env); err != nil {
		return fmt.Errorf("gdumb: %w", err)
	}
	g.Mem = NewGreedyMemory(g.Budget, env.Stream.InputDim)
	g.rb = stream.NewBatch(env.Batch, env.Stream.InputDim)
	return nil
}

// Step offers the batch's examples to the memory, up to the task's first epoch.
func (g *GDumb) Step(cur int, bt *stream.Batch) (StepInfo, error) {
	if cur != g.task {
		g.task, g.offered = cur, 0
	}
	D := g.Env.Stream.InputDim
	n := max(0, min(bt.N, g.Env.Stream.Tasks[cur].Train.Len()-g.offered))
	for i := range n {
		g.Mem.Offer(bt.X[i*D:(i+1)*D], bt.Target[i], bt.Task[i], g.Env.Rng)
	}
	g.offered += n
	return StepInfo{Samples: bt.N}, nil
}

// Reinit re-initialises every parameter as Setup does (the trunk's conv and dense layers, then the heads',
// drawing from Env.Rng) and replaces the optimizer by a fresh Adam.
func (g *GDumb) Reinit() {
	for _, c := range g.Trunk.Convs {
		graphs.InitLinear(c.W, c.B, g.Env.Rng)
	}
	for _, ls := range [][]graphs.Dense{g.Trunk.Layers, g.Out.Layers} {
		for _, l := range ls {
			graphs.InitLinear(l.W, l.B, g.Env.Rng)
		}
	}
	g.Opt = g.Env.NewOptimizer()
}

// EndTask trains a freshly initialised model on the memory alone.
func (g *GDumb) EndTask(cur int) error {
	g.Reinit()
	n, rows := g.Mem.Len(), g.Env.Batch
	g.order = g.order[:0]
	for i := range n {
		g.order = append(g.order, i)
	}
	var info StepInfo
	for range g.Epochs {
		g.Env.Rng.Shuffle(n, func(i, j int) { g.order[i], g.order[j] = g.order[j], g.order[i] })
		for s := 0; s < n; s += rows {
			g.rb.Reset()
			for _, i := range g.order[s:min(s+rows, n)] {
				g.Mem.AddTo(g.rb, i)
			}
			if err := g.Fill(cur, Part{Batch: g.rb, Weight: 1}); err != nil {
				return fmt.Errorf("gdumb: %w", err)
			}
			var err error
			if info, err = g.Train(); err != nil {
				return fmt.Errorf("gdumb: retraining on the memory: %w", err)
			}
		}
	}
	if g.Env.Log != nil {
		g.Env.Log.WithFields(logrus.Fields{"task": cur + 1, "memory": n, "epochs": g.Epochs, "loss": info.Loss}).Debug("gdumb: retrained from scratch")
	}
	return nil
}

// gdumbState is GDumb's saved state: the memory and the streaming position.
type gdumbState struct {
	Mem     *GreedyMemory `json:"memory"`
	Task    int           `json:"task"`
	Offered int           `json:"offered"`
}

// SaveState saves the memory and how much of the task in progress it was offered.
func (g *GDumb) SaveState() ([]byte, error) {
	b, err := json.Marshal(gdumbState{Mem: g.Mem, Task: g.task, Offered: g.offered})
	if err != nil {
		return nil, fmt.Errorf("gdumb: saving the memory: %w", err)
	}
	return b, nil
}

// LoadState restores the state SaveState saved.
func (g *GDumb) LoadState(data []byte) error {
	var s struct {
		Mem     json.RawMessage `json:"memory"`
		Task    int             `json:"task"`
		Offered int             `json:"offered"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("gdumb: state: %w", err)
	}
	st := g.Env.Stream
	if s.Task < 0 || s.Task >= len(st.Tasks) || s.Offered < 0 || s.Offered > st.Tasks[s.Task].Train.Len() {
		return fmt.Errorf("gdumb: state at example %d of task %d", s.Offered, s.Task+1)
	}
	if err := g.Mem.Restore(s.Mem, st); err != nil {
		return fmt.Errorf("gdumb: %w", err)
	}
	g.task, g.offered = s.Task, s.Offered
	return nil
}

func init() {
	Register(Info{
		Name: "gdumb",
		Doc:  "GDumb: a class-balanced greedy memory, and a model retrained from scratch on it alone before each evaluation",
		Options: []Option{
			{Name: "budget", Default: "500", Doc: "examples the memory holds (500: the paper's MNIST setting with a 400-unit MLP; it also ran 300 and 4400)"},
			{Name: "epochs", Default: "50", Doc: "passes over the memory when retraining, in batches of the protocol's size (the paper: 128 passes of SGD with warm restarts at batch 16)"},
			HeadsOption,
		},
	}, func(o *Options) (Strategy, error) {
		g := &GDumb{}
		g.ParseHeads(o)
		g.Budget, g.Epochs = o.Int("budget"), o.Int("epochs")
		o.Check("budget", g.Budget >= 1, "a positive integer")
		o.Check("epochs", g.Epochs >= 1, "a positive integer")
		if o.Err() != nil {
			return nil, o.Err()
		}
		return g, nil
	})
}
