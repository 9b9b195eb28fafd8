package sweep

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"sort"
	"strings"
	"time"

	"github.com/clgraph/clgraph/benchmarks"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/stream"
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
func SyntheticData(perClass, testPerClass int) *benchmarks.Data {
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
	return &benchmarks.Data{Train: mk(perClass), Test: mk(testPerClass), Classes: mnistClasses, Source: "synthetic"}
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
	return fmt.Sprintf("%s/%s %d tasks, hidden %v, batch %d: %s%s", g.Stream.Name, g.Stream.Scenario, g.Stream.Tasks, g.Protocol.Hidden, g.Protocol.Batch, c.Base, heads)
}

// testExamples estimates the number of test examples of each of a group's tasks in MNIST.
func testExamples(g *Group) int {
	n := mnistTestPerClass * mnistClasses
	if strings.HasPrefix(g.Stream.Name, "split") {
		n = mnistTestPerClass * mnistClasses / max(1, g.Stream.Tasks)
	}
	if g.Stream.TestLimit > 0 {
		n = min(n, g.Stream.TestLimit)
	}
	return n
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
		T := float64(g.Stream.Tasks)
		runs := float64((testExamples(g) + g.Protocol.EvalBatch - 1) / g.Protocol.EvalBatch)
		est.CellSeconds[c.Index] = cal.SetupSeconds + T*float64(g.Protocol.Iterations)*cal.StepSeconds +
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

func calibrate(data *benchmarks.Data, reg *strategies.Registry, g *Group, c Cell, steps int) (Calibration, error) {
	cal := Calibration{Strategy: c.Strategy}
	cfg := g.Stream
	cfg.Seed, cfg.TrainLimit, cfg.TestLimit = c.Seed, 0, 0
	st, err := benchmarks.BuildStream(data, cfg)
	if err != nil {
		return cal, err
	}
	s, err := reg.New(c.Strategy)
	if err != nil {
		return cal, err
	}
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	pr := g.Protocol
	env := &strategies.Env{Stream: st, Hidden: pr.Hidden, LR: pr.LR, Batch: pr.Batch, EvalBatch: pr.EvalBatch, Rng: rand.New(rand.NewSource(c.Seed)), Log: quiet}
	t0 := startClock()
	if err := s.Setup(env); err != nil {
		return cal, err
	}
	if ts, ok := s.(strategies.TaskStarter); ok {
		if err := ts.StartTask(0); err != nil {
			return cal, err
		}
	}
	cal.SetupSeconds = t0.seconds()
	rng := rand.New(rand.NewSource(c.Seed + 1))
	batch := stream.NewBatch(pr.Batch, st.InputDim)
	sampler := stream.NewSampler(rng, st.Tasks[0])
	own, hasOwn := s.(strategies.Sampler)
	step := func() error {
		if hasOwn {
			own.Sample(0, batch, pr.Batch, rng)
		} else {
			sampler.Fill(batch, pr.Batch)
		}
		_, err := s.Step(0, batch)
		return err
	}
	for i := 0; i < 3; i++ { // warm-up: first steps allocate and fault pages in
		if err := step(); err != nil {
			return cal, err
		}
	}
	// At least steps steps and 0.2 s of CPU time (at most 10 x steps).
	t1, n := startClock(), 0
	for n < steps || (t1.seconds() < 0.2 && n < 10*steps) {
		if err := step(); err != nil {
			return cal, err
		}
		n++
	}
	cal.StepSeconds = t1.seconds() / float64(n)
	// The evaluation graph takes EvalBatch rows per run, however many are real: time runs.
	rows := min(pr.EvalBatch, st.Tasks[0].Test.Len())
	eb := stream.NewBatch(rows, st.InputDim)
	for k := 0; k < rows; k++ {
		eb.Add(st.Tasks[0], &st.Tasks[0].Test, k)
	}
	scores := make([]float32, rows*st.Outputs)
	t2 := startClock()
	for i := 0; i < 3; i++ {
		if err := s.Scores(eb, scores); err != nil {
			return cal, err
		}
	}
	cal.EvalSecondsPerRun = t2.seconds() / 3
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
