package strategies

import (
	"math/rand"

	"github.com/clgraph/clgraph/stream"
)

// Naive fine-tunes one network on each task in turn: the lower bound.
type Naive struct{ Base }

// Multihead is a shared trunk with one output head per task, picked by task identity.
type Multihead struct{ Base }

// Joint trains on the union of every task seen so far, with the same number of steps per task:
// the upper bound.
//
// With All (strategy multitask) it samples the union of every task of the stream from the first
// step, the future ones included: A-GEM's MULTI-TASK baseline ("a single pass over shuffled data
// from all tasks"), which a one-pass protocol (T tasks of n steps over n batches each) gives
// exactly: T n steps without replacement over the T tasks' data. Only the accuracy after the
// last task means anything then; the earlier rows have seen tasks yet to come.
type Joint struct {
	Base
	// All samples every task of the stream, not only those seen so far.
	All     bool
	cur     int
	sampler *stream.Sampler
}

// Compile-time interface checks.
var (
	_ Strategy = (*Naive)(nil)
	_ Strategy = (*Multihead)(nil)
	_ Sampler  = (*Joint)(nil)
	_ Requirer = (*Multihead)(nil)
)

// Sample draws a batch uniformly from the training data of tasks 0..cur (with All, of every
// task), without replacement within a pass.
func (j *Joint) Sample(cur int, b *stream.Batch, n int, rng *rand.Rand) {
	if j.All {
		cur = len(j.Env.Stream.Tasks) - 1
	}
	if j.sampler == nil || j.cur != cur {
		j.cur = cur
		j.sampler = stream.NewSampler(rng, j.Env.Stream.Tasks[:cur+1]...)
	}
	j.sampler.Fill(b, n)
}

func init() {
	Register(Info{Name: "naive", Doc: "fine-tune one network on each task in turn (lower bound)", Options: []Option{HeadsOption}},
		func(o *Options) (Strategy, error) {
			s := &Naive{}
			s.ParseHeads(o)
			return s, nil
		})
	Register(Info{Name: "multihead", Doc: "shared trunk, one output head per task chosen by task identity"},
		func(o *Options) (Strategy, error) {
			s := &Multihead{}
			s.Heads = stream.MultiHead
			return s, nil
		})
	Register(Info{Name: "joint", Doc: "train on the union of all tasks seen so far (upper bound)", Options: []Option{HeadsOption}},
		func(o *Options) (Strategy, error) {
			s := &Joint{}
			s.ParseHeads(o)
			return s, nil
		})
	Register(Info{Name: "multitask", Doc: "train on shuffled data of every task of the stream from the first step, the future ones too (A-GEM's MULTI-TASK: with a one-pass protocol, one pass over all tasks; only the final row is meaningful)", Options: []Option{HeadsOption}},
		func(o *Options) (Strategy, error) {
			s := &Joint{All: true}
			s.ParseHeads(o)
			return s, nil
		})
}
