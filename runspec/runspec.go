// Package runspec holds the one type that defines a run: Spec, every setting of a stream, its
// scenario, the protocol, the strategy, the seed, the data source and the checkpoint cadence. It
// is written as-is into a run folder's config.json, a checkpoint's header and a sweep's manifest;
// command-line flags and sweep files change it through one Overrides type; and Diff compares two
// specs, naming the settings that differ (resume, report, merge).
//
// Each setting is one field of Spec, with its key (the json and yaml name, and with '_' read as
// '-' the command-line flag) and documentation in the field's tags. Adding a setting is adding a
// field: flags, overrides, files and Diff pick it up.
//
// The package imports nothing of the project, so that results files can be read without training
// code.
package runspec

import (
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Spec is everything that defines a run. The stream's presets for the protocol (streams.Spec)
// fill it, overrides change it, Validate checks it. A command over several strategies and seeds
// (clgraph run, a sweep group) carries one Spec with Strategy and Seed empty and lists them
// beside it; each cell's Spec names its own.
//
// Tags: key is the field's name in files and flags; label names it in messages; doc documents
// it; free:"true" marks settings that do not change results (the data folder, the checkpoint
// cadence: Diff's Results mode skips them, so a resume accepts them different); free:"compare"
// marks settings a report compares runs across while a resume does not accept them different:
// the evaluation batch (it changes results only in the last bits) and the initialisation
// (init_from, pretrain_classes, pretrain_iterations: comparing runs from scratch with
// pre-trained ones is the point; the report labels the series by run and states each one's
// initialisation).
type Spec struct {
	// Stream names the registered task stream, e.g. "split-mnist".
	Stream string `json:"stream" yaml:"stream" key:"stream" doc:"task stream (see 'clgraph streams')"`
	// Scenario is task, domain or class.
	Scenario string `json:"scenario" yaml:"scenario" key:"scenario" doc:"scenario: task, domain or class"`
	// Tasks is the number of tasks; 0 means the stream's default (resolved specs hold the count).
	Tasks int `json:"tasks" yaml:"tasks" key:"tasks" label:"number of tasks" doc:"number of tasks (0: the stream's default)"`
	// ClassOrder is the order in which a class-split stream deals classes into tasks; nil means
	// the natural order.
	ClassOrder []int `json:"class_order" yaml:"class_order" key:"class_order" doc:"class order of split streams, e.g. 1,0,3,2,5,4,7,6,9,8 (empty: natural order)"`
	// TaskSizes, for a class-split stream, is the number of classes of each task in turn (tasks
	// of unequal size); nil splits the class order evenly into Tasks tasks.
	TaskSizes []int `json:"task_sizes,omitempty" yaml:"task_sizes,omitempty" key:"task_sizes" label:"task sizes" doc:"split streams: the classes of each task in turn, e.g. 2,3,5 (they add up to the class order's length; the task count follows; empty: equal tasks)"`
	// ClassOrderMode says where a class-split stream's class order comes from: "fixed" (or
	// empty, the default) takes ClassOrder, else the natural order; "random" draws it from Seed,
	// a different order for each seed, as the literature's reference code does. The order used
	// is in the stream's task names and in each result (results.Result.ClassOrder).
	ClassOrderMode string `json:"class_order_mode,omitempty" yaml:"class_order_mode,omitempty" key:"class_order_mode" label:"class order mode" doc:"class order of split streams: fixed (class_order, else the natural order; the default) or random (drawn from the seed, one order per seed)"`
	// PermuteFirst permutes the pixels of task 1 of a permuted stream too, as the literature's
	// reference code does; false (the default) leaves task 1 the original images.
	PermuteFirst bool `json:"permute_first,omitempty" yaml:"permute_first,omitempty" key:"permute_first" label:"permute first task" doc:"permuted streams: permute task 1's pixels too (true), or keep task 1 the original images (false, the default)"`
	// Pad zero-pads every image of a permuted or split stream by Pad pixels on each side (a
	// permuted stream's before its permutation: 2 makes MNIST's 28×28 32×32, 1024 inputs, as van
	// de Ven & Tolias pad their permuted MNIST and Hsu et al. their split MNIST), so the
	// permutations move the padding too and the first layer's fan-in is the padded size; 0 (the
	// default) pads nothing.
	Pad int `json:"pad,omitempty" yaml:"pad,omitempty" key:"pad" label:"padding" doc:"permuted and split streams: zero-pad each image by N pixels on every side (before permuting; 2: 28x28 to 32x32, as van de Ven & Tolias' permuted MNIST and Hsu et al.'s split MNIST; 0: none)"`
	// Normalize, when set, is a mean and a standard deviation: every pixel value v (in [0, 1],
	// after any padding) becomes (v - mean) / std, as torchvision's Normalize does in Hsu et
	// al.'s split MNIST (0.1, 0.2752); empty keeps the raw values.
	Normalize []float64 `json:"normalize,omitempty" yaml:"normalize,omitempty" key:"normalize" label:"normalisation" doc:"permuted and split streams: mean,std to normalise every pixel value with, (v-mean)/std after any padding (e.g. 0.1,0.2752, Hsu et al.'s; empty: the raw values in [0, 1])"`
	// Angles are a rotated stream's rotation of each task in degrees; nil draws one per task
	// from the seed, uniformly within the task's bin of [0, 180) cut into as many bins as tasks
	// (the GEM setting).
	Angles []float64 `json:"angles,omitempty" yaml:"angles,omitempty" key:"angles" doc:"rotated streams: each task's rotation in degrees, e.g. 0,45,90 (empty: one per task drawn from the seed, uniformly within the task's bin of [0, 180) cut into as many bins as tasks)"`
	// Blurry makes the stream task-free at its boundaries: during the first Blurry training
	// steps of every task after the first, each batch mixes the new task's examples with the
	// previous task's, the new task's share rising linearly from 1/(Blurry+1) to
	// Blurry/(Blurry+1); 0 (the default) keeps sharp boundaries. Evaluation stays at the nominal
	// boundaries (after each task's iterations).
	Blurry int `json:"blurry,omitempty" yaml:"blurry,omitempty" key:"blurry" label:"transition window" doc:"task-free (blurry) boundaries: the first N steps of every task after the first mix in the previous task's examples, the new task's share rising linearly (0: sharp boundaries)"`
	// Boundaries says whether strategies are told the task boundaries: "given" (or empty, the
	// default) calls StartTask and EndTask and names the current task in Step; "hidden" (task-
	// free learning: domain- or class-IL) refuses, before training, strategies that need
	// boundaries (those with StartTask or EndTask) and passes every step the last task's index,
	// so every output unit is active; evaluation still happens after each task's iterations.
	Boundaries string `json:"boundaries,omitempty" yaml:"boundaries,omitempty" key:"boundaries" doc:"task boundaries for strategies: given (StartTask, EndTask and the current task in each step; the default) or hidden (task-free: strategies that need boundaries are refused; domain- and class-IL only)"`
	// TrainLimit keeps the first TrainLimit training examples of each task; 0 keeps all.
	TrainLimit int `json:"train_limit" yaml:"train_limit" key:"train_limit" doc:"training examples per task (0: all)"`
	// ValPerTask carves ValPerTask examples, drawn from Seed, out of each task's training
	// examples (those train_limit keeps) into a validation split that is never trained on and
	// is evaluated like the test split after every task; 0 (the default) makes none.
	ValPerTask int `json:"val_per_task,omitempty" yaml:"val_per_task,omitempty" key:"val_per_task" label:"validation examples per task" doc:"validation examples per task, carved from its training examples (drawn from the seed, never trained on) and evaluated after every task (0: no validation split)"`
	// TestLimit keeps the first TestLimit test examples of each task; 0 keeps all.
	TestLimit int `json:"test_limit" yaml:"test_limit" key:"test_limit" doc:"test examples per task (0: all)"`

	// Protocol names the preset the settings below started from: paper, quick, online, hsu or
	// agem (the stream's presets: clgraph streams lists them).
	Protocol string `json:"protocol" yaml:"protocol" key:"protocol" doc:"protocol preset: paper (the literature's settings), quick (same shapes, fewer iterations), on permuted and rotated MNIST online (one pass, batch 10, SGD), on split MNIST hsu (Hsu et al. 2018: 4 epochs a task, 32x32 padded and normalised, fixed class order, their strengths), on permuted MNIST agem (A-GEM's 17 tasks, one pass of 55000 images, SGD batch 10)"`
	// Iterations is the number of training steps per task.
	Iterations int `json:"iterations" yaml:"iterations" key:"iterations" doc:"training steps per task"`
	// Batch is the mini-batch size of the current task.
	Batch int `json:"batch" yaml:"batch" key:"batch" label:"batch size" doc:"mini-batch size"`
	// EvalBatch is the number of rows per evaluation-graph run.
	EvalBatch int `json:"eval_batch" yaml:"eval_batch" key:"eval_batch" label:"evaluation batch" doc:"rows per evaluation pass" free:"compare"`
	// LR is the optimiser's learning rate.
	LR float64 `json:"lr" yaml:"lr" key:"lr" label:"learning rate" doc:"learning rate"`
	// Optimizer is adam (the default, also when empty) or sgd (plain SGD, the online
	// protocol's).
	Optimizer string `json:"optimizer,omitempty" yaml:"optimizer,omitempty" key:"optimizer" doc:"optimiser: adam (0.9, 0.999, 1e-8; the default), sgd (plain, no momentum) or adagrad (eps 1e-10)"`
	// Hidden are the hidden layer sizes of the MLP trunk (with Model conv: of the dense layers
	// after the conv layers).
	Hidden []int `json:"hidden" yaml:"hidden" key:"hidden" doc:"hidden layer sizes, e.g. 400,400 (with --model conv: the dense layers after the conv layers)"`
	// Model is the trunk: mlp (or empty, the default: the dense layers of Hidden) or conv (the
	// conv layers of Filters, each 5×5 with ReLU and a 2×2 max-pool, then the dense layers of
	// Hidden; square single-channel images only).
	Model string `json:"model,omitempty" yaml:"model,omitempty" key:"model" doc:"trunk: mlp (dense layers of --hidden; the default) or conv (5×5 conv layers of --filters, each with ReLU and a 2×2 max-pool, then the dense layers of --hidden, 256 unless given: LeNet-like)"`
	// Filters are the conv trunk's output channels per conv layer; empty takes DefaultFilters.
	// Only with Model conv.
	Filters []int `json:"filters,omitempty" yaml:"filters,omitempty" key:"filters" label:"conv filters" doc:"conv trunk: output channels of each conv layer (default 16,32; --model conv only)"`

	// Init is the weights' initialisation: "" (PyTorch's nn.Linear: U(±1/sqrt(fan_in)) for
	// weights and biases) or tnormal (TensorFlow code's, as A-GEM's: weights truncated normal of
	// std 0.1, biases 0.1), applied after a strategy's setup to every weight ("/W", a
	// progressive network's laterals "/U") and bias ("/b") of its parameters.
	Init string `json:"init,omitempty" yaml:"init,omitempty" key:"init" label:"initialisation" doc:"weight initialisation: empty for PyTorch's (U(±1/sqrt(fan_in))), or tnormal (weights truncated normal of std 0.1, biases 0.1: A-GEM's TensorFlow code)"`
	// InitFrom is a model file (model.json, written by a run with SaveModel) every run starts
	// from: after the strategy's setup, each of its parameters with a name and shape in the file
	// takes the file's values; the others keep their initialisation. Empty: none.
	InitFrom string `json:"init_from,omitempty" yaml:"init_from,omitempty" key:"init_from" label:"initialised from" doc:"start every run from the parameters of a saved model (a model.json a run wrote with --save-model): parameters of the same name and shape take its values, the others keep their initialisation" free:"compare"`
	// PretrainClasses, when set, trains a plain model (the run's trunk, one shared head over
	// these classes) jointly on the original MNIST training images of these classes before the
	// stream, and every run starts from its trunk. The stream itself is unchanged: give it the
	// other classes with class_order (split streams).
	PretrainClasses []int `json:"pretrain_classes,omitempty" yaml:"pretrain_classes,omitempty" key:"pretrain_classes" label:"pre-training classes" doc:"pre-train the trunk jointly on these classes' original training images first (e.g. 5,6,7,8,9, with the stream on the others: --class-order 0,1,2,3 --tasks 2); every run starts from the pre-trained trunk" free:"compare"`
	// PretrainIterations is the number of pre-training steps; 0 takes Iterations.
	PretrainIterations int `json:"pretrain_iterations,omitempty" yaml:"pretrain_iterations,omitempty" key:"pretrain_iterations" label:"pre-training steps" doc:"steps of pre-training (0: the protocol's iterations per task)" free:"compare"`
	// StepLog writes each run's training curve every StepLog steps: steps.csv and TensorBoard
	// event files in its result folder (results.StepsFile); 0 writes none.
	StepLog int `json:"step_log,omitempty" yaml:"step_log,omitempty" key:"step_log" label:"step log" doc:"write each run's training curve every N steps to <run>/<strategy>/seed-<n>/steps.csv and TensorBoard event files there (0: none)" free:"true"`
	// SaveModel writes each finished run's final parameters to model.json in its result folder,
	// for init_from.
	SaveModel bool `json:"save_model,omitempty" yaml:"save_model,omitempty" key:"save_model" label:"save model" doc:"write each finished run's final parameters to <run>/<strategy>/seed-<n>/model.json (for --init-from)" free:"true"`

	// Strategy is the canonical strategy spec of one run, e.g. "ewc:lambda=100"; empty for a
	// command over several strategies.
	Strategy string `json:"strategy,omitempty" yaml:"strategy,omitempty" key:"strategy" doc:"strategy spec" flag:"-"`
	// Seed seeds one run's random sources; 0 for a command over several seeds.
	Seed int64 `json:"seed,omitempty" yaml:"seed,omitempty" key:"seed" doc:"random seed" flag:"-"`

	// DataDir is the folder the data was read from; empty means the default sources (for MNIST:
	// $CLGRAPH_DATA, the Go module cache, a download). The data's checksums, not its folder, must
	// match on resume.
	DataDir string `json:"data_dir,omitempty" yaml:"data_dir,omitempty" key:"data_dir" doc:"folder with the dataset's files (default: $CLGRAPH_DATA, else the Go module cache, else download)" free:"true"`
	// CheckpointEvery saves a run's state every CheckpointEvery training steps as well as at task
	// boundaries; 0 saves at task boundaries only, -1 saves no checkpoints.
	CheckpointEvery int `json:"checkpoint_every" yaml:"checkpoint_every" key:"checkpoint_every" doc:"save each run's state every N training steps as well as at task boundaries (0: task boundaries only; -1: no checkpoints)" free:"true"`
}

// The values of Spec.Model (empty reads as ModelMLP).
const (
	ModelMLP  = "mlp"
	ModelConv = "conv"
)

// DefaultFilters are a conv trunk's filters when Spec.Filters is empty.
var DefaultFilters = []int{16, 32}

// DefaultConvHidden are the dense layers after a conv trunk's conv layers when hidden is not
// given (the protocols' hidden sizes are the MLP's): one layer of 256 units, LeNet-like.
var DefaultConvHidden = []int{256}

// ConvFilters returns the conv trunk's filters (DefaultFilters when none are given); nil for an
// MLP trunk.
func (s Spec) ConvFilters() []int {
	if s.Model != ModelConv {
		return nil
	}
	if len(s.Filters) == 0 {
		return slices.Clone(DefaultFilters)
	}
	return slices.Clone(s.Filters)
}

// The values of Spec.Optimizer (empty reads as OptimizerAdam).
const (
	OptimizerAdam = "adam"
	OptimizerSGD  = "sgd"
	// InitTNormal is the tnormal initialisation (Spec.Init).
	InitTNormal = "tnormal"
	// OptimizerAdagrad is Adagrad (PyTorch's: eps 1e-10, no decay), Hsu et al.'s third
	// optimiser baseline.
	OptimizerAdagrad = "adagrad"
)

// The values of Spec.ClassOrderMode (empty reads as ClassOrderFixed).
const (
	// ClassOrderFixed takes Spec.ClassOrder, else the natural order.
	ClassOrderFixed = "fixed"
	// ClassOrderRandom draws the class order from the seed.
	ClassOrderRandom = "random"
)

// Validate checks the settings that need no registry: positive sizes, a sane learning rate.
// Stream, scenario and strategy names are checked where they are registered.
func (s Spec) Validate() error {
	switch {
	case s.Iterations < 1:
		return fmt.Errorf("iterations must be at least 1, got %d", s.Iterations)
	case s.Batch < 1:
		return fmt.Errorf("batch size must be at least 1, got %d", s.Batch)
	case s.EvalBatch < 1:
		return fmt.Errorf("evaluation batch must be at least 1, got %d", s.EvalBatch)
	case !(s.LR > 0) || s.LR > 10:
		return fmt.Errorf("learning rate must be in (0, 10], got %v", s.LR)
	case len(s.Hidden) == 0:
		return fmt.Errorf("at least one hidden layer is needed")
	case s.Tasks < 0:
		return fmt.Errorf("tasks must be positive, got %d (0 takes the stream's default)", s.Tasks)
	case s.TrainLimit < 0:
		return fmt.Errorf("train_limit must be 0 (all) or positive, got %d", s.TrainLimit)
	case s.ValPerTask < 0:
		return fmt.Errorf("val_per_task must be 0 (none) or positive, got %d", s.ValPerTask)
	case s.TestLimit < 0:
		return fmt.Errorf("test_limit must be 0 (all) or positive, got %d", s.TestLimit)
	case s.ClassOrderMode != "" && s.ClassOrderMode != ClassOrderFixed && s.ClassOrderMode != ClassOrderRandom:
		return fmt.Errorf("class_order_mode must be %s or %s, got %q", ClassOrderFixed, ClassOrderRandom, s.ClassOrderMode)
	case s.ClassOrderMode == ClassOrderRandom && len(s.ClassOrder) > 0:
		return fmt.Errorf("class_order %v and class_order_mode %s exclude each other: give one", s.ClassOrder, ClassOrderRandom)
	case s.Optimizer != "" && s.Optimizer != OptimizerAdam && s.Optimizer != OptimizerSGD && s.Optimizer != OptimizerAdagrad:
		return fmt.Errorf("optimizer must be %s, %s or %s, got %q", OptimizerAdam, OptimizerSGD, OptimizerAdagrad, s.Optimizer)
	case s.StepLog < 0:
		return fmt.Errorf("step_log must be 0 (none) or a number of steps, got %d", s.StepLog)
	case s.PretrainIterations < 0:
		return fmt.Errorf("pretrain_iterations must be 0 (the protocol's iterations) or positive, got %d", s.PretrainIterations)
	case s.PretrainIterations > 0 && len(s.PretrainClasses) == 0:
		return fmt.Errorf("pretrain_iterations %d without pretrain_classes: name the classes to pre-train on", s.PretrainIterations)
	case s.Blurry < 0:
		return fmt.Errorf("blurry must be 0 (sharp boundaries) or a number of steps, got %d", s.Blurry)
	case s.Blurry >= s.Iterations:
		return fmt.Errorf("blurry %d must be below the %d iterations per task (the transition happens within each task's first steps)", s.Blurry, s.Iterations)
	case s.Boundaries != "" && s.Boundaries != BoundariesGiven && s.Boundaries != BoundariesHidden:
		return fmt.Errorf("boundaries must be %s or %s, got %q", BoundariesGiven, BoundariesHidden, s.Boundaries)
	case s.Boundaries == BoundariesHidden && s.Scenario == "task":
		return fmt.Errorf("boundaries %s needs the domain or class scenario: task-IL gives every example's task, which marks the boundaries", BoundariesHidden)
	case s.Model != "" && s.Model != ModelMLP && s.Model != ModelConv:
		return fmt.Errorf("model must be %s or %s, got %q", ModelMLP, ModelConv, s.Model)
	case len(s.Filters) > 0 && s.Model != ModelConv:
		return fmt.Errorf("filters %v are the conv trunk's: add --model conv, or drop --filters", s.Filters)
	case s.Init != "" && s.Init != InitTNormal:
		return fmt.Errorf("init must be empty (PyTorch's initialisation) or %s, got %q", InitTNormal, s.Init)
	case s.Pad < 0 || s.Pad > 16:
		return fmt.Errorf("pad must be between 0 and 16 pixels, got %d", s.Pad)
	case len(s.Normalize) != 0 && (len(s.Normalize) != 2 || !(s.Normalize[1] > 0) || math.IsInf(s.Normalize[0], 0) || math.IsNaN(s.Normalize[0]) || math.IsInf(s.Normalize[1], 0)):
		return fmt.Errorf("normalize takes a mean and a positive standard deviation, e.g. 0.1,0.2752; got %v", s.Normalize)
	case s.CheckpointEvery < -1:
		return fmt.Errorf("checkpoint_every %d: want a number of steps, 0 (checkpoints at task boundaries only) or -1 (no checkpoints)", s.CheckpointEvery)
	}
	for _, h := range s.Hidden {
		if h < 1 {
			return fmt.Errorf("hidden sizes must be positive, got %v", s.Hidden)
		}
	}
	for _, f := range s.Filters {
		if f < 1 {
			return fmt.Errorf("conv filters must be positive, got %v", s.Filters)
		}
	}
	return nil
}

// Values of Spec.Boundaries.
const (
	BoundariesGiven  = "given"
	BoundariesHidden = "hidden"
)

// HiddenBoundaries reports whether strategies are not told the task boundaries.
func (s Spec) HiddenBoundaries() bool { return s.Boundaries == BoundariesHidden }

// Cell returns a copy of s for one run of strategy with seed.
func (s Spec) Cell(strategy string, seed int64) Spec {
	c := s.Clone()
	c.Strategy, c.Seed = strategy, seed
	return c
}

// Clone returns a deep copy of s (slices are not shared).
func (s Spec) Clone() Spec {
	s.ClassOrder = slices.Clone(s.ClassOrder)
	s.Hidden = slices.Clone(s.Hidden)
	s.Filters = slices.Clone(s.Filters)
	return s
}

// Field describes one setting of Spec.
type Field struct {
	// Key names the setting in files and overrides; Flag is its command-line flag ("" when the
	// setting has none).
	Key, Flag string
	// Doc documents it.
	Doc string
	// Label names it in messages, e.g. "learning rate" (the key when the field has no label).
	Label string
	// Free marks a setting that does not change results; Comparable one that a comparison of
	// runs may ignore (Free ones included).
	Free, Comparable bool
	index            int
	kind             reflect.Kind
	elem             reflect.Kind // slices: element kind
}

// Fields lists Spec's settings in declaration order.
func Fields() []Field { return slices.Clone(fields()) }

var fields = sync.OnceValue(func() []Field {
	t := reflect.TypeFor[Spec]()
	var out []Field
	for i := range t.NumField() {
		f := t.Field(i)
		fd := Field{Key: f.Tag.Get("key"), Doc: f.Tag.Get("doc"), Label: f.Tag.Get("label"), Free: f.Tag.Get("free") == "true", Comparable: f.Tag.Get("free") != "", index: i, kind: f.Type.Kind()}
		if fd.Key == "" {
			panic("runspec: field " + f.Name + " has no key tag")
		}
		if fd.Label == "" {
			fd.Label = strings.ReplaceAll(fd.Key, "_", " ")
		}
		if f.Tag.Get("flag") != "-" {
			fd.Flag = strings.ReplaceAll(fd.Key, "_", "-")
		}
		if fd.kind == reflect.Slice {
			fd.elem = f.Type.Elem().Kind()
		}
		out = append(out, fd)
	}
	return out
})

// Lookup returns the setting named key (its file key, or its flag name).
func Lookup(key string) (Field, bool) {
	k := strings.ReplaceAll(key, "-", "_")
	for _, f := range fields() {
		if f.Key == k {
			return f, true
		}
	}
	return Field{}, false
}

// Keys returns every setting's key, in declaration order.
func Keys() []string {
	var k []string
	for _, f := range fields() {
		k = append(k, f.Key)
	}
	return k
}

// Get returns setting key of s as text, in the form Overrides.Set reads.
func (s Spec) Get(key string) string {
	f, ok := Lookup(key)
	if !ok {
		return ""
	}
	return format(reflect.ValueOf(s).Field(f.index))
}

func format(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Int, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = format(v.Index(i))
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v.Interface())
}

