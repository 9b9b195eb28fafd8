package graphs

import (
	"errors"
	"fmt"
	"math/rand"

	G "gorgonia.org/gorgonia"
)

// Progressive is a progressive neural network (Rusu et al. 2016): one column per task, each an MLP
// trunk with its own output head, where every hidden layer after the first, and the head, also read
// the previous layer's activations of every earlier column through lateral connections:
//
//	h_i^(k) = relu(W_i^(k) h_(i-1)^(k) + b_i^(k) + sum_(j<k) U_i^(k:j) h_(i-1)^(j))
//
// With Adapter set, the lateral term is the paper's non-linear adapter: the earlier columns'
// activations, concatenated and scaled by a learned scalar alpha, are projected onto as many units
// as column k's layer i-1 has (a dense layer V, c followed by ReLU) before U:
//
//	U_i^(k) relu(V_i^(k) (alpha_i^(k) [h_(i-1)^(0), ..., h_(i-1)^(k-1)]) + c_i^(k))
//
// The graph computes alpha (V a) rather than V (alpha a): the same value, on fewer units.
// Progressive only builds graphs: freezing earlier columns (Column.SetFrozen) and rebuilding the
// Model are the caller's.
type Progressive struct {
	// In is the width of the input every column's first layer reads.
	In int
	// Adapter selects the adapter form of the lateral connections for columns added afterwards.
	Adapter bool
	// FromInput, for columns added afterwards, adds lateral connections into the first layer
	// from the input (one U per earlier column, as if column j's layer -1 were the input) and
	// gives every lateral connection a bias: A-GEM's code's progressive network
	// (facebookresearch/agem, model/model.py extensible_fc_column_progNN). Linear form only.
	FromInput bool
	// Columns are the columns in order; column k feeds every column after it.
	Columns []*Column
}

// Column is one column of a Progressive network. All its parameters are in Group ("col<k>").
type Column struct {
	// Index is k, the column's position.
	Index int
	// Group is the Group of every parameter of the column, lateral connections included.
	Group string
	// Hidden are the widths of the column's hidden layers.
	Hidden []int
	// Out is the width of the column's head.
	Out int
	// Layers[i] maps hidden layer i-1 of this column (the input for i = 0) to hidden layer i.
	Layers []Dense
	// Head maps the last hidden layer to the column's output logits.
	Head Dense
	// Laterals[i] feeds hidden layer i (i = 1..len(Hidden)-1) and, at i = len(Hidden), the head
	// from layer i-1 of every earlier column. Laterals[0] is nil (the first layer reads only the
	// input) unless the column was added with FromInput, and column 0 has no laterals at all.
	Laterals []*Lateral

	params []*Param
}

// Lateral holds the lateral connections into one layer of column k from columns 0..k-1, in the
// linear form (U) or the adapter form (Adapter).
type Lateral struct {
	// U[j] is U^(k:j), [width of column j's layer i-1, width of layer i]; nil with an adapter.
	U []*Param
	// B[j] is U[j]'s bias [1, width of layer i] (FromInput's form); nil without biases.
	B []*Param
	// Adapter is the non-linear adapter; nil in the linear form.
	Adapter *Adapter
}

// Adapter is the non-linear lateral adapter of Rusu et al. (2016), section 3.
type Adapter struct {
	// Alpha is the learned scalar [1,1] that scales the earlier columns' activations.
	Alpha *Param
	// V projects the concatenated activations [sum of widths] onto R units, with bias.
	V Dense
	// U maps the R projected units to the layer's width [R, width], without bias.
	U *Param
}

// Params returns every parameter of the column, lateral connections included, in creation order.
func (c *Column) Params() []*Param { return c.params }

// SetFrozen sets the Frozen flag of every parameter of the column. A Model built before the change
// does not see it: rebuild it.
func (c *Column) SetFrozen(frozen bool) {
	for _, p := range c.params {
		p.Frozen = frozen
	}
}

