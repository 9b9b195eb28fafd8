// Package strategies defines the Strategy interface of clgraph's continual-learning methods, a
// Registry that names them with options in one string (e.g. "ewc:lambda=100,online=true"), the
// toolkit strategies are built from, and the built-in strategies: naive fine-tuning, multi-head
// and joint training, EWC, L2, SI, MAS, LwF, replay, A-GEM, GEM, DER/DER++, GDumb, iCaRL, XdG, progressive networks and layer-wise
// fine-tuning. A third
// party adds a strategy by implementing Strategy (usually by embedding Base or Regularizer) and
// registering it; strategytest.Run checks that it conforms, exact resumption included.
//
// # Optional interfaces
//
// Beyond Strategy's four methods, the runner (loop.Runner), the registry and the command line
// look for these interfaces, each one line of behaviour. The last column says who provides it.
//
//	TaskStarter           StartTask(cur): work before a task (grow a column)         -
//	TaskEnder             EndTask(cur): work after a task (Fisher, memory, anchors)  -
//	Sampler               Sample: draw the step's own batches (joint training)       -
//	SamplingCheckpointer  Save/LoadSampling: a Sampler's state on resume             -
//	Requirer              Requires: needs task identity (checked before training)    Base (heads=multi)
//	Modeler               Model: the Gorgonia model, to draw or benchmark            Base
//	Optimized             Optimizer: the graphs.Adam whose moments checkpoints save  Base
//	Named                 SetSpec/Spec: the canonical spec, set by Registry.New      Base
//	Checkpointer          Save/LoadState: state beyond parameters, for resuming      Base (empty), Regularizer
//	StateWriter           WriteState: stream a large state into the checkpoint       Regularizer, LwF, DGR
//	Resolver              Resolved: options settled at Setup (heads, lambda=auto)    Base, Regularizer
//
// So a strategy embedding Base writes only what it changes: a strategy without state of its own
// writes no checkpoint code (Base's empty Checkpointer, Stateless), one with more state overrides
// SaveState and LoadState (strategytest.Run fails when it forgets). What a strategy requires is
// declared once, by its Requirer (task identity at test time, or the scenarios it runs in with
// the reason, as iCaRL's class-IL only): listings ask the strategy built with default options (or
// any spec) through Registry.Requirements, the runner, sweeps and strategytest.Run ask the
// strategy they run (Requirements.Runs, Requirements.Check).
//
// # Writing a regulariser
//
// Importance-weighted regularisers (EWC, L2, SI, MAS) embed Regularizer: Base plus the penalty
// Strength * Factor * sum w (theta - anchor)^2 as one graphs.Quadratic Q over SharedParams. The
// strategy writes its algorithm only, how the weights and anchors change (EndTask, or Step), and
// registers its strength as an auto option (Option.Auto, an AutoTable keyed "<strategy>.<option>"
// whose values streams register in stream.Stream.Defaults); the factory reads it with
// ParseRegularizer. Regularizer resolves "auto", builds the penalty into the graph, reports the
// strength (Resolver) and checkpoints Q with the strategy's named Buffers and State. L2 (l2.go) is
// the shortest example, si.go a path-integral one, examples/plugin/imm.go one written from
// outside the module.
//
// Penalty helpers for strategies of their own: QuadraticPenalty (a penalty for Base.Penalty),
// SharedParams, ConsolidateAnchor (merge quadratic terms), DiagonalFisher, and SaveQuadratic,
// LoadQuadratic, SaveQuadraticJSON and LoadQuadraticJSON (checkpoint a graphs.Quadratic).
package strategies
