package loop

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/clgraph/clgraph/graphs/blas"
	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/stream"
)

// EventKind says what happened in a run.
type EventKind int

// The runner's events, in the order they happen for each task.
const (
	// RunStart: before the initial evaluation (b), or before resuming from a checkpoint.
	RunStart EventKind = iota
	// TaskStart: before training on Task, after the strategy's StartTask (when resuming in the
	// middle of a task, before its remaining steps; Step is then the steps already done).
	TaskStart
	// Step: after each training step of Task.
	Step
	// TaskEnd: after training on Task and evaluating every task (Row holds R[Task]).
	TaskEnd
	// RunEnd: after the last task, or when the run stops early (Err set).
	RunEnd
	// CheckpointSaved: after a checkpoint was written (Checkpoint names the file; Task and Step
	// say where the run stands, Step being the iterations per task at a task boundary).
	CheckpointSaved
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
	// Checkpoint is the file written (CheckpointSaved).
	Checkpoint string
}

// Hook observes a run. Progress displays, logging, checkpoints and early stops hang on hooks, not
// on the loop. A hook that returns an error stops the run: with ErrStop (wrapped or not) the run
// ends cleanly where it is (Run returns an error that wraps ErrStop and a partial result marked
// interrupted), with any other error the run fails with it.
type Hook func(Event) error

// ErrStop is returned by a hook to stop a run early on purpose (after setup to draw its graph,
// after k steps to time them).
var ErrStop = errors.New("loop: run stopped by a hook")

// Observe wraps a function that only watches events into a Hook that never stops the run.
func Observe(f func(Event)) Hook {
	return func(e Event) error { f(e); return nil }
}

// Runner trains strategies over streams. Its zero value is usable.
type Runner struct {
	Hooks []Hook
	Log   logrus.FieldLogger
}

