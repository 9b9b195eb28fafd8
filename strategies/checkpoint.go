package strategies

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand"
	randv2 "math/rand/v2"
	"slices"
	"sort"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/stream"
)

// Checkpoints and resumption
//
// The runner (loop.Runner) saves a run's complete state at every task boundary, every N
// steps and when interrupted, and can resume from it to the bit-identical accuracy matrix of an
// uninterrupted run. It saves by itself, for every strategy:
//
//   - every tensor of Params() by name, with its group, shape, Frozen flag and LRScale;
//   - the optimizer's moments and step counts, when the strategy implements Optimized (Base does);
//   - the state of the strategy's random source (Env.Rng) and of the runner's sampling source;
//   - the runner's sampler (order and position in the epoch), the partial results and costs.
//
// To resume, the runner builds a fresh strategy from the same spec and replays its structure:
// Setup, then StartTask(0..t) for every task t started so far (this is how a progressive network
// regrows its columns, or layer-wise fine-tuning re-freezes its layers), then calls
// Checkpointer.LoadState, then copies the saved tensors into the parameters (their names, groups,
// shapes and Frozen flags must then match the saved ones), restores the optimizer, the random
// sources in place (Env.Rng keeps its pointer) and the sampler, and finally calls
// SamplingCheckpointer.LoadSampling.
//
// A strategy takes part by implementing Checkpointer, even with an empty state: the runner writes
// no checkpoint for a strategy that does not (it cannot know whether the strategy holds state the
// runner does not see), and such a run restarts from scratch when resumed. Base implements it
// with an empty state (Stateless) and Regularizer with its penalty's, so a strategy that embeds
// either and keeps more state must override SaveState and LoadState; strategytest.Run checks,
// with loop.VerifyResume, that every strategy resumes bit for bit.
//
// A strategy whose state is large (of the model's size or more) also implements StateWriter,
// writing it with a StateEncoder: the runner then streams it into the checkpoint file instead of
// holding SaveState's bytes. Regularizer, LwF and DGR do; a strategy that embeds one of them and
// overrides SaveState and LoadState must override WriteState too (or its checkpoints hold the
// embedded strategy's state only, which strategytest.Run's resume check catches).

// Checkpointer is implemented by strategies that can be checkpointed and resumed exactly.
// SaveState returns whatever state the strategy holds beyond what the runner saves itself (see
// above): e.g. EWC's Fisher and anchors, a replay memory, SI's running importances. A strategy
// with no such state returns nil, nil. LoadState receives those bytes on a fresh strategy after
// Setup and StartTask(0..t) were replayed and before the runner restores parameter values, the
// optimizer and the random sources: it must not rely on parameter values, and anything it draws
// from Env.Rng is overwritten. Structure changed after StartTask (e.g. parameters frozen in
// EndTask) must be re-applied by LoadState, model rebuild included.
type Checkpointer interface {
	SaveState() ([]byte, error)
	LoadState(data []byte) error
}

// SamplingCheckpointer is implemented by Sampler strategies that keep sampling state tied to
// the random source the runner passes to Sample (e.g. joint training's shuffled epochs over the
// tasks so far). LoadSampling is called last when resuming, with that source (already restored):
// a strategy rebuilds its sampler over it, e.g. with stream.RestoreSampler.
type SamplingCheckpointer interface {
	SaveSampling() ([]byte, error)
	LoadSampling(data []byte, rng *rand.Rand) error
}

// Optimized is implemented by strategies whose parameters one graphs.Adam updates; the runner
// saves and restores its moments, step counts and settings. Base implements it.
type Optimized interface {
	Optimizer() *graphs.Adam
}

// Optimizer returns the model's Adam optimizer (nil before Setup).
func (b *Base) Optimizer() *graphs.Adam { return b.Opt }

// Stateless is an empty Checkpointer: embedded in a strategy that holds nothing beyond what the
// runner saves itself (its parameters, the optimizer, the random sources), it makes the strategy
// checkpointable. Base embeds it, so a strategy built on Base writes no SaveState or LoadState
// unless it keeps more state (a memory, running importances): then it must override both, and
// strategytest.Run's resume check fails when it does not.
type Stateless struct{}

