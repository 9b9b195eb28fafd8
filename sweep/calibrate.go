package sweep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"sort"
	"time"

	"github.com/clgraph/clgraph/runspec"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/stream"
	"github.com/clgraph/clgraph/streams"
	"github.com/sirupsen/logrus"
)

// MNIST's sizes, for estimates made without the data.
const (
	mnistDim          = 28 * 28
	mnistClasses      = 10
	mnistTestPerClass = 1000 // about 10,000 test images over 10 classes
)

// SyntheticData returns a dataset of MNIST's shape (784 inputs, 10 classes) with perClass
// training and testPerClass test examples of each class and deterministic pseudo-random pixels:
// enough to build every stream, check its settings and time training steps, without the data.
func SyntheticData(perClass, testPerClass int) *streams.Data {
	rng := rand.New(rand.NewSource(1))
	mk := func(per int) *stream.Dataset {
		n := per * mnistClasses
		d := &stream.Dataset{N: n, Dim: mnistDim, X: make([]float32, n*mnistDim), Labels: make([]uint8, n)}
		for i := range d.Labels {
			d.Labels[i] = uint8(i % mnistClasses)
		}
		for i := range d.X {
			d.X[i] = rng.Float32()
		}
		return d
	}
	return &streams.Data{Train: mk(perClass), Test: mk(testPerClass), Classes: mnistClasses, Source: "synthetic"}
}

// synthetic returns spec for a build over SyntheticData: without a validation split, which the
// synthetic training sets are too small to carve. A cell carves it from the real training data
// when it runs, and a size the data cannot give is refused then, before any training.
func synthetic(spec runspec.Spec) runspec.Spec {
	spec.ValPerTask = 0
	return spec
}

// Calibration is the measured cost of one model shape: a stream and scenario's shape (tasks,
// hidden sizes, batch) trained by one strategy (its name and heads option; other options are
// assumed not to change a step's cost).
type Calibration struct {
	// Shape describes the model shape.
	Shape string
	// Strategy is the spec that was timed.
	Strategy string
	// Cells is the number of cells of this shape.
	Cells int
	// SetupSeconds is the CPU time to build the strategy's graphs.
	SetupSeconds float64
	// StepSeconds is the mean CPU time of a training step (after three warm-up steps).
	StepSeconds float64
	// EvalSecondsPerRun is the mean CPU time of a run of the evaluation graph (EvalBatch rows).
	EvalSecondsPerRun float64
}

// Estimate is a dry run's cost estimate.
type Estimate struct {
	// Calibrations are the model shapes timed, in grid order.
	Calibrations []Calibration
	// CellSeconds estimates each cell's run time, by cell index.
	CellSeconds []float64
}

// shapeKey names a cell's model shape.
func shapeKey(g *Group, c Cell) string {
	heads := ""
	if sp, err := strategies.ParseSpec(c.Strategy); err == nil && sp.Options["heads"] != "" {
		heads = " heads=" + sp.Options["heads"]
	}
	trunk := fmt.Sprintf("hidden %v", g.Spec.Hidden)
	if g.Spec.Pad > 0 {
		trunk = fmt.Sprintf("pad %d, %s", g.Spec.Pad, trunk)
	}
	if f := g.Spec.ConvFilters(); f != nil {
		trunk = fmt.Sprintf("conv %v, hidden %v", f, g.Spec.Hidden)
	}
	return fmt.Sprintf("%s/%s %d tasks, %s, batch %d: %s%s", g.Spec.Stream, g.Spec.Scenario, g.Spec.Tasks, trunk, g.Spec.Batch, c.Base, heads)
}

// testExamples estimates the number of test examples of each of a group's tasks in MNIST: the
// group's stream built over data with MNIST's test-set shape (1000 examples per class), so every
// stream counts its own way.
func testExamples(data *streams.Data, g *Group) (int, error) {
	st, err := streams.Build(data, synthetic(g.Spec.Cell("", 1)))
	if err != nil {
		return 0, err
	}
	return st.Tasks[0].Test.Len(), nil
}

