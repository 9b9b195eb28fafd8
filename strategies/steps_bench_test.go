package strategies_test

import "testing"

// The step benchmarks of the strategies without a test file of their own, beside
// BenchmarkNaiveStep (benchStep: 784-400-400-10 MLP, batch 128, second task of a class-IL stream
// of MNIST's shape), so the README's strategy table gives every method's step cost as a ratio to
// naive's, measured in one run:
//
//	go test -run xxx -bench 'Step$' -benchtime 200x ./strategies/

// BenchmarkEWCStep is an EWC step: the quadratic penalty over the shared parameters.
func BenchmarkEWCStep(b *testing.B) { benchStep(b, "ewc") }

// BenchmarkSIStep is an SI step: the penalty and the path integral's update.
func BenchmarkSIStep(b *testing.B) { benchStep(b, "si") }

// BenchmarkL2Step is an L2 step: the unweighted quadratic penalty.
func BenchmarkL2Step(b *testing.B) { benchStep(b, "l2") }

// BenchmarkReplayStep is a replay step: the current batch and a memory batch.
func BenchmarkReplayStep(b *testing.B) { benchStep(b, "replay") }

// BenchmarkJointStep is a joint-training step on the union of the tasks seen.
func BenchmarkJointStep(b *testing.B) { benchStep(b, "joint") }

// BenchmarkRWalkStep is an RWalk step: the penalty, the squared-gradient window and the path
// integral's update (an interval closes every tenth step).
func BenchmarkRWalkStep(b *testing.B) { benchStep(b, "rwalk") }

// BenchmarkMultitaskStep is a multitask step on the union of every task of the stream.
func BenchmarkMultitaskStep(b *testing.B) { benchStep(b, "multitask") }