// SaveState returns no state.
func (Stateless) SaveState() ([]byte, error) { return nil, nil }

// LoadState accepts only the empty state SaveState returns.
func (Stateless) LoadState(data []byte) error {
	if len(data) != 0 {
		return fmt.Errorf("strategies: checkpoint holds %d bytes of strategy state, want none (the strategy keeps no state of its own)", len(data))
	}
	return nil
}

// Compile-time interface checks.
var (
	_ Checkpointer         = Stateless{}
	_ Checkpointer         = (*Base)(nil)
	_ Checkpointer         = (*Naive)(nil)
	_ Checkpointer         = (*Multihead)(nil)
	_ Checkpointer         = (*Joint)(nil)
	_ SamplingCheckpointer = (*Joint)(nil)
	_ Checkpointer         = (*Layerwise)(nil)
	_ Checkpointer         = (*PNN)(nil)
	_ Optimized            = (*Base)(nil)
	_ Optimized            = (*PNN)(nil)
)

// Optimizer returns the Adam optimizer of the current column (nil before Setup).
func (p *PNN) Optimizer() *graphs.Adam { return p.opt }

// jointSampling is Joint's sampling state: the task its sampler covers (0..Cur) and its position.
type jointSampling struct {
	Cur   int `json:"cur"`
	Order I32 `json:"order"`
	Pos   int `json:"pos"`
}

// SaveSampling saves the sampler over tasks 0..cur (nil before the first Sample).
func (j *Joint) SaveSampling() ([]byte, error) {
	if j.sampler == nil {
		return nil, nil
	}
	st := j.sampler.State()
	return json.Marshal(jointSampling{Cur: j.cur, Order: st.Order, Pos: st.Pos})
}

// LoadSampling restores the sampler SaveSampling saved, drawing from rng.
func (j *Joint) LoadSampling(data []byte, rng *rand.Rand) error {
	j.sampler, j.cur = nil, 0
	if len(data) == 0 {
		return nil
	}
	var s jointSampling
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("joint: sampler state: %w", err)
	}
	tasks := j.Env.Stream.Tasks
	if s.Cur < 0 || s.Cur >= len(tasks) {
		return fmt.Errorf("joint: sampler state for task %d of %d", s.Cur+1, len(tasks))
	}
	sp, err := stream.RestoreSampler(rng, stream.SamplerState{Order: s.Order, Pos: s.Pos}, tasks[:s.Cur+1]...)
	if err != nil {
		return fmt.Errorf("joint: %w", err)
	}
	j.sampler, j.cur = sp, s.Cur
	return nil
}

// Source is a random source whose state can be saved and restored: math/rand/v2's PCG behind
// math/rand's Source64, so strategies keep drawing from a *rand.Rand (rand.New(src)). A
// *rand.Rand keeps no state of its own beyond its source unless its Read method is used, so
// saving the source saves the Rand: do not call Read on a run's random sources.
type Source struct{ pcg randv2.PCG }

var _ rand.Source64 = (*Source)(nil)

// splitmix64 is the finaliser of the SplitMix64 generator: a bijective mix of 64 bits.
func splitmix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// NewSource returns the source number stream of a run with the given seed: different seeds or
// streams give independent sequences, the same pair the same sequence.
func NewSource(seed int64, stream uint64) *Source {
	s := &Source{}
	s.seed(uint64(seed) + stream*0x9e3779b97f4a7c15)
	return s
}

// NewRand returns rand.New(src) and src for NewSource(seed, stream).
func NewRand(seed int64, stream uint64) (*rand.Rand, *Source) {
	src := NewSource(seed, stream)
	return rand.New(src), src
}

func (s *Source) seed(z uint64) {
	a := splitmix64(z)
	s.pcg.Seed(a, splitmix64(a^0x6a09e667f3bcc908))
}

// Seed resets the source to the sequence of seed (as NewSource(seed, 0)).
func (s *Source) Seed(seed int64) { s.seed(uint64(seed)) }

// Uint64 returns a uniformly distributed 64-bit value.
func (s *Source) Uint64() uint64 { return s.pcg.Uint64() }

