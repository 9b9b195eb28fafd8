package strategies

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/clgraph/clgraph/graphs"
)

// Regularizer is Base with a quadratic penalty in its training loss, the machinery that
// importance-weighted regularisers share (EWC, L2, SI; MAS-like methods alike):
//
//	Strength * Factor * sum_i w_i (theta_i - a_i)^2   (+ Q.Offset)
//
// over the shared parameters (SharedParams), as one graphs.Quadratic Q whose importance weights w
// and anchors a are tensors updated in place, so the training graph is built once. A strategy
// embeds it and writes only its algorithm: how w and a change, at the end of a task (EndTask) or
// during it (Step). Regularizer provides, besides Base's methods:
//
//   - Setup: settles an "auto" Strength (the stream's default, logged) and builds Base's model
//     with the penalty in its training graph; Q exists after it;
//   - Resolved (Resolver): the strength used, under its option's name;
//   - SaveState and LoadState (Checkpointer): Q's scale, offset, weights and anchors, every
//     named Buffer and State, so a strategy whose state lives there writes no checkpoint code;
//   - ParseRegularizer, for factories: the heads option and the strength option.
type Regularizer struct {
	Base
	// Strength is the penalty's strength (EWC's and L2's lambda, SI's c), an auto option.
	Strength AutoFloat
	// Factor is the penalty's scale per unit of strength, Q.Scale = Strength.Value * Factor: EWC
	// and L2 penalise (lambda/2) sum F (theta - theta*)^2, so 0.5; SI c sum ..., so 1. 0 means 1.
	Factor float64
	// Q is the penalty in the training graph; it exists after Setup.
	Q *graphs.Quadratic
	// State, when set, points to the strategy's state beyond Q and its named Buffers (a value
	// encoding/json handles): SaveState saves it with the penalty and LoadState decodes into it.
	// Set it in the factory or in Setup.
	State any

	buffers []regBuffer
}

// regBuffer is a named per-term buffer, saved with the penalty.
type regBuffer struct {
	name string
	data [][]float32
}

// Compile-time interface checks.
var (
	_ Strategy     = (*Regularizer)(nil)
	_ Requirer     = (*Regularizer)(nil)
	_ Modeler      = (*Regularizer)(nil)
	_ Optimized    = (*Regularizer)(nil)
	_ Named        = (*Regularizer)(nil)
	_ Checkpointer = (*Regularizer)(nil)
	_ Resolver     = (*Regularizer)(nil)
)

// ParseRegularizer reads, in a factory, the heads option (HeadsOption) and the strength option
// (an auto option: its Option needs Auto set) into r, with factor the penalty's scale per unit
// of strength (see Factor). A strength whose penalty gradient factor, 2 * factor * strength,
// float32 cannot hold is refused (see checkStrength).
func (r *Regularizer) ParseRegularizer(o *Options, strength string, factor float64) {
	r.ParseHeads(o)
	r.Strength = o.FloatOrAuto(strength)
	r.Factor = factor
	if !r.Strength.Auto && o.Err() == nil {
		if err := r.checkStrength(); err != nil {
			o.Check(strength, false, err.Error())
		}
	}
}

// checkStrength reports a strength the penalty cannot apply: the penalty's gradient is
// 2 * Strength * Factor times the weighted distance, computed in float32 (graphs.Quadratic), so
// that factor must be one float32 holds.
func (r *Regularizer) checkStrength() error {
	f := r.Factor
	if f == 0 {
		f = 1
	}
	if g := 2 * r.Strength.Value * f; !InFloat32(g) {
		return fmt.Errorf("a strength whose penalty gradient factor 2*%g*%s = %g float32 can hold (at most %s): the penalty is applied in float32", f, r.Strength.Name, g, strconv.FormatFloat(math.MaxFloat32, 'g', -1, 32))
	}
	return nil
}

// name is the strategy's name for errors: the strategy of the strength's table key, else of the
// spec.
func (r *Regularizer) name() string {
	if n := r.Strength.Table.Strategy(); n != "" {
		return n
	}
	if n, _, _ := strings.Cut(r.Spec(), ":"); n != "" {
		return n
	}
	return "regularizer"
}

// Setup resolves an "auto" strength for env's stream, then builds Base's model with the penalty
// in its training graph (Q is created over SharedParams when the model is first built, with zero
// weights: no penalty until the strategy sets some). Named buffers are dropped: a strategy
// creates its own (Buffer) after calling it.
func (r *Regularizer) Setup(env *Env) error {
	r.ResolveHeads(env.Stream)
	r.Strength.Resolve(env, r.Heads)
	if err := r.checkStrength(); err != nil {
		return fmt.Errorf("%s: %s=%g: want %v", r.name(), r.Strength.Name, r.Strength.Value, err)
	}
	f := r.Factor
	if f == 0 {
		f = 1
	}
	r.Q, r.buffers = nil, nil
	r.Penalty = QuadraticPenalty(&r.Base, &r.Q, r.Strength.Value*f)
	if err := r.Base.Setup(env); err != nil {
		return fmt.Errorf("%s: %w", r.name(), err)
	}
	return nil
}

