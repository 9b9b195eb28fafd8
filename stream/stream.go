// Package stream holds the data types that the runner, the task streams and the strategies share:
// a dataset held once in memory, tasks as index views over it, the three continual-learning
// scenarios, the mapping of labels to output units, and mini-batches. It imports nothing of the
// project, so every other package can depend on it without an import cycle.
package stream

import (
	"fmt"
	"math/rand"
	"strings"
)

// Scenario is one of the three continual-learning scenarios of van de Ven & Tolias (2019).
type Scenario int

// The scenarios. The zero value is invalid so that a forgotten field is caught.
const (
	// TaskIL gives the task identity at training and at test time.
	TaskIL Scenario = iota + 1
	// DomainIL gives no task identity at test; every task shares one label space.
	DomainIL
	// ClassIL gives no task identity at test; the model tells apart every class seen so far.
	ClassIL
)

// Scenarios lists every scenario in a stable order.
var Scenarios = []Scenario{TaskIL, DomainIL, ClassIL}

// String returns the scenario's command-line name: "task", "domain" or "class".
func (s Scenario) String() string {
	switch s {
	case TaskIL:
		return "task"
	case DomainIL:
		return "domain"
	case ClassIL:
		return "class"
	}
	return fmt.Sprintf("Scenario(%d)", int(s))
}

// ParseScenario reads a scenario name: task, domain or class (also task-il, domain-il, class-il).
func ParseScenario(name string) (Scenario, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	n = strings.TrimSuffix(strings.TrimSuffix(n, "-il"), "il")
	for _, s := range Scenarios {
		if n == s.String() {
			return s, nil
		}
	}
	return 0, fmt.Errorf("stream: unknown scenario %q (valid: task, domain, class)", name)
}

// Dataset is a set of examples held once in memory: N rows of Dim float32 features in [0,1]
// (row-major) and one class label per row.
type Dataset struct {
	N, Dim int
	X      []float32
	Labels []uint8
}

// Row returns example i's features (a view, not a copy).
func (d *Dataset) Row(i int) []float32 { return d.X[i*d.Dim : (i+1)*d.Dim] }

// Split is one task's training, validation or test data: a list of rows of a Dataset and, for each, the
// output unit that is its target in the stream's global output space.
type Split struct {
	Data   *Dataset
	Index  []int32 // rows of Data
	Target []int32 // global output unit of each row
}

// Len is the number of examples in the split.
func (s *Split) Len() int { return len(s.Index) }

// Task is one task of a stream: views over the training and test sets (and a validation split
// carved from the training data, empty unless asked for), and the classes and output units it
// owns.
type Task struct {
	ID      int     // position in the stream, from 0
	Name    string  // short human name, e.g. "0/1" or "perm3"
	Classes []int   // original dataset classes in this task
	Units   []int   // global output units this task's examples can take (its own head)
	Perm    []int32 // pixel permutation applied to inputs (nil: identity)
	Warp    *Warp   // pixel warp applied to inputs after Perm (rotated streams; nil: none)
	// Angle is a rotated stream's rotation of this task, in degrees (0 for other streams).
	Angle float64
	Train Split
	Val   Split // held out of Train, never trained on; empty (nil Index) when not asked for
	Test  Split
}

// Stream is a sequence of tasks in one scenario.
type Stream struct {
	Name     string // e.g. "split-mnist"
	Scenario Scenario
	Tasks    []*Task
	InputDim int
	// Outputs is the size of the global output space in which targets and scores live.
	Outputs int
	// ClassOrder is the order in which a class-split stream dealt the dataset's classes into
	// tasks (in turn, of equal size or as task_sizes says); nil for other streams.
	ClassOrder []int
	// Pretrain, when not nil, is the pre-training task (runspec's pretrain_classes): its
	// classes' original training and test images, units 0..len(Classes)-1 in its own output
	// space, trained jointly before the stream. It is not one of Tasks and is never evaluated
	// in the accuracy matrix.
	Pretrain *Task
	// Defaults are default values of strategies' automatic options on this stream (e.g. the
	// strength ewc:lambda=auto takes), registered with the stream. Keys are
	// "<strategy>.<option>/<scenario>/<heads>" or, for every layout, "<strategy>.<option>/<scenario>"
	// (e.g. "ewc.lambda/task/multi", "ewc.lambda/class"). Nil holds none.
	Defaults map[string]float64
}

