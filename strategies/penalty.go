package strategies

import (
	"fmt"
	"math"
	"math/rand"
	"strings"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/stream"
	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
)

// SharedParams returns the parameters of b's model that more than one task trains: every
// parameter except per-task output heads, i.e. the trunk, plus the output layer when it is one
// shared head (heads=single). Regularisers (EWC, L2, SI) penalise these. With heads=multi a head
// is trained by its own task only and never penalised (a later task's loss does not reach it).
func SharedParams(b *Base) []*graphs.Param {
	multi := b.Heads == stream.MultiHead
	return b.PS.Filter(func(p *graphs.Param) bool { return !(multi && p.Group == "head") })
}

// QuadraticPenalty returns a graphs.Penalty for b.Penalty that, the first time the model is
// built, creates *q over SharedParams(b) with the given scale, and adds it to the training graph.
// Base.Setup creates the parameters and builds the model in one call, so the penalty cannot be
// made before Setup; set b.Penalty to this before calling Base.Setup and *q is ready after it.
func QuadraticPenalty(b *Base, q **graphs.Quadratic, scale float64) graphs.Penalty {
	return func(bd *graphs.Binder) (*G.Node, error) {
		if *q == nil {
			*q = graphs.NewQuadratic(scale, SharedParams(b))
		}
		return (*q).Node(bd)
	}
}

// ConsolidateAnchor adds a new quadratic term f * (theta - anchor)^2 (elementwise, f and anchor
// shaped like t's parameter) to the term t already holds, w * (theta - a)^2, keeping one weight
// and one anchor: w' = w + f, a' = (w a + f anchor) / w'. The sum of two quadratics differs from
// the merged one by a constant, sum w f / (w + f) (a - anchor)^2, which is returned so that the
// penalty's value (Quadratic.Offset) stays exact. The gradient of the merged term equals the sum
// of the two terms' gradients, so EWC with one anchor per task needs one weight and one anchor per
// parameter, whatever the number of tasks. Arithmetic is in float64.
func ConsolidateAnchor(t *graphs.QuadTerm, f, anchor []float32) float64 {
	w, a := t.Weights(), t.Anchors()
	var rest float64
	for i := range w {
		wi, fi := float64(w[i]), float64(f[i])
		sum := wi + fi
		if sum <= 0 {
			w[i], a[i] = 0, anchor[i]
			continue
		}
		ai, ni := float64(a[i]), float64(anchor[i])
		if wi > 0 && fi > 0 {
			d := ai - ni
			rest += wi * fi / sum * d * d
		}
		w[i] = float32(sum)
		a[i] = float32((wi*ai + fi*ni) / sum)
	}
	return rest
}

// FisherKind selects which labels the diagonal Fisher averages squared gradients over.
type FisherKind int

// The Fisher variants.
const (
	// FisherExact is the expectation over the model's predictive distribution: for each example,
	// sum over active classes y of p(y|x) (d log p(y|x) / d theta)^2.
	FisherExact FisherKind = iota
	// FisherSampled uses one label per example drawn from p(y|x).
	FisherSampled
	// FisherEmpirical uses the example's true label (the "empirical Fisher").
	FisherEmpirical
	// FisherPredicted uses the model's most probable label (what van de Ven & Tolias' 2019 code
	// does).
	FisherPredicted
	// FisherRunning is no estimate at a task's end but a running average, during training, of
	// the squared gradients of the training batches' data loss (true labels), as A-GEM's and
	// RWalk's code keep it (EWC's fisher=running; DiagonalFisher refuses it).
	FisherRunning
)

var fisherNames = []string{"exact", "sampled", "empirical", "predicted", "running"}

// String returns the variant's option value.
func (k FisherKind) String() string {
	if k >= 0 && int(k) < len(fisherNames) {
		return fisherNames[k]
	}
	return fmt.Sprintf("FisherKind(%d)", int(k))
}