// parse reads text into a value of f's type.
func (f Field) parse(text string) (reflect.Value, error) {
	t := reflect.TypeFor[Spec]().Field(f.index).Type
	v := reflect.New(t).Elem()
	text = strings.TrimSpace(text)
	switch f.kind {
	case reflect.String:
		v.SetString(text)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return v, fmt.Errorf("%s: %q is not an integer", f.Key, text)
		}
		v.SetInt(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(text)
		if err != nil {
			return v, fmt.Errorf("%s: %q is not true or false", f.Key, text)
		}
		v.SetBool(b)
	case reflect.Float64:
		x, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return v, fmt.Errorf("%s: %q is not a finite number", f.Key, text)
		}
		v.SetFloat(x)
	case reflect.Slice:
		if text == "" {
			return v, nil // nil: the default
		}
		if t.Elem().Kind() == reflect.Float64 {
			var xs []float64
			for _, part := range strings.Split(text, ",") {
				if part = strings.TrimSpace(part); part == "" {
					continue
				}
				x, err := strconv.ParseFloat(part, 64)
				if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
					return v, fmt.Errorf("%s: %q is not a finite number (give a comma-separated list, e.g. 0,45,90)", f.Key, part)
				}
				xs = append(xs, x)
			}
			v.Set(reflect.ValueOf(xs))
			break
		}
		ints, err := ParseList(text)
		if err != nil {
			return v, fmt.Errorf("%s: %v", f.Key, err)
		}
		s := reflect.MakeSlice(t, len(ints), len(ints))
		for i, x := range ints {
			s.Index(i).SetInt(x)
		}
		v.Set(s)
	default:
		return v, fmt.Errorf("runspec: setting %s has an unsupported type %s", f.Key, t)
	}
	return v, nil
}

