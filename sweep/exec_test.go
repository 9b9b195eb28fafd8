package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/streams"
)

const tinySweep = `
name: tiny
streams: [split-mnist]
scenarios: [task, class]
strategies:
  naive: {heads: [single, multi]}
  joint: {}
seeds: [1, 2]
overrides: {iterations: 4, hidden: [8], tasks: 2, batch: 16, eval_batch: 64, train_limit: 100, test_limit: 40}
`

var (
	tinyDataOnce sync.Once
	tinyData     *streams.Data
)

func data() *streams.Data {
	tinyDataOnce.Do(func() { tinyData = SyntheticData(40, 10) })
	return tinyData
}

func executor(t *testing.T, dir, src string, shard Shard) *Executor {
	t.Helper()
	return &Executor{Dir: dir, Plan: mustPlan(t, src, strategies.Default), Source: []byte(src), Data: data(), Registry: strategies.Default,
		Workers: 2, Shard: shard, Heartbeat: 20 * time.Millisecond, StaleAfter: time.Minute, Poll: 10 * time.Millisecond}
}

// cellMatrices reads every cell's R and B, by cell id.
func cellMatrices(t *testing.T, dir string, p *Plan) map[string][2]any {
	t.Helper()
	out := map[string][2]any{}
	for _, c := range p.Cells {
		data, err := os.ReadFile(filepath.Join(p.CellDir(dir, c), results.ResultFile))
		if err != nil {
			t.Fatalf("cell %d: %v", c.Index, err)
		}
		var r results.Result
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatal(err)
		}
		if r.Status != results.StatusOK {
			t.Fatalf("cell %d: status %s: %s", c.Index, r.Status, r.Error)
		}
		out[c.ID] = [2]any{r.R, r.B}
	}
	return out
}

// logCounts counts each cell's start and done events.
func logCounts(t *testing.T, dir string, p *Plan) (starts, dones map[string]int) {
	t.Helper()
	starts, dones = map[string]int{}, map[string]int{}
	for _, c := range p.Cells {
		evs, err := ReadCellLog(p.CellDir(dir, c))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			switch e.Event {
			case "start":
				starts[c.ID]++
			case "done":
				dones[c.ID]++
			}
		}
	}
	return starts, dones
}

