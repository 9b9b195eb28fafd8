package strategies

import (
	"fmt"
	"math"

	"github.com/clgraph/clgraph/graphs"
)

// Layerwise is layer-wise fine-tuning: Base's network is trained normally on the first task; from
// the start of the second task on, the first Freeze layers are frozen (graphs.Param.Frozen: no
// gradient, no update; the model is rebuilt) and layer l of L (the trunk's layers, then the output
// layer, all heads together, as layer L) trains at the learning rate times Decay^(L-l)
// (graphs.Param.LRScale): "discriminative fine-tuning" (Howard & Ruder 2018), lower layers slower.
type Layerwise struct {
	Base
	// Freeze is the number of layers, from the input, frozen after the first task: 0 freezes
	// none; at most the number of trunk layers, conv layers included (the output layer always
	// trains). The spec's
	// default is 1, so a bare "layerwise" differs from naive fine-tuning.
	Freeze int
	// Decay is the per-layer learning-rate factor from the second task on, in (0, 1]; 1 (or 0,
	// the zero value) gives every layer the same rate.
	Decay float64

	applied bool
}

// Compile-time interface checks.
var (
	_ Strategy    = (*Layerwise)(nil)
	_ TaskStarter = (*Layerwise)(nil)
	_ Requirer    = (*Layerwise)(nil)
	_ Modeler     = (*Layerwise)(nil)
)

// Setup checks Freeze against the trunk's depth and builds Base's network.
func (l *Layerwise) Setup(env *Env) error {
	if depth := len(env.Filters) + len(env.Hidden); l.Freeze < 0 || l.Freeze > depth {
		return fmt.Errorf("layerwise: freeze=%d: the trunk has %d layers (%d conv, %d dense), so freeze takes 0 to %d (the output layer always trains)", l.Freeze, depth, len(env.Filters), len(env.Hidden), depth)
	}
	if l.Decay < 0 || l.Decay > 1 || math.IsNaN(l.Decay) {
		return fmt.Errorf("layerwise: decay=%v outside (0, 1]", l.Decay)
	}
	l.applied = false
	if err := l.Base.Setup(env); err != nil {
		return fmt.Errorf("layerwise: %w", err)
	}
	return nil
}

// Layers returns the network's parameters by layer, from the input: one entry per trunk layer
// (its conv layers first), then one for the output layer (every head).
func (l *Layerwise) Layers() [][]*graphs.Param {
	var out [][]*graphs.Param
	for _, c := range l.Trunk.Convs {
		out = append(out, []*graphs.Param{c.W, c.B})
	}
	for _, d := range l.Trunk.Layers {
		out = append(out, []*graphs.Param{d.W, d.B})
	}
	var head []*graphs.Param
	for _, d := range l.Out.Layers {
		head = append(head, d.W, d.B)
	}
	return append(out, head)
}

// StartTask applies the freezing and the per-layer learning rates at the start of the second
// task (cur = 1), rebuilding the model when it freezes layers.
func (l *Layerwise) StartTask(cur int) error {
	if cur < 1 || l.applied {
		return nil
	}
	l.applied = true
	layers := l.Layers()
	L := len(layers)
	d := l.Decay
	if d == 0 {
		d = 1
	}
	for i, ps := range layers {
		scale := float32(math.Pow(d, float64(L-(i+1))))
		for _, p := range ps {
			p.LRScale = scale
			p.Frozen = i < l.Freeze
		}
	}
	if l.Freeze == 0 {
		return nil
	}
	if err := l.Build(); err != nil {
		return fmt.Errorf("layerwise: freezing %d layers: %w", l.Freeze, err)
	}
	return nil
}

func init() {
	Register(Info{
		Name: "layerwise",
		Doc:  "layer-wise fine-tuning: after the first task freeze the first layers and/or train lower layers at smaller learning rates",
		Options: []Option{
			HeadsOption,
			{Name: "freeze", Default: "1", Doc: "layers frozen after the first task, from the input (0 = none; at most the number of hidden layers; the default 1 keeps the first layer's features, so the bare spec differs from naive)"},
			{Name: "decay", Default: "1", Doc: "from the second task layer l of L trains at lr*decay^(L-l), the head counting as layer L (1 = off)"},
		},
	}, func(o *Options) (Strategy, error) {
		s := &Layerwise{Freeze: o.Int("freeze"), Decay: o.Float("decay")}
		s.ParseHeads(o)
		o.Check("freeze", s.Freeze >= 0, "a number of layers >= 0")
		o.Check("decay", s.Decay > 0 && s.Decay <= 1, "a factor in (0, 1] (ULMFiT's 1/2.6 is decay=0.385)")
		return s, nil
	})
}
