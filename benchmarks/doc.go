// Package benchmarks builds continual-learning task streams over real MNIST (split and permuted,
// in the task-, domain- and class-incremental scenarios), holds the reference protocols' settings,
// and runs a strategy over a stream: training task by task and evaluating every task after every
// task into the accuracy matrix, its metrics and the run's costs.
package benchmarks
