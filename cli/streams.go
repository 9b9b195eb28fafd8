package cli

import (
	"fmt"
	"strings"

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
			protos = append(protos, fmt.Sprintf("%s: %d iterations, hidden %v, Adam %g, batch %d", p, x.Iterations, x.Hidden, x.LR, x.Batch))
		}
		fmt.Fprintf(a.Stdout, "\n  %s (%d tasks by default)\n      %s\n      scenarios: %s\n      protocols: %s\n", name, s.DefaultTasks, s.Doc, strings.Join(sc, ", "), strings.Join(protos, "; "))
	}
	fmt.Fprintln(a.Stdout, `
Scenarios:
  task    task identity given at test time; each task scored over its own classes
  domain  no task identity; every task shares one label space (split: 2 outputs, permuted: 10)
  class   no task identity; scored over every class seen so far (split: 10 outputs, permuted: 10 x tasks)`)
	return nil
}
