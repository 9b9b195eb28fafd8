// Package perf measures clgraph's training and evaluation speed on random data of MNIST's shape:
// the workload of a PyTorch epoch (468 Adam steps of batch 128 on an MLP 784-H-H-10), through the
// same code the runner uses (strategies.Base, stream.Sampler). The go test benchmarks of this
// package and the `clgraph bench` command are thin wrappers over it.
package perf

import (
	"errors"
	"fmt"
	"math/rand"
	"time"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/graphs/blas"
	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/stream"
)

// Config describes the workload. Zero fields take the defaults of Defaults.
type Config struct {
	InputDim int   // features per example (784)
	Classes  int   // output units (10)
	Hidden   []int // hidden layer sizes of the trunk (400, 400)
	// Filters, when not empty, makes the trunk a conv trunk (strategies.Env.Filters): 5×5 conv
	// layers with these output channels, each with ReLU and a 2×2 max-pool, over the inputs as
	// square images, then the dense layers of Hidden.
	Filters   []int
	Batch     int // rows per training step (128)
	EvalBatch int // rows per evaluation-graph run (1000)
	TrainRows int // rows of the random training set (60000)
	TestRows  int // rows of the random test set (10000)
	LR        float64
	Seed      int64
	// EWC adds EWC's quadratic penalty on the trunk to the training loss (strategies.EWC's
	// graph: the fused penalty op and its gradients summed with the data loss's).
	EWC bool
}

// EpochSteps is the number of steps of an MNIST epoch at batch 128 (60000/128), the PyTorch
// peer's workload.
const EpochSteps = 468

// Defaults returns the workload of the PyTorch peer: MLP 784-400-400-10, batch 128, Adam 1e-3,
// 60000 training and 10000 test rows.
func Defaults() Config {
	return Config{InputDim: 784, Classes: 10, Hidden: []int{400, 400}, Batch: 128, EvalBatch: 1000,
		TrainRows: 60000, TestRows: 10000, LR: 1e-3, Seed: 1}
}

func (c Config) withDefaults() Config {
	d := Defaults()
	if c.InputDim <= 0 {
		c.InputDim = d.InputDim
	}
	if c.Classes <= 0 {
		c.Classes = d.Classes
	}
	if len(c.Hidden) == 0 {
		c.Hidden = d.Hidden
	}
	if c.Batch <= 0 {
		c.Batch = d.Batch
	}
	if c.EvalBatch <= 0 {
		c.EvalBatch = d.EvalBatch
	}
	if c.TrainRows <= 0 {
		c.TrainRows = d.TrainRows
	}
	if c.TestRows <= 0 {
		c.TestRows = d.TestRows
	}
	if c.LR <= 0 {
		c.LR = d.LR
	}
	if c.Seed == 0 {
		c.Seed = d.Seed
	}
	return c
}

// Layers returns the widths of every layer, input to output: InputDim, Hidden..., Classes.
func (c Config) Layers() []int {
	c = c.withDefaults()
	return append(append([]int{c.InputDim}, c.Hidden...), c.Classes)
}

// StepFLOPs is the floating-point work of the matrix products of one training step: per layer
// 2·n·in·out for the forward product and as much for the weight gradient, plus as much again for
// the input gradient of every layer but the first (the data needs none).
//
// With a conv trunk the dense part starts at the last pooled image, and each conv layer adds
// 2·n·h·w·k²·c_in·c_out for its forward product and as much for its weight gradient, and as much
// again for the input gradient of every conv layer but the first.
func (c Config) StepFLOPs() float64 {
	c = c.withDefaults()
	if len(c.Filters) == 0 {
		return blas.MLPStepFLOP(c.Batch, c.Layers())
	}
	fwd, l := c.convForward()
	f := 0.0
	for i, mm := range fwd {
		f += 2 * mm * float64(c.Batch)
		if i > 0 {
			f += mm * float64(c.Batch)
		}
	}
	return f + blas.MLPStepFLOP(c.Batch, l) + 2*float64(c.Batch)*float64(l[0])*float64(l[1])
}

// convForward returns the forward product's work per example of each conv layer and the widths
// of the dense layers after them (the last pooled image, Hidden..., Classes).
func (c Config) convForward() ([]float64, []int) {
	side, ch := 1, 1
	for side*side < c.InputDim {
		side++
	}
	k := float64(strategies.ConvKernel * strategies.ConvKernel)
	var fwd []float64
	for _, out := range c.Filters {
		fwd = append(fwd, 2*float64(side*side)*k*float64(ch)*float64(out))
		side, ch = side/2, out
	}
	return fwd, append([]int{side * side * ch}, append(c.Hidden, c.Classes)...)
}

// EvalFLOPs is the work of the forward products over TestRows rows.
func (c Config) EvalFLOPs() float64 {
	c = c.withDefaults()
	l := c.Layers()
	var f float64
	if len(c.Filters) > 0 {
		var fwd []float64
		fwd, l = c.convForward()
		for _, mm := range fwd {
			f += mm * float64(c.TestRows)
		}
	}
	for i := 0; i+1 < len(l); i++ {
		f += 2 * float64(c.TestRows) * float64(l[i]) * float64(l[i+1])
	}
	return f
}