// ParseList reads a plain comma-separated list of integers, "400,400". It is how list settings
// (hidden, class_order) are read: a range there ("1-3") is refused rather than read as 1,2,3.
func ParseList(s string) ([]int64, error) {
	var out []int64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		v, err := strconv.ParseInt(part, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer (give a comma-separated list, e.g. 400,400)", part)
		}
		out = append(out, v)
	}
	return out, nil
}

// ParseInts reads "1,2,3" or a range "1-5" (or a mix, "1,3-5"), as seed lists are given. List
// settings of Spec are read with ParseList, which takes no ranges.
func ParseInts(s string) ([]int64, error) {
	var out []int64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if lo, hi, ok := strings.Cut(part, "-"); ok && lo != "" {
			a, err1 := strconv.ParseInt(lo, 10, 64)
			b, err2 := strconv.ParseInt(hi, 10, 64)
			if err1 != nil || err2 != nil || b < a || b-a > 10000 {
				return nil, fmt.Errorf("%q is not a range like 1-5", part)
			}
			for v := a; v <= b; v++ {
				out = append(out, v)
			}
			continue
		}
		v, err := strconv.ParseInt(part, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", part)
		}
		out = append(out, v)
	}
	return out, nil
}

// Overrides are settings given explicitly (flags, a sweep file's overrides), in the order they
// were set, each as text. The zero value is empty and usable; copies are independent.
type Overrides struct {
	keys []string
	vals map[string]string
}

