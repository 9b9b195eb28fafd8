package sweep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/streams"
	"github.com/sirupsen/logrus"
)

// Default timings of an Executor.
const (
	// DefaultStaleAfter is Executor.StaleAfter's default.
	DefaultStaleAfter = 10 * time.Minute
	// DefaultHeartbeat is Executor.Heartbeat's default.
	DefaultHeartbeat = 30 * time.Second
	// DefaultPoll is Executor.Poll's default.
	DefaultPoll = 5 * time.Second
)

// Executor runs cells of a plan into a sweep folder, Workers at a time in this process. Several
// executors (processes, hosts) may share one folder: the cell locks make each cell run once.
type Executor struct {
	// Dir is the sweep folder.
	Dir string
	// Plan is the expanded grid.
	Plan *Plan
	// Source is the experiment file's text, stored in the manifest.
	Source []byte
	// Data is the dataset every cell's stream is built over, loaded once. It may be nil when
	// every cell of the shard is complete.
	Data *streams.Data
	// Registry builds the strategies.
	Registry *strategies.Registry
	// Workers is the number of cells run at once (default 1).
	Workers int
	// Shard selects the cells to run (the zero value runs every cell).
	Shard Shard
	// Config is the template of each group's config.json: Command, Versions, Data and CreatedAt
	// (the settings are filled per group).
	Config results.Config
	// Log receives progress; nil discards it.
	Log logrus.FieldLogger
	// StaleAfter is how long a lock may go untouched before other hosts take it over
	// (default DefaultStaleAfter); keep it well above Heartbeat.
	StaleAfter time.Duration
	// Heartbeat is how often a running cell's lock is touched (default DefaultHeartbeat).
	Heartbeat time.Duration
	// Poll is how often cells locked by other processes are looked at again (default
	// DefaultPoll).
	Poll time.Duration
	// Hooks observe every cell's run (called from the worker goroutines).
	Hooks []loop.Hook
}

// Report counts what an Executor did with its shard's cells.
type Report struct {
	// Cells is the number of cells of the shard.
	Cells int
	// Complete is the number found complete (status ok) before running anything.
	Complete int
	// Ran is the number this process trained to the end.
	Ran int
	// OK and Failed split Ran by status.
	OK, Failed int
	// Elsewhere is the number completed by other processes while this one waited or checked.
	Elsewhere int
	// Aborted is the number stopped before their end (interrupted or lock lost); they have no
	// new result and run again next time.
	Aborted int
	// Errors are problems that stopped cells from being run or written.
	Errors []error
}

// Prepare creates the sweep folder, writes the manifest and each group's config.json (or
// checks the existing ones), and checks that no cell folder holds results of other settings.
func (e *Executor) Prepare() error {
	if err := e.Plan.Check(e.Dir); err != nil { // before anything is written
		return err
	}
	if err := WriteManifest(e.Dir, e.Plan.Manifest(e.Source)); err != nil {
		return err
	}
	tmpl := e.Config
	if tmpl.CreatedAt.IsZero() {
		tmpl.CreatedAt = time.Now().UTC()
	}
	for _, g := range e.Plan.Groups {
		if err := e.Plan.EnsureGroupConfig(e.Dir, g, tmpl); err != nil {
			return err
		}
	}
	for _, c := range e.Plan.Shard(e.Shard.Index, e.Shard.Count) {
		if _, err := e.Plan.StateOf(e.Dir, c); err != nil {
			return err
		}
	}
	return nil
}

// Check checks, without writing, that the sweep folder (if it exists) holds no results of other
// settings than the plan's.
func (p *Plan) Check(dir string) error {
	for _, g := range p.Groups {
		if err := p.CheckGroup(dir, g); err != nil {
			return err
		}
	}
	for _, c := range p.Cells {
		if _, err := p.StateOf(dir, c); err != nil {
			return err
		}
	}
	return nil
}

func (e *Executor) log() logrus.FieldLogger {
	if e.Log != nil {
		return e.Log
	}
	return discardLog
}

// discardLog is the logger of an Executor without one.
var discardLog = func() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}()