// Bench is a model with its random data, ready to train and evaluate.
type Bench struct {
	// Cfg is the workload, defaults filled in.
	Cfg Config
	// Stream holds the random data as one class-incremental task of every class.
	Stream *stream.Stream
	// Base is the model, built as the runner builds a strategy's.
	Base    *strategies.Base
	sampler *stream.Sampler
	batch   *stream.Batch
	evBatch *stream.Batch
	scores  []float32
	rng     *rand.Rand
}

// randomDataset returns n rows of dim features uniform in [0,1) and labels in [0, classes).
// Features come from a splitmix64 sequence seeded by rng (two 24-bit values per draw): tens of
// millions of them in a fraction of a second.
func randomDataset(rng *rand.Rand, n, dim, classes int) *stream.Dataset {
	d := &stream.Dataset{N: n, Dim: dim, X: make([]float32, n*dim), Labels: make([]uint8, n)}
	s := rng.Uint64()
	const unit = 1.0 / (1 << 24)
	for i := 0; i < len(d.X); i += 2 {
		s += 0x9e3779b97f4a7c15
		z := s
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		d.X[i] = float32(z>>40) * unit
		if i+1 < len(d.X) {
			d.X[i+1] = float32(z&(1<<24-1)) * unit
		}
	}
	for i := range d.Labels {
		d.Labels[i] = uint8(rng.Intn(classes))
	}
	return d
}

func split(d *stream.Dataset) stream.Split {
	s := stream.Split{Data: d, Index: make([]int32, d.N), Target: make([]int32, d.N)}
	for i := range s.Index {
		s.Index[i], s.Target[i] = int32(i), int32(d.Labels[i])
	}
	return s
}

// New builds the random data set (one class-incremental task holding every class) and a
// strategies.Base model over it, as the runner would. It does not install a BLAS: call
// blas.Setup first.
func New(cfg Config) (*Bench, error) {
	cfg = cfg.withDefaults()
	if cfg.Classes > 256 {
		return nil, errors.New("perf: at most 256 classes")
	}
	rng := rand.New(rand.NewSource(cfg.Seed))
	train := randomDataset(rng, cfg.TrainRows, cfg.InputDim, cfg.Classes)
	test := randomDataset(rng, cfg.TestRows, cfg.InputDim, cfg.Classes)
	task := &stream.Task{ID: 0, Name: "all", Train: split(train), Test: split(test)}
	for c := 0; c < cfg.Classes; c++ {
		task.Classes, task.Units = append(task.Classes, c), append(task.Units, c)
	}
	st := &stream.Stream{Name: "random-mnist", Scenario: stream.ClassIL, Tasks: []*stream.Task{task},
		InputDim: cfg.InputDim, Outputs: cfg.Classes}
	if err := st.Validate(); err != nil {
		return nil, err
	}
	b := &strategies.Base{}
	if cfg.EWC {
		var q *graphs.Quadratic
		b.Penalty = strategies.QuadraticPenalty(b, &q, 0.5)
	}
	env := &strategies.Env{Stream: st, Hidden: cfg.Hidden, Filters: cfg.Filters, LR: cfg.LR, Batch: cfg.Batch, EvalBatch: cfg.EvalBatch, Rng: rng}
	if err := b.Setup(env); err != nil {
		return nil, fmt.Errorf("perf: %w", err)
	}
	return &Bench{Cfg: cfg, Stream: st, Base: b, rng: rng,
		sampler: stream.NewSampler(rand.New(rand.NewSource(cfg.Seed+1)), task),
		batch:   stream.NewBatch(cfg.Batch, cfg.InputDim),
		evBatch: stream.NewBatch(cfg.EvalBatch, cfg.InputDim),
		scores:  make([]float32, cfg.EvalBatch*cfg.Classes)}, nil
}

// Step draws a batch as the runner does (shuffled epochs of the training rows), copies it into
// the model's bound inputs and runs one training step (forward, backward, Adam). It returns the
// loss.
func (b *Bench) Step() (float32, error) {
	b.sampler.Fill(b.batch, b.Cfg.Batch)
	info, err := b.Base.Step(0, b.batch)
	return info.Loss, err
}

// Steps runs n training steps and returns the last loss.
func (b *Bench) Steps(n int) (float32, error) {
	var loss float32
	for i := 0; i < n; i++ {
		l, err := b.Step()
		if err != nil {
			return l, err
		}
		loss = l
	}
	return loss, nil
}

// Eval computes the test accuracy over the TestRows rows, as the runner evaluates a task (in
// batches of EvalBatch rows through the forward-only graph).
func (b *Bench) Eval() (float64, error) {
	return loop.Accuracy(b.Base, b.Stream, 0, 0, b.evBatch, b.scores)
}

// Fisher estimates EWC's exact diagonal Fisher of every shared (trunk) parameter on samples
// training rows, as strategies.EWC does at a task's end.
func (b *Bench) Fisher(samples int) (map[*graphs.Param][]float32, error) {
	params := b.Base.PS.Filter(func(p *graphs.Param) bool { return p.Group == "trunk" })
	return strategies.DiagonalFisher(b.Base, 0, 0, strategies.FisherConfig{Kind: strategies.FisherExact, Samples: samples, Rng: b.rng}, params)
}

// CPUTime returns the CPU time (user + system) the process has used so far, over all its threads,
// or 0 where getrusage is not available.
func CPUTime() time.Duration { return cpuTime() }
