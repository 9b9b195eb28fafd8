package strategies

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/stream"
	G "gorgonia.org/gorgonia"
)

// DGR is Deep Generative Replay (Shin et al. 2017), as van de Ven & Tolias's code runs it: beside
// the classifier (Base) a VAE generator (graphs.VAE, encoder the classifier's MLP, latent
// Latent, decoder mirroring it) learns the inputs. From the second task on, each step draws as
// many inputs as the current batch from a frozen copy of the previous task's generator, labels
// them with a frozen copy of the previous classifier, and trains on
//
//	(1/t) L(current batch) + (1 - 1/t) L(replayed batch)        (t = tasks so far, the 1/t rule)
//
// with L the cross-entropy on the previous classifier's hard labels (argmax over the units the
// replayed example's task had then) or, with Distill, the distillation loss on its outputs
// softened at temperature T (graphs.Distill, no T^2 factor, student softmax over the units the
// example is scored on now). The generator is trained in the same step, with the same 1/t rule,
// on the current inputs and the same replayed ones. In task-IL each replayed input is assigned
// one earlier task at random (uniformly), labelled and scored on that task's units; the
// reference code replays a batch per earlier task, which is the same loss in expectation.
//
// The generator's parameters live in the classifier's ParamSet (group "generator") and one Adam
// updates both, so checkpoints hold them; the two frozen copies are the strategy's state. Only
// one copy of each is kept, so memory stays flat over tasks.
//
// With Feedback it is replay through feedback (RtF, van de Ven & Tolias 2018): no separate
// generator; the classifier's trunk is the VAE's encoder, a Decoder reads the trunk's last
// layer, and one loss per step sums the classification, the distillation of the replay (always
// soft targets) and the VAE's reconstruction and KL terms, all under the same 1/t rule. The
// previous model replays its own samples and labels them.
type DGR struct {
	Base
	// Distill replays soft targets at temperature T instead of hard labels.
	Distill bool
	T       float64
	// Latent is the generator's latent size.
	Latent int
	// Feedback makes it RtF: the decoder FB over the classifier's trunk instead of Gen.
	Feedback bool

	Gen     *graphs.VAE
	FB      *graphs.Decoder
	D       *graphs.Distill // Distill only
	prevGen *graphs.Generator
	prev    *plainNet
	done    int
	rb      *stream.Batch
	gx, gw  []float32 // the generator step's rows and weights
}

// Compile-time interface checks.
var (
	_ Strategy     = (*DGR)(nil)
	_ TaskEnder    = (*DGR)(nil)
	_ Checkpointer = (*DGR)(nil)
	_ StateWriter  = (*DGR)(nil)
	_ Grapher      = (*DGR)(nil)
	_ Generative   = (*DGR)(nil)
)

// Setup builds the classifier with room for the replayed rows, the generator and the copies.
func (d *DGR) Setup(env *Env) error {
	s := env.Stream
	d.ResolveHeads(s)
	d.Rows = 2 * env.Batch
	if d.Feedback {
		d.Distill = true
	}
	if d.Distill {
		d.D = graphs.NewDistill(d.T, 1, d.Rows, s.ModelOutputs(d.Heads))
		d.Penalty = d.D.Penalty()
	}
	if err := d.Base.Setup(env); err != nil {
		return fmt.Errorf(d.name()+": %w", err)
	}
	if d.Feedback {
		if err := d.setupFeedback(); err != nil {
			return fmt.Errorf("rtf: %w", err)
		}
	} else {
		hidden := env.Hidden
		if len(hidden) == 0 {
			hidden = []int{400}
		}
		gen, err := graphs.NewVAE(d.PS, "generator", s.InputDim, hidden, d.Latent, d.Rows, env.Rng)
		if err != nil {
			return fmt.Errorf(d.name()+": %w", err)
		}
		d.Gen = gen
	}
	d.prevGen = d.Generator()
	d.prev = newPlainNet(&d.Base, true)
	d.rb = stream.NewBatch(env.Batch, s.InputDim)
	return nil
}

