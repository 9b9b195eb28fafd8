package strategies

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"sort"

	"github.com/clgraph/clgraph/stream"
	"github.com/sirupsen/logrus"
)

// MemoryPolicy says which examples a replay Memory keeps.
type MemoryPolicy int

// The memory policies.
const (
	// Balanced keeps the same number of examples of every class seen so far (a class being a
	// task's output unit, so in domain-IL each task's classes count separately), each class's
	// examples a uniform random sample of its training data.
	Balanced MemoryPolicy = iota
	// Reservoir keeps a uniform random sample of every training example seen so far (reservoir
	// sampling, Vitter's algorithm R, over each task's training split in turn), whatever its
	// class or task.
	Reservoir
)

// String returns the policy's option value.
func (p MemoryPolicy) String() string {
	if p == Reservoir {
		return "reservoir"
	}
	return "balanced"
}

// MemoryItem is one remembered example: example K of task Task's training split. The memory
// stores references, not pixels, so it costs a few bytes per example.
type MemoryItem struct {
	Task *stream.Task
	K    int32
}

// class is the group a balanced memory evens out: a task's output unit.
type class struct{ task, unit int32 }

// Memory is a replay memory of past training examples, updated at the end of each task (so while
// a task trains, the memory holds earlier tasks only and replay weights are exact). Its zero
// value is not usable: set Policy and Budget or PerClass, or use NewMemory.
type Memory struct {
	Policy MemoryPolicy
	// Budget is the total number of examples kept. With PerClass set (Balanced only), Budget is
	// ignored and the memory grows by PerClass examples per new class.
	Budget   int
	PerClass int

	items []MemoryItem
	seen  int // Reservoir: examples offered so far
	order []int
	pos   int
}

// NewMemory returns an empty memory.
func NewMemory(policy MemoryPolicy, budget, perClass int) (*Memory, error) {
	switch {
	case perClass < 0 || budget < 0:
		return nil, fmt.Errorf("strategies: memory budget %d and per-class %d must not be negative", budget, perClass)
	case perClass > 0 && policy != Balanced:
		return nil, fmt.Errorf("strategies: a per-class memory size needs the balanced policy, not %s", policy)
	case perClass == 0 && budget == 0:
		return nil, fmt.Errorf("strategies: memory needs a budget or a per-class size")
	}
	return &Memory{Policy: policy, Budget: budget, PerClass: perClass}, nil
}

// Len is the number of examples held.
func (m *Memory) Len() int { return len(m.items) }

// Items returns the examples held (do not modify).
func (m *Memory) Items() []MemoryItem { return m.items }

// Counts returns how many examples the memory holds per task (by task ID) and per global output
// unit of each task: counts[task][unit].
func (m *Memory) Counts() map[int]map[int]int {
	out := map[int]map[int]int{}
	for _, it := range m.items {
		u := int(it.Task.Train.Target[it.K])
		if out[it.Task.ID] == nil {
			out[it.Task.ID] = map[int]int{}
		}
		out[it.Task.ID][u]++
	}
	return out
}

// Add offers task's training examples to the memory after training on it, drawing with rng.
func (m *Memory) Add(task *stream.Task, rng *rand.Rand) {
	if m.Policy == Reservoir {
		m.reservoir(task, rng)
	} else {
		m.balanced(task, rng)
	}
	m.order, m.pos = m.order[:0], 0
}

func (m *Memory) reservoir(task *stream.Task, rng *rand.Rand) {
	for k := 0; k < task.Train.Len(); k++ {
		m.seen++
		it := MemoryItem{Task: task, K: int32(k)}
		if len(m.items) < m.Budget {
			m.items = append(m.items, it)
		} else if j := rng.Intn(m.seen); j < m.Budget {
			m.items[j] = it
		}
	}
}