// ParseFisherKind reads exact, sampled, empirical, predicted or running.
func ParseFisherKind(s string) (FisherKind, error) {
	for i, n := range fisherNames {
		if s == n {
			return FisherKind(i), nil
		}
	}
	return 0, fmt.Errorf("strategies: unknown fisher %q (valid: %s)", s, strings.Join(fisherNames, ", "))
}

// FisherConfig says how DiagonalFisher estimates the Fisher.
type FisherConfig struct {
	Kind FisherKind
	// Samples is the number of training examples of the task to average over, drawn without
	// replacement; 0 (or more than the task has) uses every example, in order.
	Samples int
	// Rng draws the examples (when Samples is below the task's size) and, for FisherSampled, the
	// labels. It may be nil when neither is needed.
	Rng *rand.Rand
	// graph computes through the model's graph (graphFisher) even for a dense trunk (tests).
	graph bool
}

// fisherLayer is one dense layer of Base's model as DiagonalFisher walks it.
type fisherLayer struct {
	d       graphs.Dense
	in, out int
	col     int // first model-output column of a head; -1 for trunk layers
	fw, fb  []float32
}

// DiagonalFisher estimates, at the parameters' current values, the diagonal of the Fisher
// information of b's model on the training data of task t, as the model sees the task while
// training on task cur: the softmax runs over the scenario's active units for an example of t
// (b's training mask). It returns, for each of params (which must be weights or biases of b's
// trunk or heads), the mean over examples of the squared gradient of log p(y|x), with y chosen by
// cfg.Kind (weighted by p(y|x) over every active y for FisherExact).
//
// Per-example gradients are never formed as a graph per sample. For a dense layer with input
// activation a and output gradient delta, the per-example weight gradient is the outer product
// a delta^T, so its square is (a*a)(delta*delta)^T, and summing over examples (and, for the exact
// Fisher, over labels weighted by p) is one matrix product per layer and chunk:
// F_W += (A*A)^T D with D[n] = sum_y p(y|x_n) delta_ny^2. A pure-Go forward pass over the
// parameter tensors gives the activations and a batched backward pass gives every delta; matrix
// products run on Gorgonia's BLAS (OpenBLAS when graphs/blas installed it). A trunk with conv
// layers goes through the model's own graph instead, one example and label at a time
// (graphFisher): the same Fisher, at the cost of a training step per label counted.
func DiagonalFisher(b *Base, cur, t int, cfg FisherConfig, params []*graphs.Param) (map[*graphs.Param][]float32, error) {
	if b.Env == nil || b.PS == nil {
		return nil, fmt.Errorf("strategies: fisher before Setup")
	}
	s := b.Env.Stream
	if t < 0 || t >= len(s.Tasks) || cur < 0 || cur >= len(s.Tasks) {
		return nil, fmt.Errorf("strategies: fisher of task %d after task %d: stream has %d tasks", t, cur, len(s.Tasks))
	}
	if cfg.Kind == FisherRunning {
		return nil, fmt.Errorf("strategies: the running Fisher is kept during training, not estimated at a task's end")
	}
	task := s.Tasks[t]
	// Layers in forward order: the trunk, then the heads side by side.
	var trunk, heads []*fisherLayer
	byParam := map[*graphs.Param]*fisherLayer{}
	add := func(list []*fisherLayer, d graphs.Dense, col int) []*fisherLayer {
		sh := d.W.Shape()
		l := &fisherLayer{d: d, in: sh[0], out: sh[1], col: col}
		l.fw, l.fb = make([]float32, d.W.Size()), make([]float32, d.B.Size())
		byParam[d.W], byParam[d.B] = l, l
		return append(list, l)
	}
	for _, d := range b.Trunk.Layers {
		trunk = add(trunk, d, -1)
	}
	col := 0
	for _, d := range b.Out.Layers {
		heads = add(heads, d, col)
		col += d.W.Shape()[1]
	}
	M := col
	lowest := len(trunk) // lowest trunk layer whose Fisher is asked for
	viaGraph := len(b.Trunk.Convs) > 0 || cfg.graph
	for _, p := range params {
		if viaGraph {
			break // graphFisher checks the parameters itself
		}
		l, ok := byParam[p]
		if !ok {
			return nil, fmt.Errorf("strategies: fisher of %s: not a weight or bias of the trunk or heads", p.Name)
		}
		if l.col < 0 {
			for i, tl := range trunk {
				if tl == l && i < lowest {
					lowest = i
				}
			}
		}
	}

	mask := b.mask(cur, t)
	var active []int
	for c, m := range mask {
		if m == 0 {
			active = append(active, c)
		}
	}
	if len(active) == 0 {
		return nil, fmt.Errorf("strategies: fisher of task %d: no active output", t)
	}
	// Examples.
	n := task.Train.Len()
	idx := make([]int, 0, n)
	if cfg.Samples > 0 && cfg.Samples < n {
		if cfg.Rng == nil {
			return nil, fmt.Errorf("strategies: fisher on %d of %d examples needs a random source", cfg.Samples, n)
		}
		idx = append(idx, cfg.Rng.Perm(n)[:cfg.Samples]...)
	} else {
		for k := 0; k < n; k++ {
			idx = append(idx, k)
		}
	}
	if cfg.Kind == FisherSampled && cfg.Rng == nil {
		return nil, fmt.Errorf("strategies: sampled fisher needs a random source")
	}
	if n == 0 {
		return nil, fmt.Errorf("strategies: fisher of task %d: no training examples", t)
	}
	if viaGraph {
		return graphFisher(b, t, cfg.Kind, cfg.Rng, task, idx, mask, active, params)
	}
	labels := 1
	if cfg.Kind == FisherExact {
		labels = len(active)
	}
	chunk := max(1, min(256, 8192/labels))
	w := &fisherWork{bl: G.WhichBLAS(), b: b, t: t, trunk: trunk, heads: heads, lowest: lowest,
		M: M, mask: mask, active: active, kind: cfg.Kind, rng: cfg.Rng, alpha: float32(1 / float64(len(idx)))}
	batch := stream.NewBatch(chunk, s.InputDim)
	for start := 0; start < len(idx); start += chunk {
		batch.Reset()
		for _, k := range idx[start:min(len(idx), start+chunk)] {
			batch.Add(task, &task.Train, k)
		}
		if err := w.chunk(batch); err != nil {
			return nil, fmt.Errorf("strategies: fisher of task %d: %w", t, err)
		}
	}
	out := make(map[*graphs.Param][]float32, len(params))
	for _, p := range params {
		l := byParam[p]
		if p == l.d.W {
			out[p] = l.fw
		} else {
			out[p] = l.fb
		}
	}
	return out, nil
}

