package strategies

import (
	"errors"
	"fmt"
	"math"
	"math/rand"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/stream"
	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MAS is Memory Aware Synapses (Aljundi et al. 2018): the training loss of each task gets the
// penalty lambda sum_i Omega_i (theta_i - theta*_i)^2 over the shared parameters (SharedParams),
// theta* the parameters at the end of the latest task and Omega the importance. At the end of
// each task MASImportance estimates, without labels, the mean over samples of its training
// examples of |d ||f(x)||_2^2 / d theta_i|, f(x) the outputs the scenario scores for the task,
// and adds it to the Omega of earlier tasks: Omega <- Omega + Omega_new, summed, not averaged,
// over tasks, as the authors' code accumulates it (accumulate_reg_params). The absolute
// gradient is taken per example, as the paper defines Omega; the authors' code takes it per
// mini-batch (the absolute value of a batch's summed gradient, never larger). The penalty,
// lambda and not lambda/2 times the weighted squares as in the authors' code, is Regularizer's:
// Strength is lambda, and Regularizer saves Omega and theta* (Q) in checkpoints.
//
// Two options follow other codes: Batch > 0 takes the absolute value of each Batch examples'
// summed gradient (the authors' code, and A-GEM's with batches of 10), and Replace makes each
// task's importance replace Omega instead of adding to it (A-GEM's code resets it every task).
// A-GEM's MAS is mas:batch=10,replace=true,samples=0 (A-GEM's code drops a last batch shorter
// than 10, which this counts; their tasks of 55000 images have none).
type MAS struct {
	Regularizer
	// Samples is the number of training examples of a task Omega averages over (0: all).
	Samples int
	// Batch, when > 0, is the number of examples whose summed gradient's absolute value counts
	// once (0: every example's own, the paper's definition).
	Batch int
	// Replace sets Omega to the latest task's importance instead of adding it.
	Replace bool
}

// MASLambdas is where mas:lambda=auto takes its value: the default the stream registers
// (mas.lambda), else 1.
var MASLambdas = AutoTable{Key: "mas.lambda", Fallback: 1}

// Compile-time interface checks.
var (
	_ Strategy     = (*MAS)(nil)
	_ TaskEnder    = (*MAS)(nil)
	_ Checkpointer = (*MAS)(nil)
	_ Resolver     = (*MAS)(nil)
)

// EndTask adds task cur's importance to Omega (or, with Replace, puts it in Omega's place) and
// anchors the penalty at the current parameters.
func (m *MAS) EndTask(cur int) error {
	om, err := MASImportanceBatched(&m.Base, cur, m.Samples, m.Batch, m.Env.Rng, m.Q.Params())
	if err != nil {
		return fmt.Errorf("mas: %w", err)
	}
	for i := range m.Q.Terms {
		t := &m.Q.Terms[i]
		w, o := t.Weights(), om[t.Param]
		if m.Replace {
			copy(w, o)
			continue
		}
		for k := range w {
			w[k] += o[k]
		}
	}
	m.Q.SetAnchors()
	return nil
}

// MASImportance returns, for each of params (weights or biases of b's trunk or heads), MAS's
// importance at the parameters' current values on task t's training data: the mean over
// examples x of |d ||f(x)||_2^2 / d theta|, with f(x) the model outputs an example of t is
// scored on after training on t (b's mask of (t, t): in task-IL the task's head, in domain-IL
// every unit, in class-IL every class seen so far). samples > 0 averages over that many examples
// drawn from rng without replacement, 0 over every example.
//
// Per-example gradients are never formed: for a dense layer with input a and output gradient g
// the per-example weight gradient is a g^T, whose absolute value is |a| |g|^T, so the sum over
// examples is one product |A|^T |G| per layer and chunk of examples, after a pure-Go forward pass
// and a batched backward pass of ||f||^2 (whose gradient with respect to the outputs is 2 f). A
// trunk with conv layers goes through the model's own graph instead, one example at a time
// (masGraph).
func MASImportance(b *Base, t, samples int, rng *rand.Rand, params []*graphs.Param) (map[*graphs.Param][]float32, error) {
	return MASImportanceBatched(b, t, samples, 0, rng, params)
}

// MASImportanceBatched is MASImportance with the absolute value taken of each batch examples'
// summed gradient when batch > 0 (consecutive examples of the sample; a last, shorter batch
// counts as one), still divided by the number of examples: (1/n) sum over batches |sum over
// the batch of d ||f(x)||^2 / d theta|. It needs a dense trunk when batch > 0.
func MASImportanceBatched(b *Base, t, samples, batch int, rng *rand.Rand, params []*graphs.Param) (map[*graphs.Param][]float32, error) {
	if b.Env == nil || b.PS == nil {
		return nil, fmt.Errorf("strategies: MAS importance before Setup")
	}
	s := b.Env.Stream
	if t < 0 || t >= len(s.Tasks) {
		return nil, fmt.Errorf("strategies: MAS importance of task %d: stream has %d tasks", t, len(s.Tasks))
	}
	task := s.Tasks[t]
	n := task.Train.Len()
	if n == 0 {
		return nil, fmt.Errorf("strategies: MAS importance of task %d: no training examples", t)
	}
	idx := make([]int, n)
	for k := range idx {
		idx[k] = k
	}
	if samples > 0 && samples < n {
		if rng == nil {
			return nil, fmt.Errorf("strategies: MAS importance on %d of %d examples needs a random source", samples, n)
		}
		idx = rng.Perm(n)[:samples]
	}
	if batch > 0 && len(b.Trunk.Convs) > 0 {
		return nil, fmt.Errorf("strategies: MAS importance over batches (batch=%d) needs a dense trunk; use batch=0 with conv layers", batch)
	}
	if (len(b.Trunk.Convs) > 0 || masViaGraph) && batch == 0 {
		return masGraph(b, t, task, idx, params)
	}
	w := &masWork{net: newPlainNet(b, false), mask: b.mask(t, t), alpha: float32(1 / float64(len(idx))), batch: batch}
	layers := w.net.layers()
	all := make(map[*graphs.Param][]float32, 2*len(layers))
	w.acc = make([][2][]float32, len(layers))
	for k, L := range layers {
		w.acc[k] = [2][]float32{make([]float32, len(L.w)), make([]float32, len(L.b))}
		all[L.p[0]], all[L.p[1]] = w.acc[k][0], w.acc[k][1]
	}
	out := make(map[*graphs.Param][]float32, len(params))
	for _, p := range params {
		if out[p] = all[p]; out[p] == nil {
			return nil, fmt.Errorf("strategies: MAS importance of %s: not a weight or bias of the trunk or heads", p.Name)
		}
	}
	chunk := 256
	if batch > 0 {
		chunk = batch * max(1, 256/batch) // whole batches per chunk
	}
	bt := stream.NewBatch(chunk, s.InputDim)
	for start := 0; start < len(idx); start += chunk {
		bt.Reset()
		for _, k := range idx[start:min(len(idx), start+chunk)] {
			bt.Add(task, &task.Train, k)
		}
		w.chunk(bt.X, bt.N)
	}
	return out, nil
}

// masWork holds MASImportance's state and buffers.
type masWork struct {
	net   *plainNet
	mask  []float32
	alpha float32
	batch int            // > 0: the absolute value of each batch's summed gradient (addBatches)
	acc   [][2][]float32 // per layer of net.layers(): the weight's and the bias's importance

	d, absA, absG, g1, g2, sum []float32
}

// chunk adds the importance of the nb examples of x.
func (w *masWork) chunk(x []float32, nb int) {
	n, bl := w.net, G.WhichBLAS()
	M, nt := n.M, len(n.trunk)
	z := n.forward(x, nb)
	w.d = grow(w.d, nb*M)
	for i, v := range z[:nb*M] {
		w.d[i] = 0
		if w.mask[i%M] == 0 {
			w.d[i] = 2 * v // d ||f||^2 / d f
		}
	}
	top, H := n.acts[nt], n.in
	if nt > 0 {
		H = n.trunk[nt-1].out
	}
	w.g1 = grow(w.g1, nb*H)
	clear(w.g1)
	for h, L := range n.heads {
		active := false
		for _, m := range w.mask[L.col : L.col+L.out] {
			active = active || m == 0
		}
		if !active {
			continue
		}
		w.add(nt+h, L, top, w.d[L.col:], M, nb)
		if nt > 0 {
			bl.Sgemm(blas.NoTrans, blas.Trans, nb, H, L.out, 1, w.d[L.col:], M, L.w, L.out, 1, w.g1, H)
		}
	}
	for l := nt - 1; l >= 0; l-- {
		L := n.trunk[l]
		g, a := w.g1[:nb*L.out], n.acts[l+1]
		for i := range g {
			if a[i] <= 0 {
				g[i] = 0 // through the ReLU
			}
		}
		w.add(l, L, n.acts[l], g, L.out, nb)
		if l > 0 {
			w.g2 = grow(w.g2, nb*L.in)
			bl.Sgemm(blas.NoTrans, blas.Trans, nb, L.in, L.out, 1, g, L.out, L.w, L.out, 0, w.g2, L.in)
			w.g1, w.g2 = w.g2, w.g1
		}
	}
}

// add accumulates into layer k's importance, for input a (nb x in) and output gradient g (nb rows
// of L.out values, row stride ld), alpha |A|^T |G| for the weight and alpha colsum |G| for the
// bias.
func (w *masWork) add(k int, L *netLayer, a, g []float32, ld, nb int) {
	if w.batch > 0 {
		w.addBatches(k, L, a, g, ld, nb)
		return
	}
	w.absA, w.absG = grow(w.absA, nb*L.in), grow(w.absG, nb*L.out)
	for i, v := range a[:nb*L.in] {
		w.absA[i] = float32(math.Abs(float64(v)))
	}
	gb := w.acc[k][1]
	for i := range nb {
		row := w.absG[i*L.out : (i+1)*L.out]
		for j, v := range g[i*ld : i*ld+L.out] {
			row[j] = float32(math.Abs(float64(v)))
			gb[j] += w.alpha * row[j]
		}
	}
	G.WhichBLAS().Sgemm(blas.Trans, blas.NoTrans, L.in, L.out, nb, w.alpha, w.absA, L.in, w.absG, L.out, 1, w.acc[k][0], L.out)
}

// addBatches is add over batches of w.batch rows: alpha |A_b^T G_b| for the weight and alpha
// |colsum G_b| for the bias, per batch b.
func (w *masWork) addBatches(k int, L *netLayer, a, g []float32, ld, nb int) {
	w.sum = grow(w.sum, L.in*L.out)
	bw, bb := w.acc[k][0], w.acc[k][1]
	for r := 0; r < nb; r += w.batch {
		n := min(w.batch, nb-r)
		G.WhichBLAS().Sgemm(blas.Trans, blas.NoTrans, L.in, L.out, n, 1, a[r*L.in:], L.in, g[r*ld:], ld, 0, w.sum, L.out)
		for i, v := range w.sum[:L.in*L.out] {
			bw[i] += w.alpha * float32(math.Abs(float64(v)))
		}
		for j := range L.out {
			var c float32
			for i := r; i < r+n; i++ {
				c += g[i*ld+j]
			}
			bb[j] += w.alpha * float32(math.Abs(float64(c)))
		}
	}
}

func init() {
	Register(Info{
		Name: "mas",
		Doc:  "memory aware synapses (Aljundi et al. 2018): lambda sum Omega (theta - theta*)^2, Omega the mean |gradient| of the outputs' squared L2 norm",
		Options: []Option{
			{Name: "lambda", Default: "auto", Doc: "penalty strength", Auto: &MASLambdas},
			{Name: "samples", Default: "1000", Doc: "training examples of the task Omega averages over (0 = all)"},
			{Name: "batch", Default: "0", Doc: "0: each example's absolute gradient (the paper); N: the absolute value of each N examples' summed gradient (the authors' and A-GEM's code; A-GEM's 10)"},
			{Name: "replace", Default: "false", Doc: "each task's importance replaces Omega instead of adding to it (A-GEM's code)"},
			HeadsOption,
		},
	}, func(o *Options) (Strategy, error) {
		m := &MAS{}
		m.ParseRegularizer(o, "lambda", 1)
		m.Samples = o.Int("samples")
		o.Check("samples", m.Samples >= 0, "a non-negative integer")
		m.Batch = o.Int("batch")
		o.Check("batch", m.Batch >= 0, "a non-negative integer")
		m.Replace = o.Bool("replace")
		return m, nil
	})
}

// masViaGraph makes MASImportance take masGraph for dense trunks too (tests).
var masViaGraph bool

// masGraph is MASImportance through the model's graph, one example at a time: a Model of one row
// over b's parameters whose loss is ||f(x)||² over the active outputs (the data term weighted 0,
// the squared norm added as its penalty) gives each example's gradient, whose absolute value is
// averaged. It handles any trunk, conv layers included.
func masGraph(b *Base, t int, task *stream.Task, idx []int, params []*graphs.Param) (map[*graphs.Param][]float32, error) {
	s := b.Env.Stream
	M := s.ModelOutputs(b.Heads)
	mask := b.mask(t, t)
	active := tensor.New(tensor.WithShape(1, M), tensor.Of(tensor.Float32))
	for c, m := range mask {
		if m == 0 {
			active.Float32s()[c] = 1
		}
	}
	var logits *G.Node
	capture := func(fwd graphs.Forward) graphs.Forward {
		return func(bd *graphs.Binder, x *G.Node) (*G.Node, error) {
			z, err := fwd(bd, x)
			if bd.Training() {
				logits = z
			}
			return z, err
		}
	}
	norm := func(bd *graphs.Binder) (*G.Node, error) {
		if logits == nil {
			return nil, errors.New("no logits")
		}
		f, err := G.HadamardProd(logits, bd.Const("mas/active", active))
		if err != nil {
			return nil, err
		}
		if f, err = G.Square(f); err != nil {
			return nil, err
		}
		return G.Sum(f)
	}
	m, out, err := oneRowModel(b, capture, norm, params, "MAS importance")
	if err != nil {
		return nil, err
	}
	x, tw, tm := m.Inputs()
	clear(tw) // the data term weighs nothing: the loss is the penalty, ||f||²
	copy(tm, mask)
	batch := stream.NewBatch(1, s.InputDim)
	alpha := float32(1 / float64(len(idx)))
	for _, k := range idx {
		batch.Reset()
		batch.Add(task, &task.Train, k)
		copy(x, batch.X[:s.InputDim])
		if _, _, err := m.Step(); err != nil {
			return nil, fmt.Errorf("strategies: MAS importance of task %d: %w", t, err)
		}
		for _, q := range params {
			o := out[q]
			for i, v := range m.Grad(q) {
				o[i] += alpha * float32(math.Abs(float64(v)))
			}
		}
	}
	return out, nil
}