// Resolved returns the output layout and the strength the run uses (after "auto"), e.g.
// {"heads": "multi", "lambda": "100"}.
func (r *Regularizer) Resolved() map[string]string {
	m := r.Base.Resolved()
	for k, v := range r.Strength.Resolved() {
		m[k] = v
	}
	return m
}

// Buffer returns a new per-term buffer: one zeroed slice per term of Q, in term order, as long as
// the term's parameter. A named buffer is state, saved and restored with the penalty (e.g. SI's
// running path integral); an unnamed one ("") is scratch space that a resumed run need not see
// (e.g. the parameters before a step). Call it after Regularizer.Setup, in the strategy's Setup,
// so that a resumed strategy has the same buffers. It panics before Setup or on a name used twice.
func (r *Regularizer) Buffer(name string) [][]float32 {
	if r.Q == nil {
		panic("strategies: Regularizer.Buffer called before Setup")
	}
	out := make([][]float32, len(r.Q.Terms))
	for i := range r.Q.Terms {
		out[i] = make([]float32, r.Q.Terms[i].Param.Size())
	}
	if name != "" {
		for _, b := range r.buffers {
			if b.name == name {
				panic("strategies: Regularizer.Buffer " + name + " created twice")
			}
		}
		r.buffers = append(r.buffers, regBuffer{name: name, data: out})
	}
	return out
}

// RegularizerState is the state Regularizer.SaveState saves: the penalty, the named buffers and
// the strategy's State.
type RegularizerState struct {
	Penalty QuadraticState   `json:"penalty"`
	Buffers map[string][]F32 `json:"buffers,omitempty"`
	State   json.RawMessage  `json:"state,omitempty"`
}

// SaveState saves the penalty (scale, offset, weights and anchors), the named buffers and State.
func (r *Regularizer) SaveState() ([]byte, error) {
	if r.Q == nil {
		return nil, fmt.Errorf("%s: state saved before Setup", r.name())
	}
	st := RegularizerState{Penalty: SaveQuadratic(r.Q)}
	if len(r.buffers) > 0 {
		st.Buffers = map[string][]F32{}
		for _, b := range r.buffers {
			v := make([]F32, len(b.data))
			for i, d := range b.data {
				v[i] = append(F32(nil), d...)
			}
			st.Buffers[b.name] = v
		}
	}
	if r.State != nil {
		raw, err := json.Marshal(r.State)
		if err != nil {
			return nil, fmt.Errorf("%s: saving the strategy's state: %w", r.name(), err)
		}
		st.State = raw
	}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("%s: saving the penalty: %w", r.name(), err)
	}
	return b, nil
}

// LoadState restores, in place, what SaveState saved, on a strategy set up for the same stream
// and spec (same terms and buffers). The penalty and buffers are left unchanged when it returns
// an error about them.
func (r *Regularizer) LoadState(data []byte) error {
	name := r.name()
	if r.Q == nil {
		return fmt.Errorf("%s: penalty state loaded before Setup", name)
	}
	var st RegularizerState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("%s: penalty state: %w", name, err)
	}
	if err := checkQuadratic(r.Q, st.Penalty); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if len(st.Buffers) != len(r.buffers) {
		return fmt.Errorf("%s: the checkpoint has %d buffers, the strategy %d", name, len(st.Buffers), len(r.buffers))
	}
	for _, b := range r.buffers {
		saved, ok := st.Buffers[b.name]
		if !ok {
			return fmt.Errorf("%s: the checkpoint lacks buffer %q", name, b.name)
		}
		if len(saved) != len(b.data) {
			return fmt.Errorf("%s: buffer %q has %d terms, the strategy %d", name, b.name, len(saved), len(b.data))
		}
		for i := range saved {
			if len(saved[i]) != len(b.data[i]) {
				return fmt.Errorf("%s: buffer %q term %d has %d values, want %d", name, b.name, i, len(saved[i]), len(b.data[i]))
			}
		}
	}
	switch {
	case r.State == nil && len(st.State) > 0:
		return fmt.Errorf("%s: the checkpoint holds strategy state the strategy does not keep", name)
	case r.State != nil && len(st.State) == 0:
		return fmt.Errorf("%s: the checkpoint holds no strategy state", name)
	case r.State != nil:
		if err := json.Unmarshal(st.State, r.State); err != nil {
			return fmt.Errorf("%s: strategy state: %w", name, err)
		}
	}
	if err := LoadQuadratic(r.Q, st.Penalty); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for _, b := range r.buffers {
		for i, v := range st.Buffers[b.name] {
			copy(b.data[i], v)
		}
	}
	return nil
}
