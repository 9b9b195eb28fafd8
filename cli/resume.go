package cli

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/clgraph/clgraph/benchmarks"
	"github.com/clgraph/clgraph/benchmarks/mnist"
	"github.com/clgraph/clgraph/graphs/blas"
	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/stream"
	"github.com/sirupsen/logrus"
)

// resumeFlags are the run flags that may accompany --resume: they do not change results.
var resumeFlags = map[string]bool{"resume": true, "data-dir": true, "log-level": true, "log-format": true, "progress": true, "checkpoint-every": true}

// runKey names one run of a command: a strategy spec and a seed.
type runKey struct {
	spec string
	seed int64
}

// resumeState is what a run folder being resumed already holds.
type resumeState struct {
	prior *results.Run
	// done are the final results (ok or failed), kept as they are.
	done map[runKey]*results.Result
	// checkpoints are the runs to resume from a checkpoint that was read and checked.
	checkpoints map[runKey]string
}

// visited returns the names of the flags given on the command line.
func visited(fs *flag.FlagSet) map[string]bool {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return given
}

// checkCheckpointFlag checks --checkpoint-every.
func checkCheckpointFlag(f *runFlags) error {
	if f.checkpointEvery < -1 {
		return usagef("--checkpoint-every %d: want a number of steps, 0 (checkpoints at task boundaries only) or -1 (no checkpoints)", f.checkpointEvery)
	}
	return nil
}

// resumePlan reads the run folder f.resume and returns the plan that continues its command: the
// settings of its config.json, the strategies and seeds it lists.
func (a *App) resumePlan(f *runFlags) (*plan, *results.Run, error) {
	var extra []string
	for name := range f.given {
		if !resumeFlags[name] {
			extra = append(extra, "--"+name)
		}
	}
	dir := f.resume
	if len(extra) > 0 {
		sort.Strings(extra)
		return nil, nil, usagef("%s cannot be combined with --resume: a resumed run keeps the settings of %s (drop %s)", strings.Join(extra, ", "), filepath.Join(dir, results.ConfigFile), strings.Join(extra, ", "))
	}
	prior, err := results.Read(dir)
	if err != nil {
		return nil, nil, usagef("cannot resume %s: %v (give a folder written by clgraph run; delete or repair a damaged result.json to rerun that run)", dir, oneLine(err))
	}
	c := prior.Config
	if cur := versions(); !maps.Equal(c.Versions, cur) {
		return nil, nil, usagef("cannot resume %s: it was written by %s, this is %s (resume with the build that started it, or start a new run)", dir, fmtVersions(c.Versions), fmtVersions(cur))
	}
	p := &plan{out: dir, seeds: c.Seeds}
	sc, err := stream.ParseScenario(c.Scenario)
	if err != nil {
		return nil, nil, usagef("cannot resume %s: config.json: %v", dir, err)
	}
	if p.proto, err = benchmarks.ProtocolFor(c.Protocol, c.Stream); err != nil {
		return nil, nil, usagef("cannot resume %s: config.json: %v", dir, err)
	}
	p.proto.Iterations, p.proto.Batch, p.proto.EvalBatch, p.proto.LR = c.Iterations, c.BatchSize, c.EvalBatch, c.LearningRate
	p.proto.Hidden = c.Hidden
	testLimit, ok1 := extraInt(c.Extra, "test_limit")
	trainLimit, ok2 := extraInt(c.Extra, "train_limit")
	if !ok1 || !ok2 {
		return nil, nil, usagef("cannot resume %s: config.json lacks extra.test_limit or extra.train_limit", dir)
	}
	p.proto.TestLimit = testLimit
	p.streamCfg = benchmarks.StreamConfig{Name: c.Stream, Scenario: sc, Tasks: len(c.Tasks), ClassOrder: c.ClassOrder, TrainLimit: trainLimit, TestLimit: testLimit}
	if err := p.proto.Validate(); err != nil {
		return nil, nil, usagef("cannot resume %s: config.json: %v", dir, err)
	}
	if len(c.Seeds) == 0 || len(c.Strategies) == 0 || len(c.Tasks) == 0 {
		return nil, nil, usagef("cannot resume %s: config.json lists no seeds, strategies or tasks", dir)
	}
	for _, spec := range c.Strategies {
		st, err := a.Registry.New(spec)
		if err != nil {
			return nil, nil, usagef("cannot resume %s: strategy %s: %v (was the run made with a build that registers more strategies?)", dir, spec, err)
		}
		if name := canonical(st, spec); name != spec {
			return nil, nil, usagef("cannot resume %s: strategy %s now reads as %s", dir, spec, name)
		}
		p.specs = append(p.specs, spec)
	}
	if !f.given["checkpoint-every"] {
		if v, ok := extraInt(c.Extra, "checkpoint_every"); ok {
			f.checkpointEvery = v
		}
	}
	return p, prior, nil
}

