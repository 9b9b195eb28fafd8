package strategies

import (
	"errors"
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/stream"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// DER is Dark Experience Replay (Buzzega et al. 2020, "Dark Experience for General Continual
// Learning: a Strong, Simple Baseline"). A reservoir (ReservoirBuffer, Budget examples) keeps a
// uniform sample of every training example seen, each with the logits the model gave it when it
// was seen: after every step, the step's current examples are offered to it with the logits of
// that step's forward pass (before the update, as the authors' code stores them). Each step
// minimises
//
//	CE(current batch) + Alpha * mean_(i,j) (z_ij - stored_ij)^2 (memory batch 1)
//	                  + Beta * CE(memory batch 2)
//
// where z are the model-space outputs (every unit of every head) of the memory examples, the
// mean runs over their rows and units, and each memory batch is as large as the current batch
// (fewer while the reservoir holds fewer), drawn independently without replacement. Beta > 0 is
// DER++; Beta = 0 (the default) is DER. Replayed examples keep their task and are scored as the
// scenario scores it, as in replay. Replay starts with the first task's second step, the
// reservoir holding the examples seen so far. The defaults are the paper's best settings on
// sequential (class-incremental split) MNIST with a buffer of 500 examples: alpha 1 for DER,
// alpha 1 and beta 0.5 for DER++ (tuned there with SGD at batch 10).
//
// The three parts are rows of one training step (1 + [Alpha > 0] + [Beta > 0] batches): the
// cross-entropies are Base.Fill's weighted parts, the logit term LogitMSE over the memory rows
// of the step's logits, a penalty of the training graph reading its targets and row weights
// from tensors DER fills at every step. DER therefore builds its own model (Base.Build would
// build one without the term).
type DER struct {
	Base
	// Alpha weighs the logit term (settled at Setup when the option is auto: AlphaOpt), Beta
	// DER++'s cross-entropy on a second memory batch.
	Alpha, Beta float64
	// AlphaOpt is the alpha option as given: a number, or auto (DERAlphas; DERPPAlphas when
	// Beta > 0).
	AlphaOpt AutoFloat
	// Budget is the number of examples the reservoir holds.
	Budget int
	// Mem is the reservoir; Setup creates it.
	Mem *ReservoirBuffer

	m1, m2 *stream.Batch // memory batches of the logit term and of DER++'s cross-entropy
	stored []float32     // logits stored with m1's examples, m1.N x outputs
	// The logit term's bound inputs: targets [Rows, outputs] and row weights [Rows, 1].
	target, weight *tensor.Dense
	z              *G.Value // the training graph's logits after a step
}

// Compile-time interface checks.
var (
	_ Strategy     = (*DER)(nil)
	_ Requirer     = (*DER)(nil)
	_ Modeler      = (*DER)(nil)
	_ Checkpointer = (*DER)(nil)
)

// Setup builds a model whose steps take the current batch and one memory batch per term used,
// and an empty reservoir.
// DERAlphas is where der:alpha=auto takes its value for DER (beta=0): the stream's default
// (der.alpha), else the paper's 1.
var DERAlphas = AutoTable{Key: "der.alpha", Fallback: 1}

// DERPPAlphas is where der:alpha=auto takes its value for DER++ (beta > 0), tuned apart from
// DER's: the stream's default (derpp.alpha), else the paper's 1.
var DERPPAlphas = AutoTable{Key: "derpp.alpha", Fallback: 1}

// Resolved reports the output layout and the alpha used.
func (d *DER) Resolved() map[string]string { return withFloat(d.Base.Resolved(), "alpha", d.Alpha) }

func (d *DER) Setup(env *Env) error {
	d.ResolveHeads(env.Stream)
	if d.Beta > 0 {
		d.AlphaOpt.Table = DERPPAlphas
	}
	d.Alpha = d.AlphaOpt.Resolve(env, d.Heads)
	d.Rows = env.Batch
	for _, w := range []float64{d.Alpha, d.Beta} {
		if w > 0 {
			d.Rows += env.Batch
		}
	}
	if err := d.Base.Setup(env); err != nil {
		return fmt.Errorf("der: %w", err)
	}
	D, M := env.Stream.InputDim, d.Net.Outputs()
	d.Mem = NewReservoirBuffer(d.Budget, D, M)
	d.m1, d.m2 = stream.NewBatch(env.Batch, D), stream.NewBatch(env.Batch, D)
	d.stored = make([]float32, env.Batch*M)
	d.target = tensor.New(tensor.WithShape(d.Rows, M), tensor.Of(tensor.Float32))
	d.weight = tensor.New(tensor.WithShape(d.Rows, 1), tensor.Of(tensor.Float32))
	d.z = new(G.Value)
	if err := d.build(); err != nil {
		return fmt.Errorf("der: %w", err)
	}
	return nil
}

// build builds the model with the logit term over the training graph's logits. The graph holds
// the term's tensors and d.z, never d (see graphs.Penalty).
func (d *DER) build() error {
	var train *graphs.Binder
	var logits *G.Node
	forward := func(bd *graphs.Binder, x *G.Node) (*G.Node, error) {
		z, err := d.Forward(bd, x)
		if train == nil { // the training graph is built first, its penalty right after
			train, logits = bd, z
		}
		return z, err
	}
	target, weight, zv := d.target, d.weight, d.z
	penalty := func(bd *graphs.Binder) (*G.Node, error) {
		if bd != train {
			return nil, errors.New("the logit term belongs to the training graph")
		}
		G.Read(logits, zv)
		return LogitMSE(logits, bd.Const("der/logits", target), bd.Const("der/weights", weight))
	}
	m, err := graphs.NewModel(graphs.Config{
		Params: d.PS, Forward: forward, Penalty: penalty,
		InputDim: d.Env.Stream.InputDim, Outputs: d.Env.Stream.ModelOutputs(d.Heads),
		Batch: d.Rows, EvalBatch: d.Env.EvalBatch,
	})
	if err != nil {
		return err
	}
	d.Net = m
	return nil
}

// Step trains on bt and the memory batches, then offers bt's examples to the reservoir with the
// logits this step computed for them.
func (d *DER) Step(cur int, bt *stream.Batch) (StepInfo, error) {
	rng, n, D, M := d.Env.Rng, bt.N, d.Env.Stream.InputDim, d.Net.Outputs()
	d.m1.Reset()
	d.m2.Reset()
	if d.Alpha > 0 {
		d.Mem.Sample(d.m1, d.stored, n, rng)
	}
	if d.Beta > 0 {
		d.Mem.Sample(d.m2, nil, n, rng)
	}
	if err := d.Fill(cur, Part{Batch: bt, Weight: 1}, Part{Batch: d.m1}, Part{Batch: d.m2, Weight: d.Beta}); err != nil {
		return StepInfo{}, fmt.Errorf("der: %w", err)
	}
	w := d.weight.Float32s()
	clear(w)
	if m := d.m1.N; m > 0 {
		copy(d.target.Float32s()[n*M:], d.stored[:m*M])
		for i := n; i < n+m; i++ {
			w[i] = float32(d.Alpha / float64(m*M))
		}
	}
	info, err := d.Train()
	info.Samples = n + d.m1.N + d.m2.N
	if err != nil {
		return info, err
	}
	z, _, err := mseF32(*d.z)
	if err != nil {
		return info, fmt.Errorf("der: logits: %w", err)
	}
	for i := 0; i < n; i++ {
		task := bt.Task[i]
		if task < 0 {
			task = int32(cur) // not task-IL: the example is of the task being trained
		}
		d.Mem.Offer(bt.X[i*D:(i+1)*D], bt.Target[i], task, z[i*M:(i+1)*M], rng)
	}
	return info, nil
}

// SaveState saves the reservoir: examples, stored logits and the count of examples seen.
func (d *DER) SaveState() ([]byte, error) {
	return saveMemory(d.Mem, "der", "reservoir")
}

// LoadState restores the reservoir SaveState saved.
func (d *DER) LoadState(data []byte) error {
	return loadMemory(d.Mem, data, d.Env.Stream, "der")
}

func init() {
	Register(Info{
		Name: "der",
		Doc:  "dark experience replay: match the logits stored with reservoir-sampled past examples (beta > 0: DER++)",
		Options: []Option{
			{Name: "budget", Default: "500", Doc: "examples the reservoir holds (the paper's sequential-MNIST buffers: 200, 500, 5120)"},
			{Name: "alpha", Default: "auto", Doc: "weight of the logit term (the paper's sequential-MNIST value at budget 500, DER and DER++: 1); auto with beta > 0 takes DER++'s own default (derpp.alpha)", Auto: &DERAlphas},
			{Name: "beta", Default: "0", Doc: "weight of DER++'s cross-entropy on a second memory batch; 0 is DER (the paper's DER++ at budget 500: 0.5)"},
			HeadsOption,
		},
	}, func(o *Options) (Strategy, error) {
		d := &DER{}
		d.ParseHeads(o)
		d.Budget, d.AlphaOpt, d.Beta = o.Int("budget"), o.FloatOrAuto("alpha"), o.Float("beta")
		d.Alpha = d.AlphaOpt.Value
		o.Check("budget", d.Budget > 0, "a positive integer")
		o.Check("beta", d.Beta >= 0, "a non-negative number")
		return d, o.Err()
	})
}

// LogitMSE adds L = sum_i w_i sum_j (z_ij - t_ij)^2 to z's graph: the squared error of logits
// z [n, k] against targets t [n, k], row i weighted by w_i (w is [n, 1]); rows of weight 0 add
// nothing, whatever their targets. DER's term is alpha/(m k) on its m memory rows: alpha times
// the mean squared error over them. The op is fused: the forward pass sums in float64, the
// gradient with respect to z, 2 w_i (z_ij - t_ij), is written into a buffer the op owns.
func LogitMSE(z, t, w *G.Node) (*G.Node, error) {
	n, err := G.ApplyOp(&mseOp{}, z, t, w)
	if err != nil {
		return nil, fmt.Errorf("strategies: logit MSE: %w", err)
	}
	return n, nil
}

// mseF32 returns the data and shape of a float32 dense tensor value.
func mseF32(v G.Value) ([]float32, tensor.Shape, error) {
	if d, ok := v.(*tensor.Dense); ok && d.Dtype() == tensor.Float32 {
		return d.Float32s(), d.Shape(), nil
	}
	return nil, nil, fmt.Errorf("expected a float32 tensor, got %T", v)
}

// mseInputs checks LogitMSE's inputs: z [n, k], t [n, k], w [n, 1].
func mseInputs(in []G.Value) (z, t, w []float32, k int, err error) {
	if len(in) < 3 {
		return nil, nil, nil, 0, fmt.Errorf("logit MSE takes 3 inputs, got %d", len(in))
	}
	z, sh, err := mseF32(in[0])
	if err == nil {
		t, _, err = mseF32(in[1])
	}
	if err == nil {
		w, _, err = mseF32(in[2])
	}
	if err != nil {
		return nil, nil, nil, 0, err
	}
	if len(sh) != 2 || len(t) != len(z) || len(w) != sh[0] {
		return nil, nil, nil, 0, fmt.Errorf("logit MSE shapes: z %v, %d targets, %d weights", sh, len(t), len(w))
	}
	return z, t, w, sh[1], nil
}

func mseHash(op G.Op) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

func mseMatType() hm.Type { return G.TensorType{Dims: 2, Of: tensor.Float32} }

// mseOp is LogitMSE's forward op.
type mseOp struct{ loss G.F32 }

func (op *mseOp) Arity() int { return 3 }
func (op *mseOp) Type() hm.Type {
	t := mseMatType()
	return hm.NewFnType(t, t, t, tensor.Float32)
}
func (op *mseOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return tensor.ScalarShape(), nil }
func (op *mseOp) ReturnsPtr() bool                               { return false }
func (op *mseOp) CallsExtern() bool                              { return false }
func (op *mseOp) OverwritesInput() int                           { return -1 }
func (op *mseOp) WriteHash(h hash.Hash)                          { fmt.Fprintf(h, "logitmse%p", op) }
func (op *mseOp) Hashcode() uint32                               { return mseHash(op) }
func (op *mseOp) String() string                                 { return "LogitMSE" }
func (op *mseOp) DiffWRT(int) []bool                             { return []bool{true, false, false} }

func (op *mseOp) Do(in ...G.Value) (G.Value, error) {
	z, t, w, k, err := mseInputs(in)
	if err != nil {
		return nil, err
	}
	var s float64
	for i, wi := range w {
		if wi == 0 {
			continue
		}
		var r float64
		for j := i * k; j < (i+1)*k; j++ {
			e := float64(z[j]) - float64(t[j])
			r += e * e
		}
		s += float64(wi) * r
	}
	op.loss = G.F32(float32(s))
	return &op.loss, nil
}

func (op *mseOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	g, err := G.ApplyOp(&mseGradOp{}, inputs[0], inputs[1], inputs[2], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{g, nil, nil}, nil
}

// mseGradOp computes upstream * 2 w_i (z_ij - t_ij).
type mseGradOp struct{ buf *tensor.Dense }

func (op *mseGradOp) Arity() int { return 4 }
func (op *mseGradOp) Type() hm.Type {
	t := mseMatType()
	return hm.NewFnType(t, t, t, tensor.Float32, t)
}
func (op *mseGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("logit MSE gradient: input shape is %T", in[0])
	}
	return s.Clone(), nil
}
func (op *mseGradOp) ReturnsPtr() bool      { return false }
func (op *mseGradOp) CallsExtern() bool     { return false }
func (op *mseGradOp) OverwritesInput() int  { return -1 }
func (op *mseGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "logitmsegrad%p", op) }
func (op *mseGradOp) Hashcode() uint32      { return mseHash(op) }
func (op *mseGradOp) String() string        { return "LogitMSEGrad" }

func (op *mseGradOp) Do(in ...G.Value) (G.Value, error) {
	_, sh, err := mseF32(in[0])
	if err != nil {
		return nil, err
	}
	if op.buf == nil || !op.buf.Shape().Eq(sh) {
		op.buf = tensor.New(tensor.WithShape(sh.Clone()...), tensor.Of(tensor.Float32))
	}
	return op.UsePreallocDo(op.buf, in...)
}

// UsePreallocDo writes the gradient into the machine's preallocated value: no allocation per run.
func (op *mseGradOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	z, t, w, k, err := mseInputs(in)
	if err != nil {
		return nil, err
	}
	g := graphs.UpstreamScalar(in[3])
	out, _, err := mseF32(prealloc)
	if err != nil || len(out) != len(z) {
		return nil, fmt.Errorf("logit MSE gradient buffer: %d values for %d (%v)", len(out), len(z), err)
	}
	for i, wi := range w {
		o := out[i*k : (i+1)*k]
		if wi == 0 {
			clear(o) // exactly 0, whatever the row's targets
			continue
		}
		c := 2 * g * wi
		for j := range o {
			o[j] = c * (z[i*k+j] - t[i*k+j])
		}
	}
	return prealloc, nil
}