// emit calls every hook with e and returns the first error one returned (the hooks after it are
// still called, so every display sees every event).
func (r *Runner) emit(e Event) error {
	var first error
	for _, h := range r.Hooks {
		if err := h(e); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Settings are one run's settings: its spec (stream, protocol, strategy, seed, checkpoint
// cadence) and where it saves checkpoints.
type Settings struct {
	runspec.Spec
	// Checkpoint says where to save the run's state and whether to resume from a checkpoint;
	// the zero value saves nothing and starts afresh. The cadence is Spec.CheckpointEvery.
	Checkpoint CheckpointSettings
}

// rngFor derives independent, reproducible, checkpointable random sources from a seed.
func rngFor(seed int64, stream uint64) (*rand.Rand, *strategies.Source) {
	return strategies.NewRand(seed, stream)
}

// Check reports, before any training, why strategy s cannot run on stream st.
func Check(st *stream.Stream, s strategies.Strategy, name string) error {
	return strategies.RequirementsOf(s).Check(name, st.Scenario)
}

// CheckSpec is Check with the spec's stream settings: a blurry stream (Spec.Blurry) mixes the
// tasks' data into the runner's batches, so a strategy that samples its own (strategies.Sampler)
// is refused; with hidden boundaries (Spec.Boundaries) a strategy that needs them
// (strategies.TaskStarter or TaskEnder) is refused.
func CheckSpec(spec runspec.Spec, st *stream.Stream, s strategies.Strategy, name string) error {
	if err := Check(st, s, name); err != nil {
		return err
	}
	if spec.HiddenBoundaries() && st.HasTaskIdentity() {
		return fmt.Errorf("boundaries %s needs a domain or class stream: %s gives every example's task, which marks the boundaries", runspec.BoundariesHidden, st.Scenario)
	}
	return CheckSettings(spec, s, name)
}

// ConvStrategies lists the registered strategies that run on a conv trunk (strategies.ConvTrunker,
// with their default options).
func ConvStrategies() []string {
	var out []string
	for _, n := range strategies.Default.Names() {
		if s, err := strategies.Default.New(n); err == nil && strategies.RunsOnConv(s) {
			out = append(out, n)
		}
	}
	return out
}

// CheckSettings is CheckSpec's part that needs no stream (the blurry, boundaries and model settings),
// for command lines that check strategies before loading data.
func CheckSettings(spec runspec.Spec, s strategies.Strategy, name string) error {
	if spec.Model == runspec.ModelConv && !strategies.RunsOnConv(s) {
		return fmt.Errorf("%s has no conv-trunk version (strategies.RunsOnConv is false: its network is its own, not only Base's trunk, as pnn's columns of dense layers): drop --model conv, or use one that has (%s)", name, strings.Join(ConvStrategies(), ", "))
	}
	if _, gen := s.(strategies.Generative); gen && len(spec.Normalize) != 0 {
		return fmt.Errorf("%s's generator reconstructs pixel values in [0, 1] (a sigmoid and binary cross-entropy), which normalised inputs leave: drop --normalize for it", name)
	}
	if _, own := s.(strategies.Sampler); own && spec.Blurry > 0 {
		return fmt.Errorf("%s draws its own batches, so a blurry stream cannot mix the tasks' data into them: drop --blurry or the strategy", name)
	}
	if spec.HiddenBoundaries() {
		var hooks []string
		if _, ok := s.(strategies.TaskStarter); ok {
			hooks = append(hooks, "StartTask")
		}
		if _, ok := s.(strategies.TaskEnder); ok {
			hooks = append(hooks, "EndTask")
		}
		if len(hooks) > 0 {
			return fmt.Errorf("%s needs task boundaries (it implements %s), which --boundaries hidden does not give: use --boundaries given, or a boundary-free strategy (naive, der, mer)", name, strings.Join(hooks, " and "))
		}
	}
	return nil
}

// Interrupted reports whether err is a run stopped by its context (cancelled or timed out) or by
// a hook's ErrStop.
func Interrupted(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrStop)
}

// Checkpointable reports whether the runner can checkpoint s: whether it implements
// strategies.Checkpointer.
func Checkpointable(s strategies.Strategy) bool {
	_, ok := s.(strategies.Checkpointer)
	return ok
}

// Run trains s over st task by task, evaluating the untrained model and then every task after
// every task. It returns the result, complete or (when err is non-nil) partial: the rows of R
// computed before a failure are kept and the result is marked failed, or interrupted when ctx
// was cancelled (checked before every step: the run stops at the next step, after writing a
// checkpoint when set.Checkpoint.Path is set).
//
// With set.Checkpoint.Resume it continues a run from a checkpoint (see strategies.Checkpointer
// for how the strategy's state is restored) and returns the result an uninterrupted run gives,
// bit for bit.
func (r *Runner) Run(ctx context.Context, st *stream.Stream, s strategies.Strategy, set Settings) (res *results.Result, err error) {
	name := set.Strategy
	log := r.Log
	if log == nil {
		log = logrus.StandardLogger()
	}
	// Install the configured BLAS (OpenBLAS when it loads) before any graph is built; only the
	// first call in a process does anything.
	blas.Setup()
	T := len(st.Tasks)
	spec := set.Spec.Clone()
	res = &results.Result{Strategy: name, Seed: set.Seed, Status: results.StatusOK, Spec: &spec}
	for _, t := range st.Tasks {
		res.Tasks = append(res.Tasks, t.Name)
	}
	res.ClassOrder = append([]int(nil), st.ClassOrder...)
	ev := Event{Strategy: name, Seed: set.Seed, Tasks: T, Steps: set.Iterations}
	endRSS := startRSS()
	defer func() {
		if rec := recover(); rec != nil {
			err = fmt.Errorf("%s: panic: %v", name, rec)
		}
		if err != nil {
			res.Status, res.Error, res.Metrics = results.StatusFailed, err.Error(), nil
			if Interrupted(err) {
				res.Status = results.StatusInterrupted
			}
		}
		res.Cost.PeakRSSBytes = endRSS()
		e := ev
		e.Kind, e.Err = RunEnd, err
		if herr := r.emit(e); herr != nil && err == nil {
			err = fmt.Errorf("%s: end of run: %w", name, herr)
			res.Status, res.Error, res.Metrics = results.StatusFailed, err.Error(), nil
			if Interrupted(err) {
				res.Status = results.StatusInterrupted
			}
		}
	}()
	if err := set.Spec.Validate(); err != nil {
		return res, err
	}
	if err := CheckSpec(set.Spec, st, s, name); err != nil {
		return res, err
	}
	ck := set.Checkpoint
	every := max(set.CheckpointEvery, 0)
	if ck.Resume != nil {
		if !Checkpointable(s) {
			return res, fmt.Errorf("%s: cannot resume: the strategy does not implement strategies.Checkpointer", name)
		}
		if err := r.CheckCheckpoint(ck.Resume, st, name, set); err != nil {
			return res, fmt.Errorf("%s: cannot resume: %w", name, err)
		}
	}
	rs := &runState{r: r, st: st, s: s, name: name, set: set, res: res}
	var stratRng *rand.Rand
	stratRng, rs.stratSrc = rngFor(set.Seed, 1)
	rs.sampleRng, rs.sampleSrc = rngFor(set.Seed, 2)
	own, hasOwn := s.(strategies.Sampler)
	rs.hasOwn = hasOwn
	if ck.Path != "" {
		if Checkpointable(s) {
			rs.header = r.header(st, name, set)
			rs.save = true
		} else {
			log.WithField("strategy", name).Warn("no checkpoints: the strategy does not implement strategies.Checkpointer, so an interrupted run restarts from scratch")
		}
	}
	env := &strategies.Env{Stream: st, Hidden: set.Hidden, Filters: set.ConvFilters(), LR: set.LR, Batch: set.Batch, EvalBatch: set.EvalBatch,
		Iterations: set.Iterations, Optimizer: set.Optimizer, Rng: stratRng, Log: log.WithField("strategy", name)}
	if err := s.Setup(env); err != nil {
		return res, fmt.Errorf("%s: setup: %w", name, err)
	}
	if rv, ok := s.(strategies.Resolver); ok {
		res.Resolved = rv.Resolved()
	}
	if err := r.emit(withKind(ev, RunStart)); err != nil {
		return res, fmt.Errorf("%s: after setup: %w", name, err)
	}
	ev2 := newEvaluator(st, set.EvalBatch)
	startTask, startStep, mid := 0, 0, false
	if ck.Resume == nil {
		if res.Init, err = initialise(ctx, log, st, s, name, set); err != nil {
			return res, fmt.Errorf("%s: %w", name, err)
		}
		t0 := time.Now()
		if res.B, err = ev2.row(s, -1); err != nil {
			return res, fmt.Errorf("%s: initial evaluation: %w", name, err)
		}
		if ev2.hasVal {
			if res.BVal, err = ev2.valRow(s, -1); err != nil {
				return res, fmt.Errorf("%s: initial evaluation on the validation splits: %w", name, err)
			}
		}
		res.Cost.EvalSeconds += time.Since(t0).Seconds()
	} else {
		h := ck.Resume.Header
		if err := rs.restore(ck.Resume); err != nil {
			return res, fmt.Errorf("%s: resuming at task %d, step %d: %w", name, h.Task+1, h.Step, err)
		}
		startTask, startStep, mid = h.Task, h.Step, !h.Done
		if h.Done {
			startTask++
		}
		log.WithFields(logrus.Fields{"strategy": name, "seed": set.Seed, "task": fmt.Sprintf("%d/%d", h.Task+1, T), "step": h.Step, "done": h.Done}).Info("resuming from checkpoint")
	}
	batch := stream.NewBatch(set.Batch, st.InputDim)
	hidden := set.HiddenBoundaries()
	known := paramNames(s.Params()) // what initialise set, or the checkpoint restored
	for t := startTask; t < T; t++ {
		i0 := 0
		ev.Task, ev.Step, ev.Samples, ev.Elapsed = t, 0, 0, 0
		if mid && t == startTask {
			// StartTask(t) was replayed and the sampler restored by rs.restore.
			i0 = startStep
			ev.Step, ev.Samples, ev.Elapsed = i0, rs.taskSamples, rs.taskElapsed
			if err := r.emit(withKind(ev, TaskStart)); err != nil {
				return res, fmt.Errorf("%s: start of task %d: %w", name, t+1, err)
			}
		} else {
			if ts, ok := s.(strategies.TaskStarter); ok && !hidden {
				if err := ts.StartTask(t); err != nil {
					return res, fmt.Errorf("%s: start of task %d: %w", name, t+1, err)
				}
				if n := initNewParams(set, s.Params(), known, t); n > 0 {
					log.WithFields(logrus.Fields{"strategy": name, "task": t + 1, "tensors": n}).Debug("new parameters initialised: truncated normal, std 0.1, biases 0.1")
				}
			}
			rs.sampler = nil
			if !hasOwn {
				rs.sampler = stream.NewSampler(rs.sampleRng, st.Tasks[t])
			}
			if err := r.emit(withKind(ev, TaskStart)); err != nil {
				return res, fmt.Errorf("%s: start of task %d: %w", name, t+1, err)
			}
		}
		base := ev.Elapsed
		start := time.Now()
		for i := i0; i < set.Iterations; i++ {
			if err := ctx.Err(); err != nil {
				ev.Step, ev.Elapsed = i, base+time.Since(start)
				err = fmt.Errorf("%s: stopped at step %d of task %d: %w", name, i, t+1, err)
				if errors.Is(context.Cause(ctx), ErrAbandon) {
					return res, err // the folder is someone else's now: leave its checkpoint alone
				}
				if serr := rs.checkpoint(ev, false); serr != nil {
					err = fmt.Errorf("%w; the checkpoint could not be written (an earlier one may remain): %v", err, serr)
				}
				return res, err
			}
			if hasOwn {
				own.Sample(t, batch, set.Batch, rs.sampleRng)
			} else if t > 0 && i < set.Blurry {
				fillBlurry(batch, rs.sampler, st.Tasks[t-1], rs.sampleRng, set.Batch, i, set.Blurry)
			} else {
				rs.sampler.Fill(batch, set.Batch)
			}
			if !st.HasTaskIdentity() {
				batch.HideTasks() // the scenario gives no task identity (stream.Batch)
			}
			cur := t
			if hidden {
				cur = T - 1 // task-free: no current task, every output unit active
			}
			info, err := s.Step(cur, batch)
			if err == nil && (math.IsNaN(float64(info.Loss+info.Penalty)) || math.IsInf(float64(info.Loss+info.Penalty), 0)) {
				err = strategies.Diverged(info.Loss, info.Penalty)
			}
			if err != nil {
				return res, fmt.Errorf("%s: task %d, step %d: %w", name, t+1, i+1, err)
			}
			if info.Samples == 0 {
				info.Samples = batch.N
			}
			ev.Step, ev.Loss, ev.Penalty = i+1, info.Loss, info.Penalty
			ev.Samples += info.Samples
			ev.Elapsed = base + time.Since(start)
			if err := r.emit(withKind(ev, Step)); err != nil {
				return res, fmt.Errorf("%s: task %d, step %d: %w", name, t+1, i+1, err)
			}
			if every > 0 && (res.Cost.Steps+i+1)%every == 0 && i+1 < set.Iterations {
				ts := time.Now()
				if err := rs.checkpoint(ev, false); err != nil {
					return res, fmt.Errorf("%s: task %d, step %d: %w", name, t+1, i+1, err)
				}
				start = start.Add(time.Since(ts)) // saving is not training time
			}
		}
		elapsed := base + time.Since(start)
		res.Cost.TrainSeconds += elapsed.Seconds()
		res.Cost.Steps += set.Iterations
		rs.samples += ev.Samples
		if te, ok := s.(strategies.TaskEnder); ok && !hidden {
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
		if ev2.hasVal {
			vrow, err := ev2.valRow(s, t)
			if err != nil {
				return res, fmt.Errorf("%s: validation after task %d: %w", name, t+1, err)
			}
			res.RVal = append(res.RVal, vrow)
		}
		res.Cost.EvalSeconds += time.Since(te).Seconds()
		res.R = append(res.R, row)
		e := withKind(ev, TaskEnd)
		e.Row = row
		if err := r.emit(e); err != nil {
			return res, fmt.Errorf("%s: end of task %d: %w", name, t+1, err)
		}
		if t < T-1 {
			if err := rs.checkpoint(ev, true); err != nil {
				return res, fmt.Errorf("%s: end of task %d: %w", name, t+1, err)
			}
			if err := ctx.Err(); err != nil {
				return res, fmt.Errorf("%s: stopped after task %d: %w", name, t+1, err)
			}
		}
	}
	res.Cost.Params = s.Params().Count()
	if res.Cost.TrainSeconds > 0 {
		res.Cost.StepsPerSecond = float64(res.Cost.Steps) / res.Cost.TrainSeconds
		res.Cost.SamplesPerSecond = float64(rs.samples) / res.Cost.TrainSeconds
	}
	m, err := results.ComputeFor(res.R, res.B, set.Spec.Scenario)
	if err != nil {
		return res, fmt.Errorf("%s: metrics: %w", name, err)
	}
	res.Metrics = &m
	if cr, ok := s.(strategies.CapacityReport); ok {
		of, task, cum := cr.Capacity()
		res.Capacity = &results.Capacity{Of: of, Task: task, Cumulative: cum}
	}
	return res, nil
}

// runState is the state of one run that checkpoints save and restore beyond the strategy.
type runState struct {
	r      *Runner
	st     *stream.Stream
	s      strategies.Strategy
	name   string
	set    Settings
	res    *results.Result
	hasOwn bool // the strategy samples its own batches

	stratSrc, sampleSrc *strategies.Source
	sampleRng           *rand.Rand
	sampler             *stream.Sampler // the runner's sampler of the task in progress

	samples     int           // examples trained on in finished tasks
	taskSamples int           // restored: examples trained on in the task in progress
	taskElapsed time.Duration // restored: training time in the task in progress

	save   bool // checkpoints are written
	header CheckpointHeader
}

// checkpoint saves the run at ev's position (after ev.Step steps of ev.Task, or at the end of
// ev.Task when done).
func (rs *runState) checkpoint(ev Event, done bool) error {
	if !rs.save {
		return nil
	}
	c, err := rs.snapshot(ev, done)
	if err != nil {
		return err
	}
	path := rs.set.Checkpoint.Path
	if err := WriteCheckpoint(path, c); err != nil {
		return err
	}
	e := withKind(ev, CheckpointSaved)
	e.Checkpoint = path
	return rs.r.emit(e)
}

// snapshot returns the run's state as a Checkpoint to write at once: its tensors are views of
// the live ones (parameters, optimizer moments) and a StateWriter strategy's state is streamed
// when it is written, so nothing of the model's size is copied.
func (rs *runState) snapshot(ev Event, done bool) (*Checkpoint, error) {
	h := rs.header
	h.CreatedAt = time.Now().UTC()
	h.Task, h.Step, h.Done = ev.Task, ev.Step, done
	res := rs.res
	cost := res.Cost
	cost.ParamsPerTask = append([]int(nil), cost.ParamsPerTask...)
	b := CheckpointState{CheckpointProgress: CheckpointProgress{B: res.B, R: res.R, BVal: res.BVal, RVal: res.RVal, Cost: cost, Init: res.Init, Samples: rs.samples},
		Params: strategies.ViewParams(rs.s.Params())}
	if !done {
		b.TaskSamples, b.TaskNanos = ev.Samples, int64(ev.Elapsed)
	}
	if o, ok := rs.s.(strategies.Optimized); ok && o.Optimizer() != nil {
		b.Adam = strategies.ViewAdam(o.Optimizer())
	}
	var err error
	if b.StrategyRand, err = rs.stratSrc.MarshalBinary(); err != nil {
		return nil, err
	}
	if b.SampleRand, err = rs.sampleSrc.MarshalBinary(); err != nil {
		return nil, err
	}
	if !done && rs.sampler != nil {
		ss := rs.sampler.State()
		b.Sampler = &SamplerCheckpoint{Order: ss.Order, Pos: ss.Pos}
	}
	if sw, ok := rs.s.(strategies.StateWriter); ok {
		b.strategyWriter = sw
	} else if b.Strategy, err = rs.s.(strategies.Checkpointer).SaveState(); err != nil {
		return nil, fmt.Errorf("saving the strategy's state: %w", err)
	}
	if sc, ok := rs.s.(strategies.SamplingCheckpointer); ok {
		if b.Sampling, err = sc.SaveSampling(); err != nil {
			return nil, fmt.Errorf("saving the strategy's sampler: %w", err)
		}
	}
	return &Checkpoint{Header: h, State: b}, nil
}

// restore brings a freshly set up strategy and the run to c's position: it replays
// StartTask(0..c.Task), then restores the strategy's own state, its parameters and optimizer,
// the random sources (in place), the samplers and the partial result.
func (rs *runState) restore(c *Checkpoint) error {
	h, b := c.Header, c.State
	s := rs.s
	if ts, ok := s.(strategies.TaskStarter); ok && !rs.set.HiddenBoundaries() {
		for k := 0; k <= h.Task; k++ {
			if err := ts.StartTask(k); err != nil {
				return fmt.Errorf("replaying the start of task %d: %w", k+1, err)
			}
		}
	}
	if err := s.(strategies.Checkpointer).LoadState(b.Strategy); err != nil {
		return fmt.Errorf("restoring the strategy's state: %w", err)
	}
	if err := strategies.LoadParams(s.Params(), b.Params); err != nil {
		return err
	}
	o, ok := s.(strategies.Optimized)
	switch {
	case ok && o.Optimizer() != nil && b.Adam != nil:
		if err := strategies.LoadAdam(o.Optimizer(), b.Adam, s.Params()); err != nil {
			return err
		}
	case ok && o.Optimizer() != nil:
		return errors.New("the checkpoint holds no optimizer state for the strategy's optimizer")
	case b.Adam != nil:
		return errors.New("the checkpoint holds optimizer state but the strategy has no optimizer")
	}
	if err := rs.stratSrc.UnmarshalBinary(b.StrategyRand); err != nil {
		return err
	}
	if err := rs.sampleSrc.UnmarshalBinary(b.SampleRand); err != nil {
		return err
	}
	rs.sampler = nil
	if !h.Done && !rs.hasOwn {
		if b.Sampler == nil {
			return errors.New("the checkpoint holds no sampler for the task in progress")
		}
		sp, err := stream.RestoreSampler(rs.sampleRng, stream.SamplerState{Order: b.Sampler.Order, Pos: b.Sampler.Pos}, rs.st.Tasks[h.Task])
		if err != nil {
			return err
		}
		rs.sampler = sp
	}
	if sc, ok := s.(strategies.SamplingCheckpointer); ok {
		if err := sc.LoadSampling(b.Sampling, rs.sampleRng); err != nil {
			return fmt.Errorf("restoring the strategy's sampler: %w", err)
		}
	} else if len(b.Sampling) > 0 {
		return errors.New("the checkpoint holds a sampler state the strategy cannot load")
	}
	res := rs.res
	res.B = append([]float64(nil), b.B...)
	res.R = nil
	for _, row := range b.R {
		res.R = append(res.R, append([]float64(nil), row...))
	}
	res.BVal, res.RVal = nil, nil
	if b.BVal != nil {
		res.BVal = append([]float64(nil), b.BVal...)
	}
	for _, row := range b.RVal {
		res.RVal = append(res.RVal, append([]float64(nil), row...))
	}
	res.Cost = b.Cost
	res.Init = b.Init
	res.Cost.ParamsPerTask = append([]int(nil), b.Cost.ParamsPerTask...)
	rs.samples, rs.taskSamples, rs.taskElapsed = b.Samples, b.TaskSamples, time.Duration(b.TaskNanos)
	return nil
}

func withKind(e Event, k EventKind) Event { e.Kind = k; return e }

// evaluator scores every task's test split (and validation split, when the stream has them)
// through a strategy.
type evaluator struct {
	st     *stream.Stream
	batch  *stream.Batch
	scores []float32
	n      int
	hasVal bool // some task has a validation split
}

func newEvaluator(st *stream.Stream, n int) *evaluator {
	e := &evaluator{st: st, batch: stream.NewBatch(n, st.InputDim), scores: make([]float32, n*st.Outputs), n: n}
	for _, t := range st.Tasks {
		e.hasVal = e.hasVal || t.Val.Len() > 0
	}
	return e
}

// valRow returns the accuracy on every task's validation split after training on tasks
// 0..after (-1: untrained); a task without one scores NaN.
func (e *evaluator) valRow(s strategies.Strategy, after int) ([]float64, error) {
	out := make([]float64, len(e.st.Tasks))
	for j, t := range e.st.Tasks {
		if t.Val.Len() == 0 {
			out[j] = math.NaN()
			continue
		}
		a, err := accuracyOn(s, e.st, after, j, &t.Val, e.batch, e.scores)
		if err != nil {
			return nil, err
		}
		out[j] = a
	}
	return out, nil
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
// test examples whose highest-scoring active unit (ActiveUnits(after, j)) is the target. Outside
// task-IL the batches given to s.Scores carry no task (stream.NoTask).
// batch and scores are work buffers (batch capacity rows, capacity*Outputs scores).
func Accuracy(s strategies.Strategy, st *stream.Stream, after, j int, batch *stream.Batch, scores []float32) (float64, error) {
	return accuracyOn(s, st, after, j, &st.Tasks[j].Test, batch, scores)
}

// accuracyOn is Accuracy on split sp of task j (its test or validation split).
func accuracyOn(s strategies.Strategy, st *stream.Stream, after, j int, sp *stream.Split, batch *stream.Batch, scores []float32) (float64, error) {
	t := st.Tasks[j]
	units := st.ActiveUnits(after, j)
	capRows := cap(batch.Target)
	if capRows == 0 {
		return 0, errors.New("loop: zero-capacity evaluation batch")
	}
	correct, n := 0, sp.Len()
	O := st.Outputs
	for start := 0; start < n; start += capRows {
		batch.Reset()
		for k := start; k < n && k < start+capRows; k++ {
			batch.Add(t, sp, k)
		}
		if !st.HasTaskIdentity() {
			batch.HideTasks() // the scenario gives no task identity at test time (stream.Batch)
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

// rssRuns counts the runs in progress in the process, so that the peak resident set size is
// reset only when a run starts alone (a reset would lower the peaks of runs in progress).
var rssRuns struct {
	sync.Mutex
	active int
}

// startRSS begins a run's memory measurement: when no other run is in progress, it resets the
// process's peak resident set size (VmHWM) to its current size by writing "5" to
// /proc/self/clear_refs (Linux), so that the peak read at the end of the run is the run's own,
// not that of an earlier run of the process (the memory those runs left is first returned to the
// OS: debug.FreeOSMemory). Where the reset is unavailable (another OS, a read-only /proc) the
// peak stays the whole process's. Concurrent runs of one process (sweep workers) share one
// peak: each reads the peak since the last time no run was in progress. The returned function
// ends the measurement and returns the peak in bytes (0 where unavailable).
func startRSS() (end func() int64) {
	rssRuns.Lock()
	if rssRuns.active == 0 {
		// Return the memory earlier runs left to the OS first, so that the peak starts from
		// what the process holds now rather than from their garbage.
		debug.FreeOSMemory()
		resetPeakRSS()
	}
	rssRuns.active++
	rssRuns.Unlock()
	return func() int64 {
		p := peakRSS()
		rssRuns.Lock()
		rssRuns.active--
		rssRuns.Unlock()
		return p
	}
}

// resetPeakRSS resets VmHWM to the current resident set size; it reports whether it could.
func resetPeakRSS() bool {
	f, err := os.OpenFile("/proc/self/clear_refs", os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	_, err = f.WriteString("5")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err == nil
}

// peakRSS reads the process's peak resident set size (VmHWM) from /proc: since the last
// resetPeakRSS, else since the process started (0 where unavailable).
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

// BlurryShare is the share of the new task's examples in step i (from 0) of a blurry
// transition of w steps: (i+1)/(w+1), rising linearly towards 1.
func BlurryShare(i, w int) float64 { return float64(i+1) / float64(w+1) }

// fillBlurry fills b with n examples for step i of a blurry transition of w steps: the new
// task's share (BlurryShare, rounded to whole examples) from its sampler, the rest drawn
// uniformly, with rng, from the previous task's training split; then the rows are shuffled with
// rng, so that strategies reading a batch in order (MER's per-example steps, a prefix) see the
// two tasks mixed.
func fillBlurry(b *stream.Batch, sp *stream.Sampler, prev *stream.Task, rng *rand.Rand, n, i, w int) {
	fresh := min(n, int(BlurryShare(i, w)*float64(n)+0.5))
	sp.Fill(b, fresh)
	for m := prev.Train.Len(); b.N < n && m > 0; {
		b.Add(prev, &prev.Train, rng.Intn(m))
	}
	b.Shuffle(rng)
}