// Heads says how a model lays out its output layer.
type Heads int

const (
	// SingleHead is one output layer shared by every task. In task-IL it has as many units as a
	// task has classes, and each task's labels map onto them in order.
	SingleHead Heads = iota
	// MultiHead is one output layer (head) per task, chosen by task identity. Task-IL only.
	MultiHead
)

// String returns "single" or "multi".
func (h Heads) String() string {
	if h == MultiHead {
		return "multi"
	}
	return "single"
}

// ParseHeads reads "single" or "multi".
func ParseHeads(s string) (Heads, error) {
	switch s {
	case "single":
		return SingleHead, nil
	case "multi":
		return MultiHead, nil
	}
	return 0, fmt.Errorf("stream: unknown heads %q (valid: single, multi)", s)
}

// HasTaskIdentity reports whether the scenario gives task identities at test time.
func (s *Stream) HasTaskIdentity() bool { return s.Scenario == TaskIL }

// Validate checks that the stream's tasks are consistent with its scenario.
func (s *Stream) Validate() error {
	if len(s.Tasks) == 0 {
		return fmt.Errorf("stream %s: no tasks", s.Name)
	}
	for i, t := range s.Tasks {
		if t.ID != i {
			return fmt.Errorf("stream %s: task %d has ID %d", s.Name, i, t.ID)
		}
		if len(t.Units) == 0 || t.Train.Len() == 0 || t.Test.Len() == 0 {
			return fmt.Errorf("stream %s: task %s is empty", s.Name, t.Name)
		}
		for _, u := range t.Units {
			if u < 0 || u >= s.Outputs {
				return fmt.Errorf("stream %s: task %s unit %d outside [0,%d)", s.Name, t.Name, u, s.Outputs)
			}
		}
	}
	return nil
}

// HeadSizes returns the number of output units of each head of a model with layout h.
func (s *Stream) HeadSizes(h Heads) []int {
	if h == MultiHead {
		out := make([]int, len(s.Tasks))
		for i, t := range s.Tasks {
			out[i] = len(t.Units)
		}
		return out
	}
	if s.Scenario == TaskIL {
		return []int{s.maxUnits()}
	}
	return []int{s.Outputs}
}

// ModelOutputs is the width of a model's output (all heads side by side) for layout h.
func (s *Stream) ModelOutputs(h Heads) int {
	n := 0
	for _, k := range s.HeadSizes(h) {
		n += k
	}
	return n
}

func (s *Stream) maxUnits() int {
	m := 0
	for _, t := range s.Tasks {
		if len(t.Units) > m {
			m = len(t.Units)
		}
	}
	return m
}

// CheckHeads reports an error when layout h cannot be used in the stream's scenario.
func (s *Stream) CheckHeads(h Heads) error {
	if h == MultiHead && !s.HasTaskIdentity() {
		return fmt.Errorf("heads=multi picks a head by task identity, which the %s-IL scenario does not give at test time; use --scenario task, or heads=single", s.Scenario)
	}
	return nil
}

// seenUnits returns the global units of tasks 0..t.
func (s *Stream) seenUnits(t int) []int {
	var u []int
	for i := 0; i <= t && i < len(s.Tasks); i++ {
		u = append(u, s.Tasks[i].Units...)
	}
	return u
}

