package cli

import (
	"fmt"
	"strings"

	"github.com/clgraph/clgraph/benchmarks"
)

func (a *App) cmdStreams(args []string) error {
	if len(args) > 0 {
		return usagef("streams takes no arguments")
	}
	fmt.Fprintln(a.Stdout, "Streams (use as --stream NAME --scenario task|domain|class):")
	for _, s := range benchmarks.Streams() {
		var sc []string
		for _, x := range s.Scenarios {
			sc = append(sc, x.String())
		}
		fmt.Fprintf(a.Stdout, "\n  %s (%d tasks by default)\n      %s\n      scenarios: %s\n", s.Name, s.DefaultTasks, s.Doc, strings.Join(sc, ", "))
	}
	fmt.Fprintln(a.Stdout, `
Scenarios:
  task    task identity given at test time; each task scored over its own classes
  domain  no task identity; every task shares one label space (split: 2 outputs, permuted: 10)
  class   no task identity; scored over every class seen so far (split: 10 outputs, permuted: 10 x tasks)`)
	return nil
}