// Run prepares the folder and runs the shard's cells that are not complete, Workers at a time.
// A cell locked by a live process elsewhere is looked at again every Poll until it is complete
// or its lock goes stale (then this process runs it), so when Run returns without ctx being
// cancelled every cell of the shard has a result. Run returns an error only when the folder
// cannot be prepared; per-cell problems are in the Report.
func (e *Executor) Run(ctx context.Context) (*Report, error) {
	if e.StaleAfter <= 0 {
		e.StaleAfter = DefaultStaleAfter
	}
	if e.Heartbeat <= 0 {
		e.Heartbeat = DefaultHeartbeat
	}
	if e.Poll <= 0 {
		e.Poll = DefaultPoll
	}
	if e.Workers < 1 {
		e.Workers = 1
	}
	if err := e.Prepare(); err != nil {
		return nil, err
	}
	cells := e.Plan.Shard(e.Shard.Index, e.Shard.Count)
	rep := &Report{Cells: len(cells)}
	var todo []Cell
	for _, c := range cells {
		st, err := e.Plan.StateOf(e.Dir, c)
		if err != nil {
			return nil, err
		}
		if st == Done {
			rep.Complete++
			continue
		}
		todo = append(todo, c)
	}
	if len(todo) > 0 && (e.Data == nil || e.Registry == nil) {
		return nil, fmt.Errorf("sweep: %d cells to run but no data or no strategy registry", len(todo))
	}
	log := e.log()
	log.WithFields(logrus.Fields{"shard": e.Shard.String(), "cells": len(cells), "complete": rep.Complete, "to_run": len(todo), "workers": e.Workers}).Info("sweep shard start")
	r := &cellRunner{e: e, rep: rep, total: len(todo), owner: Self(e.Shard.String())}
	for len(todo) > 0 && ctx.Err() == nil {
		waiting := r.pool(ctx, todo)
		if len(waiting) == 0 {
			break
		}
		log.WithField("cells", len(waiting)).Info("cells locked by other processes: waiting for them")
		select {
		case <-ctx.Done():
		case <-time.After(e.Poll):
		}
		todo = waiting
	}
	return rep, nil
}

// cellRunner runs cells for an Executor.
type cellRunner struct {
	e     *Executor
	owner Owner
	mu    sync.Mutex
	rep   *Report
	total int
	done  int
}

// pool runs cells on the workers and returns those locked by other live processes.
func (r *cellRunner) pool(ctx context.Context, cells []Cell) (waiting []Cell) {
	ch := make(chan Cell)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := 0; w < r.e.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range ch {
				if r.one(ctx, c) {
					mu.Lock()
					waiting = append(waiting, c)
					mu.Unlock()
				}
			}
		}()
	}
	for _, c := range cells {
		if ctx.Err() != nil {
			break
		}
		ch <- c
	}
	close(ch)
	wg.Wait()
	return waiting
}

func (r *cellRunner) count(f func(*Report)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r.rep)
}