// setupFeedback adds the decoder over the trunk to the ParamSet and rebuilds the classifier's
// graph with the distillation and VAE terms as its penalty.
func (d *DGR) setupFeedback() error {
	if len(d.Env.Hidden) == 0 {
		return errors.New("replay through feedback needs a trunk (hidden layers): the trunk is the encoder")
	}
	fb, err := graphs.NewDecoder(d.PS, "generator", d.Env.Stream.InputDim, d.Env.Hidden, d.Latent, d.Rows, d.Env.Rng)
	if err != nil {
		return err
	}
	d.FB = fb
	kd := d.D.Penalty()
	d.Penalty = func(b *graphs.Binder) (*G.Node, error) {
		k, err := kd(b)
		if err != nil {
			return nil, err
		}
		h, err := b.Features()
		if err != nil {
			return nil, err
		}
		v, err := fb.Loss(b, h)
		if err != nil {
			return nil, err
		}
		return G.Add(k, v)
	}
	return d.Build()
}

// replay fills d.rb with n inputs of the previous generator, each of an earlier task (drawn in
// task-IL), labelled by the previous classifier's argmax over that task's units of then, and
// returns the previous classifier's logits on them (n x model outputs).
func (d *DGR) replay(cur, n int) []float32 {
	s := d.Env.Stream
	rb, D := d.rb, s.InputDim
	rb.N = n
	rb.X, rb.Target, rb.Task = rb.X[:n*D], rb.Target[:n], rb.Task[:n]
	d.prevGen.Sample(rb.X, n, d.Env.Rng)
	z := d.prev.forward(rb.X, n)
	M := d.prev.M
	for i := range n {
		j := int32(stream.NoTask)
		if s.Scenario == stream.TaskIL {
			j = int32(d.Env.Rng.Intn(cur))
		}
		rb.Task[i] = j
		jt := cur - 1 // the units of then: every class seen up to task cur-1 (class-IL), all (domain-IL)
		if j >= 0 {
			jt = int(j)
		}
		m := d.mask(cur-1, jt)
		best, arg := float32(math.Inf(-1)), -1
		for c, v := range z[i*M : (i+1)*M] {
			if m[c] == 0 && v > best {
				best, arg = v, c
			}
		}
		if arg < 0 { // every score NaN (a diverged previous model): the first active unit; the loss reports the divergence
			for c := range m {
				if m[c] == 0 {
					arg = c
					break
				}
			}
		}
		rb.Target[i] = int32(d.colUnit[jt][arg])
	}
	return z
}

// Step trains the classifier and the generator on the current batch and, after the first task,
// on a replayed batch.
func (d *DGR) Step(cur int, bt *stream.Batch) (StepInfo, error) {
	if bt.N > d.Env.Batch {
		return StepInfo{}, fmt.Errorf(d.name()+": %d rows do not fit a step of %d", bt.N, d.Env.Batch)
	}
	if cur > 0 && d.done != cur {
		return StepInfo{}, fmt.Errorf(d.name()+": training task %d with the generator of task %d (EndTask of each task must run)", cur+1, d.done)
	}
	rnt := 1 / float64(cur+1)
	parts := []Part{{Batch: bt, Weight: 1}}
	if cur > 0 {
		z := d.replay(cur, bt.N)
		w := 1 - rnt
		if d.Distill {
			d.softTargets(cur, z, w)
			w = 0 // the replayed rows count through the distillation term only
		}
		parts = []Part{{Batch: bt, Weight: rnt}, {Batch: d.rb, Weight: w}}
	}
	if err := d.Fill(cur, parts...); err != nil {
		return StepInfo{}, fmt.Errorf(d.name()+": %w", err)
	}
	if d.Feedback {
		if err := d.FB.Fill(d.genRows(cur, bt, rnt)); err != nil {
			return StepInfo{}, fmt.Errorf("rtf: %w", err)
		}
	}
	info, err := d.Train()
	info.Samples = bt.N
	if cur > 0 {
		info.Samples += d.rb.N
	}
	if err != nil {
		return info, fmt.Errorf(d.name()+": %w", err)
	}
	if !d.Feedback {
		if err := d.trainGenerator(cur, bt, rnt); err != nil {
			return info, err
		}
	}
	return info, nil
}

