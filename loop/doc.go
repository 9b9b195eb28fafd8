// Package loop is clgraph's one training loop, directly above package strategies: Runner trains a
// strategy over a stream task by task and evaluates the untrained model and then every task after
// every task into the accuracy matrix, its metrics and the run's costs; Cell and RunCell run one
// strategy x seed in a run folder with checkpoints and exact resume, for clgraph run and sweeps
// alike; the checkpoint format (Checkpoint, versioned and checksummed) and VerifyResume, the
// exact-resume check of the conformance suite, live here too.
//
// Everything around the loop hangs on hooks (Hook): progress displays, logging, checkpoints'
// notices, early stops. A hook returns an error to stop the run; ErrStop stops it cleanly, which
// is how `clgraph graph` draws the graph a run builds (stop at the start of task k) and sweep
// calibration times steps (stop after k steps): both run the real loop, no copy of it.
//
// Events of one run, in order: RunStart (after the strategy's Setup), then per task TaskStart
// (after its StartTask), Step after every training step, CheckpointSaved when a checkpoint was
// written, TaskEnd (after EndTask and the evaluation, with the row of R), and RunEnd.
package loop