// one runs cell c unless it is complete; it reports whether c is locked by a live process.
func (r *cellRunner) one(ctx context.Context, c Cell) (locked bool) {
	if ctx.Err() != nil {
		return false // interrupted before this cell started: leave it untouched
	}
	e, p := r.e, r.e.Plan
	g := p.Groups[c.Group]
	cd := p.CellDir(e.Dir, c)
	log := e.log().WithFields(logrus.Fields{"cell": c.ID, "group": g.Dir, "strategy": c.Strategy, "seed": c.Seed})
	fail := func(err error) {
		log.Error(err)
		r.count(func(rep *Report) {
			rep.Errors = append(rep.Errors, fmt.Errorf("cell %s (%s %s seed %d): %w", c.ID, g.Dir, c.Strategy, c.Seed, err))
		})
	}
	if st, err := p.StateOf(e.Dir, c); err != nil {
		fail(err)
		return false
	} else if st == Done {
		r.count(func(rep *Report) { rep.Elsewhere++ })
		return false
	}
	if err := os.MkdirAll(cd, 0o755); err != nil {
		fail(err)
		return false
	}
	lock, err := TryLock(filepath.Join(cd, LockFile), r.owner, e.StaleAfter)
	if errors.Is(err, ErrLocked) {
		log.WithField("holder", err.Error()).Debug("cell locked elsewhere")
		return true
	}
	if err != nil {
		fail(err)
		return false
	}
	defer lock.Release()
	// Complete by another process between the first look and the lock?
	if st, err := p.StateOf(e.Dir, c); err != nil {
		fail(err)
		return false
	} else if st == Done {
		r.count(func(rep *Report) { rep.Elsewhere++ })
		return false
	}
	events, _ := ReadCellLog(cd)
	attempt := 1
	for _, ev := range events {
		if ev.Event == "start" {
			attempt++
		}
	}
	o := lock.Owner()
	start := time.Now().UTC()
	info := CellInfo{ID: c.ID, Index: c.Index, Group: g.Dir, Strategy: c.Strategy, Seed: c.Seed, Settings: CellKey(g, c.Strategy, c.Seed),
		Attempts: attempt, State: "running", Shard: o.Shard, Host: o.Host, PID: o.PID, Started: start}
	if err := writeCellInfo(cd, info); err != nil {
		fail(err)
		return false
	}
	ev := LogEvent{Event: "start", Attempt: attempt, Shard: o.Shard, Host: o.Host, PID: o.PID, Time: start}
	if err := appendLog(cd, ev); err != nil {
		fail(err)
		return false
	}
	abort := func(why error) {
		now := time.Now().UTC()
		info.State, info.Error, info.Finished, info.Seconds = "aborted", why.Error(), &now, now.Sub(start).Seconds()
		writeCellInfo(cd, info)
		ev.Event, ev.Time, ev.Error = "abort", now, why.Error()
		appendLog(cd, ev)
		log.WithField("reason", why).Warn("cell aborted; it runs again next time")
		r.count(func(rep *Report) { rep.Aborted++ })
	}
	// Heartbeat: keep the lock fresh; stop the cell if the lock was taken over.
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		t := time.NewTicker(e.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-cctx.Done():
				return
			case <-t.C:
				if err := lock.Refresh(); errors.Is(err, ErrLockLost) {
					cancel(fmt.Errorf("lock %s was taken over by another process: %w", lock.Path(), loop.ErrAbandon))
					return
				}
			}
		}
	}()
	// Last check before writing: a holder whose lock was taken over while it trained (it missed
	// heartbeats, say) leaves the cell to the new holder.
	beforeWrite := func() error {
		if err := lock.Refresh(); errors.Is(err, ErrLockLost) {
			return fmt.Errorf("lock %s was taken over by another process", lock.Path())
		}
		return nil
	}
	res, runErr := r.train(cctx, c, g, beforeWrite)
	cancel(nil)
	<-hbDone
	// A result written in full (no error, status ok or failed: beforeWrite found the lock ours)
	// is done, even when the sweep was stopped or the lock lost just after it was written.
	written := runErr == nil && res != nil && (res.Status == results.StatusOK || res.Status == results.StatusFailed)
	if cause := context.Cause(cctx); !written && (ctx.Err() != nil || (cause != nil && !errors.Is(cause, context.Canceled))) {
		why := context.Cause(ctx)
		if ctx.Err() == nil {
			why = cause
		}
		abort(why)
		return false
	}
	var werr *loop.WriteError
	if errors.As(runErr, &werr) {
		fail(werr)
		abort(werr)
		return false
	}
	if res == nil {
		abort(runErr)
		return false
	}
	now := time.Now().UTC()
	info.State, info.Status, info.Finished, info.Seconds = "done", res.Status, &now, now.Sub(start).Seconds()
	if res.Status != results.StatusOK {
		info.Error = res.Error
	}
	ev.Event, ev.Time, ev.Status, ev.Error = "done", now, res.Status, info.Error
	if err := appendLog(cd, ev); err != nil {
		fail(err)
	}
	if err := writeCellInfo(cd, info); err != nil {
		fail(err)
	}
	r.mu.Lock()
	r.done++
	r.rep.Ran++
	if res.Status == results.StatusOK {
		r.rep.OK++
	} else {
		r.rep.Failed++
	}
	k := r.done
	r.mu.Unlock()
	f := logrus.Fields{"progress": fmt.Sprintf("%d/%d", k, r.total), "seconds": fmt.Sprintf("%.1f", info.Seconds), "attempt": attempt}
	if res.Metrics != nil {
		f["acc"] = fmt.Sprintf("%.4f", res.Metrics.Get(results.KeyACC))
	}
	if res.Status != results.StatusOK {
		log.WithFields(f).WithField("error", res.Error).Error("cell failed")
	} else {
		log.WithFields(f).Info("cell done")
	}
	return false
}

// train builds the cell's stream and runs the cell through loop.Runner.RunCell in its group
// folder: with checkpoints (at task boundaries and every checkpoint_every steps), resuming from
// the checkpoint an interrupted or killed attempt left. A nil result means nothing could be run
// (an error building the stream or the strategy, a checkpoint of other settings) or the run was
// interrupted (its checkpoint is kept for the next attempt).
func (r *cellRunner) train(ctx context.Context, c Cell, g *Group, beforeWrite func() error) (*results.Result, error) {
	e := r.e
	spec := g.Spec.Cell(c.Strategy, c.Seed)
	st, err := streams.Build(e.Data, spec)
	if err != nil {
		return nil, err
	}
	runner := &loop.Runner{Hooks: e.Hooks, Log: e.log().WithField("cell", c.ID)}
	cell := loop.Cell{Dir: GroupDir(e.Dir, g), Spec: spec, Stream: st, Registry: e.Registry, Meta: loop.Meta(e.Data.Files), Resume: true, BeforeWrite: beforeWrite}
	if ck, err := runner.Checkpoint(&cell); err != nil {
		return nil, err
	} else if ck != nil {
		e.log().WithFields(logrus.Fields{"cell": c.ID, "task": ck.Header.Task + 1, "step": ck.Header.Step}).Info("cell resumes from its checkpoint")
	}
	res, err := runner.RunCell(ctx, cell)
	if err != nil && (ctx.Err() != nil || res == nil) {
		return nil, err
	}
	var werr *loop.WriteError
	if errors.As(err, &werr) {
		return nil, err
	}
	return res, nil
}
