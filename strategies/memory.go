package strategies

import (
	"encoding/json"
	"fmt"
	"math/rand"

	"github.com/clgraph/clgraph/stream"
)

// ReservoirBuffer is a memory of examples offered one at a time, during training, that keeps a
// uniform random sample of every example offered so far (reservoir sampling, Vitter's algorithm
// R, as Memory's Reservoir policy does at task ends). Unlike Memory it stores examples by value:
// the input the strategy was given (a stream.Batch row, which does not say where it came from),
// its target unit, its task and Width values the strategy attaches to it (DER: the logits the
// model gave it). Its storage is allocated once, by NewReservoirBuffer: offering and sampling
// allocate nothing.
type ReservoirBuffer struct {
	// Budget is the number of examples kept, Dim the features of an input and Width the values
	// attached to each example.
	Budget, Dim, Width int

	seen   int
	x, v   []float32 // Len x Dim inputs, Len x Width values
	target []int32
	task   []int32
	perm   []int // Sample's scratch
}

// NewReservoirBuffer returns an empty buffer of budget examples of dim features with width
// values each.
func NewReservoirBuffer(budget, dim, width int) *ReservoirBuffer {
	return &ReservoirBuffer{
		Budget: budget, Dim: dim, Width: width,
		x: make([]float32, 0, budget*dim), v: make([]float32, 0, budget*width),
		target: make([]int32, 0, budget), task: make([]int32, 0, budget), perm: make([]int, budget),
	}
}

// Len is the number of examples held: min(Seen, Budget).
func (r *ReservoirBuffer) Len() int { return len(r.target) }

// Seen is the number of examples offered so far.
func (r *ReservoirBuffer) Seen() int { return r.seen }

// Example returns the input, target, task and values of slot i (views, not copies).
func (r *ReservoirBuffer) Example(i int) (x []float32, target, task int32, v []float32) {
	return r.x[i*r.Dim : (i+1)*r.Dim], r.target[i], r.task[i], r.v[i*r.Width : (i+1)*r.Width]
}

// Offer offers one example: the n-th example offered takes a free slot while the buffer is not
// full, else replaces a uniformly drawn slot with probability Budget/n, drawing one number from
// rng. It returns the slot written, or -1.
func (r *ReservoirBuffer) Offer(x []float32, target, task int32, v []float32, rng *rand.Rand) int {
	r.seen++
	i := len(r.target)
	if i < r.Budget {
		r.x, r.v = append(r.x, x[:r.Dim]...), append(r.v, v[:r.Width]...)
		r.target, r.task = append(r.target, target), append(r.task, task)
		return i
	}
	if i = rng.Intn(r.seen); i >= r.Budget {
		return -1
	}
	copy(r.x[i*r.Dim:(i+1)*r.Dim], x)
	copy(r.v[i*r.Width:(i+1)*r.Width], v)
	r.target[i], r.task[i] = target, task
	return i
}

// Sample empties b and fills it with min(n, Len) distinct examples drawn uniformly (a partial
// Fisher-Yates shuffle, as numpy's choice without replacement draws a DER minibatch), copying
// their values into v (when not nil) in the same order. It keeps no state between calls.
func (r *ReservoirBuffer) Sample(b *stream.Batch, v []float32, n int, rng *rand.Rand) {
	b.Reset()
	L := r.Len()
	p := r.perm[:L]
	for i := range p {
		p[i] = i
	}
	for k := 0; k < min(n, L); k++ {
		j := k + rng.Intn(L-k)
		p[k], p[j] = p[j], p[k]
		x, target, task, vals := r.Example(p[k])
		b.X, b.Target, b.Task = append(b.X, x...), append(b.Target, target), append(b.Task, task)
		b.N++
		if v != nil {
			copy(v[k*r.Width:], vals)
		}
	}
}

// reservoirState is a saved ReservoirBuffer.
type reservoirState struct {
	Seen   int `json:"seen"`
	X      F32 `json:"x"`
	V      F32 `json:"v"`
	Target I32 `json:"target"`
	Task   I32 `json:"task"`
}

// MarshalJSON saves the buffer's contents and count (its sizes come from the strategy).
func (r *ReservoirBuffer) MarshalJSON() ([]byte, error) {
	return json.Marshal(reservoirState{Seen: r.seen, X: r.x, V: r.v, Target: r.target, Task: r.task})
}

// Restore loads, in place, a state MarshalJSON saved, checking its sizes and that every example
// is of a task and unit of st. Nothing changes on error.
func (r *ReservoirBuffer) Restore(data []byte, st *stream.Stream) error {
	var s reservoirState
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("reservoir state: %w", err)
	}
	n := len(s.Target)
	if n > r.Budget || len(s.Task) != n || len(s.X) != n*r.Dim || len(s.V) != n*r.Width || s.Seen < n || (n < r.Budget && s.Seen != n) {
		return fmt.Errorf("reservoir state: %d examples of %d seen (%d tasks, %d inputs, %d values) for a buffer of %d examples of %d features and %d values",
			n, s.Seen, len(s.Task), len(s.X), len(s.V), r.Budget, r.Dim, r.Width)
	}
	for i := range n {
		if s.Task[i] < 0 || int(s.Task[i]) >= len(st.Tasks) || s.Target[i] < 0 || int(s.Target[i]) >= st.Outputs {
			return fmt.Errorf("reservoir state: example %d is of task %d, unit %d, outside the stream", i, s.Task[i]+1, s.Target[i])
		}
	}
	r.seen = s.Seen
	r.x, r.v = append(r.x[:0], s.X...), append(r.v[:0], s.V...)
	r.target, r.task = append(r.target[:0], s.Target...), append(r.task[:0], s.Task...)
	return nil
}

// restorable is a memory that loads, in place, the JSON it marshals to (Memory,
// ReservoirBuffer, GreedyMemory).
type restorable interface {
	Restore(data []byte, st *stream.Stream) error
}

// saveMemory is SaveState for a strategy whose whole state is its memory: the memory as JSON,
// an error naming the strategy and what the memory is (kind).
func saveMemory(m restorable, strategy, kind string) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%s: saving the %s: %w", strategy, kind, err)
	}
	return b, nil
}

// loadMemory is the matching LoadState: it restores what saveMemory saved against the stream.
func loadMemory(m restorable, data []byte, st *stream.Stream, strategy string) error {
	if err := m.Restore(data, st); err != nil {
		return fmt.Errorf("%s: %w", strategy, err)
	}
	return nil
}
