// Package strategies defines the Strategy interface of clgraph's continual-learning methods, a
// Registry that names them with options in one string (e.g. "ewc:lambda=100,online=true"), a Base
// that builds and trains an MLP graph with single or per-task heads, and the built-in strategies:
// naive fine-tuning, multi-head and joint training. A third party adds a strategy by implementing
// Strategy (usually by embedding Base) and registering it; strategytest checks it conforms.
package strategies
