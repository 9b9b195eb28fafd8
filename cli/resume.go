package cli

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/clgraph/clgraph/datasets/mnist"
	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/stream"
	"github.com/clgraph/clgraph/streams"
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
}

// visited returns the names of the flags given on the command line.
func visited(fs *flag.FlagSet) map[string]bool {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return given
}

// readFix says what to do about results.Read's error for run folder dir, by the file it names:
// config.json missing (not a run folder), config.json unreadable (the run's settings: restore it),
// or a result.json (delete it to rerun its run), each unreadable or of a newer schema.
func readFix(dir string, err error) string {
	cfg := filepath.Join(dir, results.ConfigFile)
	newer := errors.Is(err, results.ErrUnsupportedSchema)
	msg := err.Error()
	switch {
	case errors.Is(err, fs.ErrNotExist) && strings.Contains(msg, "missing "+results.ConfigFile):
		return "give a folder written by clgraph run, which holds a config.json"
	case strings.Contains(msg, cfg) && newer:
		return "its config.json was written by another clgraph version: resume it with the build that wrote it"
	case strings.Contains(msg, cfg):
		return "config.json holds the run's settings and cannot be rebuilt: restore it from a copy, or start a new run without --resume"
	case strings.Contains(msg, results.ResultFile) && newer:
		return "that result.json was written by another clgraph version: resume with the build that wrote it, or delete it to rerun its run"
	case strings.Contains(msg, results.ResultFile):
		return "delete or repair that result.json to rerun its run; the others are kept"
	}
	return "give a folder written by clgraph run"
}

// resumePlan reads the run folder f.resume and returns the plan that continues its command: the
// spec of its config.json (with --data-dir and --checkpoint-every when given), the strategies and
// seeds it lists.
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
		return nil, nil, usagef("cannot resume %s: %v (%s)", dir, oneLine(err), readFix(dir, err))
	}
	c := prior.Config
	if cur := versions(); !maps.Equal(c.Versions, cur) {
		return nil, nil, usagef("cannot resume %s: it was written by %s, this is %s (resume with the build that started it, or start a new run)", dir, fmtVersions(c.Versions), fmtVersions(cur))
	}
	p := &plan{out: dir, seeds: c.Seeds, spec: c.Spec.Clone()}
	// The settings that may change on resume (they do not change results).
	if err := f.spec.Apply(&p.spec); err != nil {
		return nil, nil, usageError{err}
	}
	if _, err := stream.ParseScenario(p.spec.Scenario); err != nil {
		return nil, nil, usagef("cannot resume %s: config.json: %v", dir, err)
	}
	if err := p.spec.Validate(); err != nil {
		return nil, nil, usagef("cannot resume %s: config.json: %v", dir, err)
	}
	if _, ok := streams.Lookup(p.spec.Stream); !ok {
		return nil, nil, usagef("cannot resume %s: config.json names stream %q, which this build does not register (known: %s)", dir, p.spec.Stream, strings.Join(streams.Names(), ", "))
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
	return p, prior, nil
}

// checkResume checks, before any training, that the data and streams are the run's, that every
// result kept was made with the run's settings, and that every checkpoint to resume from can be
// read and belongs to its run. It returns what the folder holds.
func (a *App) checkResume(p *plan, prior *results.Run, data *streams.Data, streamOf map[int64]*stream.Stream, cell func(string, int64) loop.Cell) (*resumeState, error) {
	c := prior.Config
	dir := p.out
	if len(c.Data.Files) > 0 && !maps.Equal(c.Data.Files, data.Files) {
		return nil, usagef("cannot resume %s: the MNIST files (%s) differ from the run's (checksums in config.json); give the run's data with --data-dir", dir, data.Source)
	}
	for _, seed := range p.seeds {
		if p.spec.ClassOrderMode == runspec.ClassOrderRandom {
			// Each seed draws its own class order, so its task names are its own; config.json
			// lists the first seed's. The spec (class_order_mode and seed) fixes them.
			break
		}
		var names []string
		for _, t := range streamOf[seed].Tasks {
			names = append(names, t.Name)
		}
		if !slices.Equal(names, c.Tasks) {
			return nil, usagef("cannot resume %s: the stream's tasks are %v, the run's %v", dir, names, c.Tasks)
		}
	}
	// Every result kept must have been made with the folder's settings (an edited config.json,
	// a result copied in from elsewhere): refuse rather than mix them.
	if err := prior.CheckSpecs(); err != nil {
		return nil, usagef("cannot resume %s: %v (restore config.json, or move that result away to rerun it)", dir, oneLine(err))
	}
	rs := &resumeState{prior: prior, done: map[runKey]*results.Result{}}
	status := map[runKey]*results.Result{}
	for _, r := range prior.Results {
		status[runKey{r.Strategy, r.Seed}] = r
	}
	runner := &loop.Runner{}
	for _, spec := range p.specs {
		for _, seed := range p.seeds {
			k := runKey{spec, seed}
			if r := status[k]; r != nil && r.Status != results.StatusInterrupted {
				rs.done[k] = r
				continue
			}
			c := cell(spec, seed)
			if _, err := runner.Checkpoint(&c); err != nil {
				return nil, usagef("%s", oneLine(err))
			}
		}
	}
	return rs, nil
}

// checkpointHook logs saved checkpoints at debug level.
func (a *App) checkpointHook(e loop.Event) {
	if e.Kind == loop.CheckpointSaved {
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
