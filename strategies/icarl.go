package strategies

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/stream"
	"github.com/sirupsen/logrus"
)

// ICaRL is iCaRL, incremental classifier and representation learning (Rebuffi et al. 2017), a
// class-incremental method (Setup refuses task- and domain-IL). It keeps a fixed total budget
// of exemplars, Budget/classes-seen per class: at the end of each task every earlier class's set
// is cut to its first m examples and each new class gets the first m of its training examples in
// herding order (Herding), over the features of the last hidden layer (the trunk's output),
// L2-normalised.
//
// Training on task k draws its batches from the union of the task's training data and the
// exemplars (Sampler), as the paper's algorithm and van de Ven's reference code (--icarl, which
// sets --add-buffer) do. The loss is the binary cross-entropy of sigmoid outputs over every class
// seen so far (graphs.BCE, summed over classes and averaged over the batch): the targets of the
// new classes are the one-hot labels, those of the old classes the previous model's sigmoid
// outputs on the same inputs, sigmoid(z_old/T) (the paper's T = 1; the reference code divides by
// its --temp). The previous model is a frozen copy of the parameters at the end of the previous
// task, evaluated in pure Go. The softmax loss of Base's graph is given zero weight, and the step
// reports the BCE as its Loss.
//
// Scores classifies by the nearest mean of exemplars: each class seen scores minus the squared
// distance between the example's normalised features and the normalised mean of the class's
// exemplars' normalised features, computed with the current network (lazily, once per
// parameter change); units without exemplars hold graphs.MaskOff. Before the first task's end,
// with no exemplars yet, it scores with the network's outputs.
type ICaRL struct {
	Base
	// Budget is the total number of exemplars kept (the paper's K).
	Budget int
	// T is the temperature of the old classes' targets, sigmoid(z_old/T).
	T float64
	// NoRehearsal trains on the current task's data only: the exemplars serve herding and the
	// nearest-mean classification but are not added to the training data (van de Ven's reference
	// code from commit 86802a8, which added iCaRL, until its fix d326f96).
	NoRehearsal bool
	// BCE is the loss term in the training graph (after Setup).
	BCE *graphs.BCE

	prev, live *plainNet   // the previous model (a copy) and the current one (live weights)
	done       int         // tasks ended so far
	exemplars  [][]int32   // per global unit: its examples (in its task's training split), herding order
	unitTask   []int       // per global unit: the task it belongs to
	means      [][]float32 // per global unit: normalised exemplar mean (nil: no exemplars)
	stale      bool        // means need recomputing (the parameters or exemplars changed)
	sampler    *stream.Sampler
	scur       int // task the sampler draws for
	feats      []float32
	batch      *stream.Batch
}

// Compile-time interface checks.
var (
	_ Strategy             = (*ICaRL)(nil)
	_ TaskEnder            = (*ICaRL)(nil)
	_ Sampler              = (*ICaRL)(nil)
	_ SamplingCheckpointer = (*ICaRL)(nil)
	_ Checkpointer         = (*ICaRL)(nil)
	_ Modeler              = (*ICaRL)(nil)
)

// Requires reports that iCaRL runs in class-IL only.
func (c *ICaRL) Requires() Requirements {
	return Requirements{Scenarios: []stream.Scenario{stream.ClassIL}, Reason: "iCaRL is class-incremental: one sigmoid output per class, nearest-mean-of-exemplars classification over every class seen"}
}