// softTargets writes the distillation term for the replayed rows (after the current batch's
// rows, whose targets are 0): the previous classifier's softmax at T over the example's units of
// then, scaled by the replay's share w / n, and the student's softmax over its units of now.
func (d *DGR) softTargets(cur int, z []float32, w float64) {
	n, M := d.rb.N, d.prev.M
	q, mk := d.D.Targets[0].Float32s(), d.D.Masks[0].Float32s()
	clear(q)
	off := d.Env.Batch
	scale := float32(w / float64(n))
	for i := range n {
		then, now := cur-1, cur // without task identity, as Fill scores such rows
		if j := d.rb.Task[i]; j >= 0 {
			then, now = int(j), int(j)
		}
		r := (off + i) * M
		graphs.SoftTargets(q[r:r+M], z[i*M:(i+1)*M], d.mask(cur-1, then), d.T, scale)
		copy(mk[r:r+M], d.mask(cur, now))
	}
}

// genRows returns the generator's rows and weights for a step: the current inputs (weight rnt)
// and, after the first task, the replayed ones (1 - rnt), each row weighing its share over its
// batch, in the classifier's row order; and the random source for the noise.
func (d *DGR) genRows(cur int, bt *stream.Batch, rnt float64) ([]float32, []float32, *rand.Rand) {
	D := d.Env.Stream.InputDim
	d.gx = append(d.gx[:0], bt.X[:bt.N*D]...)
	d.gw = d.gw[:0]
	for range bt.N {
		d.gw = append(d.gw, float32(rnt/float64(bt.N)))
	}
	if cur > 0 {
		d.gx = append(d.gx, d.rb.X[:d.rb.N*D]...)
		for range d.rb.N {
			d.gw = append(d.gw, float32((1-rnt)/float64(d.rb.N)))
		}
	}
	return d.gx, d.gw, d.Env.Rng
}

// trainGenerator runs one step of DGR's separate generator on genRows.
func (d *DGR) trainGenerator(cur int, bt *stream.Batch, rnt float64) error {
	if err := d.Gen.Fill(d.genRows(cur, bt, rnt)); err != nil {
		return fmt.Errorf(d.name()+": %w", err)
	}
	recon, kl, err := d.Gen.Step()
	if err != nil {
		return fmt.Errorf(d.name()+": generator: %w", err)
	}
	if l := float64(recon + kl); math.IsNaN(l) || math.IsInf(l, 0) {
		return fmt.Errorf(d.name()+": generator: %w", Diverged(recon, kl))
	}
	d.Opt.Update(d.Gen.Trainable(), d.Gen.Grad)
	return nil
}

// EndTask freezes the current generator and classifier as the previous ones of the next task.
func (d *DGR) EndTask(cur int) error {
	d.prevGen = d.Generator()
	d.prev.snapshot()
	d.done = cur + 1
	return nil
}

// name is the strategy's registered name, for errors.
func (d *DGR) name() string {
	if d.Feedback {
		return "rtf"
	}
	return "dgr"
}

// Generator returns a snapshot of the current generator (for pictures of what it replays).
func (d *DGR) Generator() *graphs.Generator {
	if d.Feedback {
		return graphs.NewGenerator(d.Trunk, d.FB)
	}
	return d.Gen.Snapshot()
}

// Graphs returns dgr's generator graph (rtf has none: its decoder is in the classifier's graph).
func (d *DGR) Graphs() []NamedGraph {
	if d.Gen == nil {
		return nil
	}
	return []NamedGraph{{Name: "generator", Graph: d.Gen.Graph()}}
}

// dgrState is what SaveState writes: the tasks ended and the frozen copies.
// dgrFormat starts DGR's saved state.
const dgrFormat = "clgraph.dgr/v1"

// WriteState writes the number of tasks ended and the frozen previous classifier and generator
// (the live ones are in the ParamSet and the Adam state the runner saves), straight from their
// tensors.
func (d *DGR) WriteState(w io.Writer) error {
	e := NewStateEncoder(w)
	e.String(dgrFormat)
	e.Int(d.done)
	var cls, gen [][]float32
	if d.done > 0 {
		for _, L := range d.prev.layers() {
			cls = append(cls, L.w, L.b)
		}
		gen = d.prevGen.Weights()
	}
	e.Tensors(cls)
	e.Tensors(gen)
	if err := e.Close(); err != nil {
		return fmt.Errorf("%s: saving the previous model: %w", d.name(), err)
	}
	return nil
}