func TestExecutorRunResumeMerge(t *testing.T) {
	dir := t.TempDir()
	e := executor(t, dir, tinySweep, Shard{})
	if n := len(e.Plan.Cells); n != (3+2)*2 {
		t.Fatalf("%d cells", n)
	}
	rep, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Cells != 10 || rep.Ran != 10 || rep.OK != 10 || rep.Complete != 0 || len(rep.Errors) != 0 {
		t.Fatalf("first run: %+v", rep)
	}
	// A second run finds everything complete.
	rep, err = executor(t, dir, tinySweep, Shard{}).Run(context.Background())
	if err != nil || rep.Complete != 10 || rep.Ran != 0 {
		t.Fatalf("rerun: %+v, %v", rep, err)
	}
	// Each group is an ordinary run folder.
	run, err := results.Read(filepath.Join(dir, "split-mnist-task"))
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Results) != 6 || run.Config.Spec.Stream != "split-mnist" || run.Config.Spec.Scenario != "task" || run.Config.Spec.Iterations != 4 {
		t.Errorf("group run: %d results, config %+v", len(run.Results), run.Config)
	}
	s, err := Merge(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Cells != (Counts{Total: 10, OK: 10}) || len(s.Groups) != 2 || len(s.Skipped) != 1 {
		t.Fatalf("summary %+v", s)
	}
	var secs float64
	for _, c := range e.Plan.Cells {
		ci, err := ReadCellInfo(e.Plan.CellDir(dir, c))
		if err != nil {
			t.Fatal(err)
		}
		secs += ci.Seconds
	}
	got, n, err := e.Plan.CellTime(dir)
	if err != nil || n != 10 || !(secs > 0) || math.Abs(got-secs) > 1e-9*secs {
		t.Errorf("cell time %v s over %d cells (%v), the cells' cell.json say %v s", got, n, err, secs)
	}
	g := s.Groups[0]
	if len(g.Best) != 2 || g.Best[0].Base != "naive" || g.Best[1].Strategy != "joint" || !g.Best[0].Complete || g.Best[0].Settings != 2 {
		t.Errorf("best %+v", g.Best)
	}
	for _, set := range g.Settings {
		if set.Strategy == g.Best[0].Strategy && set.Metrics.Get(results.KeyACC).Mean != g.Best[0].Metrics.Get(results.KeyACC).Mean {
			t.Error("best metrics are not its setting's")
		}
		if set.Base == "naive" && set.Metrics.Get(results.KeyACC).Mean > g.Best[0].Metrics.Get(results.KeyACC).Mean {
			t.Errorf("%s beats the best naive setting %s", set.Strategy, g.Best[0].Strategy)
		}
		if set.Metrics.Get(results.KeyACC).N != 2 {
			t.Errorf("%s: ACC over %d seeds", set.Strategy, set.Metrics.Get(results.KeyACC).N)
		}
	}
	for _, f := range []string{SummaryJSONFile, SummaryMDFile, "split-mnist-task/summary.md", "split-mnist-class/summary.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, SummaryMDFile))
	for _, w := range []string{"# clgraph sweep: tiny", "10 of 10 complete", "| split-mnist | task | naive |", "naive:heads=multi in split-mnist-class"} {
		if !strings.Contains(string(md), w) {
			t.Errorf("sweep-summary.md lacks %q:\n%s", w, md)
		}
	}
}

// TestShardsEqualUnsharded runs the grid unsharded and as three concurrent shards (executors in
// goroutines) into another folder: every cell's R and B and the summaries must be identical.
func TestShardsEqualUnsharded(t *testing.T) {
	one, many := t.TempDir(), t.TempDir()
	e := executor(t, one, tinySweep, Shard{})
	if _, err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ex := executor(t, many, tinySweep, Shard{i, 3})
			ex.Workers = 1
			rep, err := ex.Run(context.Background())
			if err != nil || rep.Ran != rep.Cells || len(rep.Errors) > 0 {
				t.Errorf("shard %d: %+v, %v", i, rep, err)
			}
		}()
	}
	wg.Wait()
	a, b := cellMatrices(t, one, e.Plan), cellMatrices(t, many, e.Plan)
	if !reflect.DeepEqual(a, b) {
		t.Error("sharded results differ from the unsharded ones")
	}
	sa, err := Merge(one)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := Merge(many)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sa, sb) {
		t.Errorf("summaries differ:\n%+v\n%+v", sa, sb)
	}
	ja, _ := os.ReadFile(filepath.Join(one, SummaryJSONFile))
	jb, _ := os.ReadFile(filepath.Join(many, SummaryJSONFile))
	if string(ja) != string(jb) {
		t.Error("sweep-summary.json files differ")
	}
}

