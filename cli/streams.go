package cli

import (
	"fmt"
	"strings"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/streams"
)

func (a *App) cmdStreams(args []string) error {
	if len(args) > 0 {
		return usagef("streams takes no arguments")
	}
	fmt.Fprintln(a.Stdout, "Streams (use as --stream NAME --scenario task|domain|class):")
	for _, s := range streams.Default.Defs() {
		var sc []string
		for _, x := range s.Scenarios {
			sc = append(sc, x.String())
		}
		name := s.Name
		if len(s.Aliases) > 0 {
			name += " (also " + strings.Join(s.Aliases, ", ") + ")"
		}
		var protos []string
		for _, p := range s.ProtocolNames() {
			x := s.Protocols[p]
			opt := "Adam"
			if x.Optimizer == "sgd" {
				opt = "SGD"
			}
			line := fmt.Sprintf("%s: %d iterations, hidden %v, %s %g, batch %d", p, x.Iterations, x.Hidden, opt, x.LR, x.Batch)
			if x.Tasks > 0 {
				line += fmt.Sprintf(", %d tasks", x.Tasks)
			}
			if x.TrainLimit > 0 {
				line += fmt.Sprintf(", %d training examples a task", x.TrainLimit)
			}
			if x.Pad > 0 {
				line += fmt.Sprintf(", padded by %d", x.Pad)
			}
			if len(x.Normalize) == 2 {
				line += fmt.Sprintf(", normalised (mean %g, std %g)", x.Normalize[0], x.Normalize[1])
			}
			if x.ClassOrderMode == runspec.ClassOrderRandom {
				line += ", class order from the seed"
			}
			if x.PermuteFirst {
				line += ", task 1 permuted"
			}
			if x.Init != "" {
				line += ", init " + x.Init
			}
			protos = append(protos, line)
		}
		fmt.Fprintf(a.Stdout, "\n  %s (%d tasks by default)\n      %s\n      scenarios: %s\n      protocols: %s\n", name, s.DefaultTasks, s.Doc, strings.Join(sc, ", "), strings.Join(protos, "; "))
	}
	fmt.Fprintln(a.Stdout, `
Scenarios:
  task    task identity given at test time; each task scored over its own classes
  domain  no task identity; every task shares one label space (split: 2 outputs, permuted: 10)
  class   no task identity; scored over every class seen so far (split: 10 outputs, permuted: 10 x tasks)

Task-free (blurry) boundaries, on every stream:
  --blurry N           the first N steps of every task after the first mix in the previous task's
                       examples, the new task's share rising linearly from 1/(N+1) to N/(N+1)
  --boundaries hidden  strategies are not told the boundaries (domain and class scenarios): those
                       that need them (StartTask/EndTask: ewc, replay, ...) are refused; naive, der
                       and mer run; evaluation stays after each task's iterations`)
	fmt.Fprintf(a.Stdout, `
Trunks, on every stream (--model):
  mlp   the dense layers of --hidden, each with ReLU (the default)
  conv  5x5 conv layers of --filters (default %s), each with ReLU and a 2x2 max-pool, over
        the square images (MNIST's 28x28, 32x32 with --pad 2), then one dense layer of 256
        units (LeNet-like), or the dense layers of --hidden when given;
        runs with %s; the others are refused
`, joinInts(runspec.DefaultFilters), strings.Join(loop.ConvStrategies(), ", "))
	return nil
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}
