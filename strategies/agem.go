package strategies

import (
	"fmt"
	"math"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/stream"
	"github.com/sirupsen/logrus"
	"gonum.org/v1/gonum/blas/gonum"
)

// AGEM is Averaged Gradient Episodic Memory (Chaudhry et al. 2019, "Efficient Lifelong Learning
// with A-GEM"). An episodic memory (Memory, class-balanced, filled at the end of each task) holds
// examples of earlier tasks. From the second task on, each step first computes the reference
// gradient g_ref of the loss on a memory batch (as many examples as the current batch, or RefBatch
// of them, each scored as the scenario scores its task, as replay does), then the gradient g of the current
// batch's loss; when g·g_ref < 0 (the step would increase the memory's loss) g is projected,
//
//	g <- g - (g·g_ref / g_ref·g_ref) g_ref,
//
// with one dot product over every trainable parameter jointly, and Adam updates with g. The
// memory's loss never enters the objective, only the direction of the step: a step costs two
// forward and backward passes. During the first task (empty memory) it trains as naive.
type AGEM struct {
	Base
	// Mem is the episodic memory; the factory creates it.
	Mem *Memory
	// RefBatch, when > 0, is the number of memory examples each reference gradient averages
	// over (the whole memory while it holds fewer), as A-GEM's code draws 256 on MNIST; 0 draws
	// as many as the current batch. A RefBatch larger than the batch gets its own training
	// graph of RefBatch rows over the same parameters (RefNet), so the current batch's pass
	// stays the batch's size.
	RefBatch int
	// RefNet is the model of the memory's pass when RefBatch exceeds the batch (nil otherwise:
	// Net serves both passes). It is built at the first step that uses the memory, and again
	// whenever Net was rebuilt.
	RefNet *graphs.Model
	// Ref is the reference gradient g_ref of the last step that used the memory, one buffer per
	// parameter of Net.Trainable() (empty for a parameter without gradient), reused across steps.
	Ref    [][]float32
	g      [][]float32   // the current gradient's buffers (Model.Grad's), per trainable parameter
	refFor *graphs.Model // the Net that RefNet was built beside
	rb     *stream.Batch
}

// Compile-time interface checks.
var (
	_ Strategy     = (*AGEM)(nil)
	_ TaskEnder    = (*AGEM)(nil)
	_ Requirer     = (*AGEM)(nil)
	_ Checkpointer = (*AGEM)(nil)
)

// Setup builds the model and the memory batch.
func (a *AGEM) Setup(env *Env) error {
	if err := a.Base.Setup(env); err != nil {
		return fmt.Errorf("agem: %w", err)
	}
	a.rb = stream.NewBatch(max(env.Batch, a.RefBatch), env.Stream.InputDim)
	return nil
}

// refModel returns the model of the memory's passes (Base.RowsModel with RefBatch rows).
func (a *AGEM) refModel() (*graphs.Model, error) {
	return a.RowsModel("agem", a.RefBatch, &a.RefNet, &a.refFor)
}

// Step trains on bt with the current gradient, projected when it conflicts with the memory's.
func (a *AGEM) Step(cur int, bt *stream.Batch) (StepInfo, error) {
	if a.Mem.Len() == 0 {
		return a.Base.Step(cur, bt)
	}
	n := bt.N
	if a.RefBatch > 0 {
		n = min(a.RefBatch, a.Mem.Len())
	}
	a.Mem.Sample(a.rb, n, a.Env.Rng)
	ref, err := a.refModel()
	if err != nil {
		return StepInfo{}, err
	}
	if err := a.FillModel(ref, cur, Part{Batch: a.rb, Weight: 1}); err != nil {
		return StepInfo{}, fmt.Errorf("agem: %w", err)
	}
	refLoss, _, err := ref.Step()
	if err != nil {
		return StepInfo{}, err
	}
	if l := float64(refLoss); math.IsNaN(l) || math.IsInf(l, 0) {
		return StepInfo{}, fmt.Errorf("agem: the memory batch's loss: %w", Diverged(refLoss, 0))
	}
	a.keepRef(ref)
	if err := a.Fill(cur, Part{Batch: bt, Weight: 1}); err != nil {
		return StepInfo{}, fmt.Errorf("agem: %w", err)
	}
	// Grad returns the buffers Update reads: project them in place.
	info, err := a.TrainWith(func() error {
		a.g = a.g[:0]
		for _, p := range a.Net.Trainable() {
			a.g = append(a.g, a.Net.Grad(p))
		}
		AGEMProject(a.g, a.Ref)
		return nil
	})
	info.Samples = bt.N + a.rb.N
	return info, err
}