// fisherWork holds DiagonalFisher's state and buffers.
type fisherWork struct {
	bl           G.BLAS
	b            *Base
	t            int
	trunk, heads []*fisherLayer
	lowest       int
	M            int
	mask         []float32
	active       []int
	kind         FisherKind
	rng          *rand.Rand
	alpha        float32

	acts       [][]float32 // activations per trunk depth: acts[0] is the input
	logits, p  []float32
	delta      []float32 // R x M: d log p(y)/d logits per (example, label) row
	rowEx      []int
	rowW       []float32
	labels     []int     // per row of rowEx: the label its delta is for
	g1, g2     []float32 // R x width backward buffers
	dbar, sqin []float32
}

func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}

func (w *fisherWork) chunk(bt *stream.Batch) error {
	nb, M := bt.N, w.M
	s := w.b.Env.Stream
	// Forward through the trunk.
	if len(w.acts) < len(w.trunk)+1 {
		w.acts = make([][]float32, len(w.trunk)+1)
	}
	w.acts[0] = bt.X[:nb*s.InputDim]
	for l, L := range w.trunk {
		a := grow(w.acts[l+1], nb*L.out)
		w.acts[l+1] = a
		w.bl.Sgemm(blas.NoTrans, blas.NoTrans, nb, L.out, L.in, 1, w.acts[l], L.in, L.d.W.Data(), L.out, 0, a, L.out)
		bias := L.d.B.Data()
		for i := 0; i < nb; i++ {
			row := a[i*L.out : (i+1)*L.out]
			for j := range row {
				if v := row[j] + bias[j]; v > 0 {
					row[j] = v
				} else {
					row[j] = 0
				}
			}
		}
	}
	top := w.acts[len(w.trunk)]
	H := len(top) / nb
	// Heads, side by side.
	w.logits = grow(w.logits, nb*M)
	for _, L := range w.heads {
		w.bl.Sgemm(blas.NoTrans, blas.NoTrans, nb, L.out, H, 1, top, H, L.d.W.Data(), L.out, 0, w.logits[L.col:], M)
		bias := L.d.B.Data()
		for i := 0; i < nb; i++ {
			row := w.logits[i*M+L.col : i*M+L.col+L.out]
			for j := range row {
				row[j] += bias[j]
			}
		}
	}
	// Softmax over the active units.
	w.p = grow(w.p, nb*M)
	clear(w.p)
	for i := 0; i < nb; i++ {
		z, p := w.logits[i*M:(i+1)*M], w.p[i*M:(i+1)*M]
		mx := math.Inf(-1)
		for _, c := range w.active {
			mx = math.Max(mx, float64(z[c]))
		}
		var sum float64
		for _, c := range w.active {
			e := math.Exp(float64(z[c]) - mx)
			p[c] = float32(e)
			sum += e
		}
		for _, c := range w.active {
			p[c] = float32(float64(p[c]) / sum)
		}
	}
	// One row per (example, label): delta = e_y - p over the active units.
	w.rowEx, w.rowW, w.labels = w.rowEx[:0], w.rowW[:0], w.labels[:0]
	labels := w.labels
	for i := 0; i < nb; i++ {
		truth := -1
		if w.kind == FisherEmpirical {
			c := s.ModelUnit(w.b.Heads, int(bt.Task[i]), int(bt.Target[i]))
			if c < 0 || c >= M || w.mask[c] != 0 {
				return fmt.Errorf("target unit %d of task %d is not an active output", bt.Target[i], bt.Task[i])
			}
			truth = c
		}
		err := fisherLabels(w.kind, w.p[i*M:(i+1)*M], w.active, w.rng, truth, func(c int, wt float32) {
			w.rowEx, w.rowW, labels = append(w.rowEx, i), append(w.rowW, wt), append(labels, c)
		})
		if err != nil {
			return err
		}
	}
	w.labels = labels
	R := len(w.rowEx)
	w.delta = grow(w.delta, R*M)
	clear(w.delta)
	for r, i := range w.rowEx {
		d, p := w.delta[r*M:(r+1)*M], w.p[i*M:(i+1)*M]
		for _, c := range w.active {
			d[c] = -p[c]
		}
		d[labels[r]]++
	}
	// Heads' Fisher.
	w.accumulate(w.heads, top, H, w.delta, M, nb)
	if w.lowest >= len(w.trunk) {
		return nil
	}
	// Backward into the last hidden layer: g = delta W_head^T, summed over the heads that have
	// active units.
	w.g1 = grow(w.g1, R*H)
	beta := float32(0)
	for _, L := range w.heads {
		if !w.headActive(L) {
			continue
		}
		w.bl.Sgemm(blas.NoTrans, blas.Trans, R, H, L.out, 1, w.delta[L.col:], M, L.d.W.Data(), L.out, beta, w.g1, H)
		beta = 1
	}
	if beta == 0 {
		clear(w.g1)
	}
	for l := len(w.trunk) - 1; l >= w.lowest; l-- {
		L := w.trunk[l]
		// Through the ReLU: the gradient of the pre-activation.
		g, a := w.g1[:R*L.out], w.acts[l+1]
		for r, i := range w.rowEx {
			gr, ar := g[r*L.out:(r+1)*L.out], a[i*L.out:(i+1)*L.out]
			for j := range gr {
				if ar[j] <= 0 {
					gr[j] = 0
				}
			}
		}
		w.accumulate([]*fisherLayer{L}, w.acts[l], L.in, g, L.out, nb)
		if l > w.lowest {
			w.g2 = grow(w.g2, R*L.in)
			w.bl.Sgemm(blas.NoTrans, blas.Trans, R, L.in, L.out, 1, g, L.out, L.d.W.Data(), L.out, 0, w.g2, L.in)
			w.g1, w.g2 = w.g2, w.g1
		}
	}
	return nil
}