// Setup builds one sigmoid output per class with the BCE term in the training graph. It refuses
// task- and domain-IL, and a budget below the stream's number of classes.
func (c *ICaRL) Setup(env *Env) error {
	s := env.Stream
	if err := c.Requires().Check("icarl", s.Scenario); err != nil {
		return err
	}
	if c.Budget < s.Outputs {
		return fmt.Errorf("icarl: budget=%d: want at least one exemplar for each of the stream's %d classes", c.Budget, s.Outputs)
	}
	rows := c.Rows
	if rows == 0 {
		rows = env.Batch
	}
	c.Heads, c.AutoHeads = stream.SingleHead, false
	c.BCE = graphs.NewBCE(rows, s.Outputs)
	c.Penalty = c.BCE.Penalty()
	if err := c.Base.Setup(env); err != nil {
		return fmt.Errorf("icarl: %w", err)
	}
	c.prev, c.live = newPlainNet(&c.Base, true), newPlainNet(&c.Base, false)
	c.exemplars, c.means = make([][]int32, s.Outputs), make([][]float32, s.Outputs)
	c.unitTask = make([]int, s.Outputs)
	for _, t := range s.Tasks {
		for _, u := range t.Units {
			c.unitTask[u] = t.ID
		}
	}
	c.done, c.stale, c.sampler = 0, true, nil
	c.batch = stream.NewBatch(256, s.InputDim)
	return nil
}

// Sample draws n examples for a step on task cur uniformly from the task's training data and the
// exemplars of the earlier tasks, in shuffled passes over their union.
func (c *ICaRL) Sample(cur int, b *stream.Batch, n int, rng *rand.Rand) {
	if c.sampler == nil || c.scur != cur {
		c.sampler, c.scur = stream.NewSampler(rng, c.trainTasks(cur)...), cur
	}
	c.sampler.Fill(b, n)
}

// trainTasks returns task cur and, for each earlier task with exemplars, a view of the task whose
// training split holds its exemplars only (its classes in order, each in herding order).
func (c *ICaRL) trainTasks(cur int) []*stream.Task {
	s := c.Env.Stream
	out := []*stream.Task{s.Tasks[cur]}
	if c.NoRehearsal {
		return out
	}
	for _, t := range s.Tasks[:cur] {
		v := &stream.Task{ID: t.ID, Name: t.Name, Classes: t.Classes, Units: t.Units, Perm: t.Perm, Warp: t.Warp}
		v.Train.Data = t.Train.Data
		for _, u := range t.Units {
			for _, k := range c.exemplars[u] {
				v.Train.Index = append(v.Train.Index, t.Train.Index[k])
				v.Train.Target = append(v.Train.Target, t.Train.Target[k])
			}
		}
		if v.Train.Len() > 0 {
			out = append(out, v)
		}
	}
	return out
}

// Step trains on bt with the BCE over the classes seen: one-hot targets for task cur's classes,
// the previous model's sigmoid outputs for the earlier classes.
func (c *ICaRL) Step(cur int, bt *stream.Batch) (StepInfo, error) {
	s := c.Env.Stream
	if bt.N > c.Rows {
		return StepInfo{}, fmt.Errorf("icarl: %d rows do not fit a step of %d", bt.N, c.Rows)
	}
	if cur != c.done {
		return StepInfo{}, fmt.Errorf("icarl: training task %d after %d tasks ended (EndTask of each task must run)", cur+1, c.done)
	}
	x, w, _ := c.Net.Inputs()
	D, M := s.InputDim, s.Outputs
	copy(x, bt.X[:bt.N*D])
	clear(x[bt.N*D:])
	clear(w) // the softmax term weighs nothing: the loss is the BCE
	q, wt := c.BCE.Targets.Float32s(), c.BCE.Weights.Float32s()
	clear(q)
	clear(wt)
	var old []int
	var z []float32
	if cur > 0 {
		old = s.ActiveUnits(cur-1, cur-1)
		z = c.prev.forward(bt.X, bt.N)
	}
	inv := float32(1 / float64(bt.N))
	for i := range bt.N {
		qi, wi := q[i*M:(i+1)*M], wt[i*M:(i+1)*M]
		for _, u := range old {
			qi[u], wi[u] = graphs.Sigmoid(float64(z[i*M+u])/c.T), inv
		}
		for _, u := range s.Tasks[cur].Units {
			wi[u] = inv
		}
		switch u := bt.Target[i]; {
		case u < 0 || int(u) >= M || wi[u] == 0:
			return StepInfo{}, fmt.Errorf("icarl: target unit %d is not a class seen by task %d", u, cur+1)
		case c.unitTask[u] == cur:
			qi[u] = 1 // an exemplar's (old) label is distilled, not a target
		}
	}
	zero, bce, err := c.Net.Step()
	if err != nil {
		return StepInfo{}, fmt.Errorf("icarl: %w", err)
	}
	info := StepInfo{Loss: zero + bce, Samples: bt.N}
	if l := float64(info.Loss); math.IsNaN(l) || math.IsInf(l, 0) {
		return info, Diverged(info.Loss, 0)
	}
	c.Opt.Update(c.Net.Trainable(), c.Net.Grad)
	c.stale = true
	return info, nil
}