// SaveState returns what WriteState writes.
func (d *DGR) SaveState() ([]byte, error) { return SaveStateBytes(d) }

// LoadState restores what SaveState saved, on a strategy set up for the same stream and spec.
func (d *DGR) LoadState(data []byte) error {
	dec := NewStateDecoder(data)
	if f := dec.String(); dec.Err() != nil {
		return fmt.Errorf("%s: state: %w", d.name(), dec.Err())
	} else if f != dgrFormat {
		return fmt.Errorf("%s: state in format %q, want %q", d.name(), clipString(f), dgrFormat)
	}
	done, cls, gen := dec.Int(), dec.Tensors(), dec.Tensors()
	if err := dec.Done(); err != nil {
		return fmt.Errorf("%s: state: %w", d.name(), err)
	}
	if done < 0 || (done > 0) != (len(cls) > 0) || (done == 0 && len(gen) > 0) {
		return fmt.Errorf(d.name()+": state after %d tasks holds %d classifier and %d generator tensors", done, len(cls), len(gen))
	}
	if err := finiteTensors(append(cls, gen...)); err != nil {
		return fmt.Errorf("%s: saved previous model: %w", d.name(), err)
	}
	if done > 0 {
		var dst [][]float32
		for _, L := range d.prev.layers() {
			dst = append(dst, L.w, L.b)
		}
		if err := loadInto("classifier", dst, cls); err != nil {
			return err
		}
		if err := loadInto("generator", d.prevGen.Weights(), gen); err != nil {
			return err
		}
	}
	d.done = done
	return nil
}

func loadInto(what string, dst [][]float32, saved [][]float32) error {
	if len(saved) != len(dst) {
		return fmt.Errorf("dgr: state holds %d %s tensors, the model %d", len(saved), what, len(dst))
	}
	for i, w := range saved {
		if len(w) != len(dst[i]) {
			return fmt.Errorf("dgr: saved %s tensor %d has %d values, the model's %d", what, i, len(w), len(dst[i]))
		}
	}
	for i, w := range saved {
		copy(dst[i], w)
	}
	return nil
}

func init() {
	Register(Info{
		Name: "dgr",
		Doc:  "deep generative replay (Shin et al. 2017): a VAE generator replays earlier tasks' inputs, labelled by the previous classifier (distill=true: its soft outputs)",
		Options: []Option{
			{Name: "distill", Default: "false", Doc: "replay the previous classifier's outputs softened at temperature T (distillation) instead of its hard labels"},
			{Name: "T", Default: "2", Doc: "distillation temperature (no T^2 factor), with distill=true"},
			{Name: "latent", Default: "100", Doc: "the generator's latent size (van de Ven & Tolias: 100)"},
			HeadsOption,
		},
	}, func(o *Options) (Strategy, error) {
		d := &DGR{}
		d.ParseHeads(o)
		d.Distill, d.T, d.Latent = o.Bool("distill"), o.Float("T"), o.Int("latent")
		o.Check("T", d.T > 0, "a positive number")
		o.Check("latent", d.Latent > 0, "a positive integer")
		return d, o.Err()
	})
	Register(Info{
		Name: "rtf",
		Doc:  "replay through feedback (van de Ven & Tolias 2018): the classifier's trunk is a VAE's encoder; the previous model replays its own samples with distillation",
		Options: []Option{
			{Name: "T", Default: "2", Doc: "distillation temperature (no T^2 factor)"},
			{Name: "latent", Default: "100", Doc: "the latent size (van de Ven & Tolias: 100)"},
			HeadsOption,
		},
	}, func(o *Options) (Strategy, error) {
		d := &DGR{Feedback: true, Distill: true}
		d.ParseHeads(o)
		d.T, d.Latent = o.Float("T"), o.Int("latent")
		o.Check("T", d.T > 0, "a positive number")
		o.Check("latent", d.Latent > 0, "a positive integer")
		return d, o.Err()
	})
}