// Size is the number of scalars in the column's parameters.
func (c *Column) Size() int {
	n := 0
	for _, p := range c.params {
		n += p.Size()
	}
	return n
}

// AddColumn adds a column of the given hidden widths and head width to ps (parameter names
// "col<k>/l<i>/W", "col<k>/l<i>/U<j>", "col<k>/head/W", ..., group "col<k>"), with its lateral
// connections from every existing column, initialised from rng like PyTorch's nn.Linear. Every
// column must have the same depth.
func (p *Progressive) AddColumn(ps *ParamSet, hidden []int, out int, rng *rand.Rand) (*Column, error) {
	if p.In <= 0 {
		return nil, fmt.Errorf("graphs: progressive column: input width %d", p.In)
	}
	if p.FromInput && p.Adapter {
		return nil, errors.New("graphs: progressive column: lateral connections from the input (FromInput) take the linear form, not adapters")
	}
	if len(hidden) == 0 || out <= 0 {
		return nil, fmt.Errorf("graphs: progressive column: needs at least one hidden layer and an output, got hidden %v and %d outputs", hidden, out)
	}
	for _, h := range hidden {
		if h <= 0 {
			return nil, fmt.Errorf("graphs: progressive column: hidden widths must be positive, got %v", hidden)
		}
	}
	if len(p.Columns) > 0 && len(p.Columns[0].Hidden) != len(hidden) {
		return nil, fmt.Errorf("graphs: progressive column: %d hidden layers, earlier columns have %d", len(hidden), len(p.Columns[0].Hidden))
	}
	k := len(p.Columns)
	c := &Column{Index: k, Group: fmt.Sprintf("col%d", k), Hidden: append([]int(nil), hidden...), Out: out}
	before := len(ps.All())
	L := len(hidden)
	in := p.In
	c.Laterals = make([]*Lateral, L+1)
	for i := 0; i <= L; i++ {
		prefix := fmt.Sprintf("%s/l%d", c.Group, i)
		width := out
		if i < L {
			width = hidden[i]
		} else {
			prefix = c.Group + "/head"
		}
		d := NewDense(ps, prefix, c.Group, in, width, rng)
		if i < L {
			c.Layers = append(c.Layers, d)
		} else {
			c.Head = d
		}
		if k > 0 && (i > 0 || p.FromInput) {
			c.Laterals[i] = p.newLateral(ps, prefix, c.Group, i, in, width, rng)
		}
		in = width
	}
	c.params = append(c.params, ps.All()[before:]...)
	p.Columns = append(p.Columns, c)
	return c, nil
}

// newLateral builds the lateral connections into layer i (of the given width) of the column being
// added, from layer i-1 of every existing column (the input for i = 0, FromInput); own is the
// width of the new column's layer i-1.
func (p *Progressive) newLateral(ps *ParamSet, prefix, group string, i, own, width int, rng *rand.Rand) *Lateral {
	l := &Lateral{}
	if !p.Adapter {
		for j, src := range p.Columns {
			from := p.In
			if i > 0 {
				from = src.Hidden[i-1]
			}
			name := fmt.Sprintf("%s/U%d", prefix, j)
			u := ps.Add(name, group, from, width)
			var b *Param
			if p.FromInput {
				b = ps.Add(name+"/b", group, 1, width)
				l.B = append(l.B, b)
			}
			InitLinear(u, b, rng)
			l.U = append(l.U, u)
		}
		return l
	}
	sum := 0
	for _, src := range p.Columns {
		sum += src.Hidden[i-1]
	}
	a := &Adapter{Alpha: ps.Add(prefix+"/alpha", group, 1, 1)}
	// "A learned scalar, initialized by a random small value" (Rusu et al. 2016, section 3).
	a.Alpha.Data()[0] = float32(0.01 + 0.09*rng.Float64())
	a.V = NewDense(ps, prefix+"/V", group, sum, own, rng)
	a.U = ps.Add(prefix+"/U", group, own, width)
	InitLinear(a.U, nil, rng)
	l.Adapter = a
	return l
}