// Set records setting key (a file key or flag name) as text, checking that the setting exists
// and that the text parses. A later Set of the same key replaces the earlier one.
func (o *Overrides) Set(key, text string) error {
	f, ok := Lookup(key)
	if !ok {
		return fmt.Errorf("unknown setting %q (known: %s)", key, strings.Join(Keys(), ", "))
	}
	if _, err := f.parse(text); err != nil {
		return err
	}
	// Copy on write: a copy of an Overrides value (o2 := o) never shares changes with o.
	vals := make(map[string]string, len(o.vals)+1)
	maps.Copy(vals, o.vals)
	keys := slices.Clone(o.keys)
	if _, dup := vals[f.Key]; !dup {
		keys = append(keys, f.Key)
	}
	vals[f.Key] = text
	o.keys, o.vals = keys, vals
	return nil
}

// SetValue records setting key from a typed value (a string, an int, an int64, a float64, a bool
// or a []int), as files decode them.
func (o *Overrides) SetValue(key string, v any) error {
	return o.Set(key, format(reflect.ValueOf(v)))
}

// Type is the Go type of the setting's values.
func (f Field) Type() reflect.Type { return reflect.TypeFor[Spec]().Field(f.index).Type }

// Get returns the text of setting key and whether it was set.
func (o Overrides) Get(key string) (string, bool) {
	f, ok := Lookup(key)
	if !ok {
		return "", false
	}
	v, ok := o.vals[f.Key]
	return v, ok
}

