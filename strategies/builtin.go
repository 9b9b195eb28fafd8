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
type Joint struct {
	Base
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

// Sample draws a batch uniformly from the training data of tasks 0..cur.
func (j *Joint) Sample(cur int, b *stream.Batch, n int, rng *rand.Rand) {
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
}
