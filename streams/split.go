package streams

import (
	"fmt"
	"maps"
	"math/rand"
	"sort"
	"strings"

	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/stream"
)

func init() {
	Register(Def{
		Name:         "split-mnist",
		Aliases:      []string{"split"},
		Doc:          "MNIST digits split into tasks of disjoint classes: {0,1},{2,3},... (class order, fixed or drawn from the seed, and number of tasks configurable)",
		DefaultTasks: 5,
		Scenarios:    stream.Scenarios,
		Build:        buildSplit,
		// The literature's settings (van de Ven & Tolias 2019): 2 hidden layers of 400 units,
		// Adam at 1e-3, batch 128, 2000 iterations per task; quick keeps the shapes with 200.
		Protocols: map[string]runspec.Spec{
			"paper": {Iterations: 2000, Batch: 128, EvalBatch: 1000, LR: 1e-3, Hidden: []int{400, 400}, ClassOrderMode: paperClassOrder()},
			"quick": {Iterations: 200, Batch: 128, EvalBatch: 1000, LR: 1e-3, Hidden: []int{400, 400}},
			// Hsu et al. 2018 (arXiv 1810.12488; GT-RIPL/Continual-Learning-Benchmark's
			// scripts/split_MNIST_*.sh): 4 epochs a task at batch 128 (their tasks hold 11263 to
			// 12665 images: 352 to 396 steps, 1884 in all, here 377 each), Adam 1e-3, MLP 400-400
			// over 32x32 zero-padded images normalised with mean 0.1 and std 0.2752 (their
			// dataloaders/base.py), digits dealt in order {0,1},{2,3},...
			"hsu": {Iterations: hsuIterations, Batch: 128, EvalBatch: 1000, LR: 1e-3, Hidden: []int{400, 400}, Pad: 2, Normalize: []float64{0.1, 0.2752}},
		},
		Defaults: map[string]Tuning{"quick": splitQuick, "paper": splitPaper, "hsu": splitHsu},
	})
}

// classOrderSalt separates the random source of split streams' class orders from the seed's
// other uses.
const classOrderSalt = 0xc1a55

// ClassOrder returns the class order a split stream over classes classes deals into tasks for
// spec: spec.ClassOrder, else the natural order 0..classes-1, or with class_order_mode random a
// permutation of 0..classes-1 drawn from spec.Seed (the same for the same seed).
func ClassOrder(spec runspec.Spec, classes int) []int {
	if spec.ClassOrderMode == runspec.ClassOrderRandom {
		return rand.New(rand.NewSource(spec.Seed ^ classOrderSalt)).Perm(classes)
	}
	if spec.ClassOrder != nil {
		return append([]int(nil), spec.ClassOrder...)
	}
	order := make([]int, classes)
	for c := range order {
		order[c] = c
	}
	return order
}

func buildSplit(data *Data, cfg runspec.Spec, sc stream.Scenario) (*stream.Stream, error) {
	if cfg.PermuteFirst {
		return nil, fmt.Errorf("streams: permute_first applies to permuted streams, not split-mnist")
	}
	order := ClassOrder(cfg, data.Classes)
	seen := map[int]bool{}
	for _, c := range order {
		if c < 0 || c >= data.Classes || seen[c] {
			return nil, fmt.Errorf("streams: class order %v must list distinct classes in 0..%d", order, data.Classes-1)
		}
		seen[c] = true
	}
	T := cfg.Tasks
	if T == 0 {
		T = 5
	}
	if T < 1 || T > len(order) {
		return nil, fmt.Errorf("streams: split-mnist with %d classes takes 1 to %d tasks, got %d", len(order), len(order), T)
	}
	sizes := cfg.TaskSizes
	if len(sizes) == 0 {
		if len(order)%T != 0 {
			return nil, fmt.Errorf("streams: %d classes do not split evenly into %d tasks (use a task count that divides %d, or give task_sizes)", len(order), T, len(order))
		}
		for range T {
			sizes = append(sizes, len(order)/T)
		}
	}
	sum := 0
	for _, n := range sizes {
		if n < 1 {
			return nil, fmt.Errorf("streams: task_sizes %v: every task needs at least one class", sizes)
		}
		sum += n
	}
	if len(sizes) != T || sum != len(order) {
		return nil, fmt.Errorf("streams: task_sizes %v: %d tasks of %d classes in all, the stream has %d tasks and %d classes in its order", sizes, len(sizes), sum, T, len(order))
	}
	k := 0 // the largest task
	for _, n := range sizes {
		k = max(k, n)
	}
	data, err := prepared(data, cfg) // after the cheap checks: a padded copy is 290 MB
	if err != nil {
		return nil, err
	}
	s := &stream.Stream{Name: "split-mnist", Scenario: sc, InputDim: data.Train.Dim, ClassOrder: order}
	pos := map[int]int{} // class -> position in the order
	for i, c := range order {
		pos[c] = i
	}
	switch sc {
	case stream.DomainIL:
		s.Outputs = k
	default:
		s.Outputs = len(order)
	}
	first := 0 // position of the task's first class in the order
	for t := 0; t < T; t++ {
		classes := append([]int(nil), order[first:first+sizes[t]]...)
		task := &stream.Task{ID: t, Classes: classes}
		names := make([]string, len(classes))
		for i, c := range classes {
			names[i] = fmt.Sprint(c)
		}
		task.Name = strings.Join(names, "/")
		off := first
		unit := func(c int) int {
			if sc == stream.DomainIL {
				return pos[c] - off // position within the task
			}
			return pos[c]
		}
		first += sizes[t]
		for _, c := range classes {
			task.Units = append(task.Units, unit(c))
		}
		if sc == stream.DomainIL {
			sort.Ints(task.Units)
		}
		task.Train = filter(data.Train, classes, unit, cfg.TrainLimit)
		task.Test = filter(data.Test, classes, unit, cfg.TestLimit)
		s.Tasks = append(s.Tasks, task)
	}
	return s, nil
}

