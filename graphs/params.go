package graphs

import (
	"fmt"
	"math"
	"math/rand"
	"sort"

	"gorgonia.org/tensor"
)

// Param is one learnable tensor of a model. Its Value is shared by every graph built over it, so
// an in-place update is seen by all of them.
type Param struct {
	// Name is unique within its ParamSet, e.g. "trunk/l0/W" or "head3/b".
	Name string
	// Group tells strategies what the parameter belongs to: "trunk" for shared layers, "head" for
	// per-task output heads, or any name a strategy chooses (e.g. "col2" for a progressive column).
	Group string
	// Value holds the data, float32, shape [in, out] for weights and [1, out] for biases.
	Value *tensor.Dense
	// Frozen parameters are used by graphs but receive no gradient and no optimizer update.
	Frozen bool
	// LRScale multiplies the optimizer's learning rate for this parameter; 0 means 1.
	LRScale float32
}

// Data returns the parameter's values as a flat slice (the tensor's own backing array).
func (p *Param) Data() []float32 { return p.Value.Float32s() }

// Shape returns the parameter's shape.
func (p *Param) Shape() tensor.Shape { return p.Value.Shape() }

// Size is the number of scalars in the parameter.
func (p *Param) Size() int { return p.Value.Shape().TotalSize() }

// ParamSet is an ordered set of named parameters: the generic list that optimizers, penalties and
// checkpoints walk, so no code hard-codes a model's weights.
type ParamSet struct {
	list   []*Param
	byName map[string]*Param
}

// NewParamSet returns an empty set.
func NewParamSet() *ParamSet { return &ParamSet{byName: map[string]*Param{}} }

// Add adds a zero-filled parameter of the given shape and returns it. It panics on a duplicate or
// empty name: that is a programming error in the graph builder, never a run-time condition.
func (s *ParamSet) Add(name, group string, shape ...int) *Param {
	if name == "" {
		panic("graphs: empty parameter name")
	}
	if _, dup := s.byName[name]; dup {
		panic(fmt.Sprintf("graphs: duplicate parameter %q", name))
	}
	p := &Param{Name: name, Group: group, Value: tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float32))}
	s.list = append(s.list, p)
	s.byName[name] = p
	return p
}

// All returns the parameters in the order they were added.
func (s *ParamSet) All() []*Param { return s.list }

// Get returns the parameter called name, or nil.
func (s *ParamSet) Get(name string) *Param { return s.byName[name] }

// Names returns the parameter names, sorted.
func (s *ParamSet) Names() []string {
	n := make([]string, 0, len(s.list))
	for _, p := range s.list {
		n = append(n, p.Name)
	}
	sort.Strings(n)
	return n
}

// Trainable returns the parameters that are not frozen.
func (s *ParamSet) Trainable() []*Param {
	var out []*Param
	for _, p := range s.list {
		if !p.Frozen {
			out = append(out, p)
		}
	}
	return out
}

// Filter returns the parameters for which keep is true.
func (s *ParamSet) Filter(keep func(*Param) bool) []*Param {
	var out []*Param
	for _, p := range s.list {
		if keep(p) {
			out = append(out, p)
		}
	}
	return out
}

// Count is the number of scalars over all parameters.
func (s *ParamSet) Count() int {
	n := 0
	for _, p := range s.list {
		n += p.Size()
	}
	return n
}

// InitUniform fills p with U(-bound, bound) drawn from rng.
func InitUniform(p *Param, bound float64, rng *rand.Rand) {
	d := p.Data()
	for i := range d {
		d[i] = float32((rng.Float64()*2 - 1) * bound)
	}
}

// InitTruncNormal fills p with N(0, std²) draws from rng, each redrawn until it lies within two
// standard deviations (TensorFlow's truncated_normal_initializer).
func InitTruncNormal(p *Param, std float64, rng *rand.Rand) {
	d := p.Data()
	for i := range d {
		x := rng.NormFloat64()
		for math.Abs(x) > 2 {
			x = rng.NormFloat64()
		}
		d[i] = float32(x * std)
	}
}

// InitLinear initialises a dense layer's weight [in,out] and bias [1,out] as PyTorch's nn.Linear
// does (U(-1/sqrt(in), 1/sqrt(in)) for both), the initialisation of the reference implementations.
func InitLinear(w, b *Param, rng *rand.Rand) {
	bound := 1 / math.Sqrt(float64(w.Shape()[0]))
	InitUniform(w, bound, rng)
	if b != nil {
		InitUniform(b, bound, rng)
	}
}