func (m *Memory) balanced(task *stream.Task, rng *rand.Rand) {
	// Group the memory by class, keeping each class's (random) order, and add the new task's
	// classes with their examples in random order.
	groups := map[class][]MemoryItem{}
	var keys []class
	for _, it := range m.items {
		c := class{int32(it.Task.ID), it.Task.Train.Target[it.K]}
		if _, ok := groups[c]; !ok {
			keys = append(keys, c)
		}
		groups[c] = append(groups[c], it)
	}
	for _, k := range rng.Perm(task.Train.Len()) {
		c := class{int32(task.ID), task.Train.Target[k]}
		if _, ok := groups[c]; !ok {
			keys = append(keys, c)
		}
		groups[c] = append(groups[c], MemoryItem{Task: task, K: int32(k)})
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].task != keys[j].task {
			return keys[i].task < keys[j].task
		}
		return keys[i].unit < keys[j].unit
	})
	// Class i keeps ceil((Budget - i) / classes) examples: the budget split as evenly as
	// possible, and a class's quota never grows as classes are added, so old classes only shrink.
	m.items = m.items[:0]
	for i, c := range keys {
		q := m.PerClass
		if q == 0 {
			q = (m.Budget - i + len(keys) - 1) / len(keys)
		}
		g := groups[c]
		m.items = append(m.items, g[:min(q, len(g))]...)
	}
}

// Sample empties b and fills it with n examples of the memory, in shuffled passes over it
// (without replacement within a pass), drawing with rng. It adds nothing when the memory is empty.
func (m *Memory) Sample(b *stream.Batch, n int, rng *rand.Rand) {
	b.Reset()
	if len(m.items) == 0 {
		return
	}
	for b.N < n {
		if m.pos >= len(m.order) {
			if len(m.order) != len(m.items) {
				m.order = make([]int, len(m.items))
				for i := range m.order {
					m.order[i] = i
				}
			}
			rng.Shuffle(len(m.order), func(i, j int) { m.order[i], m.order[j] = m.order[j], m.order[i] })
			m.pos = 0
		}
		it := m.items[m.order[m.pos]]
		b.Add(it.Task, &it.Task.Train, int(it.K))
		m.pos++
	}
}

// Replay is experience replay: a memory of past training examples (Memory), and each step
// trains on the current batch and a batch of the same size drawn from the memory, with
// loss = (1/N) L_current + (1 - 1/N) L_replay, N the number of tasks seen so far (the current one
// included). The memory is filled at the end of each task. Replayed examples keep their task, so
// in class-IL they are scored over every class seen so far and with heads=multi each goes
// through its own task's head. During the first task (empty memory) half of each step's rows
// are unused.
type Replay struct {
	Base
	// Mem is the memory; the factory creates it.
	Mem *Memory
	rb  *stream.Batch
}

// Compile-time interface checks.
var (
	_ Strategy     = (*Replay)(nil)
	_ TaskEnder    = (*Replay)(nil)
	_ Requirer     = (*Replay)(nil)
	_ Modeler      = (*Replay)(nil)
	_ Checkpointer = (*Replay)(nil)
)

// Setup builds a model whose steps take the current batch and a replayed batch of the same size.
func (r *Replay) Setup(env *Env) error {
	r.Rows = 2 * env.Batch
	if err := r.Base.Setup(env); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	r.rb = stream.NewBatch(env.Batch, env.Stream.InputDim)
	return nil
}

// Step trains on the current batch and, after the first task, as many replayed examples.
func (r *Replay) Step(cur int, bt *stream.Batch) (StepInfo, error) {
	r.rb.Reset()
	if cur > 0 {
		r.Mem.Sample(r.rb, bt.N, r.Env.Rng)
	}
	n := float64(cur + 1)
	parts := []Part{{Batch: bt, Weight: 1}}
	if r.rb.N > 0 {
		parts = []Part{{Batch: bt, Weight: 1 / n}, {Batch: r.rb, Weight: 1 - 1/n}}
	}
	if err := r.Fill(cur, parts...); err != nil {
		return StepInfo{}, fmt.Errorf("replay: %w", err)
	}
	info, err := r.Train()
	info.Samples = bt.N + r.rb.N
	return info, err
}

