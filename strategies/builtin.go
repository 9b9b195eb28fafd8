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

// ConvTrunk reports that the strategy runs on a conv trunk: its model is Base's.
func (*Naive) ConvTrunk() bool { return true }

// ConvTrunk reports that the strategy runs on a conv trunk: its model is Base's.
func (*Multihead) ConvTrunk() bool { return true }

// ConvTrunk reports that the strategy runs on a conv trunk: its model is Base's.
func (*Joint) ConvTrunk() bool { return true }

// ConvTrunk reports that the strategy runs on a conv trunk: it replays examples through Base's
// model.
func (*Replay) ConvTrunk() bool { return true }

// ConvTrunk reports that the strategy runs on a conv trunk: its logit memory comes from the
// model's own graph.
func (*DER) ConvTrunk() bool { return true }

// ConvTrunk reports that the strategy runs on a conv trunk: it projects the model's gradients.
func (*AGEM) ConvTrunk() bool { return true }

// ConvTrunk reports that the strategy runs on a conv trunk: it projects the model's gradients.
func (*GEM) ConvTrunk() bool { return true }

// ConvTrunk reports that the strategy runs on a conv trunk: it re-initialises every layer, conv
// layers included, and trains on its memory.
func (*GDumb) ConvTrunk() bool { return true }

// ConvTrunk reports that the strategy runs on a conv trunk: its meta-updates act on every
// parameter.
func (*MER) ConvTrunk() bool { return true }

// ConvTrunk reports that the strategy runs on a conv trunk: its importance comes from the
// model's gradients over every shared parameter.
func (*SI) ConvTrunk() bool { return true }

// ConvTrunk reports that the strategy runs on a conv trunk: its penalty is over every shared
// parameter.
func (*L2) ConvTrunk() bool { return true }

// ConvTrunk reports that the strategy runs on a conv trunk: its penalty is over every shared
// parameter and its Fisher goes through the model's graph there (DiagonalFisher).
func (*EWC) ConvTrunk() bool { return true }

// ConvTrunk reports that the strategy runs on a conv trunk: its penalty is over every shared
// parameter and its importance goes through the model's graph there (MASImportance).
func (*MAS) ConvTrunk() bool { return true }

// ConvTrunk reports that the strategy runs on a conv trunk: its previous model's pure-Go copy
// runs the conv layers too.
func (*LwF) ConvTrunk() bool { return true }

// ConvTrunk reports that the strategy runs on a conv trunk: its features are the last dense
// layer's, after the conv layers, and its previous model's copy runs them too.
func (*ICaRL) ConvTrunk() bool { return true }

// ConvTrunk reports that dgr and rtf run on a conv trunk: dgr's generator is a VAE of its own,
// rtf's VAE encodes through the classifier's trunk, conv layers included, and the copies of the
// previous classifier and generator run the conv layers.
func (d *DGR) ConvTrunk() bool { return true }
