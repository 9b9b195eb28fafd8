package strategies

import (
	"encoding/json"
	"fmt"
	"io"
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
	_ StateWriter  = (*Regularizer)(nil)
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

// regularizerFormat starts Regularizer's saved state.
const regularizerFormat = "clgraph.regularizer/v1"

// WriteState writes, in StateEncoder's binary form, the penalty (scale, offset, each term's
// parameter name, weights and anchors), the named buffers and State (as JSON), straight from
// the tensors: a checkpoint of a large network holds no copy of them.
func (r *Regularizer) WriteState(w io.Writer) error {
	if r.Q == nil {
		return fmt.Errorf("%s: state saved before Setup", r.name())
	}
	e := NewStateEncoder(w)
	e.String(regularizerFormat)
	e.Float64(r.Q.Scale)
	e.Float64(r.Q.Offset)
	e.Int(len(r.Q.Terms))
	for i := range r.Q.Terms {
		t := &r.Q.Terms[i]
		e.String(t.Param.Name)
		e.Float32s(t.Weights())
		e.Float32s(t.Anchors())
	}
	e.Int(len(r.buffers))
	for _, b := range r.buffers {
		e.String(b.name)
		e.Int(len(b.data))
		for _, d := range b.data {
			e.Float32s(d)
		}
	}
	e.Bool(r.State != nil)
	if r.State != nil {
		e.JSON(r.State)
	}
	if err := e.Close(); err != nil {
		return fmt.Errorf("%s: saving the penalty: %w", r.name(), err)
	}
	return nil
}

// SaveState returns what WriteState writes.
func (r *Regularizer) SaveState() ([]byte, error) { return SaveStateBytes(r) }

// LoadState restores, in place, what SaveState saved, on a strategy set up for the same stream
// and spec (same terms and buffers). The penalty and buffers are left unchanged when it returns
// an error about them.
func (r *Regularizer) LoadState(data []byte) error {
	name := r.name()
	if r.Q == nil {
		return fmt.Errorf("%s: penalty state loaded before Setup", name)
	}
	d := NewStateDecoder(data)
	if f := d.String(); d.err != nil {
		return fmt.Errorf("%s: penalty state: %w", name, d.err)
	} else if f != regularizerFormat {
		return fmt.Errorf("%s: penalty state in format %q, want %q", name, clipString(f), regularizerFormat)
	}
	st := QuadraticState{Scale: d.Float64(), Offset: d.Float64()}
	nt := d.Int()
	if d.err == nil && nt != len(r.Q.Terms) {
		return fmt.Errorf("%s: saved penalty has %d terms, the strategy's %d", name, nt, len(r.Q.Terms))
	}
	for i := 0; i < nt && d.err == nil; i++ {
		st.Terms = append(st.Terms, QuadState{Param: d.String(), Weight: d.Float32s(), Anchor: d.Float32s()})
	}
	nb := d.Int()
	if d.err == nil && nb != len(r.buffers) {
		return fmt.Errorf("%s: the checkpoint has %d buffers, the strategy %d", name, nb, len(r.buffers))
	}
	bufs := make([][][]float32, 0, nb)
	for _, b := range r.buffers {
		if d.err != nil {
			break
		}
		if got := d.String(); d.err == nil && got != b.name {
			return fmt.Errorf("%s: the checkpoint has buffer %q where the strategy has %q", name, clipString(got), b.name)
		}
		n := d.Int()
		if d.err == nil && n != len(b.data) {
			return fmt.Errorf("%s: buffer %q has %d terms, the strategy %d", name, b.name, n, len(b.data))
		}
		v := make([][]float32, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			x := d.Float32s()
			if d.err == nil && len(x) != len(b.data[i]) {
				return fmt.Errorf("%s: buffer %q term %d has %d values, want %d", name, b.name, i, len(x), len(b.data[i]))
			}
			v = append(v, x)
		}
		bufs = append(bufs, v)
	}
	hasState := d.Bool()
	var raw []byte
	if hasState {
		raw = d.Bytes()
	}
	if err := d.Done(); err != nil {
		return fmt.Errorf("%s: penalty state: %w", name, err)
	}
	if err := checkQuadratic(r.Q, st); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	switch {
	case r.State == nil && hasState:
		return fmt.Errorf("%s: the checkpoint holds strategy state the strategy does not keep", name)
	case r.State != nil && !hasState:
		return fmt.Errorf("%s: the checkpoint holds no strategy state", name)
	case r.State != nil:
		if err := json.Unmarshal(raw, r.State); err != nil {
			return fmt.Errorf("%s: strategy state: %w", name, err)
		}
	}
	if err := LoadQuadratic(r.Q, st); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for k, b := range r.buffers {
		for i, v := range bufs[k] {
			copy(b.data[i], v)
		}
	}
	return nil
}

// clipString shortens s for an error message.
func clipString(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