// EndTask adds the task's examples to the memory.
func (r *Replay) EndTask(cur int) error {
	r.Mem.Add(r.Env.Stream.Tasks[cur], r.Env.Rng)
	if r.Env.Log != nil {
		r.Env.Log.WithFields(logrus.Fields{"task": cur + 1, "memory": r.Mem.Len()}).Debug("replay: memory updated")
	}
	return nil
}

func init() {
	Register(Info{
		Name: "replay",
		Doc:  "experience replay from a memory of past examples, loss (1/N) L_current + (1-1/N) L_replay",
		Options: []Option{
			{Name: "budget", Default: "1000", Doc: "examples the memory holds in total (ignored with per_class)"},
			{Name: "per_class", Default: "0", Doc: "if > 0, keep this many examples per class (task, unit) instead of a total budget; needs select=balanced"},
			{Name: "select", Default: "balanced", Doc: "which examples to keep: balanced (same count per class seen) or reservoir (uniform over every example seen)"},
			HeadsOption,
		},
	}, func(o *Options) (Strategy, error) {
		r := &Replay{}
		r.ParseHeads(o)
		policy := Balanced
		if o.Choice("select", "balanced", "reservoir") == "reservoir" {
			policy = Reservoir
		}
		budget, per := o.Int("budget"), o.Int("per_class")
		o.Check("budget", budget >= 0, "a non-negative integer")
		o.Check("per_class", per >= 0, "a non-negative integer")
		if o.Err() != nil {
			return nil, o.Err()
		}
		m, err := NewMemory(policy, budget, per)
		if err != nil {
			return nil, err
		}
		r.Mem = m
		return r, nil
	})
}

// memoryState is a saved Memory: each item's task and example, the reservoir's count and the
// sampling pass in progress.
type memoryState struct {
	Tasks I32 `json:"tasks"`
	K     I32 `json:"k"`
	Seen  int `json:"seen"`
	Order I32 `json:"order"`
	Pos   int `json:"pos"`
}

// MarshalJSON saves the memory's contents and sampling position (its settings come from the
// strategy's spec).
func (m *Memory) MarshalJSON() ([]byte, error) {
	st := memoryState{Seen: m.seen, Pos: m.pos}
	for _, it := range m.items {
		st.Tasks = append(st.Tasks, int32(it.Task.ID))
		st.K = append(st.K, it.K)
	}
	for _, o := range m.order {
		st.Order = append(st.Order, int32(o))
	}
	return json.Marshal(st)
}

// Restore loads a state MarshalJSON saved, resolving tasks in st. Nothing changes on error.
func (m *Memory) Restore(data []byte, st *stream.Stream) error {
	var s memoryState
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("memory state: %w", err)
	}
	if len(s.Tasks) != len(s.K) || s.Seen < 0 || s.Pos < 0 || s.Pos > len(s.Order) || (len(s.Order) != 0 && len(s.Order) != len(s.Tasks)) {
		return fmt.Errorf("memory state: %d tasks, %d examples, %d seen, pass position %d of %d", len(s.Tasks), len(s.K), s.Seen, s.Pos, len(s.Order))
	}
	items := make([]MemoryItem, len(s.Tasks))
	for i, t := range s.Tasks {
		if t < 0 || int(t) >= len(st.Tasks) || s.K[i] < 0 || int(s.K[i]) >= st.Tasks[t].Train.Len() {
			return fmt.Errorf("memory state: item %d is example %d of task %d, outside the stream", i, s.K[i], t+1)
		}
		items[i] = MemoryItem{Task: st.Tasks[t], K: s.K[i]}
	}
	order := make([]int, len(s.Order))
	for i, o := range s.Order {
		if o < 0 || int(o) >= len(items) {
			return fmt.Errorf("memory state: sampling order names item %d of %d", o, len(items))
		}
		order[i] = int(o)
	}
	m.items, m.seen, m.order, m.pos = items, s.Seen, order, s.Pos
	return nil
}

// SaveState saves the memory.
func (r *Replay) SaveState() ([]byte, error) {
	return saveMemory(r.Mem, "replay", "memory")
}

// LoadState restores the memory SaveState saved.
func (r *Replay) LoadState(data []byte) error {
	return loadMemory(r.Mem, data, r.Env.Stream, "replay")
}