// ActiveUnits returns the global output units scored when an example of task j is trained on or
// evaluated after training on tasks 0..cur: in task-IL the task's own units, in domain-IL all
// units, in class-IL the units of every class seen up to max(cur, j).
func (s *Stream) ActiveUnits(cur, j int) []int {
	switch s.Scenario {
	case TaskIL:
		return s.Tasks[j].Units
	case ClassIL:
		if j > cur {
			cur = j
		}
		return s.seenUnits(cur)
	}
	all := make([]int, s.Outputs)
	for i := range all {
		all[i] = i
	}
	return all
}

// ModelUnit maps a global output unit of an example of task j to the column of a model's output
// with layout h. It returns -1 when the unit has no column.
func (s *Stream) ModelUnit(h Heads, j, unit int) int {
	if s.Scenario != TaskIL {
		return unit
	}
	units := s.Tasks[j].Units
	pos := -1
	for k, u := range units {
		if u == unit {
			pos = k
		}
	}
	if pos < 0 || h == SingleHead {
		return pos
	}
	off := 0
	for i := 0; i < j; i++ {
		off += len(s.Tasks[i].Units)
	}
	return off + pos
}

// NoTask is the task index of an example whose task is not given: outside task-IL, the runner
// blanks the task of every example of the batches it gives a strategy (Batch.HideTasks).
const NoTask = -1

// Batch is a mini-batch of examples copied out of a stream's datasets, ready to bind to a graph.
// X holds N rows of the stream's InputDim features.
//
// Task holds each example's task only where the scenario gives task identity: in task-IL. In
// domain- and class-IL the batches the runner gives to Strategy.Step (training) and
// Strategy.Scores (evaluation) carry NoTask (-1) in every row, so that no strategy can use task
// identity the scenario withholds. Batches a strategy fills itself (e.g. from a replay memory)
// keep the tasks Add gives them.
type Batch struct {
	N      int
	X      []float32
	Target []int32 // global output unit of each example
	Task   []int32 // task of each example, or NoTask where the scenario does not give it
}

// HideTasks sets the task of every example of b to NoTask.
func (b *Batch) HideTasks() {
	for i := range b.Task {
		b.Task[i] = NoTask
	}
}

// NewBatch allocates a batch with room for capacity examples of dim features.
func NewBatch(capacity, dim int) *Batch {
	return &Batch{X: make([]float32, 0, capacity*dim), Target: make([]int32, 0, capacity), Task: make([]int32, 0, capacity)}
}

// Shuffle permutes b's rows (inputs, targets and tasks together) with rng, in place.
func (b *Batch) Shuffle(rng *rand.Rand) {
	d := 0
	if b.N > 0 {
		d = len(b.X) / b.N
	}
	rng.Shuffle(b.N, func(i, j int) {
		b.Target[i], b.Target[j] = b.Target[j], b.Target[i]
		b.Task[i], b.Task[j] = b.Task[j], b.Task[i]
		xi, xj := b.X[i*d:(i+1)*d], b.X[j*d:(j+1)*d]
		for k := range xi {
			xi[k], xj[k] = xj[k], xi[k]
		}
	})
}

// Reset empties the batch, keeping its memory.
func (b *Batch) Reset() { b.N, b.X, b.Target, b.Task = 0, b.X[:0], b.Target[:0], b.Task[:0] }

// Add appends example k of split sp of task t, applying the task's pixel permutation.
func (b *Batch) Add(t *Task, sp *Split, k int) {
	row := sp.Data.Row(int(sp.Index[k]))
	n := len(b.X)
	b.X = append(b.X, row...)
	if t.Perm != nil {
		dst := b.X[n:]
		for i, p := range t.Perm {
			dst[i] = row[p]
		}
	}
	if t.Warp != nil {
		t.Warp.Apply(b.X[n:], row)
	}
	b.Target = append(b.Target, sp.Target[k])
	b.Task = append(b.Task, int32(t.ID))
	b.N++
}