// TestConcurrentSameCells runs three unsharded executors at once over one folder: the locks must
// make every cell run exactly once.
func TestConcurrentSameCells(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	reps := make([]*Report, 3)
	for i := range reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ex := executor(t, dir, tinySweep, Shard{})
			ex.Workers = 1
			var err error
			if reps[i], err = ex.Run(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	p := mustPlan(t, tinySweep, strategies.Default)
	starts, dones := logCounts(t, dir, p)
	ran := 0
	for _, r := range reps {
		if r != nil {
			ran += r.Ran
		}
	}
	if ran != len(p.Cells) {
		t.Errorf("the executors ran %d cells in all, want %d", ran, len(p.Cells))
	}
	for _, c := range p.Cells {
		if starts[c.ID] != 1 || dones[c.ID] != 1 {
			t.Errorf("cell %d: %d starts, %d completions", c.Index, starts[c.ID], dones[c.ID])
		}
	}
}

func TestConflictingSettings(t *testing.T) {
	dir := t.TempDir()
	if _, err := executor(t, dir, tinySweep, Shard{}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	other := strings.Replace(tinySweep, "iterations: 4", "iterations: 5", 1)
	_, err := executor(t, dir, other, Shard{}).Run(context.Background())
	var ce *ConflictError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "iterations: 4 there, 5 here") {
		t.Fatalf("want a conflict naming the iterations, got %v", err)
	}
	// Growing the grid is fine: new cells run, old ones are kept.
	grown := strings.Replace(tinySweep, "seeds: [1, 2]", "seeds: [1, 2, 3]", 1)
	rep, err := executor(t, dir, grown, Shard{}).Run(context.Background())
	if err != nil || rep.Complete != 10 || rep.Ran != 5 {
		t.Fatalf("grown grid: %+v, %v", rep, err)
	}
	s, err := Merge(dir)
	if err != nil || s.Cells.Total != 15 || s.Cells.OK != 15 {
		t.Fatalf("merge of the grown grid: %+v, %v", s, err)
	}
	cfg, err := results.Read(filepath.Join(dir, "split-mnist-task"))
	if err != nil || len(cfg.Config.Seeds) != 3 {
		t.Errorf("config seeds after merge: %v, %v", cfg.Config.Seeds, err)
	}
}

// TestStaleCellLock: a cell locked by a dead process of this host is taken over at once; one
// locked by a live process elsewhere is waited for until its lock goes stale.
func TestStaleCellLock(t *testing.T) {
	dir := t.TempDir()
	e := executor(t, dir, tinySweep, Shard{})
	if err := e.Prepare(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	c0, c1 := e.Plan.Cells[0], e.Plan.Cells[1]
	for _, c := range []Cell{c0, c1} {
		os.MkdirAll(e.Plan.CellDir(dir, c), 0o755)
	}
	writeOwner(t, filepath.Join(e.Plan.CellDir(dir, c0), LockFile), Owner{Host: host, PID: deadPID(t), Token: "dead"}, 0)
	writeOwner(t, filepath.Join(e.Plan.CellDir(dir, c1), LockFile), Owner{Host: "elsewhere", PID: 1, Token: "far"}, 0)
	e.StaleAfter = 300 * time.Millisecond
	start := time.Now()
	rep, err := e.Run(context.Background())
	if err != nil || rep.Ran != 10 {
		t.Fatalf("%+v, %v", rep, err)
	}
	if time.Since(start) < 250*time.Millisecond {
		t.Error("the far host's fresh lock was not waited for")
	}
	for _, c := range []Cell{c0, c1} {
		if st, _ := e.Plan.StateOf(dir, c); st != Done {
			t.Errorf("cell %d: %s", c.Index, st)
		}
		if _, err := os.Stat(filepath.Join(e.Plan.CellDir(dir, c), LockFile)); !os.IsNotExist(err) {
			t.Errorf("cell %d: lock left", c.Index)
		}
	}
}

// TestLostLockAborts: when another process takes a running cell's lock over, the cell stops and
// writes no result.
func TestLostLockAborts(t *testing.T) {
	dir := t.TempDir()
	src := strings.Replace(tinySweep, "iterations: 4", "iterations: 400", 1)
	e := executor(t, dir, src, Shard{})
	e.Workers = 1
	target := e.Plan.Cells[0]
	var once sync.Once
	e.Hooks = []loop.Hook{loop.Observe(func(ev loop.Event) {
		if ev.Kind == loop.Step && ev.Strategy == target.Strategy && ev.Seed == target.Seed && ev.Task == 0 && ev.Step == 1 {
			once.Do(func() {
				writeOwner(t, filepath.Join(e.Plan.CellDir(dir, target), LockFile), Owner{Host: "elsewhere", PID: 1, Token: "thief"}, 0)
				time.Sleep(100 * time.Millisecond) // let the heartbeat notice
			})
		}
	})}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		// Stop once the other cells are done; the stolen cell waits for its "thief" to finish.
		for ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
			n := 0
			for _, c := range e.Plan.Cells[1:] {
				if st, _ := e.Plan.StateOf(dir, c); st == Done {
					n++
				}
			}
			if n == len(e.Plan.Cells)-1 {
				cancel()
			}
		}
	}()
	rep, err := e.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Aborted != 1 {
		t.Errorf("report %+v", rep)
	}
	if st, _ := e.Plan.StateOf(dir, target); st == Done {
		t.Error("the stolen cell wrote a result")
	}
	ci, err := ReadCellInfo(e.Plan.CellDir(dir, target))
	if err != nil || ci.State != "aborted" || !strings.Contains(ci.Error, "taken over") {
		t.Errorf("cell.json %+v, %v", ci, err)
	}
	data, _ := os.ReadFile(filepath.Join(e.Plan.CellDir(dir, target), LockFile))
	if !strings.Contains(string(data), "thief") {
		t.Error("the thief's lock was removed")
	}
}