// EndTask cuts every earlier class's exemplars to m = Budget / classes seen, herds m exemplars of
// each of task cur's classes and freezes the current parameters as the previous model.
func (c *ICaRL) EndTask(cur int) error {
	s := c.Env.Stream
	m := c.Budget / len(s.ActiveUnits(cur, cur))
	for u, ex := range c.exemplars {
		c.exemplars[u] = ex[:min(m, len(ex))]
	}
	task := s.Tasks[cur]
	for _, u := range task.Units {
		var ks []int32
		for k, t := range task.Train.Target {
			if int(t) == u {
				ks = append(ks, int32(k))
			}
		}
		f, d := c.features(task, ks)
		order := Herding(f, d, ClassMean(f, d), m)
		ex := make([]int32, len(order))
		for i, o := range order {
			ex[i] = ks[o]
		}
		c.exemplars[u] = ex
	}
	c.prev.snapshot()
	c.done, c.stale, c.sampler = cur+1, true, nil
	if c.Env.Log != nil {
		c.Env.Log.WithFields(logrus.Fields{"task": cur + 1, "per_class": m}).Debug("icarl: exemplars updated")
	}
	return nil
}

// Exemplars returns class u's exemplars (global output unit u): examples of its task's training
// split, in herding order (do not modify).
func (c *ICaRL) Exemplars(u int) []int32 { return c.exemplars[u] }

// features returns the normalised features (last hidden layer, current network) of examples ks
// of task's training split, one row of d values each, in a buffer reused across calls.
func (c *ICaRL) features(task *stream.Task, ks []int32) ([]float32, int) {
	d := c.live.featureWidth()
	c.feats = grow(c.feats, len(ks)*d)
	for start := 0; start < len(ks); start += 256 {
		c.batch.Reset()
		for _, k := range ks[start:min(len(ks), start+256)] {
			c.batch.Add(task, &task.Train, int(k))
		}
		c.live.forward(c.batch.X, c.batch.N)
		copy(c.feats[start*d:], c.live.acts[len(c.live.trunk)][:c.batch.N*d])
	}
	normalizeRows(c.feats, d)
	return c.feats, d
}

// Scores writes minus the squared distance of each example's normalised features to each class's
// exemplar mean (graphs.MaskOff for classes without exemplars), or the network's outputs before
// any exemplar exists.
func (c *ICaRL) Scores(bt *stream.Batch, out []float32) error {
	if c.done == 0 {
		return c.Base.Scores(bt, out)
	}
	s := c.Env.Stream
	if c.stale {
		for u, ex := range c.exemplars {
			c.means[u] = nil
			if len(ex) > 0 {
				t := s.Tasks[c.unitTask[u]]
				f, d := c.features(t, ex)
				c.means[u] = ClassMean(f, d)
			}
		}
		c.stale = false
	}
	c.live.forward(bt.X, bt.N)
	n := len(c.live.trunk)
	d := c.live.featureWidth()
	c.feats = grow(c.feats, bt.N*d)
	copy(c.feats, c.live.acts[n][:bt.N*d])
	normalizeRows(c.feats, d)
	NearestMeanScores(out[:bt.N*s.Outputs], c.feats, d, c.means)
	return nil
}

