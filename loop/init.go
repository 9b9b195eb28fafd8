package loop

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"time"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/stream"
	"github.com/sirupsen/logrus"
)

// trunkOnly keeps the parameters of the MLP trunk Base builds ("trunk/..."): what pre-training
// hands to a strategy (its heads are of other classes).
func trunkOnly(name string) bool { return strings.HasPrefix(name, "trunk/") }

// initialise sets s's parameters, after its setup and before its first task, from what the spec
// asks: the model file InitFrom, then the trunk of a plain model pre-trained on the stream's
// Pretrain task (which starts from InitFrom's trunk too). It returns what was done (nil when
// nothing was asked) and tells s (strategies.Initialized) that its parameters changed.
func initialise(ctx context.Context, log logrus.FieldLogger, st *stream.Stream, s strategies.Strategy, name string, set Settings) (*results.Init, error) {
	if set.Init == runspec.InitTNormal {
		rng, _ := rngFor(set.Seed, 5)
		n := reinitTNormal(s.Params(), rng)
		log.WithFields(logrus.Fields{"strategy": name, "tensors": n}).Debug("weights initialised: truncated normal, std 0.1, biases 0.1")
	}
	if set.InitFrom == "" && st.Pretrain == nil {
		if i, ok := s.(strategies.Initialized); ok && set.Init != "" {
			i.ParamsInitialized()
		}
		return nil, nil
	}
	in := &results.Init{}
	ps := s.Params()
	var from []strategies.ParamState
	if set.InitFrom != "" {
		m, err := strategies.ReadModel(set.InitFrom)
		if err != nil {
			return nil, fmt.Errorf("init_from: %w", err)
		}
		from = m.Params
		in.From = set.InitFrom
		in.Loaded, in.Kept = strategies.ApplyParams(ps, m.Params, nil)
		if len(in.Loaded) == 0 {
			return nil, fmt.Errorf("init_from %s: none of its %d parameters (saved by %s on %s, %s-IL) has the name and shape of one of %s's %d (%s): start from a model of the same trunk", set.InitFrom, len(m.Params), m.Strategy, m.Stream, m.Scenario, name, len(ps.All()), strings.Join(ps.Names(), ", "))
		}
		log.WithFields(logrus.Fields{"strategy": name, "from": set.InitFrom, "loaded": len(in.Loaded), "kept": len(in.Kept)}).Info("parameters initialised from the model file")
		if len(in.Kept) > 0 {
			log.WithFields(logrus.Fields{"strategy": name, "kept": strings.Join(in.Kept, ", ")}).Warn("init_from: these parameters are not in the model file with their shape and keep their own initialisation")
		}
	}
	if st.Pretrain != nil {
		pre, params, err := pretrain(ctx, st, set, from)
		if err != nil {
			return nil, err
		}
		loaded, _ := strategies.ApplyParams(ps, params, trunkOnly)
		if len(loaded) == 0 {
			return nil, fmt.Errorf("pretrain_classes: %s has no parameter of the pre-trained trunk (%s): it builds its own network, so pre-training cannot initialise it", name, strings.Join(pre.Transfer, ", "))
		}
		pre.Transfer = loaded
		in.Pretrain = pre
		log.WithFields(logrus.Fields{"strategy": name, "classes": fmt.Sprint(pre.Classes), "steps": pre.Steps, "test_acc": fmt.Sprintf("%.3f", pre.TestAcc), "tensors": len(loaded)}).Info("trunk pre-trained")
	}
	if i, ok := s.(strategies.Initialized); ok {
		i.ParamsInitialized()
	}
	return in, nil
}

// paramNames returns the names of ps's parameters.
func paramNames(ps *graphs.ParamSet) map[string]bool {
	known := map[string]bool{}
	for _, p := range ps.All() {
		known[p.Name] = true
	}
	return known
}

// initNewParams gives the parameters a strategy created at the start of task t (a progressive
// network's new column and its laterals), those not in known, the initialisation initialise
// gave the ones of its setup: with Init tnormal, truncated normal weights and biases of 0.1, from
// a random source of their own per task, so that the draws do not depend on anything else the
// run did (a resumed run restores them from its checkpoint). known gains them. It returns how
// many tensors it set (none without Init tnormal, whose parameters keep their own
// initialisation).
func initNewParams(set Settings, ps *graphs.ParamSet, known map[string]bool, t int) int {
	var fresh []*graphs.Param
	for _, p := range ps.All() {
		if !known[p.Name] {
			fresh = append(fresh, p)
			known[p.Name] = true
		}
	}
	if set.Init != runspec.InitTNormal || len(fresh) == 0 {
		return 0
	}
	rng, _ := rngFor(set.Seed, 64+uint64(t))
	return tnormal(fresh, rng)
}