// Apply adds columns 0..upto to b's graph, fed by x [n, In], and returns each column's logits
// ([n, Out] for column k, in order). Column k's graph computes every column before it.
func (p *Progressive) Apply(b *Binder, x *G.Node, upto int) ([]*G.Node, error) {
	if upto < 0 || upto >= len(p.Columns) {
		return nil, fmt.Errorf("graphs: progressive network has %d columns, cannot apply up to column %d", len(p.Columns), upto)
	}
	// acts[j][i] is column j's hidden layer i (after ReLU).
	acts := make([][]*G.Node, upto+1)
	logits := make([]*G.Node, upto+1)
	for k := 0; k <= upto; k++ {
		c := p.Columns[k]
		h := x
		L := len(c.Hidden)
		for i := 0; i <= L; i++ {
			d := c.Head
			if i < L {
				d = c.Layers[i]
			}
			z, err := d.Apply(b, h)
			if err != nil {
				return nil, fmt.Errorf("graphs: %s: %w", c.Group, err)
			}
			if lat := c.Laterals[i]; lat != nil {
				prev := make([]*G.Node, k)
				for j := 0; j < k; j++ {
					prev[j] = x
					if i > 0 {
						prev[j] = acts[j][i-1]
					}
				}
				lz, err := lat.apply(b, prev)
				if err != nil {
					return nil, fmt.Errorf("graphs: %s layer %d laterals: %w", c.Group, i, err)
				}
				if z, err = G.Add(z, lz); err != nil {
					return nil, fmt.Errorf("graphs: %s layer %d laterals: %w", c.Group, i, err)
				}
			}
			if i == L {
				logits[k] = z
				break
			}
			if h, err = ReLU(z); err != nil {
				return nil, fmt.Errorf("graphs: %s layer %d: relu: %w", c.Group, i, err)
			}
			acts[k] = append(acts[k], h)
		}
	}
	return logits, nil
}

// apply returns the lateral term from the earlier columns' activations prev (one per column).
func (l *Lateral) apply(b *Binder, prev []*G.Node) (*G.Node, error) {
	if l.Adapter == nil {
		if len(prev) != len(l.U) {
			return nil, fmt.Errorf("%d lateral weights for %d earlier columns", len(l.U), len(prev))
		}
		var sum *G.Node
		for j, h := range prev {
			var t *G.Node
			var err error
			if l.B != nil {
				t, err = Linear(b, h, Dense{W: l.U[j], B: l.B[j]})
			} else {
				t, err = G.Mul(h, b.Node(l.U[j]))
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", l.U[j].Name, err)
			}
			if sum == nil {
				sum = t
			} else if sum, err = G.Add(sum, t); err != nil {
				return nil, fmt.Errorf("%s: %w", l.U[j].Name, err)
			}
		}
		if sum == nil {
			return nil, errors.New("no earlier column")
		}
		return sum, nil
	}
	a := l.Adapter
	in := prev[0]
	if len(prev) > 1 {
		var err error
		if in, err = G.Concat(1, prev...); err != nil {
			return nil, fmt.Errorf("%s: concatenating earlier columns: %w", a.V.W.Name, err)
		}
	}
	if got, want := in.Shape()[1], a.V.W.Shape()[0]; got != want {
		return nil, fmt.Errorf("%s reads %d units, earlier columns give %d", a.V.W.Name, want, got)
	}
	va, err := G.Mul(in, b.Node(a.V.W))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", a.V.W.Name, err)
	}
	scaled, err := G.BroadcastHadamardProd(va, b.Node(a.Alpha), nil, []byte{0, 1})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", a.Alpha.Name, err)
	}
	pre, err := G.BroadcastAdd(scaled, b.Node(a.V.B), nil, []byte{0})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", a.V.B.Name, err)
	}
	act, err := ReLU(pre)
	if err != nil {
		return nil, fmt.Errorf("%s: relu: %w", a.V.W.Name, err)
	}
	out, err := G.Mul(act, b.Node(a.U))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", a.U.Name, err)
	}
	return out, nil
}
