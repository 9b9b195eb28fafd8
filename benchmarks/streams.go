package benchmarks

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"

	"github.com/clgraph/clgraph/benchmarks/mnist"
	"github.com/clgraph/clgraph/stream"
)

// Data is a dataset's training and test sets, each held once in memory for every stream and
// seed built over it, and where they came from.
type Data struct {
	Train, Test *stream.Dataset
	Classes     int
	Source      string
	Files       map[string]string // file name -> SHA-256
}

// LoadMNIST loads real MNIST (see package mnist for its sources) and scales pixels to [0,1].
func LoadMNIST(ctx context.Context, opts mnist.Options) (*Data, error) {
	set, err := mnist.Load(ctx, opts)
	if err != nil {
		return nil, err
	}
	return FromMNIST(set), nil
}

// FromMNIST converts a loaded MNIST set into Data.
func FromMNIST(set *mnist.Set) *Data {
	return &Data{Train: toDataset(set.Train), Test: toDataset(set.Test), Classes: 10, Source: set.Source, Files: set.Files}
}

func toDataset(im *mnist.Images) *stream.Dataset {
	dim := im.Rows * im.Cols
	d := &stream.Dataset{N: im.N, Dim: dim, X: make([]float32, len(im.Pixels)), Labels: im.Labels}
	for i, p := range im.Pixels {
		d.X[i] = float32(p) / 255
	}
	return d
}

// StreamInfo describes a stream for listings.
type StreamInfo struct {
	Name         string
	Doc          string
	DefaultTasks int
	Scenarios    []stream.Scenario
}

// Streams lists the streams BuildStream knows.
func Streams() []StreamInfo {
	return []StreamInfo{
		{Name: "split-mnist", Doc: "MNIST digits split into tasks of disjoint classes: {0,1},{2,3},... (class order and number of tasks configurable)", DefaultTasks: 5, Scenarios: stream.Scenarios},
		{Name: "permuted-mnist", Doc: "all ten digits per task; task 1 the original pixels, each later task a fixed random pixel permutation drawn from the seed", DefaultTasks: 10, Scenarios: stream.Scenarios},
	}
}

// StreamNames returns the known stream names.
func StreamNames() []string {
	var n []string
	for _, s := range Streams() {
		n = append(n, s.Name)
	}
	return n
}

// StreamConfig selects and shapes a stream.
type StreamConfig struct {
	Name     string          // split-mnist or permuted-mnist
	Scenario stream.Scenario // required
	// Tasks is the number of tasks; 0 means the stream's default (5 split, 10 permuted).
	Tasks int
	// ClassOrder is the order in which split MNIST's classes are dealt into tasks; nil means
	// 0..9. Ignored by permuted MNIST.
	ClassOrder []int
	// Seed draws permuted MNIST's permutations (the same seed gives the same permutations).
	Seed int64
	// TrainLimit and TestLimit keep only the first examples of each task's splits; 0 keeps all.
	// The reference protocol uses all; tests and the quick protocol may use fewer.
	TrainLimit, TestLimit int
}

// BuildStream builds the stream cfg names over data. It returns an error, before any training,
// for an unknown stream, scenario or an invalid task split.
func BuildStream(data *Data, cfg StreamConfig) (*stream.Stream, error) {
	if cfg.Scenario == 0 {
		return nil, fmt.Errorf("benchmarks: no scenario given (valid: task, domain, class)")
	}
	var s *stream.Stream
	var err error
	switch cfg.Name {
	case "split-mnist", "split":
		s, err = buildSplit(data, cfg)
	case "permuted-mnist", "permuted":
		s, err = buildPermuted(data, cfg)
	default:
		return nil, fmt.Errorf("benchmarks: unknown stream %q (known: %s)", cfg.Name, strings.Join(StreamNames(), ", "))
	}
	if err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

func buildSplit(data *Data, cfg StreamConfig) (*stream.Stream, error) {
	order := cfg.ClassOrder
	if order == nil {
		for c := 0; c < data.Classes; c++ {
			order = append(order, c)
		}
	}
	seen := map[int]bool{}
	for _, c := range order {
		if c < 0 || c >= data.Classes || seen[c] {
			return nil, fmt.Errorf("benchmarks: class order %v must list distinct classes in 0..%d", order, data.Classes-1)
		}
		seen[c] = true
	}
	T := cfg.Tasks
	if T == 0 {
		T = 5
	}
	if T < 1 || T > len(order) {
		return nil, fmt.Errorf("benchmarks: split-mnist with %d classes takes 1 to %d tasks, got %d", len(order), len(order), T)
	}
	if len(order)%T != 0 {
		return nil, fmt.Errorf("benchmarks: %d classes do not split evenly into %d tasks (use a task count that divides %d)", len(order), T, len(order))
	}
	k := len(order) / T
	s := &stream.Stream{Name: "split-mnist", Scenario: cfg.Scenario, InputDim: data.Train.Dim}
	pos := map[int]int{} // class -> position in the order
	for i, c := range order {
		pos[c] = i
	}
	switch cfg.Scenario {
	case stream.DomainIL:
		s.Outputs = k
	default:
		s.Outputs = len(order)
	}
	for t := 0; t < T; t++ {
		classes := append([]int(nil), order[t*k:(t+1)*k]...)
		task := &stream.Task{ID: t, Classes: classes}
		names := make([]string, k)
		for i, c := range classes {
			names[i] = fmt.Sprint(c)
		}
		task.Name = strings.Join(names, "/")
		unit := func(c int) int {
			if cfg.Scenario == stream.DomainIL {
				return pos[c] - t*k // position within the task
			}
			return pos[c]
		}
		for _, c := range classes {
			task.Units = append(task.Units, unit(c))
		}
		if cfg.Scenario == stream.DomainIL {
			sort.Ints(task.Units)
		}
		task.Train = filter(data.Train, classes, unit, cfg.TrainLimit)
		task.Test = filter(data.Test, classes, unit, cfg.TestLimit)
		s.Tasks = append(s.Tasks, task)
	}
	return s, nil
}

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

func buildPermuted(data *Data, cfg StreamConfig) (*stream.Stream, error) {
	T := cfg.Tasks
	if T == 0 {
		T = 10
	}
	if T < 1 {
		return nil, fmt.Errorf("benchmarks: permuted-mnist needs at least 1 task, got %d", T)
	}
	C := data.Classes
	s := &stream.Stream{Name: "permuted-mnist", Scenario: cfg.Scenario, InputDim: data.Train.Dim}
	if cfg.Scenario == stream.DomainIL {
		s.Outputs = C
	} else {
		s.Outputs = C * T
	}
	rng := rand.New(rand.NewSource(cfg.Seed ^ 0x5eed9e7))
	all := make([]int, C)
	for c := range all {
		all[c] = c
	}
	for t := 0; t < T; t++ {
		task := &stream.Task{ID: t, Name: fmt.Sprintf("perm%d", t), Classes: all}
		if t > 0 {
			p := rng.Perm(data.Train.Dim)
			task.Perm = make([]int32, len(p))
			for i, v := range p {
				task.Perm[i] = int32(v)
			}
		} else {
			task.Name = "orig"
		}
		off := 0
		if cfg.Scenario != stream.DomainIL {
			off = t * C
		}
		for c := 0; c < C; c++ {
			task.Units = append(task.Units, off+c)
		}
		unit := func(c int) int { return off + c }
		task.Train = filter(data.Train, all, unit, cfg.TrainLimit)
		task.Test = filter(data.Test, all, unit, cfg.TestLimit)
		s.Tasks = append(s.Tasks, task)
	}
	return s, nil
}
