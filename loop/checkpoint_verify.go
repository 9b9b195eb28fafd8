package loop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/stream"
)

// VerifyResume checks that a strategy resumes exactly, for strategy authors' tests. It runs the
// strategy newStrategy builds on st with set (whose Checkpoint field it replaces):
//
//  1. uninterrupted, without checkpoints: the reference result;
//  2. with a checkpoint every `every` steps in dir, keeping a copy of every checkpoint written:
//     saving must not change the result;
//  3. interrupted (its context cancelled) after half its steps: it must stop with a checkpoint;
//  4. resumed, with a fresh strategy, from each checkpoint of 2 and 3 (at most maxResumes of
//     those of 2, spread evenly; 0 means all).
//
// Every run must end with the reference's R and b and, a much finer test than accuracies, the
// reference's final parameters, bit for bit. It returns the first difference or failure, nil
// when the strategy resumes exactly.
func VerifyResume(ctx context.Context, dir string, st *stream.Stream, newStrategy func() (strategies.Strategy, error), set Settings, every, maxResumes int) error {
	var refParams []strategies.ParamState
	run := func(ck CheckpointSettings, every int, hooks ...Hook) (*results.Result, error) {
		s, err := newStrategy()
		if err != nil {
			return nil, err
		}
		set := set
		set.Checkpoint, set.CheckpointEvery = ck, every
		r := &Runner{Hooks: hooks, Log: quietLog()}
		res, err := r.Run(ctx, st, s, set)
		if err != nil {
			return res, err
		}
		if refParams == nil {
			refParams = strategies.SaveParams(s.Params())
		} else if err := sameParams(refParams, strategies.SaveParams(s.Params())); err != nil {
			return res, err
		}
		return res, nil
	}
	ref, err := run(CheckpointSettings{}, 0)
	if err != nil {
		return fmt.Errorf("uninterrupted run: %w", err)
	}
	path := filepath.Join(dir, CheckpointFile)
	type saved struct {
		task, step int
		done       bool
		data       []byte
	}
	var all []saved
	var readErr error
	capture := func(e Event) error {
		if e.Kind != CheckpointSaved {
			return nil
		}
		data, err := os.ReadFile(e.Checkpoint)
		if err != nil && readErr == nil {
			readErr = err
		}
		all = append(all, saved{e.Task, e.Step, e.Step == e.Steps, data})
		return nil
	}
	got, err := run(CheckpointSettings{Path: path}, every, capture)
	if err == nil {
		err = readErr
	}
	if err != nil {
		return fmt.Errorf("run with checkpoints: %w", err)
	}
	if err := sameResult(ref, got); err != nil {
		return fmt.Errorf("saving checkpoints changed the result: %w", err)
	}
	if len(all) == 0 {
		return errors.New("no checkpoint was written (does the strategy implement strategies.Checkpointer?)")
	}
	picked := all
	if maxResumes > 0 && len(all) > maxResumes {
		picked = nil
		for i := 0; i < maxResumes; i++ {
			picked = append(picked, all[i*(len(all)-1)/max(1, maxResumes-1)])
		}
	}
	// Interrupt half-way.
	total := set.Iterations * len(st.Tasks)
	ictx, cancel := context.WithCancel(ctx)
	steps := 0
	var last []byte
	stop := func(e Event) error {
		switch e.Kind {
		case Step:
			if steps++; steps == total/2 {
				cancel()
			}
		case CheckpointSaved:
			last, _ = os.ReadFile(e.Checkpoint)
		}
		return nil
	}
	s, err := newStrategy()
	if err != nil {
		cancel()
		return err
	}
	iset := set
	iset.Checkpoint, iset.CheckpointEvery = CheckpointSettings{Path: path}, 0
	_, err = (&Runner{Hooks: []Hook{stop}, Log: quietLog()}).Run(ictx, st, s, iset)
	cancel()
	if total/2 > 0 {
		if !Interrupted(err) {
			return fmt.Errorf("interrupting after %d steps: the run returned %v, want an interruption", total/2, err)
		}
		if last == nil {
			return errors.New("an interrupted run wrote no checkpoint")
		}
		picked = append(picked, saved{data: last})
	}
	for _, sv := range picked {
		c, err := DecodeCheckpoint(sv.data)
		if err != nil {
			return err
		}
		got, err := run(CheckpointSettings{Path: path, Resume: c}, every)
		where := fmt.Sprintf("resuming at task %d, step %d (done=%v)", c.Header.Task+1, c.Header.Step, c.Header.Done)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if err := sameResult(ref, got); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	return nil
}

// sameParams compares final parameters bit for bit.
func sameParams(want, got []strategies.ParamState) error {
	if len(want) != len(got) {
		return fmt.Errorf("%d parameters at the end, uninterrupted %d", len(got), len(want))
	}
	for i := range want {
		if want[i].Name != got[i].Name || len(want[i].Data) != len(got[i].Data) {
			return fmt.Errorf("parameter %d is %s (%d values), uninterrupted %s (%d)", i, got[i].Name, len(got[i].Data), want[i].Name, len(want[i].Data))
		}
		for k := range want[i].Data {
			if math.Float32bits(want[i].Data[k]) != math.Float32bits(got[i].Data[k]) {
				return fmt.Errorf("final %s[%d] = %v, uninterrupted %v", want[i].Name, k, got[i].Data[k], want[i].Data[k])
			}
		}
	}
	return nil
}

// sameResult compares R and b, and the validation matrix RVal and BVal, bit for bit.
func sameResult(want, got *results.Result) error {
	if err := sameMatrix("R", "b", want.R, got.R, want.B, got.B); err != nil {
		return err
	}
	return sameMatrix("RVal", "BVal", want.RVal, got.RVal, want.BVal, got.BVal)
}

// sameMatrix compares one accuracy matrix and its initial row bit for bit.
func sameMatrix(rn, bn string, wantR, gotR [][]float64, wantB, gotB []float64) error {
	if len(wantB) != len(gotB) || len(wantR) != len(gotR) {
		return fmt.Errorf("%d rows of %s and %d entries of %s, want %d and %d", len(gotR), rn, len(gotB), bn, len(wantR), len(wantB))
	}
	for j := range wantB {
		if math.Float64bits(wantB[j]) != math.Float64bits(gotB[j]) {
			return fmt.Errorf("%s[%d] = %v, uninterrupted %v", bn, j, gotB[j], wantB[j])
		}
	}
	for i := range wantR {
		if len(wantR[i]) != len(gotR[i]) {
			return fmt.Errorf("%s[%d] has %d entries, want %d", rn, i, len(gotR[i]), len(wantR[i]))
		}
		for j := range wantR[i] {
			if math.Float64bits(wantR[i][j]) != math.Float64bits(gotR[i][j]) {
				return fmt.Errorf("%s[%d][%d] = %v, uninterrupted %v", rn, i, j, gotR[i][j], wantR[i][j])
			}
		}
	}
	return nil
}

// quietLog is a logger that discards everything.
func quietLog() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}