// Int63 returns a non-negative uniformly distributed 63-bit value.
func (s *Source) Int63() int64 { return int64(s.pcg.Uint64() >> 1) }

// MarshalBinary returns the source's state.
func (s *Source) MarshalBinary() ([]byte, error) { return s.pcg.MarshalBinary() }

// UnmarshalBinary restores a state MarshalBinary returned.
func (s *Source) UnmarshalBinary(data []byte) error {
	if err := s.pcg.UnmarshalBinary(data); err != nil {
		return fmt.Errorf("strategies: random source state: %w", err)
	}
	return nil
}

// F32 is a []float32 that encodes to JSON as the base64 of its little-endian IEEE-754 bits:
// exact (NaN and infinities included) and compact. Strategies use it in the state they save.
type F32 []float32

// MarshalJSON encodes f as a base64 string.
func (f F32) MarshalJSON() ([]byte, error) {
	b := make([]byte, 4*len(f))
	for i, v := range f {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return json.Marshal(b)
}

// UnmarshalJSON decodes a base64 string whose length is a multiple of 4 bytes.
func (f *F32) UnmarshalJSON(data []byte) error {
	b, err := decodeBase64(data, 4)
	if err != nil {
		return err
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	*f = out
	return nil
}

// I32 is a []int32 that encodes to JSON as the base64 of its little-endian bytes.
type I32 []int32

// MarshalJSON encodes v as a base64 string.
func (v I32) MarshalJSON() ([]byte, error) {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return json.Marshal(b)
}

// UnmarshalJSON decodes a base64 string whose length is a multiple of 4 bytes.
func (v *I32) UnmarshalJSON(data []byte) error {
	b, err := decodeBase64(data, 4)
	if err != nil {
		return err
	}
	out := make([]int32, len(b)/4)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
	}
	*v = out
	return nil
}

func decodeBase64(data []byte, unit int) ([]byte, error) {
	if string(data) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if len(b)%unit != 0 {
		return nil, fmt.Errorf("strategies: %d bytes is not a whole number of %d-byte values", len(b), unit)
	}
	return b, nil
}

// ParamState is a saved parameter: its identity, flags and values.
type ParamState struct {
	Name    string  `json:"name"`
	Group   string  `json:"group"`
	Shape   []int   `json:"shape"`
	Frozen  bool    `json:"frozen,omitempty"`
	LRScale float32 `json:"lr_scale,omitempty"`
	Data    F32     `json:"data"`
}

// SaveParams copies every parameter of ps, in ps's order.
func SaveParams(ps *graphs.ParamSet) []ParamState {
	out := make([]ParamState, 0, len(ps.All()))
	for _, p := range ps.All() {
		out = append(out, ParamState{
			Name: p.Name, Group: p.Group, Shape: append([]int(nil), p.Shape()...),
			Frozen: p.Frozen, LRScale: p.LRScale, Data: append(F32(nil), p.Data()...),
		})
	}
	return out
}

// ViewParams is SaveParams without the copies: each Data is the parameter's own tensor, valid
// until the parameter changes (for writing a checkpoint at once).
func ViewParams(ps *graphs.ParamSet) []ParamState {
	out := make([]ParamState, 0, len(ps.All()))
	for _, p := range ps.All() {
		out = append(out, ParamState{Name: p.Name, Group: p.Group, Shape: p.Shape(), Frozen: p.Frozen, LRScale: p.LRScale, Data: p.Data()})
	}
	return out
}

// LoadParams copies saved values into ps's parameters and sets their LRScale. ps must hold
// exactly the saved parameters (by name), each with the saved group, shape and Frozen flag:
// structure comes from replaying the strategy, values from the checkpoint. Nothing is changed
// when it returns an error.
func LoadParams(ps *graphs.ParamSet, saved []ParamState) error {
	byName := make(map[string]*ParamState, len(saved))
	for i := range saved {
		s := &saved[i]
		if _, dup := byName[s.Name]; dup {
			return fmt.Errorf("strategies: checkpoint lists parameter %q twice", s.Name)
		}
		byName[s.Name] = s
	}
	var missing []string
	for _, p := range ps.All() {
		s, ok := byName[p.Name]
		if !ok {
			missing = append(missing, p.Name)
			continue
		}
		if s.Group != p.Group {
			return fmt.Errorf("strategies: parameter %s is in group %q, the checkpoint has %q", p.Name, p.Group, s.Group)
		}
		if !slices.Equal([]int(p.Shape()), s.Shape) || len(s.Data) != p.Size() {
			return fmt.Errorf("strategies: parameter %s has shape %v, the checkpoint has %v with %d values", p.Name, []int(p.Shape()), s.Shape, len(s.Data))
		}
		if s.Frozen != p.Frozen {
			return fmt.Errorf("strategies: parameter %s is frozen=%v after replaying the strategy, the checkpoint has frozen=%v (a strategy must re-apply freezing done outside Setup and StartTask in LoadState)", p.Name, p.Frozen, s.Frozen)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("strategies: the checkpoint lacks parameters %v of the replayed strategy", missing)
	}
	if len(saved) != len(ps.All()) {
		var extra []string
		for _, s := range saved {
			if ps.Get(s.Name) == nil {
				extra = append(extra, s.Name)
			}
		}
		sort.Strings(extra)
		return fmt.Errorf("strategies: the checkpoint has parameters %v that the replayed strategy lacks (it must rebuild them in Setup, StartTask or LoadState)", extra)
	}
	for _, p := range ps.All() {
		s := byName[p.Name]
		copy(p.Data(), s.Data)
		p.LRScale = s.LRScale
	}
	return nil
}

// AdamState is a saved graphs.Adam: its settings and, per parameter name, its moments and step
// count.
type AdamState struct {
	graphs.OptimizerSettings
	M     map[string]F32 `json:"m"`
	V     map[string]F32 `json:"v"`
	Steps map[string]int `json:"steps"`
}

// SaveAdam copies a's state.
func SaveAdam(a *graphs.Adam) *AdamState {
	s := &AdamState{OptimizerSettings: a.OptimizerSettings, M: map[string]F32{}, V: map[string]F32{}, Steps: map[string]int{}}
	for k, v := range a.M {
		s.M[k] = append(F32(nil), v...)
	}
	for k, v := range a.V {
		s.V[k] = append(F32(nil), v...)
	}
	maps.Copy(s.Steps, a.Steps)
	return s
}

// ViewAdam is SaveAdam without the copies: the moments are a's own slices, valid until a's next
// step (for writing a checkpoint at once).
func ViewAdam(a *graphs.Adam) *AdamState {
	s := &AdamState{OptimizerSettings: a.OptimizerSettings, M: make(map[string]F32, len(a.M)), V: make(map[string]F32, len(a.V)), Steps: a.Steps}
	for k, v := range a.M {
		s.M[k] = v
	}
	for k, v := range a.V {
		s.V[k] = v
	}
	return s
}

// LoadAdam replaces a's state by s. Every moment must belong to a parameter of ps and have its
// size; nothing is changed when it returns an error.
func LoadAdam(a *graphs.Adam, s *AdamState, ps *graphs.ParamSet) error {
	for _, m := range []map[string]F32{s.M, s.V} {
		for name, v := range m {
			p := ps.Get(name)
			if p == nil {
				return fmt.Errorf("strategies: optimizer state for unknown parameter %q", name)
			}
			if len(v) != p.Size() {
				return fmt.Errorf("strategies: optimizer state of %s has %d values, the parameter %d", name, len(v), p.Size())
			}
		}
	}
	for name := range s.M {
		if _, ok := s.V[name]; !ok {
			return fmt.Errorf("strategies: optimizer state of %s has a first moment but no second", name)
		}
	}
	if len(s.M) != len(s.V) {
		return fmt.Errorf("strategies: optimizer state has %d first and %d second moments", len(s.M), len(s.V))
	}
	for name, n := range s.Steps {
		if ps.Get(name) == nil || n < 0 {
			return fmt.Errorf("strategies: optimizer step count %d for parameter %q", n, name)
		}
	}
	a.OptimizerSettings = s.OptimizerSettings
	a.M, a.V, a.Steps = map[string][]float32{}, map[string][]float32{}, map[string]int{}
	for k, v := range s.M {
		a.M[k] = append([]float32(nil), v...)
	}
	for k, v := range s.V {
		a.V[k] = append([]float32(nil), v...)
	}
	maps.Copy(a.Steps, s.Steps)
	return nil
}

// QuadraticState is a saved graphs.Quadratic (EWC, L2 and SI penalties): scale, offset, and each
// term's weights and anchors by parameter name, in term order.
type QuadraticState struct {
	Scale  float64     `json:"scale"`
	Offset float64     `json:"offset"`
	Terms  []QuadState `json:"terms"`
}

// QuadState is one saved term of a QuadraticState.
type QuadState struct {
	Param  string `json:"param"`
	Weight F32    `json:"weight"`
	Anchor F32    `json:"anchor"`
}

// SaveQuadratic copies q's state. Scale and Offset must be finite (JSON has no NaN).
func SaveQuadratic(q *graphs.Quadratic) QuadraticState {
	s := QuadraticState{Scale: q.Scale, Offset: q.Offset}
	for i := range q.Terms {
		t := &q.Terms[i]
		s.Terms = append(s.Terms, QuadState{Param: t.Param.Name, Weight: append(F32(nil), t.Weights()...), Anchor: append(F32(nil), t.Anchors()...)})
	}
	return s
}

// LoadQuadratic copies a saved state into q, in place (the training graph keeps reading q's
// tensors). q must have the same terms, in order, with the same sizes, and the saved scale and
// offset must be finite; nothing is changed when it returns an error.
func LoadQuadratic(q *graphs.Quadratic, s QuadraticState) error {
	if err := checkQuadratic(q, s); err != nil {
		return err
	}
	q.Scale, q.Offset = s.Scale, s.Offset
	for i := range q.Terms {
		copy(q.Terms[i].Weights(), s.Terms[i].Weight)
		copy(q.Terms[i].Anchors(), s.Terms[i].Anchor)
	}
	return nil
}

// checkQuadratic reports why s cannot be loaded into q.
func checkQuadratic(q *graphs.Quadratic, s QuadraticState) error {
	if math.IsNaN(s.Scale) || math.IsInf(s.Scale, 0) || math.IsNaN(s.Offset) || math.IsInf(s.Offset, 0) {
		return fmt.Errorf("strategies: saved penalty has scale %v, offset %v", s.Scale, s.Offset)
	}
	if len(s.Terms) != len(q.Terms) {
		return fmt.Errorf("strategies: saved penalty has %d terms, the strategy's %d", len(s.Terms), len(q.Terms))
	}
	for i := range q.Terms {
		t, st := &q.Terms[i], &s.Terms[i]
		if st.Param != t.Param.Name || len(st.Weight) != t.Param.Size() || len(st.Anchor) != t.Param.Size() {
			return fmt.Errorf("strategies: saved penalty term %d is %s with %d/%d values, the strategy's is %s with %d", i, st.Param, len(st.Weight), len(st.Anchor), t.Param.Name, t.Param.Size())
		}
	}
	return nil
}

// SaveQuadraticJSON saves q (scale, offset, weights and anchors) as JSON: a SaveState for a
// strategy whose only state is one penalty (Regularizer saves more).
func SaveQuadraticJSON(q *graphs.Quadratic) ([]byte, error) {
	if q == nil {
		return nil, fmt.Errorf("strategies: penalty state saved before Setup")
	}
	b, err := json.Marshal(SaveQuadratic(q))
	if err != nil {
		return nil, fmt.Errorf("strategies: saving the penalty: %w", err)
	}
	return b, nil
}

// LoadQuadraticJSON restores into q, in place, a state SaveQuadraticJSON saved; nothing is
// changed when it returns an error.
func LoadQuadraticJSON(q *graphs.Quadratic, data []byte) error {
	if q == nil {
		return fmt.Errorf("strategies: penalty state loaded before Setup")
	}
	var st QuadraticState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("strategies: penalty state: %w", err)
	}
	return LoadQuadratic(q, st)
}
