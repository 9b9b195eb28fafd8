package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/stream"
	"github.com/sirupsen/logrus"
)

// EventKind says what happened in a run.
type EventKind int

// The runner's events, in the order they happen for each task.
const (
	// RunStart: before the initial evaluation (b).
	RunStart EventKind = iota
	// TaskStart: before training on Task.
	TaskStart
	// Step: after each training step of Task.
	Step
	// TaskEnd: after training on Task and evaluating every task (Row holds R[Task]).
	TaskEnd
	// RunEnd: after the last task, or when the run stops early (Err set).
	RunEnd
)

// Event is what hooks receive.
type Event struct {
	Kind     EventKind
	Strategy string
	Seed     int64
	Task     int // current task, from 0
	Tasks    int
	Step     int // steps done in the current task
	Steps    int // steps per task
	Loss     float32
	Penalty  float32
	Samples  int           // examples trained on in this task so far
	Elapsed  time.Duration // training time in this task so far
	Row      []float64     // TaskEnd: accuracies on every task
	Err      error         // RunEnd: why the run stopped, nil when it completed
}

// Hook observes a run. Progress displays, logging and checkpoints hang on hooks, not on the loop.
type Hook func(Event)

// Runner trains strategies over streams. Its zero value is usable.
type Runner struct {
	Hooks []Hook
	Log   logrus.FieldLogger
}

func (r *Runner) emit(e Event) {
	for _, h := range r.Hooks {
		h(e)
	}
}

// Settings are one run's settings: the protocol and the seed.
type Settings struct {
	Protocol
	Seed int64
}

// rngFor derives independent, reproducible random sources from a seed.
func rngFor(seed int64, stream uint64) *rand.Rand {
	z := uint64(seed) + stream*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return rand.New(rand.NewSource(int64(z ^ (z >> 31))))
}

// Check reports, before any training, why strategy s cannot run on stream st.
func Check(st *stream.Stream, s strategies.Strategy, name string) error {
	if strategies.RequirementsOf(s).TaskIdentity && !st.HasTaskIdentity() {
		return fmt.Errorf("strategy %s needs task identities at test time, which the %s-IL scenario does not give; run it with --scenario task", name, st.Scenario)
	}
	return nil
}

// Run trains s over st task by task, evaluating the untrained model and then every task after
// every task. It returns the result, complete or (when err is non-nil) partial: the rows of R
// computed before a failure are kept and the result is marked failed.
func (r *Runner) Run(ctx context.Context, st *stream.Stream, s strategies.Strategy, name string, set Settings) (res *results.Result, err error) {
	log := r.Log
	if log == nil {
		log = logrus.StandardLogger()
	}
	T := len(st.Tasks)
	res = &results.Result{Strategy: name, Seed: set.Seed, Status: "ok"}
	for _, t := range st.Tasks {
		res.Tasks = append(res.Tasks, t.Name)
	}
	ev := Event{Strategy: name, Seed: set.Seed, Tasks: T, Steps: set.Iterations}
	defer func() {
		if rec := recover(); rec != nil {
			err = fmt.Errorf("%s: panic: %v", name, rec)
		}
		if err != nil {
			res.Status, res.Error, res.Metrics = "failed", err.Error(), nil
		}
		res.Cost.PeakRSSBytes = peakRSS()
		e := ev
		e.Kind, e.Err = RunEnd, err
		r.emit(e)
	}()
	if err := set.Protocol.Validate(); err != nil {
		return res, err
	}
	if err := Check(st, s, name); err != nil {
		return res, err
	}
	env := &strategies.Env{Stream: st, Hidden: set.Hidden, LR: set.LR, Batch: set.Batch, EvalBatch: set.EvalBatch,
		Rng: rngFor(set.Seed, 1), Log: log.WithField("strategy", name)}
	if err := s.Setup(env); err != nil {
		return res, fmt.Errorf("%s: setup: %w", name, err)
	}
	r.emit(withKind(ev, RunStart))
	ev2 := newEvaluator(st, set.EvalBatch)
	t0 := time.Now()
	if res.B, err = ev2.row(s, -1); err != nil {
		return res, fmt.Errorf("%s: initial evaluation: %w", name, err)
	}
	res.Cost.EvalSeconds += time.Since(t0).Seconds()
	sampleRng := rngFor(set.Seed, 2)
	batch := stream.NewBatch(set.Batch, st.InputDim)
	samplesTotal := 0
	for t := 0; t < T; t++ {
		ev.Task, ev.Step, ev.Samples, ev.Elapsed = t, 0, 0, 0
		r.emit(withKind(ev, TaskStart))
		if ts, ok := s.(strategies.TaskStarter); ok {
			if err := ts.StartTask(t); err != nil {
				return res, fmt.Errorf("%s: start of task %d: %w", name, t+1, err)
			}
		}
		var sampler *stream.Sampler
		own, hasOwn := s.(strategies.Sampler)
		if !hasOwn {
			sampler = stream.NewSampler(sampleRng, st.Tasks[t])
		}
		start := time.Now()
		for i := 0; i < set.Iterations; i++ {
			if err := ctx.Err(); err != nil {
				return res, fmt.Errorf("%s: stopped at step %d of task %d: %w", name, i, t+1, err)
			}
			if hasOwn {
				own.Sample(t, batch, set.Batch, sampleRng)
			} else {
				sampler.Fill(batch, set.Batch)
			}
			info, err := s.Step(t, batch)
			if err == nil && (math.IsNaN(float64(info.Loss+info.Penalty)) || math.IsInf(float64(info.Loss+info.Penalty), 0)) {
				err = fmt.Errorf("%w (loss %v, penalty %v)", strategies.ErrDiverged, info.Loss, info.Penalty)
			}
			if err != nil {
				return res, fmt.Errorf("%s: task %d, step %d: %w", name, t+1, i+1, err)
			}
			if info.Samples == 0 {
				info.Samples = batch.N
			}
			ev.Step, ev.Loss, ev.Penalty = i+1, info.Loss, info.Penalty
			ev.Samples += info.Samples
			ev.Elapsed = time.Since(start)
			r.emit(withKind(ev, Step))
		}
		res.Cost.TrainSeconds += time.Since(start).Seconds()
		res.Cost.Steps += set.Iterations
		samplesTotal += ev.Samples
		if te, ok := s.(strategies.TaskEnder); ok {
			tb := time.Now()
			if err := te.EndTask(t); err != nil {
				return res, fmt.Errorf("%s: end of task %d: %w", name, t+1, err)
			}
			res.Cost.TrainSeconds += time.Since(tb).Seconds()
		}
		res.Cost.ParamsPerTask = append(res.Cost.ParamsPerTask, s.Params().Count())
		te := time.Now()
		row, err := ev2.row(s, t)
		if err != nil {
			return res, fmt.Errorf("%s: evaluation after task %d: %w", name, t+1, err)
		}
		res.Cost.EvalSeconds += time.Since(te).Seconds()
		res.R = append(res.R, row)
		e := withKind(ev, TaskEnd)
		e.Row = row
		r.emit(e)
	}
	res.Cost.Params = s.Params().Count()
	if res.Cost.TrainSeconds > 0 {
		res.Cost.StepsPerSecond = float64(res.Cost.Steps) / res.Cost.TrainSeconds
		res.Cost.SamplesPerSecond = float64(samplesTotal) / res.Cost.TrainSeconds
	}
	m, err := results.Compute(res.R, res.B)
	if err != nil {
		return res, fmt.Errorf("%s: metrics: %w", name, err)
	}
	res.Metrics = &m
	return res, nil
}