func (w *fisherWork) headActive(L *fisherLayer) bool {
	for _, m := range w.mask[L.col : L.col+L.out] {
		if m == 0 {
			return true
		}
	}
	return false
}

// accumulate adds to each layer's Fisher the chunk's contribution: with delta the R x width
// output gradients (layers' columns at their col offset, or 0 for a trunk layer) and in the
// nb x inW input activations, F_W += alpha (in*in)^T D and F_b += alpha colsum(D), where
// D[n] = sum over rows r of example n of rowW[r] delta_r^2.
func (w *fisherWork) accumulate(layers []*fisherLayer, in []float32, inW int, delta []float32, width, nb int) {
	w.dbar = grow(w.dbar, nb*width)
	clear(w.dbar)
	for r, i := range w.rowEx {
		d, o, k := delta[r*width:(r+1)*width], w.dbar[i*width:(i+1)*width], w.rowW[r]
		for j, v := range d {
			o[j] += k * v * v
		}
	}
	w.sqin = grow(w.sqin, nb*inW)
	for i, v := range in[:nb*inW] {
		w.sqin[i] = v * v
	}
	for _, L := range layers {
		col := max(L.col, 0)
		if L.col >= 0 && !w.headActive(L) {
			continue
		}
		w.bl.Sgemm(blas.Trans, blas.NoTrans, inW, L.out, nb, w.alpha, w.sqin, inW, w.dbar[col:], width, 1, L.fw, L.out)
		for i := 0; i < nb; i++ {
			for j, v := range w.dbar[i*width+col : i*width+col+L.out] {
				L.fb[j] += w.alpha * v
			}
		}
	}
}