// reinitTNormal sets every weight of ps ("/W", and a progressive network's laterals "/U<k>")
// to truncated normal draws of std 0.1 and every bias ("/b") to 0.1, in ps's order, and returns
// how many tensors it set.
func reinitTNormal(ps *graphs.ParamSet, rng *rand.Rand) int { return tnormal(ps.All(), rng) }

// tnormal is reinitTNormal over params.
func tnormal(params []*graphs.Param, rng *rand.Rand) int {
	n := 0
	for _, p := range params {
		base := p.Name[strings.LastIndex(p.Name, "/")+1:]
		switch {
		case base == "W" || (strings.HasPrefix(base, "U") && strings.Trim(base[1:], "0123456789") == ""):
			graphs.InitTruncNormal(p, 0.1, rng)
		case base == "b":
			for i := range p.Data() {
				p.Data()[i] = 0.1
			}
		default:
			continue
		}
		n++
	}
	return n
}

// pretrain trains a plain model (the run's trunk, one head over the pre-training classes) on
// st.Pretrain for PretrainIterations steps (else Iterations), from from's trunk when given, with
// random sources of its own drawn from the seed, and returns the record and its parameters.
func pretrain(ctx context.Context, st *stream.Stream, set Settings, from []strategies.ParamState) (*results.Pretrain, []strategies.ParamState, error) {
	t := *st.Pretrain
	t.ID = 0
	ps := &stream.Stream{Name: st.Name + " pre-training", Scenario: stream.ClassIL, Tasks: []*stream.Task{&t}, InputDim: st.InputDim, Outputs: len(t.Units)}
	if err := ps.Validate(); err != nil {
		return nil, nil, fmt.Errorf("pretrain_classes: %w", err)
	}
	steps := set.PretrainIterations
	if steps == 0 {
		steps = set.Iterations
	}
	rng, _ := rngFor(set.Seed, 3)
	srng, _ := rngFor(set.Seed, 4)
	b := &strategies.Base{}
	env := &strategies.Env{Stream: ps, Hidden: set.Hidden, Filters: set.ConvFilters(), LR: set.LR, Batch: set.Batch, EvalBatch: set.EvalBatch, Iterations: steps, Optimizer: set.Optimizer, Rng: rng}
	if err := b.Setup(env); err != nil {
		return nil, nil, fmt.Errorf("pretrain_classes: setup: %w", err)
	}
	if from != nil {
		strategies.ApplyParams(b.PS, from, trunkOnly)
	}
	t0 := time.Now()
	smp := stream.NewSampler(srng, &t)
	batch := stream.NewBatch(set.Batch, st.InputDim)
	var loss float32
	for i := range steps {
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("pre-training stopped at step %d: %w", i, err)
		}
		smp.Fill(batch, set.Batch)
		batch.HideTasks()
		info, err := b.Step(0, batch)
		if err == nil && (math.IsNaN(float64(info.Loss)) || math.IsInf(float64(info.Loss), 0)) {
			err = strategies.Diverged(info.Loss, 0)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("pre-training, step %d: %w", i+1, err)
		}
		loss = info.Loss
	}
	eb := stream.NewBatch(set.EvalBatch, st.InputDim)
	acc, err := Accuracy(b, ps, 0, 0, eb, make([]float32, set.EvalBatch*ps.Outputs))
	if err != nil {
		return nil, nil, fmt.Errorf("pre-training: evaluation: %w", err)
	}
	var names []string
	for _, p := range b.PS.All() {
		if trunkOnly(p.Name) {
			names = append(names, p.Name)
		}
	}
	return &results.Pretrain{Classes: append([]int(nil), t.Classes...), Steps: steps, Loss: float64(loss), TestAcc: acc, Seconds: time.Since(t0).Seconds(), Transfer: names},
		strategies.SaveParams(b.PS), nil
}