// Herding returns iCaRL's exemplar order (Rebuffi et al. 2017, Algorithm 4) over the n rows of
// feats (n x d, row-major): the k-th pick is the row not yet picked whose addition brings the mean
// of the picked rows closest (L2) to mu, that is, minimising |S + f - (k+1) mu| with S the sum of
// the rows picked before; ties go to the lowest row. It returns min(m, n) rows, so the first m'
// of an order of m are the order of m' (sets are cut by keeping a prefix).
func Herding(feats []float32, d int, mu []float32, m int) []int {
	n := len(feats) / d
	m = min(m, n)
	sum, v := make([]float64, d), make([]float64, d)
	taken := make([]bool, n)
	order := make([]int, 0, m)
	for k := range m {
		for j := range v {
			v[j] = sum[j] - float64(k+1)*float64(mu[j])
		}
		best, bi := math.Inf(1), -1
		for i := range n {
			if taken[i] {
				continue
			}
			var dist float64
			for j, x := range feats[i*d : (i+1)*d] {
				e := v[j] + float64(x)
				dist += e * e
			}
			if dist < best || bi < 0 {
				best, bi = dist, i
			}
		}
		taken[bi] = true
		order = append(order, bi)
		for j, x := range feats[bi*d : (bi+1)*d] {
			sum[j] += float64(x)
		}
	}
	return order
}

// ClassMean returns the mean of the rows of feats (n x d), L2-normalised (iCaRL renormalises
// every average of normalised features).
func ClassMean(feats []float32, d int) []float32 {
	n := len(feats) / d
	mu := make([]float32, d)
	for j := range mu {
		var s float64
		for i := range n {
			s += float64(feats[i*d+j])
		}
		mu[j] = float32(s / float64(max(n, 1)))
	}
	normalizeRows(mu, d)
	return mu
}

// NearestMeanScores writes the nearest-mean-of-exemplars scores of the rows of feats (n x d) into
// out (n x len(means)): minus the squared distance to means[u], or graphs.MaskOff where means[u]
// is nil, so that the highest score is the nearest mean.
func NearestMeanScores(out, feats []float32, d int, means [][]float32) {
	O := len(means)
	for i := range len(feats) / d {
		f := feats[i*d : (i+1)*d]
		for u, mu := range means {
			if mu == nil {
				out[i*O+u] = graphs.MaskOff
				continue
			}
			var dist float64
			for j, x := range f {
				e := float64(x) - float64(mu[j])
				dist += e * e
			}
			out[i*O+u] = float32(-dist)
		}
	}
}

// normalizeRows scales each d-wide row of v to unit L2 norm; zero rows stay zero.
func normalizeRows(v []float32, d int) {
	for i := 0; i+d <= len(v); i += d {
		row := v[i : i+d]
		var s float64
		for _, x := range row {
			s += float64(x) * float64(x)
		}
		if s == 0 {
			continue
		}
		k := 1 / math.Sqrt(s)
		for j, x := range row {
			row[j] = float32(float64(x) * k)
		}
	}
}

// icarlState is what ICaRL saves: the tasks ended, the previous model's weights (trunk then
// head) and each class's exemplars. Class means are recomputed from the exemplars.
type icarlState struct {
	Done      int   `json:"done"`
	Weights   []F32 `json:"weights,omitempty"`
	Exemplars []I32 `json:"exemplars"`
}

// icarlSampling is ICaRL's sampler state: the task it draws for and its position.
type icarlSampling struct {
	Cur   int `json:"cur"`
	Order I32 `json:"order"`
	Pos   int `json:"pos"`
}

// SaveState saves the tasks ended, the previous model and the exemplars.
func (c *ICaRL) SaveState() ([]byte, error) {
	st := icarlState{Done: c.done}
	if c.done > 0 {
		for _, L := range c.prev.layers() {
			st.Weights = append(st.Weights, F32(L.w), F32(L.b))
		}
	}
	for _, ex := range c.exemplars {
		st.Exemplars = append(st.Exemplars, I32(ex))
	}
	return json.Marshal(st)
}