// fisherLabels calls emit with each label (model unit) whose squared gradient an example's Fisher
// counts, and its weight: every active unit with p(y|x) > 0 weighted by it (FisherExact), one drawn
// from p with rng (FisherSampled), truth (FisherEmpirical) or the most probable (FisherPredicted).
func fisherLabels(kind FisherKind, p []float32, active []int, rng *rand.Rand, truth int, emit func(c int, w float32)) error {
	switch kind {
	case FisherExact:
		for _, c := range active {
			if p[c] > 0 {
				emit(c, p[c])
			}
		}
	case FisherSampled:
		u := rng.Float64()
		pick := active[len(active)-1]
		var cum float64
		for _, c := range active {
			cum += float64(p[c])
			if u < cum {
				pick = c
				break
			}
		}
		emit(pick, 1)
	case FisherEmpirical:
		emit(truth, 1)
	case FisherPredicted:
		pick := active[0]
		for _, c := range active {
			if p[c] > p[pick] {
				pick = c
			}
		}
		emit(pick, 1)
	default:
		return fmt.Errorf("unknown fisher kind %v", kind)
	}
	return nil
}

// graphFisher is DiagonalFisher through the model's own graph, one example and label at a time:
// a Model of one row over b's parameters gives p(y|x) and, per label, the gradient of log p(y|x)
// of every parameter, whose square is accumulated. It handles any trunk (conv layers included)
// and costs one forward pass per example and one training step per label counted; the dense
// path's batched products give the same values up to rounding (TestGraphFisher).
func graphFisher(b *Base, t int, kind FisherKind, rng *rand.Rand, task *stream.Task, idx []int, mask []float32, active []int, params []*graphs.Param) (map[*graphs.Param][]float32, error) {
	s := b.Env.Stream
	M := s.ModelOutputs(b.Heads)
	m, out, err := oneRowModel(b, nil, nil, params, "fisher")
	if err != nil {
		return nil, err
	}
	x, tw, tm := m.Inputs()
	copy(tm, mask)
	batch := stream.NewBatch(1, s.InputDim)
	logits, p := make([]float32, M), make([]float32, M)
	var stepErr error
	for _, k := range idx {
		batch.Reset()
		batch.Add(task, &task.Train, k)
		copy(x, batch.X[:s.InputDim])
		if err := m.Forward(x, 1, logits); err != nil {
			return nil, err
		}
		clear(p)
		mx := math.Inf(-1)
		for _, c := range active {
			mx = math.Max(mx, float64(logits[c]))
		}
		var sum float64
		for _, c := range active {
			e := math.Exp(float64(logits[c]) - mx)
			p[c] = float32(e)
			sum += e
		}
		for _, c := range active {
			p[c] = float32(float64(p[c]) / sum)
		}
		truth := -1
		if kind == FisherEmpirical {
			c := s.ModelUnit(b.Heads, int(batch.Task[0]), int(batch.Target[0]))
			if c < 0 || c >= M || mask[c] != 0 {
				return nil, fmt.Errorf("strategies: fisher of task %d: target unit %d is not an active output", t, batch.Target[0])
			}
			truth = c
		}
		err := fisherLabels(kind, p, active, rng, truth, func(c int, w float32) {
			if stepErr != nil {
				return
			}
			clear(tw)
			tw[c] = 1
			if _, _, err := m.Step(); err != nil {
				stepErr = err
				return
			}
			for _, q := range params {
				f, g := out[q], m.Grad(q)
				for i, v := range g {
					f[i] += w * v * v
				}
			}
		})
		if err == nil {
			err = stepErr
		}
		if err != nil {
			return nil, fmt.Errorf("strategies: fisher of task %d: %w", t, err)
		}
	}
	alpha := float32(1 / float64(len(idx)))
	for _, f := range out {
		for i := range f {
			f[i] *= alpha
		}
	}
	return out, nil
}