// Calibrate times steps training steps (the fastest, after three warm-up steps) and a run of the
// evaluation graph of the first cell of each distinct model shape among cells, on synthetic
// data of MNIST's shape, and estimates every cell's run time: setup + tasks x iterations x step
// + (tasks+1) evaluations of every task's test examples (in runs of EvalBatch rows). Strategies whose steps grow over tasks (replay, joint) are timed on
// the first task, so their estimate is low.
func (p *Plan) Calibrate(ctx context.Context, reg *strategies.Registry, cells []Cell, steps int) (*Estimate, error) {
	if steps < 1 {
		steps = 1
	}
	data := SyntheticData(200, 100)
	shape := SyntheticData(1, mnistTestPerClass) // MNIST's test-set shape, for test-set sizes
	tests := map[int]int{}                       // group -> test examples per task
	est := &Estimate{CellSeconds: make([]float64, len(p.Cells))}
	byShape := map[string]int{}
	for _, c := range cells {
		g := p.Groups[c.Group]
		key := shapeKey(g, c)
		i, ok := byShape[key]
		if !ok {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			cal, err := calibrate(data, reg, g, c, steps)
			if err != nil {
				return nil, fmt.Errorf("sweep: calibrating %s: %w", key, err)
			}
			cal.Shape = key
			i = len(est.Calibrations)
			byShape[key] = i
			est.Calibrations = append(est.Calibrations, cal)
		}
		cal := &est.Calibrations[i]
		cal.Cells++
		T := float64(g.Spec.Tasks)
		n, ok := tests[c.Group]
		if !ok {
			var err error
			if n, err = testExamples(shape, g); err != nil {
				return nil, fmt.Errorf("sweep: calibrating %s: %w", key, err)
			}
			tests[c.Group] = n
		}
		runs := float64((n + g.Spec.EvalBatch - 1) / g.Spec.EvalBatch)
		est.CellSeconds[c.Index] = cal.SetupSeconds + T*float64(g.Spec.Iterations)*cal.StepSeconds +
			(T+1)*T*runs*cal.EvalSecondsPerRun
	}
	return est, nil
}

// clock measures CPU time where the OS reports it (other processes' load then does not count),
// else wall time.
type clock struct {
	cpu   bool
	start float64
	wall  time.Time
}

func startClock() clock {
	c, ok := cpuSeconds()
	return clock{cpu: ok, start: c, wall: time.Now()}
}

func (c clock) seconds() float64 {
	if c.cpu {
		if now, ok := cpuSeconds(); ok {
			return now - c.start
		}
	}
	return time.Since(c.wall).Seconds()
}

// calibrate times cell c's strategy through the runner, as the cell would run, on data: setup
// (until the run starts), the initial evaluation of every task (runs of EvalBatch rows), and
// training steps of the first task (three warm-up steps, then at least steps steps and 0.2 s of
// CPU time, at most 10 x steps), after which a hook stops the run.
func calibrate(data *streams.Data, reg *strategies.Registry, g *Group, c Cell, steps int) (Calibration, error) {
	cal := Calibration{Strategy: c.Strategy}
	spec := g.Spec.Cell(c.Strategy, c.Seed)
	spec.TrainLimit, spec.TestLimit, spec.CheckpointEvery = 0, 0, -1
	spec.Iterations = max(spec.Iterations, 3+10*steps)
	st, err := streams.Build(data, synthetic(spec))
	if err != nil {
		return cal, err
	}
	s, err := reg.New(c.Strategy)
	if err != nil {
		return cal, err
	}
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	runs := 0
	for _, t := range st.Tasks {
		runs += (t.Test.Len() + spec.EvalBatch - 1) / spec.EvalBatch
	}
	t0 := startClock()
	var phase clock
	n := 0
	hook := func(e loop.Event) error {
		switch {
		case e.Kind == loop.RunStart:
			cal.SetupSeconds = t0.seconds()
			phase = startClock()
		case e.Kind == loop.TaskStart && e.Task == 0:
			cal.EvalSecondsPerRun = phase.seconds() / float64(max(runs, 1))
		case e.Kind == loop.Step && e.Step == 3: // warm-up: first steps allocate and fault pages in
			phase = startClock()
		case e.Kind == loop.Step && e.Step > 3:
			n++
			if n >= steps && (phase.seconds() >= 0.2 || n >= 10*steps) {
				cal.StepSeconds = phase.seconds() / float64(n)
				return loop.ErrStop
			}
		}
		return nil
	}
	r := &loop.Runner{Hooks: []loop.Hook{hook}, Log: quiet}
	if _, err := r.Run(context.Background(), st, s, loop.Settings{Spec: spec}); !errors.Is(err, loop.ErrStop) {
		if err == nil {
			err = errors.New("the run ended before the calibration steps")
		}
		return cal, err
	}
	return cal, nil
}

// Makespan estimates the wall time of running jobs (seconds each) on workers parallel workers:
// longest first, each on the worker that frees up first.
func Makespan(jobs []float64, workers int) float64 {
	if workers < 1 {
		workers = 1
	}
	js := append([]float64(nil), jobs...)
	sort.Sort(sort.Reverse(sort.Float64Slice(js)))
	load := make([]float64, workers)
	for _, j := range js {
		k := 0
		for i := range load {
			if load[i] < load[k] {
				k = i
			}
		}
		load[k] += j
	}
	m := 0.0
	for _, l := range load {
		m = max(m, l)
	}
	return m
}
