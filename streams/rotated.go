package streams

import (
	"fmt"
	"math"
	"math/rand"
	"strconv"

	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/stream"
)

// onlineProtocol is the online protocol of GEM and A-GEM (Lopez-Paz & Ranzato 2017; Chaudhry et
// al. 2019) as clgraph registers it on permuted and rotated MNIST: 20 tasks, 1000 training
// examples a task seen once (100 steps of 10: the sampler's first epoch), plain SGD at 0.1, an
// MLP of two layers of 256 units (A-GEM's; GEM's was 100), the full test sets.
var onlineProtocol = runspec.Spec{Tasks: 20, TrainLimit: 1000, Iterations: 100, Batch: 10, EvalBatch: 1000, LR: 0.1, Optimizer: runspec.OptimizerSGD, Hidden: []int{256, 256}}

func init() {
	Register(Def{
		Name:         "rotated-mnist",
		Aliases:      []string{"rotated"},
		Doc:          "all ten digits per task, each task's images rotated by a fixed angle (bilinear interpolation): angles given, or one per task drawn from the seed within the task's bin of [0, 180) (GEM's setting)",
		DefaultTasks: 20,
		Scenarios:    stream.Scenarios,
		Build:        buildRotated,
		Untuned:      "rotated-mnist is new and has no tuning sweep yet",
		// paper: GEM's rotated MNIST, the online protocol (its source); quick: permuted MNIST's
		// quick shapes (300 steps of 128 a task, Adam 1e-3, 1000-1000, 2000 test images a task).
		Protocols: map[string]runspec.Spec{
			"paper":  onlineProtocol,
			"online": onlineProtocol,
			"quick":  {Tasks: 10, Iterations: 300, Batch: 128, EvalBatch: 1000, LR: 1e-3, Hidden: []int{1000, 1000}, TestLimit: 2000},
		},
	})
}

// rotationSalt separates the random source of rotated streams' angles from the seed's other uses.
const rotationSalt = 0x2074a7e

// RotationAngles returns the angle of each of T tasks for spec: spec.Angles (T of them), else
// for task t one drawn uniformly from [t·180/T, (t+1)·180/T) by the seed.
func RotationAngles(spec runspec.Spec, T int) ([]float64, error) {
	if len(spec.Angles) > 0 {
		if len(spec.Angles) != T {
			return nil, fmt.Errorf("streams: %d angles for %d tasks: give one angle per task (or none to draw them)", len(spec.Angles), T)
		}
		return append([]float64(nil), spec.Angles...), nil
	}
	rng := rand.New(rand.NewSource(spec.Seed ^ rotationSalt))
	bin := 180 / float64(T)
	out := make([]float64, T)
	for t := range out {
		out[t] = (float64(t) + rng.Float64()) * bin
	}
	return out, nil
}

func buildRotated(data *Data, cfg runspec.Spec, sc stream.Scenario) (*stream.Stream, error) {
	if cfg.Pad != 0 || len(cfg.Normalize) != 0 {
		return nil, fmt.Errorf("streams: pad and normalize apply to permuted-mnist and split-mnist, not rotated streams; drop --pad and --normalize")
	}
	switch {
	case cfg.ClassOrderMode == runspec.ClassOrderRandom || cfg.ClassOrder != nil:
		return nil, fmt.Errorf("streams: class orders apply to split streams; rotated-mnist has every class in every task")
	case cfg.PermuteFirst:
		return nil, fmt.Errorf("streams: permute_first applies to permuted streams, not rotated-mnist")
	}
	side := int(math.Round(math.Sqrt(float64(data.Train.Dim))))
	if side*side != data.Train.Dim {
		return nil, fmt.Errorf("streams: rotated-mnist needs square images, the data has %d pixels", data.Train.Dim)
	}
	T := cfg.Tasks
	angles, err := RotationAngles(cfg, T)
	if err != nil {
		return nil, err
	}
	s := digitsStream("rotated-mnist", data, sc, T)
	for t, a := range angles {
		task := digitsTask(data, cfg, sc, t)
		task.Name, task.Angle, task.Warp = "rot"+strconv.FormatFloat(a, 'f', 1, 64), a, stream.Rotation(side, side, a)
		s.Tasks = append(s.Tasks, task)
	}
	return s, nil
}
