package loop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/clgraph/clgraph/graphs/blas"

	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/stream"
)

// ErrAbandon, as the cause of a cancelled context (context.WithCancelCause), stops a run without
// writing the checkpoint an interruption otherwise writes: the run's folder belongs to someone
// else now (a sweep cell whose lock another process took over).
var ErrAbandon = errors.New("loop: run abandoned to another process")

// Cell is one run, a strategy with a seed, in a run folder: its result goes to
// results.ResultDir(Dir, Spec.Strategy, Spec.Seed), and its checkpoint (CheckpointFile) beside
// it. clgraph run and the sweep executor run their cells through RunCell, so both save
// checkpoints, resume mid-task and stop cleanly on interruption.
type Cell struct {
	// Dir is the run folder (config.json's folder).
	Dir string
	// Spec is the run's spec; Strategy and Seed name the cell.
	Spec runspec.Spec
	// Stream is the stream built from Spec for Spec.Seed.
	Stream *stream.Stream
	// Registry builds the strategy from Spec.Strategy.
	Registry *strategies.Registry
	// Meta is recorded in checkpoints and must match on resume: the data files' checksums and
	// the BLAS doing the products (another implementation rounds differently).
	Meta map[string]string
	// Resume continues the run from its checkpoint when one is there (refused, before any
	// training, when it belongs to another run); otherwise a checkpoint left there is removed
	// and the run starts afresh.
	Resume bool
	// KeepInterrupted writes the partial result of an interrupted run (status interrupted) to
	// result.json, as clgraph run does; otherwise an interrupted cell leaves only its checkpoint
	// and no result, as the sweep executor wants (the cell then counts as not run).
	KeepInterrupted bool
	// BeforeWrite, when set, is called before the result is written; an error leaves the result
	// unwritten (and the checkpoint in place) and is returned as RunCell's (a *WriteError).
	BeforeWrite func() error
}

// ResultDir is the cell's result folder.
func (c *Cell) ResultDir() string { return results.ResultDir(c.Dir, c.Spec.Strategy, c.Spec.Seed) }

// CheckpointPath is the cell's checkpoint file.
func (c *Cell) CheckpointPath() string { return filepath.Join(c.ResultDir(), CheckpointFile) }

// WriteError is RunCell's error when the run's result could not be written: unlike a failed
// run, it loses the result, so callers stop.
type WriteError struct{ Err error }

func (e *WriteError) Error() string { return "writing the result: " + e.Err.Error() }

// Unwrap returns the write's error.
func (e *WriteError) Unwrap() error { return e.Err }

// Checkpoint returns the cell's checkpoint, checked against the cell's run, or nil when there
// is none (or the cell does not resume or save checkpoints). Its error says why the checkpoint
// cannot be used and how to start afresh.
func (r *Runner) Checkpoint(c *Cell) (*Checkpoint, error) {
	path := c.CheckpointPath()
	if !c.Resume || c.Spec.CheckpointEvery < 0 {
		return nil, nil
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	ck, err := ReadCheckpoint(path)
	if err == nil {
		set := Settings{Spec: c.Spec, Checkpoint: CheckpointSettings{Meta: c.Meta}}
		err = r.CheckCheckpoint(ck, c.Stream, c.Spec.Strategy, set)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot resume %s seed %d: %w (delete %s to rerun it from the start)", c.Spec.Strategy, c.Spec.Seed, err, path)
	}
	return ck, nil
}

// RunCell runs cell c: it builds the strategy, resumes from the cell's checkpoint when c.Resume
// and one is there, trains with checkpoints every Spec.CheckpointEvery steps and at task
// boundaries (none when it is -1, or when the strategy cannot be checkpointed), writes
// result.json when the result is final (also for a failed run) or, with c.KeepInterrupted,
// interrupted, and removes the checkpoint once the result is final.
//
// It returns the result and the run's error (Interrupted(err) when ctx was cancelled); a
// *WriteError when the result could not be written; a nil result when nothing could run (the
// strategy could not be built, the checkpoint is not the cell's).
func (r *Runner) RunCell(ctx context.Context, c Cell) (*results.Result, error) {
	s, err := c.Registry.New(c.Spec.Strategy)
	if err != nil {
		return nil, err
	}
	path := c.CheckpointPath()
	set := Settings{Spec: c.Spec}
	if c.Spec.CheckpointEvery >= 0 {
		set.Checkpoint = CheckpointSettings{Path: path, Meta: c.Meta}
	}
	ck, err := r.Checkpoint(&c)
	if err != nil {
		return nil, err
	}
	if ck == nil {
		if err := RemoveCheckpoint(path); err != nil { // a stale one, from --force or an old attempt
			return nil, err
		}
	}
	CleanCheckpointTemp(path)
	set.Checkpoint.Resume = ck
	rr := r
	if g, ok := s.(strategies.Generative); ok {
		cp := *rr
		cp.Hooks = append(slices.Clone(rr.Hooks), pictureHook(c.ResultDir(), c.Stream, g, c.Spec.Seed, r.Log))
		rr = &cp
	}
	if h := stepLogHook(c.ResultDir(), c.Spec.StepLog, c.Spec.LR); h != nil {
		cp := *rr
		cp.Hooks = append(slices.Clone(rr.Hooks), h)
		rr = &cp
	}
	res, runErr := rr.Run(ctx, c.Stream, s, set)
	interrupted := runErr != nil && Interrupted(runErr)
	if interrupted && !c.KeepInterrupted {
		return res, runErr
	}
	if c.BeforeWrite != nil {
		if err := c.BeforeWrite(); err != nil {
			return nil, &WriteError{err}
		}
	}
	if werr := results.WriteResult(c.Dir, res); werr != nil {
		return res, &WriteError{fmt.Errorf("%s seed %d: %w", c.Spec.Strategy, c.Spec.Seed, werr)}
	}
	if c.Spec.SaveModel && runErr == nil {
		m := strategies.ModelFile{Strategy: c.Spec.Strategy, Seed: c.Spec.Seed, Stream: c.Spec.Stream, Scenario: c.Spec.Scenario, Params: strategies.SaveParams(s.Params())}
		if werr := strategies.WriteModel(filepath.Join(c.ResultDir(), strategies.ModelFileName), m); werr != nil {
			return res, &WriteError{fmt.Errorf("%s seed %d: the model file: %w", c.Spec.Strategy, c.Spec.Seed, werr)}
		}
	}
	if !interrupted {
		RemoveCheckpoint(path) // the result is final
	}
	return res, runErr
}

// Meta is what checkpoints record beyond the run's spec and must match on resume: the data
// files' checksums (files maps a file name to its SHA-256) and the BLAS doing the matrix
// products (another implementation or library version rounds differently).
func Meta(files map[string]string) map[string]string {
	b := blas.Setup()
	m := map[string]string{"blas": b.Name}
	if b.Library != "" {
		m["blas"] += " " + filepath.Base(b.Library)
	}
	if b.Core != "" {
		m["blas"] += " " + b.Core
	}
	for name, sum := range files {
		m["data/"+name] = sum
	}
	return m
}
