// Package streams is the registry of task streams, in the style of image.RegisterFormat and
// database/sql: each stream registers its name, documentation, builder, protocol presets and the
// default strengths of strategies' automatic options in one file (split.go, permuted.go), and
// the CLI, sweeps and tests find it by name. Datasets are loaded by their own packages
// (datasets/mnist); Data holds one in memory for every stream and seed built over it.
//
// Adding a stream is one file that calls Register in an init function, plus its tests.
package streams

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"sync"

	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/stream"
)

// Def is a registered stream.
type Def struct {
	// Name is the stream's name, e.g. "split-mnist"; Aliases are other names it answers to.
	Name    string
	Aliases []string
	// Doc is one line for listings.
	Doc string
	// DefaultTasks is the number of tasks when the spec gives 0.
	DefaultTasks int
	// Scenarios are the scenarios the stream can be built in.
	Scenarios []stream.Scenario
	// Build builds the stream over data for spec (stream, scenario, tasks, class order, limits
	// and seed; spec.Tasks is resolved, never 0). It returns an error for settings it cannot
	// build, before any training.
	Build func(data *Data, spec runspec.Spec, sc stream.Scenario) (*stream.Stream, error)
	// Protocols are the protocol presets: name -> the settings that protocol fixes (iterations,
	// batch, evaluation batch, learning rate, hidden sizes, test limit). Every stream has
	// "paper" and "quick".
	Protocols map[string]runspec.Spec
	// Defaults are the default values of strategies' automatic options on this stream, by
	// protocol name: a stream built with a spec of that protocol gets Defaults[protocol].Values
	// (stream.Stream.Defaults documents the keys). A spec that overrides some of the protocol's
	// settings still takes its protocol's values. A protocol without an entry gets none (every
	// auto option then takes its strategy's fallback).
	Defaults map[string]Tuning
	// Untuned, when not empty, says why the stream has no tuned defaults yet: its auto options
	// take their strategies' fallbacks, and clgraph run says so (Untuned).
	Untuned string
}

// Untuned returns why spec's stream has no tuned default strengths at spec's protocol, or ""
// when it has them (or the stream is unknown).
func Untuned(spec runspec.Spec) string {
	d, ok := Default.Lookup(spec.Stream)
	if !ok {
		return ""
	}
	if _, ok := d.Defaults[spec.Protocol]; ok {
		return ""
	}
	if d.Untuned != "" {
		return d.Untuned
	}
	return "no tuning sweep was run for this protocol"
}

// Tuning is the default strengths of one protocol of a stream and where they come from.
type Tuning struct {
	// Values are the defaults, keyed as stream.Stream.Defaults.
	Values map[string]float64
	// Seeds are the seeds the values were selected with (on validation data). Numbers reported
	// for these seeds are not held out from the selection, so clgraph run warns when asked for
	// them with auto options.
	Seeds []int64
	// Source says how the values were chosen: the sweep file and its summary in the repository,
	// or which other protocol's values are reused untuned.
	Source string
}

// DefaultStepLog is the step-log cadence (runspec's step_log) of a spec that does not set it: a
// line of steps.csv and TensorBoard scalars every 10 steps.
const DefaultStepLog = 10

// ReportedSeeds are the seeds clgraph's runs and reference tables report (clgraph run's default
// seeds are a prefix of them). Default strengths are tuned with other seeds.
var ReportedSeeds = []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}

// TuningOf returns the tuning of spec's stream and protocol, and whether there is one.
func (r *Registry) TuningOf(spec runspec.Spec) (Tuning, bool) {
	d, ok := r.Lookup(spec.Stream)
	if !ok {
		return Tuning{}, false
	}
	t, ok := d.Defaults[spec.Protocol]
	return t, ok
}

// TuningOf returns the tuning of spec's stream and protocol in the Default registry.
func TuningOf(spec runspec.Spec) (Tuning, bool) { return Default.TuningOf(spec) }