// filter keeps the examples of d whose class is in classes (the first limit of them; 0 keeps
// all), with each one's target unit.
func filter(d *stream.Dataset, classes []int, unit func(int) int, limit int) stream.Split {
	in := map[int]bool{}
	for _, c := range classes {
		in[c] = true
	}
	sp := stream.Split{Data: d}
	for i := 0; i < d.N; i++ {
		c := int(d.Labels[i])
		if in[c] {
			sp.Index = append(sp.Index, int32(i))
			sp.Target = append(sp.Target, int32(unit(c)))
			if limit > 0 && len(sp.Index) == limit {
				break
			}
		}
	}
	return sp
}

// The default strengths of split MNIST, by protocol: each the setting with the best validation
// ACC in its tuning sweep (Source; the sweep folder beside the file holds every cell). Task-IL
// with one shared head (heads=single) trains exactly like domain-IL and takes its value.
var (
	splitQuick = Tuning{
		Source: "results/reference/tuning/split-quick.yaml and split-quick-zoo.yaml (summaries: results/reference/tuning/split-quick*/sweep-summary.md)",
		Seeds:  []int64{101, 102},
		Values: with(map[string]float64{
			"ewc.lambda/task/multi": 1e4, "ewc.lambda/task": 1e9, "ewc.lambda/domain": 1e9, "ewc.lambda/class": 1e4,
			"ewc_online.lambda/task/multi": 1e5, "ewc_online.lambda/task": 1e9, "ewc_online.lambda/domain": 1e9, "ewc_online.lambda/class": 1e3,
			"ewc_online.gamma/task/multi": 0.7, "ewc_online.gamma/task": 1, "ewc_online.gamma/domain": 1, "ewc_online.gamma/class": 0.9,
			"l2.lambda/task/multi": 0.1, "l2.lambda/task": 100, "l2.lambda/domain": 100, "l2.lambda/class": 100,
			"si.c/task/multi": 100, "si.c/task": 1e4, "si.c/domain": 1e4, "si.c/class": 10,
		}, splitQuickZoo),
	}
	// splitQuickZoo holds the zoo's automatic options (lwf alpha, mas lambda, der alpha for DER
	// and for DER++ at beta 0.5, gem margin, xdg gate), from results/reference/tuning/split-quick-zoo.yaml
	// (validation ACC, seeds 101-102). The paper protocol has its own (splitPaperZoo).
	splitQuickZoo = map[string]float64{
		"lwf.alpha/task/multi": 3, "lwf.alpha/task": 3, "lwf.alpha/domain": 3, "lwf.alpha/class": 3,
		"mas.lambda/task/multi": 1, "mas.lambda/task": 100, "mas.lambda/domain": 100, "mas.lambda/class": 0.1,
		"der.alpha/task/multi": 0.3, "der.alpha/task": 3, "der.alpha/domain": 3, "der.alpha/class": 1,
		"derpp.alpha/task/multi": 0.3, "derpp.alpha/task": 3, "derpp.alpha/domain": 3, "derpp.alpha/class": 0.1,
		"gem.margin/task/multi": 1, "gem.margin/task": 1, "gem.margin/domain": 1, "gem.margin/class": 1,
		"xdg.gate/task/multi": 0.8,
	}
	// splitPaperZoo: the zoo's options at the paper protocol, from
	// results/reference/tuning/split-paper-zoo-{task,domain,class}.yaml (validation ACC, seed 101,
	// the quick choice and its neighbours). Task-IL with one shared head takes domain-IL's.
	splitPaperZoo = map[string]float64{
		"lwf.alpha/task/multi": 1, "lwf.alpha/task": 3, "lwf.alpha/domain": 3, "lwf.alpha/class": 3,
		"mas.lambda/task/multi": 10, "mas.lambda/task": 10, "mas.lambda/domain": 10, "mas.lambda/class": 0.01,
		"der.alpha/task/multi": 0.3, "der.alpha/task": 1, "der.alpha/domain": 1, "der.alpha/class": 0.3,
		"derpp.alpha/task/multi": 1, "derpp.alpha/task": 1, "derpp.alpha/domain": 1, "derpp.alpha/class": 0.1,
		"gem.margin/task/multi": 0.5, "gem.margin/task": 2, "gem.margin/domain": 2, "gem.margin/class": 1,
		"xdg.gate/task/multi": 0.9,
	}
	// splitPaper: task- and domain-IL from the paper-protocol sweeps (seed 101, a factor 10 around
	// the quick choice); class-IL keeps the quick protocol's values (no strength helps there).
	splitPaper = Tuning{
		Source: "results/reference/tuning/split-paper-task.yaml and split-paper-domain.yaml (summaries: results/reference/tuning/split-paper-*/sweep-summary.md; class-IL: the quick protocol's values); the zoo's options: split-paper-zoo-task.yaml, -domain.yaml, -class.yaml",
		Seeds:  []int64{101, 102},
		Values: with(map[string]float64{
			"ewc.lambda/task/multi": 1e5, "ewc.lambda/task": 1e8, "ewc.lambda/domain": 1e8, "ewc.lambda/class": 1e4,
			"ewc_online.lambda/task/multi": 1e6, "ewc_online.lambda/task": 1e8, "ewc_online.lambda/domain": 1e8, "ewc_online.lambda/class": 1e3,
			"ewc_online.gamma/task/multi": 1, "ewc_online.gamma/task": 0.9, "ewc_online.gamma/domain": 0.9, "ewc_online.gamma/class": 0.9,
			"l2.lambda/task/multi": 1, "l2.lambda/task": 10, "l2.lambda/domain": 10, "l2.lambda/class": 100,
			"si.c/task/multi": 10, "si.c/task": 1e4, "si.c/domain": 1e4, "si.c/class": 10,
		}, splitPaperZoo),
	}
)