// Has reports whether setting key was set.
func (o Overrides) Has(key string) bool { _, ok := o.Get(key); return ok }

// Keys returns the keys set, in the order first set.
func (o Overrides) Keys() []string { return slices.Clone(o.keys) }

// Len is the number of settings set.
func (o Overrides) Len() int { return len(o.keys) }

// Over returns o with every setting of top set over it (top wins).
func (o Overrides) Over(top Overrides) Overrides {
	var out Overrides
	for _, k := range o.keys {
		out.Set(k, o.vals[k])
	}
	for _, k := range top.keys {
		out.Set(k, top.vals[k])
	}
	return out
}

// Apply writes every setting of o into s.
func (o Overrides) Apply(s *Spec) error {
	rv := reflect.ValueOf(s).Elem()
	for _, k := range o.keys {
		f, _ := Lookup(k)
		v, err := f.parse(o.vals[k])
		if err != nil {
			return err
		}
		rv.Field(f.index).Set(v)
	}
	return nil
}

// Difference is one setting that two specs hold differently.
type Difference struct {
	// Key names the setting and Label describes it; A and B are its values in the two specs,
	// as text.
	Key, Label, A, B string
	text             bool // a string setting: values are quoted in messages
}

// Show returns a value of the setting for messages: quoted for text settings, "(none)" when
// empty.
func (d Difference) Show(v string) string {
	switch {
	case v == "":
		return "(none)"
	case d.text:
		return strconv.Quote(v)
	}
	return v
}