// oneRowModel builds a Model of one row over b's parameters, with b's forward pass (wrapped by
// wrap when not nil) and penalty pen, for per-example gradients, and zeroed accumulators for
// params, each of which the model must train (what names the computation in the error).
func oneRowModel(b *Base, wrap func(graphs.Forward) graphs.Forward, pen graphs.Penalty, params []*graphs.Param, what string) (*graphs.Model, map[*graphs.Param][]float32, error) {
	s := b.Env.Stream
	var fwd graphs.Forward = b.Forward
	if b.ForwardFunc != nil {
		fwd = b.ForwardFunc
	}
	if wrap != nil {
		fwd = wrap(fwd)
	}
	m, err := graphs.NewModel(graphs.Config{Params: b.PS, Forward: fwd, Penalty: pen, InputDim: s.InputDim, Outputs: s.ModelOutputs(b.Heads), Batch: 1, EvalBatch: 1})
	if err != nil {
		return nil, nil, err
	}
	trained := map[*graphs.Param]bool{}
	for _, p := range m.Trainable() {
		trained[p] = true
	}
	out := make(map[*graphs.Param][]float32, len(params))
	for _, p := range params {
		if !trained[p] {
			return nil, nil, fmt.Errorf("strategies: %s of %s: the model does not train it", what, p.Name)
		}
		out[p] = make([]float32, p.Size())
	}
	return m, out, nil
}