// hsuIterations is the hsu protocol's steps per task: Hsu et al.'s 4 epochs of batches of 128
// over the five tasks of split MNIST, 4·(99+95+88+96+93) = 1884 steps, spread evenly.
const hsuIterations = 377

// splitHsu is the hsu protocol's defaults: Hsu et al.'s own strengths (their scripts'
// --reg_coef per scenario, not tuned here), in clgraph's conventions: their penalties have no
// 1/2, so EWC's and L2's lambda (written (lambda/2)·sum) are twice their coefficient, while SI's c
// and MAS's lambda (written without it) equal it; their online EWC never decays its Fisher
// (gamma 1) and GEM's margin is 0.5. Task-IL is their multi-head setting. The methods they did
// not run keep the paper protocol's values.
var splitHsu = Tuning{
	Source: "Hsu et al.'s scripts/split_MNIST_incremental_{task,domain,class}.sh (GT-RIPL/Continual-Learning-Benchmark), --reg_coef converted to clgraph's conventions (streams/split.go splitHsu); the other methods: the paper protocol's",
	Values: with(splitPaper.Values, map[string]float64{
		"ewc.lambda/task/multi": 200, "ewc.lambda/domain": 200, "ewc.lambda/class": 1200,
		"ewc_online.lambda/task/multi": 800, "ewc_online.lambda/domain": 1400, "ewc_online.lambda/class": 200,
		"ewc_online.gamma/task/multi": 1, "ewc_online.gamma/domain": 1, "ewc_online.gamma/class": 1,
		"si.c/task/multi": 300, "si.c/domain": 3000, "si.c/class": 600,
		"l2.lambda/task/multi": 0.02, "l2.lambda/domain": 1, "l2.lambda/class": 200,
		"mas.lambda/task/multi": 1, "mas.lambda/domain": 10000, "mas.lambda/class": 1,
		"gem.margin/task/multi": 0.5, "gem.margin/domain": 0.5, "gem.margin/class": 0.5,
	}),
}

// with returns a copy of base with extra's entries added.
func with(base, extra map[string]float64) map[string]float64 {
	out := maps.Clone(base)
	maps.Copy(out, extra)
	return out
}
