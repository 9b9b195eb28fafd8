package cli

import (
	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/stream"
	"github.com/clgraph/clgraph/sweep"
)

// preflight sets up every strategy of a run command once on st, the stream of the command's
// first seed, with the command's settings spec, and discards it (sweep.TrySetup): what a
// strategy can only refuse at setup (layerwise:freeze beyond the trunk, a pnn width of another
// depth, an auto strength float32 cannot apply) becomes a usage error naming the strategy,
// before any run trains or the run folder is written. Each strategy gets an Env of its own,
// with its own random source and a logger that discards, so the runs' random sources, logs and
// results are unchanged; setup builds the models and trains nothing.
func (a *App) preflight(specs []string, st *stream.Stream, spec runspec.Spec) error {
	for _, name := range specs {
		s, err := a.Registry.New(name)
		if err != nil {
			return usagef("strategy %s: %v", name, oneLine(err))
		}
		if err := loop.Check(st, s, name); err != nil {
			return usageError{err}
		}
		if err := sweep.TrySetup(a.Registry, name, st, spec); err != nil {
			return usagef("strategy %s cannot be set up on %s (%s-IL, hidden %v): %s; no run was started", name, st.Name, st.Scenario, spec.Hidden, oneLine(err))
		}
	}
	return nil
}