// Name returns "label (key)", or the key when the label only spells it out.
func (d Difference) Name() string {
	if d.Label == strings.ReplaceAll(d.Key, "_", " ") {
		return d.Label
	}
	return d.Label + " (" + d.Key + ")"
}

// String writes "key: A vs B".
func (d Difference) String() string {
	return fmt.Sprintf("%s: %s vs %s", d.Name(), d.Show(d.A), d.Show(d.B))
}

// DiffMode says which settings Diff compares.
type DiffMode int

const (
	// All compares every setting.
	All DiffMode = iota
	// Results compares the settings that change results, skipping the free ones (data_dir,
	// checkpoint_every): resume.
	Results
	// Compare also skips the settings a comparison of runs may ignore (eval_batch) or is about
	// (the initialisation: init_from, pretrain_classes): reports and clgraph compare.
	Compare
)

// Diff returns the settings a and b hold differently, in declaration order. A nil and an empty
// list are equal.
func Diff(a, b Spec, mode DiffMode) []Difference {
	var out []Difference
	for _, f := range fields() {
		if (mode == Results && f.Free) || (mode == Compare && f.Comparable) {
			continue
		}
		if x, y := a.Get(f.Key), b.Get(f.Key); x != y {
			out = append(out, Difference{Key: f.Key, Label: f.Label, A: x, B: y, text: f.kind == reflect.String})
		}
	}
	return out
}

// Differences joins differences into one line, e.g. "iterations: 200 vs 50; lr: 0.001 vs 0.01".
func Differences(ds []Difference) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.String()
	}
	return strings.Join(parts, "; ")
}
