package strategies

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/stream"
	"github.com/sirupsen/logrus"
	G "gorgonia.org/gorgonia"
)

// Env is what the runner gives a strategy to build its model: the stream and the protocol's
// settings. Every field is set by the runner.
type Env struct {
	Stream *stream.Stream
	Hidden []int // hidden layer sizes of the MLP trunk (after the conv layers, if any)
	// Filters, when not empty, makes Base's trunk a conv trunk: one 5×5 conv layer (ReLU, 2×2
	// max-pool) per value, its output channels, over the inputs read as square single-channel
	// images, then the dense layers of Hidden (runspec's model=conv). Only strategies for which
	// RunsOnConv holds are given one.
	Filters   []int
	LR        float64 // learning rate
	Batch     int     // examples of the current task per step
	EvalBatch int     // rows per evaluation-graph run
	// Optimizer is the run's optimiser, runspec's adam (or empty), sgd or adagrad: NewOptimizer
	// builds it.
	Optimizer string
	// Iterations is the number of Step calls per task (the protocol's), for strategies that
	// schedule work within a task (PackNet prunes part-way through); 0 when unknown.
	Iterations int
	// Rng is the strategy's own random source, seeded from the run's seed. Strategies draw all
	// their randomness from it (initialisation, sampling), so a seed fixes the run.
	Rng *rand.Rand
	Log logrus.FieldLogger
}

// StepInfo is what one training step reports.
type StepInfo struct {
	Loss    float32 // data loss (weighted cross-entropy)
	Penalty float32 // regulariser term added to the loss, 0 if none
	Samples int     // examples processed in the step (current plus replayed)
}

// ConvTrunker is implemented by strategies that run on a conv trunk (Env.Filters, runspec's
// model=conv): their model is Base's trunk and heads, and nothing of theirs reads the trunk's
// dense layers as the whole network (a per-layer Fisher, a pure-Go copy of the network, masks over
// dense units). Base implements it (true), so a strategy built on Base runs on a conv trunk unless
// it says otherwise: one that builds a network of its own beside Base's, or reads Base's trunk as
// dense layers only, overrides ConvTrunk to return false (or, like XdG, to depend on its
// configuration). The runner refuses, before training, a conv trunk for strategies without it or
// that return false (pnn, whose columns are its own dense networks, does not embed Base).
type ConvTrunker interface {
	// ConvTrunk reports whether the strategy, as configured, runs on a conv trunk.
	ConvTrunk() bool
}

// RunsOnConv reports whether s runs on a conv trunk (it implements ConvTrunker and says so).
func RunsOnConv(s Strategy) bool {
	c, ok := s.(ConvTrunker)
	return ok && c.ConvTrunk()
}

// ConvKernel is the kernel size of a conv trunk's layers.
const ConvKernel = 5

// Strategy is a continual-learning method: it builds a Gorgonia graph for a stream, trains it one
// mini-batch at a time, and scores examples. The runner calls Setup once, then for each task
// (StartTask if implemented), Step Iterations times, (EndTask if implemented), and Scores to
// evaluate. Optional capabilities are extra interfaces, listed in the package documentation
// (TaskStarter, TaskEnder, Sampler, SamplingCheckpointer, Requirer, Modeler, Optimized, Named,
// Checkpointer, Resolver); Base provides the common ones.
type Strategy interface {
	// Setup builds the model for env's stream. It is called once, before the first task.
	Setup(env *Env) error
	// Step trains on one mini-batch b of the current task cur (0-based). In task-IL b.Task holds
	// each example's task; in domain- and class-IL it holds stream.NoTask (-1) in every row.
	Step(cur int, b *stream.Batch) (StepInfo, error)
	// Scores writes the model's output scores for the n examples of b into out, laid out in the
	// stream's global output space (b.N x Stream.Outputs, row-major). Units the model has no
	// output for must hold graphs.MaskOff. In task-IL the example's task (b.Task) is given:
	// strategies that require task identity use it. In domain- and class-IL b.Task holds
	// stream.NoTask (-1) in every row: the scenario gives no task identity at test time.
	Scores(b *stream.Batch, out []float32) error
	// Params lists the strategy's learnable parameters (every tensor the graph learns).
	Params() *graphs.ParamSet
}

// TaskStarter is implemented by strategies with work to do before training on a task (e.g.
// growing a progressive column).
type TaskStarter interface {
	StartTask(cur int) error
}

// TaskEnder is implemented by strategies with work to do after training on a task (e.g. EWC's
// Fisher, filling a replay memory).
type TaskEnder interface {
	EndTask(cur int) error
}

// Sampler is implemented by strategies that draw their own training batches instead of the
// runner's shuffled batches of the current task (e.g. joint training over all tasks so far).
type Sampler interface {
	// Sample fills b with n training examples for a step on task cur, drawing from rng.
	Sample(cur int, b *stream.Batch, n int, rng *rand.Rand)
}