// keepRef copies the gradients of ref's last Step into Ref, in the order of Net.Trainable(),
// allocating its buffers once.
func (a *AGEM) keepRef(ref *graphs.Model) {
	ps := a.Net.Trainable()
	if len(a.Ref) != len(ps) {
		a.Ref = make([][]float32, len(ps))
	}
	for i, p := range ps {
		g := ref.Grad(p)
		if g == nil {
			a.Ref[i] = a.Ref[i][:0]
			continue
		}
		if cap(a.Ref[i]) < len(g) {
			a.Ref[i] = make([]float32, len(g))
		}
		a.Ref[i] = a.Ref[i][:len(g)]
		copy(a.Ref[i], g)
	}
}

// AGEMProject applies A-GEM's projection to the gradient g, given per parameter (g[i] pairs
// with ref[i]; a nil or empty slice on either side counts as zeros): when g·ref < 0 it sets, in
// place, g <- g - (g·ref / ref·ref) ref, so that g·ref = 0, and reports true; otherwise g is
// left alone. The dot products run over every parameter jointly, accumulated in float64.
func AGEMProject(g, ref [][]float32) bool {
	var dot, nn float64
	for i, gi := range g {
		n := min(len(gi), len(ref[i]))
		dot += level1.Dsdot(n, gi, 1, ref[i], 1)
		nn += level1.Dsdot(n, ref[i], 1, ref[i], 1)
	}
	if !(dot < 0) || nn == 0 {
		return false
	}
	c := float32(dot / nn)
	for i, gi := range g {
		level1.Saxpy(min(len(gi), len(ref[i])), -c, ref[i], 1, gi, 1)
	}
	return true
}

// level1 is gonum's BLAS, for its vectorised dot products and axpy.
var level1 gonum.Implementation

// EndTask adds the task's examples to the memory.
func (a *AGEM) EndTask(cur int) error {
	a.Mem.Add(a.Env.Stream.Tasks[cur], a.Env.Rng)
	if a.Env.Log != nil {
		a.Env.Log.WithFields(logrus.Fields{"task": cur + 1, "memory": a.Mem.Len()}).Debug("agem: memory updated")
	}
	return nil
}

// SaveState saves the memory (Ref is recomputed at every step).
func (a *AGEM) SaveState() ([]byte, error) {
	return saveMemory(a.Mem, "agem", "memory")
}

// LoadState restores the memory SaveState saved.
func (a *AGEM) LoadState(data []byte) error {
	return loadMemory(a.Mem, data, a.Env.Stream, "agem")
}

func init() {
	Register(Info{
		Name: "agem",
		Doc:  "A-GEM: project the gradient when it would increase the loss on an episodic memory of earlier tasks",
		Options: []Option{
			{Name: "per_class", Default: "100", Doc: "examples kept per class (task, unit), drawn at random at each task's end (100: van de Ven et al. 2022's split-MNIST budget)"},
			{Name: "budget", Default: "0", Doc: "if > 0, keep this many examples in total, shared evenly by the classes seen, instead of per_class"},
			{Name: "ref", Default: "0", Doc: "memory examples per reference gradient (the whole memory while it holds fewer; 256 in A-GEM's MNIST code); 0: as many as the current batch"},
			HeadsOption,
		},
	}, func(o *Options) (Strategy, error) {
		a := &AGEM{}
		a.ParseHeads(o)
		per, budget := o.Int("per_class"), o.Int("budget")
		a.RefBatch = o.Int("ref")
		o.Check("per_class", per >= 0, "a non-negative integer")
		o.Check("budget", budget >= 0, "a non-negative integer")
		o.Check("ref", a.RefBatch >= 0, "a non-negative integer")
		if o.Err() != nil {
			return nil, o.Err()
		}
		if budget > 0 {
			per = 0
		}
		m, err := NewMemory(Balanced, budget, per)
		if err != nil {
			return nil, err
		}
		a.Mem = m
		return a, nil
	})
}