// Registry maps stream names to their definitions. The zero value is not usable: call
// NewRegistry.
type Registry struct {
	mu sync.RWMutex
	m  map[string]*Def // name and aliases -> def
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{m: map[string]*Def{}} }

// Default is the registry the CLI uses; the built-in streams register themselves in it.
var Default = NewRegistry()

// Register adds d to the Default registry. See Registry.Register.
func Register(d Def) { Default.Register(d) }

// Register adds a stream. It panics on an empty name, a nil builder, a missing paper or quick
// preset, or a name or alias already taken: these are programming errors found at start-up.
func (r *Registry) Register(d Def) {
	if d.Name == "" || strings.ContainsAny(d.Name, " ,:=/") {
		panic(fmt.Sprintf("streams: invalid stream name %q", d.Name))
	}
	if d.Build == nil {
		panic("streams: Register of " + d.Name + " with a nil builder")
	}
	for _, p := range []string{"paper", "quick"} {
		if _, ok := d.Protocols[p]; !ok {
			panic("streams: " + d.Name + " registers no " + p + " protocol")
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range append([]string{d.Name}, d.Aliases...) {
		if _, dup := r.m[n]; dup {
			panic("streams: Register called twice for " + n)
		}
	}
	def := d
	for _, n := range append([]string{d.Name}, d.Aliases...) {
		r.m[n] = &def
	}
}

// Lookup returns the stream registered under name or one of its aliases.
func (r *Registry) Lookup(name string) (*Def, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.m[name]
	return d, ok
}

// Defs returns every registered stream, sorted by name.
func (r *Registry) Defs() []*Def {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []*Def
	for n, d := range r.m {
		if n == d.Name {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b *Def) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Names returns the registered stream names (not aliases), sorted.
func (r *Registry) Names() []string {
	var n []string
	for _, d := range r.Defs() {
		n = append(n, d.Name)
	}
	return n
}

// Protocols returns the protocol names the stream registers, sorted.
func (d *Def) ProtocolNames() []string {
	var n []string
	for k := range d.Protocols {
		n = append(n, k)
	}
	slices.Sort(n)
	return n
}

// literatureSeeds is the one switch of the paper protocols' seed convention. True takes the
// literature's reference code's (van de Ven & Tolias 2019): each seed draws its own class order
// (class_order_mode random) and permutes every task (permute_first), so the spread over seeds
// is comparable with published standard deviations. False would keep clgraph's first one (split
// MNIST deals digits 0..9 in order, permuted MNIST leaves task 1 the original images), which the
// quick protocol still uses. Either convention can be had under either protocol with those two
// settings.
const literatureSeeds = true

// paperClassOrder is the class_order_mode of split streams' paper protocol (literatureSeeds).
func paperClassOrder() string {
	if literatureSeeds {
		return runspec.ClassOrderRandom
	}
	return "" // fixed, written as the field's zero value so that older config.json files match
}

// DefaultSpec is the spec of a run with no settings given: split MNIST, task-IL, the quick
// protocol.
var DefaultSpec = runspec.Spec{Stream: "split-mnist", Scenario: "task", Protocol: "quick"}

// Spec resolves a run's settings: it starts from DefaultSpec with o's stream, scenario and
// protocol, takes the stream's preset for the protocol, applies o over it, fills the stream's
// default task count and checks the result. Errors say which setting is wrong.
func (r *Registry) Spec(o runspec.Overrides) (runspec.Spec, error) {
	s := DefaultSpec.Clone()
	if err := o.Apply(&s); err != nil {
		return s, err
	}
	d, ok := r.Lookup(s.Stream)
	if !ok {
		return s, fmt.Errorf("unknown stream %q (known: %s)", s.Stream, strings.Join(r.Names(), ", "))
	}
	preset, ok := d.Protocols[s.Protocol]
	if !ok {
		return s, fmt.Errorf("unknown protocol %q for %s (known: %s)", s.Protocol, d.Name, strings.Join(d.ProtocolNames(), ", "))
	}
	out := preset.Clone()
	out.Stream, out.Scenario, out.Protocol = d.Name, s.Scenario, s.Protocol
	out.CheckpointEvery = 0
	if err := o.Apply(&out); err != nil {
		return out, err
	}
	out.Stream = d.Name // an alias given by the overrides reads as the stream's name
	if !o.Has("step_log") {
		out.StepLog = DefaultStepLog
	}
	if len(out.TaskSizes) > 0 && !o.Has("tasks") {
		out.Tasks = len(out.TaskSizes)
	}
	if !o.Has("tasks") && out.Tasks == 0 {
		out.Tasks = d.DefaultTasks
	}
	if o.Has("tasks") && out.Tasks < 1 {
		return out, fmt.Errorf("tasks must be positive, got %d (leave it out for the stream's default, %d)", out.Tasks, d.DefaultTasks)
	}
	sc, err := stream.ParseScenario(out.Scenario)
	if err != nil {
		return out, err
	}
	if !slices.Contains(d.Scenarios, sc) {
		return out, fmt.Errorf("stream %s cannot be built in the %s-IL scenario", d.Name, sc)
	}
	out.Scenario = sc.String()
	if out.Boundaries == runspec.BoundariesGiven {
		out.Boundaries = "" // the default, spelt one way so that equal runs compare equal
	}
	if out.Model == runspec.ModelMLP {
		out.Model = "" // likewise
	}
	if out.Model == runspec.ModelConv && len(out.Filters) == 0 {
		out.Filters = out.ConvFilters() // recorded, so the spec says which network ran
	}
	if out.Model == runspec.ModelConv && !o.Has("hidden") {
		// The protocols' hidden sizes are the MLP's: the conv trunk takes one dense layer
		// (LeNet-like) unless hidden is given.
		out.Hidden = slices.Clone(runspec.DefaultConvHidden)
	}
	if err := out.Validate(); err != nil {
		return out, err
	}
	return out, nil
}

// Build builds the stream spec names over data, with spec.Seed drawing whatever the stream
// draws (e.g. permutations, a random class order) and the validation splits spec.ValPerTask asks
// for (CarveValidation). It returns an error, before any training, for an unknown stream or
// scenario or settings the stream cannot build.
func (r *Registry) Build(data *Data, spec runspec.Spec) (*stream.Stream, error) {
	d, ok := r.Lookup(spec.Stream)
	if !ok {
		return nil, fmt.Errorf("streams: unknown stream %q (known: %s)", spec.Stream, strings.Join(r.Names(), ", "))
	}
	if spec.Scenario == "" {
		return nil, fmt.Errorf("streams: no scenario given (valid: task, domain, class)")
	}
	sc, err := stream.ParseScenario(spec.Scenario)
	if err != nil {
		return nil, err
	}
	if spec.Tasks == 0 {
		spec.Tasks = d.DefaultTasks
	}
	s, err := d.Build(data, spec, sc)
	if err != nil {
		return nil, err
	}
	if t, ok := d.Defaults[spec.Protocol]; ok && len(t.Values) > 0 {
		s.Defaults = make(map[string]float64, len(t.Values))
		for k, v := range t.Values {
			s.Defaults[k] = v
		}
	}
	if len(spec.PretrainClasses) > 0 {
		// The pre-training images are padded and normalised as the stream's are.
		pd, err := prepared(data, spec)
		if err != nil {
			return nil, err
		}
		if s.Pretrain, err = pretrainTask(pd, spec.PretrainClasses); err != nil {
			return nil, err
		}
		if dim := s.Pretrain.Train.Data.Dim; dim != s.InputDim {
			return nil, fmt.Errorf("streams: the pre-training images have %d values, the stream's %d", dim, s.InputDim)
		}
	}
	if spec.ValPerTask > 0 {
		if err := CarveValidation(s, spec.ValPerTask, spec.Seed); err != nil {
			return nil, err
		}
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// valSalt separates the random source of validation splits from the seed's other uses.
const valSalt = 0x7a11d

// CarveValidation moves n training examples of every task of s, drawn from seed (each task from its
// own source), into the task's validation split (Task.Val), as val_per_task asks Build to. The
// examples left keep their order. It fails when a task has no more than n training examples.
func CarveValidation(s *stream.Stream, n int, seed int64) error {
	for _, t := range s.Tasks {
		tr := &t.Train
		if n >= tr.Len() {
			return fmt.Errorf("streams: val_per_task %d leaves no training examples in task %s, which has %d", n, t.Name, tr.Len())
		}
		rng := rand.New(rand.NewSource(seed ^ valSalt ^ int64(t.ID)<<20))
		pick := rng.Perm(tr.Len())[:n]
		slices.Sort(pick)
		val := stream.Split{Data: tr.Data, Index: make([]int32, 0, n), Target: make([]int32, 0, n)}
		keep := stream.Split{Data: tr.Data, Index: make([]int32, 0, tr.Len()-n), Target: make([]int32, 0, tr.Len()-n)}
		p := 0
		for k := range tr.Index {
			if p < n && pick[p] == k {
				val.Index, val.Target = append(val.Index, tr.Index[k]), append(val.Target, tr.Target[k])
				p++
				continue
			}
			keep.Index, keep.Target = append(keep.Index, tr.Index[k]), append(keep.Target, tr.Target[k])
		}
		t.Train, t.Val = keep, val
	}
	return nil
}

// Lookup returns the stream registered in Default under name or an alias.
func Lookup(name string) (*Def, bool) { return Default.Lookup(name) }

// Names returns the Default registry's stream names, sorted.
func Names() []string { return Default.Names() }

// Spec resolves settings against the Default registry (Registry.Spec).
func Spec(o runspec.Overrides) (runspec.Spec, error) { return Default.Spec(o) }

// Build builds a stream of the Default registry (Registry.Build).
func Build(data *Data, spec runspec.Spec) (*stream.Stream, error) { return Default.Build(data, spec) }

// Preset returns the spec of protocol on stream with no overrides (e.g. Preset("split-mnist",
// "paper", "class")).
func Preset(name, protocol, scenario string) (runspec.Spec, error) {
	var o runspec.Overrides
	for k, v := range map[string]string{"stream": name, "protocol": protocol, "scenario": scenario} {
		if err := o.Set(k, v); err != nil {
			return runspec.Spec{}, err
		}
	}
	return Spec(o)
}

// pretrainTask is the pre-training task of pretrain_classes: every original (unpermuted)
// training and test image of those classes, class c at unit i for classes[i].
func pretrainTask(data *Data, classes []int) (*stream.Task, error) {
	unit := map[int]int{}
	names := make([]string, len(classes))
	for i, c := range classes {
		if c < 0 || c >= data.Classes {
			return nil, fmt.Errorf("streams: pretrain_classes %v: class %d is not in 0..%d", classes, c, data.Classes-1)
		}
		if _, dup := unit[c]; dup {
			return nil, fmt.Errorf("streams: pretrain_classes %v lists class %d twice", classes, c)
		}
		unit[c] = i
		names[i] = fmt.Sprint(c)
	}
	if len(classes) < 2 {
		return nil, fmt.Errorf("streams: pretrain_classes %v: pre-training needs at least 2 classes to tell apart", classes)
	}
	t := &stream.Task{ID: -1, Name: "pretrain " + strings.Join(names, "/"), Classes: append([]int(nil), classes...)}
	for i := range classes {
		t.Units = append(t.Units, i)
	}
	u := func(c int) int { return unit[c] }
	t.Train = filter(data.Train, classes, u, 0)
	t.Test = filter(data.Test, classes, u, 0)
	return t, nil
}