// checkResume checks, before any training, that the data and streams are the run's and that
// every checkpoint to resume from can be read and belongs to its run. It returns what the
// folder holds.
func (a *App) checkResume(p *plan, prior *results.Run, data *benchmarks.Data, streams map[int64]*stream.Stream, meta map[string]string) (*resumeState, error) {
	c := prior.Config
	dir := p.out
	if len(c.Data.Files) > 0 && !maps.Equal(c.Data.Files, data.Files) {
		return nil, usagef("cannot resume %s: the MNIST files (%s) differ from the run's (checksums in config.json); give the run's data with --data-dir", dir, data.Source)
	}
	for _, seed := range p.seeds {
		st := streams[seed]
		var names []string
		for _, t := range st.Tasks {
			names = append(names, t.Name)
		}
		if !slices.Equal(names, c.Tasks) {
			return nil, usagef("cannot resume %s: the stream's tasks are %v, the run's %v", dir, names, c.Tasks)
		}
	}
	rs := &resumeState{prior: prior, done: map[runKey]*results.Result{}, checkpoints: map[runKey]string{}}
	status := map[runKey]*results.Result{}
	for _, r := range prior.Results {
		status[runKey{r.Strategy, r.Seed}] = r
	}
	runner := &benchmarks.Runner{}
	for _, spec := range p.specs {
		for _, seed := range p.seeds {
			k := runKey{spec, seed}
			if r := status[k]; r != nil && r.Status != results.StatusInterrupted {
				rs.done[k] = r
				continue
			}
			path := checkpointPath(dir, spec, seed)
			if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
				continue
			}
			ck, err := benchmarks.ReadCheckpoint(path)
			if err == nil {
				set := benchmarks.Settings{Protocol: p.proto, Seed: seed, Checkpoint: benchmarks.CheckpointSettings{Meta: meta}}
				err = runner.CheckCheckpoint(ck, streams[seed], spec, set)
			}
			if err != nil {
				return nil, usagef("cannot resume %s seed %d: %v (delete %s to rerun it from the start)", spec, seed, oneLine(err), path)
			}
			rs.checkpoints[k] = path
		}
	}
	return rs, nil
}

// checkpointPath is the checkpoint file of a run inside the run folder dir.
func checkpointPath(dir, spec string, seed int64) string {
	return filepath.Join(results.ResultDir(dir, spec, seed), benchmarks.CheckpointFile)
}

// checkpointSettings returns a run's checkpoint settings: none with --checkpoint-every -1.
func checkpointSettings(f *runFlags, dir, spec string, seed int64, meta map[string]string) benchmarks.CheckpointSettings {
	if f.checkpointEvery < 0 {
		return benchmarks.CheckpointSettings{}
	}
	return benchmarks.CheckpointSettings{Path: checkpointPath(dir, spec, seed), Every: f.checkpointEvery, Meta: meta}
}

// runMeta is what checkpoints record beyond the run's settings and must match on resume: the
// data files' checksums and the BLAS doing the matrix products (another implementation or
// library version rounds differently).
func runMeta(data *benchmarks.Data, b blas.Info) map[string]string {
	m := map[string]string{"blas": b.Name}
	if b.Library != "" {
		m["blas"] += " " + filepath.Base(b.Library)
	}
	for name, sum := range data.Files {
		m["data/"+name] = sum
	}
	return m
}

// checkpointHook logs saved checkpoints at debug level.
func (a *App) checkpointHook(e benchmarks.Event) {
	if e.Kind == benchmarks.CheckpointSaved {
		a.Log.WithFields(logrus.Fields{"strategy": e.Strategy, "seed": e.Seed, "task": fmt.Sprintf("%d/%d", e.Task+1, e.Tasks), "step": e.Step, "file": e.Checkpoint}).Debug("checkpoint saved")
	}
}

// dataError turns a failure to load MNIST into a one-line usage error with a fix.
func dataError(err error, dataDir string) error {
	fix := "check your network, or download the four MNIST files and pass their folder with --data-dir"
	switch {
	case dataDir != "" && errors.Is(err, mnist.ErrChecksum):
		fix = "a file in --data-dir " + dataDir + " is not the canonical MNIST file: replace it (or remove --data-dir to use the Go module cache or a download)"
	case dataDir != "" && errors.Is(err, mnist.ErrFormat):
		fix = "a file in --data-dir " + dataDir + " is damaged or truncated: replace it (or remove --data-dir to use the Go module cache or a download)"
	case dataDir != "":
		fix = "point --data-dir at a folder with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (optionally .gz), or remove it"
	}
	return usagef("loading MNIST: %s (fix: %s)", oneLine(err), fix)
}

// oneLine joins a multi-line error message into one line.
func oneLine(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, " ")
}

// extraInt reads an integer from config.json's free-form extra settings.
func extraInt(extra map[string]any, key string) (int, bool) {
	switch v := extra[key].(type) {
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int(v), true
		}
	case int:
		return v, true
	}
	return 0, false
}

func fmtVersions(v map[string]string) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + v[k]
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// finished returns the final result of k already in the folder, or nil (also for a new run).
func (rs *resumeState) finished(k runKey) *results.Result {
	if rs == nil {
		return nil
	}
	return rs.done[k]
}

// hasCheckpoint reports whether k resumes from a checked checkpoint.
func (rs *resumeState) hasCheckpoint(k runKey) bool {
	return rs != nil && rs.checkpoints[k] != ""
}