func TestInterruptAborts(t *testing.T) {
	dir := t.TempDir()
	src := strings.Replace(tinySweep, "iterations: 4", "iterations: 100000", 1)
	e := executor(t, dir, src, Shard{})
	ctx, cancel := context.WithCancel(context.Background())
	e.Hooks = []loop.Hook{loop.Observe(func(ev loop.Event) {
		if ev.Kind == loop.Step && ev.Step == 10 {
			cancel()
		}
	})}
	rep, err := e.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Aborted == 0 || rep.Ran != 0 {
		t.Errorf("report %+v", rep)
	}
	for _, c := range e.Plan.Cells {
		if st, _ := e.Plan.StateOf(dir, c); st != Pending {
			t.Errorf("cell %d: %s after an interrupt", c.Index, st)
		}
	}
}

// TestInterruptedCellsResume interrupts a sweep mid-task, checks that the running cells left
// checkpoints (and no results), reruns it, and compares every cell with an uninterrupted sweep's:
// the interrupted cells resumed from their checkpoints to the same matrices, bit for bit.
func TestInterruptedCellsResume(t *testing.T) {
	src := strings.Replace(tinySweep, "iterations: 4", "iterations: 30", 1)
	ref := t.TempDir()
	if _, err := executor(t, ref, src, Shard{}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	e := executor(t, dir, src, Shard{})
	e.Workers = 1
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	steps := 0
	e.Hooks = []loop.Hook{loop.Observe(func(ev loop.Event) {
		mu.Lock()
		defer mu.Unlock()
		if ev.Kind == loop.Step {
			if steps++; steps == 100 { // the second cell, task 2, step 10
				cancel()
			}
		}
	})}
	rep, err := e.Run(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Aborted != 1 || rep.Ran != 1 {
		t.Fatalf("report %+v, want one cell run and one aborted", rep)
	}
	resumable := 0
	for _, c := range e.Plan.Cells {
		if _, err := os.Stat(filepath.Join(e.Plan.CellDir(dir, c), loop.CheckpointFile)); err == nil {
			resumable++
			if st, _ := e.Plan.StateOf(dir, c); st != Pending {
				t.Errorf("cell %d has a checkpoint and state %s", c.Index, st)
			}
		}
	}
	if resumable != 1 {
		t.Fatalf("%d cells left a checkpoint, want 1", resumable)
	}
	e2 := executor(t, dir, src, Shard{})
	resumed := 0
	e2.Hooks = []loop.Hook{loop.Observe(func(ev loop.Event) {
		if ev.Kind == loop.TaskStart && ev.Step > 0 {
			mu.Lock()
			resumed++
			mu.Unlock()
		}
	})}
	if rep, err := e2.Run(context.Background()); err != nil || rep.Complete != 1 || rep.OK != len(e2.Plan.Cells)-1 {
		t.Fatalf("rerun: %+v, %v", rep, err)
	}
	if resumed != 1 {
		t.Errorf("%d cells resumed mid-task, want 1", resumed)
	}
	if got, want := cellMatrices(t, dir, e2.Plan), cellMatrices(t, ref, e2.Plan); !reflect.DeepEqual(got, want) {
		t.Error("the interrupted and resumed sweep's matrices differ from the uninterrupted sweep's")
	}
}

// TestConflictingPreset: a group folder made when the protocol's preset filled in other settings
// (the group id, from the sweep file's own settings, is the same) is refused with the setting
// named, before the manifest is rewritten.
func TestConflictingPreset(t *testing.T) {
	dir := t.TempDir()
	if _, err := executor(t, dir, tinySweep, Shard{}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "split-mnist-task", results.ConfigFile)
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["spec"].(map[string]any)["normalize"] = []float64{0.1, 0.2752}
	data, _ = json.Marshal(cfg)
	if err := os.WriteFile(cfgPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(dir, "sweep.json")
	before, _ := os.ReadFile(manifest)
	_, err = executor(t, dir, strings.Replace(tinySweep, "seeds: [1, 2]", "seeds: [1, 2, 3]", 1), Shard{}).Run(context.Background())
	var ce *ConflictError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "normalize") {
		t.Fatalf("want a conflict naming normalize, got %v", err)
	}
	if after, _ := os.ReadFile(manifest); string(after) != string(before) {
		t.Error("the manifest was rewritten before the conflict was found")
	}
}