// LoadState restores what SaveState saved, on a strategy set up for the same stream and spec.
func (c *ICaRL) LoadState(data []byte) error {
	var st icarlState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("icarl: state: %w", err)
	}
	s := c.Env.Stream
	layers := c.prev.layers()
	if st.Done < 0 || st.Done > len(s.Tasks) || len(st.Exemplars) != s.Outputs {
		return fmt.Errorf("icarl: state after %d tasks holds exemplars of %d classes, the stream has %d tasks and %d classes", st.Done, len(st.Exemplars), len(s.Tasks), s.Outputs)
	}
	if want := 2 * len(layers); (st.Done > 0 && len(st.Weights) != want) || (st.Done == 0 && len(st.Weights) != 0) {
		return fmt.Errorf("icarl: state after %d tasks holds %d weight tensors, the model %d", st.Done, len(st.Weights), want)
	}
	for i, L := range layers {
		if len(st.Weights) > 0 && (len(st.Weights[2*i]) != len(L.w) || len(st.Weights[2*i+1]) != len(L.b)) {
			return fmt.Errorf("icarl: saved layer %d has %d+%d values, the model's %d+%d", i, len(st.Weights[2*i]), len(st.Weights[2*i+1]), len(L.w), len(L.b))
		}
	}
	for u, ex := range st.Exemplars {
		sp := &s.Tasks[c.unitTask[u]].Train
		for _, k := range ex {
			if k < 0 || int(k) >= sp.Len() || int(sp.Target[k]) != u {
				return fmt.Errorf("icarl: saved exemplar %d of class %d is not one of its training examples", k, u)
			}
		}
	}
	for i, L := range layers {
		if len(st.Weights) > 0 {
			copy(L.w, st.Weights[2*i])
			copy(L.b, st.Weights[2*i+1])
		}
	}
	for u, ex := range st.Exemplars {
		c.exemplars[u] = append([]int32(nil), ex...)
	}
	c.done, c.stale, c.sampler = st.Done, true, nil
	return nil
}

// SaveSampling saves the sampler of the task in progress (nil when there is none: before the
// first step of a task, or once it ended).
func (c *ICaRL) SaveSampling() ([]byte, error) {
	if c.sampler == nil || c.scur != c.done {
		return nil, nil
	}
	st := c.sampler.State()
	return json.Marshal(icarlSampling{Cur: c.scur, Order: st.Order, Pos: st.Pos})
}

// LoadSampling restores the sampler SaveSampling saved, over the exemplars LoadState restored,
// drawing from rng.
func (c *ICaRL) LoadSampling(data []byte, rng *rand.Rand) error {
	c.sampler = nil
	if len(data) == 0 {
		return nil
	}
	var st icarlSampling
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("icarl: sampler state: %w", err)
	}
	if st.Cur != c.done {
		return fmt.Errorf("icarl: sampler state for task %d after %d tasks ended", st.Cur+1, c.done)
	}
	sp, err := stream.RestoreSampler(rng, stream.SamplerState{Order: st.Order, Pos: st.Pos}, c.trainTasks(st.Cur)...)
	if err != nil {
		return fmt.Errorf("icarl: %w", err)
	}
	c.sampler, c.scur = sp, st.Cur
	return nil
}

func init() {
	Register(Info{
		Name: "icarl",
		Doc:  "iCaRL (Rebuffi et al. 2017), class-IL only: herded exemplars trained with the new data, sigmoid outputs distilling the old classes, nearest-mean-of-exemplars classification",
		Options: []Option{
			{Name: "budget", Default: "2000", Doc: "exemplars kept in total, budget/classes-seen per class (the paper's K = 2000, on CIFAR-100; van de Ven's current reference code keeps a fixed 100 per class on split MNIST instead); at least the stream's number of classes"},
			{Name: "T", Default: "1", Doc: "temperature of the old classes' targets sigmoid(z_old/T) (the paper: 1; van de Ven's code: its --temp, 2)"},
			{Name: "rehearse", Default: "true", Doc: "train on the exemplars with the new data; false trains on the new data only, the exemplars serving the classification (van de Ven's code as it added iCaRL, 86802a8, until d326f96 on 2019-04-25)"},
		},
	}, func(o *Options) (Strategy, error) {
		c := &ICaRL{Budget: o.Int("budget"), T: o.Float("T"), NoRehearsal: !o.Bool("rehearse")}
		o.Check("budget", c.Budget > 0, "a positive integer")
		o.Check("T", c.T > 0, "a positive number")
		return c, nil
	})
}