func withKind(e Event, k EventKind) Event { e.Kind = k; return e }

// evaluator scores every task's test split through a strategy.
type evaluator struct {
	st     *stream.Stream
	batch  *stream.Batch
	scores []float32
	n      int
}

func newEvaluator(st *stream.Stream, n int) *evaluator {
	return &evaluator{st: st, batch: stream.NewBatch(n, st.InputDim), scores: make([]float32, n*st.Outputs), n: n}
}

// row returns the accuracy on every task after training on tasks 0..after (-1: untrained).
func (e *evaluator) row(s strategies.Strategy, after int) ([]float64, error) {
	out := make([]float64, len(e.st.Tasks))
	for j := range e.st.Tasks {
		a, err := Accuracy(s, e.st, after, j, e.batch, e.scores)
		if err != nil {
			return nil, err
		}
		out[j] = a
	}
	return out, nil
}

// Accuracy is the test accuracy of s on task j after training on tasks 0..after: the share of
// test examples whose highest-scoring active unit (ActiveUnits(after, j)) is the target.
// batch and scores are work buffers (batch capacity rows, capacity*Outputs scores).
func Accuracy(s strategies.Strategy, st *stream.Stream, after, j int, batch *stream.Batch, scores []float32) (float64, error) {
	t := st.Tasks[j]
	units := st.ActiveUnits(after, j)
	capRows := cap(batch.Target)
	if capRows == 0 {
		return 0, errors.New("benchmarks: zero-capacity evaluation batch")
	}
	correct, n := 0, t.Test.Len()
	O := st.Outputs
	for start := 0; start < n; start += capRows {
		batch.Reset()
		for k := start; k < n && k < start+capRows; k++ {
			batch.Add(t, &t.Test, k)
		}
		if err := s.Scores(batch, scores[:batch.N*O]); err != nil {
			return 0, err
		}
		for i := 0; i < batch.N; i++ {
			row := scores[i*O : (i+1)*O]
			best, bu := float32(math.Inf(-1)), -1
			for _, u := range units {
				if v := row[u]; v > best || bu < 0 {
					best, bu = v, u
				}
			}
			if bu == int(batch.Target[i]) {
				correct++
			}
		}
	}
	return float64(correct) / float64(n), nil
}

// peakRSS reads the process's peak resident set size from /proc (0 where unavailable).
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
