// Command mylab is a researcher's own module: it adds a strategy to clgraph's registry and runs
// clgraph's command line over it.
package main

import (
	"fmt"
	"os"

	"github.com/clgraph/clgraph/cli"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/stream"
)

// Shrink is naive fine-tuning that halves its learning rate at every task boundary: the kind of
// small idea a researcher tries first. It embeds strategies.Base (an MLP with Adam and the
// scenario's heads) and changes only what it needs.
type Shrink struct {
	strategies.Base
	lr float64
}

// StartTask halves the learning rate from the second task on.
func (s *Shrink) StartTask(cur int) error {
	if cur > 0 {
		s.lr /= 2
		s.Opt.LR = s.lr
	}
	return nil
}

// Setup builds Base's model and remembers the starting learning rate.
func (s *Shrink) Setup(env *strategies.Env) error {
	s.lr = env.LR
	return s.Base.Setup(env)
}

// Step trains on one batch.
func (s *Shrink) Step(cur int, b *stream.Batch) (strategies.StepInfo, error) {
	return s.Base.Step(cur, b)
}

func init() {
	strategies.Register(strategies.Info{
		Name:    "shrink",
		Doc:     "naive fine-tuning whose learning rate halves at every task boundary (external module)",
		Options: []strategies.Option{strategies.HeadsOption},
	}, func(o *strategies.Options) (strategies.Strategy, error) {
		s := &Shrink{}
		s.ParseHeads(o)
		return s, nil
	})
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "version" {
		fmt.Println("mylab 0.1")
		return
	}
	os.Exit(cli.Main(os.Args[1:], strategies.Default))
}