// Sampler draws mini-batches from the training splits of one or more tasks in shuffled epochs
// (without replacement within an epoch, reshuffled when exhausted), as the reference
// implementations' data loaders do. Over several tasks it samples their union uniformly.
type Sampler struct {
	tasks []*Task
	rng   *rand.Rand
	order []ref
	pos   int
}

type ref struct{ task, k int32 }

// NewSampler returns a sampler over the training splits of tasks, drawing with rng.
func NewSampler(rng *rand.Rand, tasks ...*Task) *Sampler {
	s := &Sampler{tasks: tasks, rng: rng}
	for ti, t := range tasks {
		for k := 0; k < t.Train.Len(); k++ {
			s.order = append(s.order, ref{int32(ti), int32(k)})
		}
	}
	s.shuffle()
	return s
}

func (s *Sampler) shuffle() {
	s.rng.Shuffle(len(s.order), func(i, j int) { s.order[i], s.order[j] = s.order[j], s.order[i] })
	s.pos = 0
}

// Fill empties b and fills it with the next n examples.
func (s *Sampler) Fill(b *Batch, n int) {
	b.Reset()
	for b.N < n {
		if s.pos == len(s.order) {
			s.shuffle()
		}
		r := s.order[s.pos]
		t := s.tasks[r.task]
		b.Add(t, &t.Train, int(r.k))
		s.pos++
	}
}

// SamplerState is a Sampler's position in its current epoch: the epoch's shuffled order of
// examples and how many of them have been drawn. Together with the state of the random source
// the sampler draws from (which reshuffles at the end of the epoch), it fixes every later batch,
// so a checkpoint that saves both resumes sampling exactly.
type SamplerState struct {
	// Order lists the epoch's examples as flattened (task, example) pairs: Order[2i] is the
	// position of the example's task among the sampler's tasks, Order[2i+1] the example's index
	// in that task's training split.
	Order []int32
	// Pos is the number of examples of the epoch already drawn, 0 to len(Order)/2.
	Pos int
}

// State returns a copy of the sampler's position (see SamplerState).
func (s *Sampler) State() SamplerState {
	st := SamplerState{Order: make([]int32, 0, 2*len(s.order)), Pos: s.pos}
	for _, r := range s.order {
		st.Order = append(st.Order, r.task, r.k)
	}
	return st
}

// RestoreSampler returns a sampler over the training splits of tasks, drawing with rng, at the
// position st saved by State on a sampler over the same tasks. Unlike NewSampler it draws nothing
// from rng. It returns an error when st is not an epoch of exactly these tasks' examples.
func RestoreSampler(rng *rand.Rand, st SamplerState, tasks ...*Task) (*Sampler, error) {
	total := 0
	for _, t := range tasks {
		total += t.Train.Len()
	}
	if len(st.Order) != 2*total {
		return nil, fmt.Errorf("stream: sampler state lists %d values, want %d (2 per training example of %d tasks)", len(st.Order), 2*total, len(tasks))
	}
	if st.Pos < 0 || st.Pos > total {
		return nil, fmt.Errorf("stream: sampler state position %d outside [0,%d]", st.Pos, total)
	}
	seen := make([][]bool, len(tasks))
	for i, t := range tasks {
		seen[i] = make([]bool, t.Train.Len())
	}
	s := &Sampler{tasks: tasks, rng: rng, order: make([]ref, total), pos: st.Pos}
	for i := range s.order {
		ti, k := st.Order[2*i], st.Order[2*i+1]
		if ti < 0 || int(ti) >= len(tasks) || k < 0 || int(k) >= len(seen[ti]) {
			return nil, fmt.Errorf("stream: sampler state entry %d (task %d, example %d) is outside the tasks' training splits", i, ti, k)
		}
		if seen[ti][k] {
			return nil, fmt.Errorf("stream: sampler state lists example %d of task %d twice", k, ti)
		}
		seen[ti][k] = true
		s.order[i] = ref{ti, k}
	}
	return s, nil
}