// Requirements are what a strategy needs from the scenario.
type Requirements struct {
	// TaskIdentity: the strategy picks parameters by task identity at test time, so it only runs
	// in task-incremental scenarios.
	TaskIdentity bool
	// Scenarios, when not empty, lists the only scenarios the strategy runs in (e.g. iCaRL:
	// class-IL), and Reason says why, in a phrase ("one sigmoid output per class, ...").
	Scenarios []stream.Scenario
	Reason    string
}

// Runs returns the scenarios r allows, in stream.Scenarios order.
func (r Requirements) Runs() []stream.Scenario {
	var out []stream.Scenario
	for _, sc := range stream.Scenarios {
		if r.TaskIdentity && sc != stream.TaskIL {
			continue
		}
		if len(r.Scenarios) > 0 && !slices.Contains(r.Scenarios, sc) {
			continue
		}
		out = append(out, sc)
	}
	return out
}

// Check returns nil when strategy name (as the user wrote it) can run in scenario sc, else an
// error that says why and which scenario to use instead.
func (r Requirements) Check(name string, sc stream.Scenario) error {
	if slices.Contains(r.Runs(), sc) {
		return nil
	}
	if r.TaskIdentity {
		return fmt.Errorf("strategy %s needs task identities at test time, which the %s-IL scenario does not give; run it with --scenario task", name, sc)
	}
	var use []string
	for _, s := range r.Runs() {
		use = append(use, "--scenario "+s.String())
	}
	return fmt.Errorf("strategy %s does not run in the %s-IL scenario (%s); run it with %s", name, sc, r.Reason, strings.Join(use, " or "))
}

// Describe returns the scenarios r allows for listings: "task, domain, class", "task only
// (needs task identity at test time)" or e.g. "class only (<Reason>)".
func (r Requirements) Describe() string {
	runs := r.Runs()
	names := make([]string, len(runs))
	for i, s := range runs {
		names[i] = s.String()
	}
	switch {
	case len(runs) == len(stream.Scenarios):
		return strings.Join(names, ", ")
	case r.TaskIdentity && len(r.Scenarios) == 0:
		return "task only (needs task identity at test time)"
	}
	return strings.Join(names, ", ") + " only (" + r.Reason + ")"
}

// Requirer is implemented by strategies with requirements; the runner checks them before
// training starts, and listings ask them too (Registry.Requirements), so they are declared here
// only. Base implements it (heads=multi needs task identity).
type Requirer interface {
	Requires() Requirements
}

// Modeler is implemented by strategies whose current Gorgonia model can be inspected (drawn,
// benchmarked).
type Modeler interface {
	Model() *graphs.Model
}

// RequirementsOf returns s's requirements (none when it does not implement Requirer).
func RequirementsOf(s Strategy) Requirements {
	if r, ok := s.(Requirer); ok {
		return r.Requires()
	}
	return Requirements{}
}

// NamedGraph is a Gorgonia graph a strategy trains besides its classifier's, with a name for
// file names and titles (e.g. "generator").
type NamedGraph struct {
	Name  string
	Graph *G.ExprGraph
}

// Grapher is implemented by strategies that train more graphs than their Model's training graph
// (dgr's generator): clgraph graph draws each of them too.
type Grapher interface {
	// Graphs returns the extra graphs, built by Setup.
	Graphs() []NamedGraph
}

// Initialized is implemented by strategies that keep a copy of their parameters from Setup (an
// anchor, a snapshot to re-initialise from): when a run starts from other parameters (a model
// file, a pre-trained trunk) the runner writes them into Params after Setup and then calls
// ParamsInitialized, before the first task.
type Initialized interface {
	ParamsInitialized()
}

// CapacityReport is implemented by strategies that give each task a part of the network (HAT,
// PackNet): the runner records Capacity in the result after the run.
type CapacityReport interface {
	// Capacity returns what it counts (e.g. "hidden units", "trunk weights") and, per task
	// ended, the fraction of them that task uses and the fraction all tasks so far use together.
	Capacity() (of string, task, cumulative []float64)
}

// Generative is implemented by strategies with a generator (dgr, rtf): after each task the
// runner's cells draw what it replays and how it reconstructs test inputs (results.SamplesDir).
type Generative interface {
	// Generator returns a snapshot of the current generator.
	Generator() *graphs.Generator
}

// NewOptimizer returns the run's optimiser at its learning rate: Adam, plain SGD when Optimizer
// is "sgd" (graphs.Adam with SGD set), or Adagrad (eps 1e-10, PyTorch's) when it is "adagrad".
func (e *Env) NewOptimizer() *graphs.Adam {
	a := graphs.NewAdam(e.LR)
	a.SGD = e.Optimizer == "sgd"
	if e.Optimizer == "adagrad" {
		a.Adagrad, a.Eps = true, 1e-10
	}
	return a
}
