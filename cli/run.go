package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/clgraph/clgraph/datasets/mnist"
	"github.com/clgraph/clgraph/graphs/blas"
	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/stream"
	"github.com/clgraph/clgraph/streams"
	"github.com/clgraph/clgraph/sweep"
	"github.com/sirupsen/logrus"
)

// failedRuns reports that some runs failed while others completed.
type failedRuns struct{ n, total int }

func (f failedRuns) Error() string {
	return fmt.Sprintf("%d of %d runs failed (see the summary above and summary.md)", f.n, f.total)
}

// loadMNIST loads the data of clgraph run (a variable so that tests can share one copy).
var loadMNIST = streams.LoadMNIST

// runFlags are clgraph run's flags. The run's settings are not fields here: each setting of
// runspec.Spec is a flag of its own (runspec.Fields), recorded in spec when given.
type runFlags struct {
	strategies, seeds, out        string
	logLevel, logFormat, progress string
	force                         bool
	resume                        string
	workers                       int
	// spec holds the settings given on the command line, in the order given.
	spec runspec.Overrides
	// given are the flags set on the command line.
	given map[string]bool
}

// specFlag is a flag that sets one setting of the run spec.
type specFlag struct {
	key    string
	o      *runspec.Overrides
	def    string
	isBool bool // a true/false setting: the bare flag (--permute-first) sets it true
}

// IsBoolFlag lets the flag package take a true/false setting's flag without a value.
func (f *specFlag) IsBoolFlag() bool { return f != nil && f.isBool }

func (f *specFlag) String() string {
	if f == nil || f.o == nil {
		return ""
	}
	if v, ok := f.o.Get(f.key); ok {
		return v
	}
	return f.def
}

func (f *specFlag) Set(v string) error { return f.o.Set(f.key, v) }

// specFlagDefaults are the defaults shown for spec flags whose value comes from elsewhere.
var specFlagDefaults = map[string]string{
	"stream": streams.DefaultSpec.Stream, "scenario": streams.DefaultSpec.Scenario, "protocol": streams.DefaultSpec.Protocol,
}

// addSpecFlags defines a flag for every setting of runspec.Spec that has one, recording into o.
func addSpecFlags(fs *flag.FlagSet, o *runspec.Overrides) {
	for _, f := range runspec.Fields() {
		if f.Flag == "" {
			continue
		}
		doc := f.Doc
		switch f.Key {
		case "stream":
			doc = "task stream: " + strings.Join(streams.Names(), ", ")
		case "scenario", "protocol", "data_dir", "checkpoint_every":
		default:
			doc = "override: " + doc + " (default: the protocol's)"
		}
		fs.Var(&specFlag{key: f.Key, o: o, def: specFlagDefaults[f.Key], isBool: f.Type().Kind() == reflect.Bool}, f.Flag, doc)
	}
}

func (a *App) runFlagSet(f *runFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	addSpecFlags(fs, &f.spec)
	fs.StringVar(&f.strategies, "strategies", "naive,ewc,si,joint", "comma-separated strategy specs (see 'clgraph strategies'); separate specs with ';' when options contain commas, e.g. \"naive;ewc:lambda=100,online=true\"")
	fs.StringVar(&f.seeds, "seeds", "1,2,3", "comma-separated seeds, or a range like 1-5")
	fs.StringVar(&f.out, "out", "", "run folder (default results/runs/<time>-<stream>-<scenario>)")
	fs.BoolVar(&f.force, "force", false, "write into --out even if it already holds a run")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	f.progress = "auto"
	fs.Var(progressFlag{&f.progress}, "progress", "progress display: auto (bar on a terminal, log lines otherwise), bar, log or none")
	fs.IntVar(&f.workers, "workers", 0, "runs trained at once (default: usable cores / "+blas.EnvThreads+", which is set to 1 when unset); results are the same bit for bit whatever the count at the same BLAS thread count (one run at a time gets every core for models from 0.1 GFLOP per step; "+blas.EnvThreads+"=1 keeps one)")
	fs.StringVar(&f.resume, "resume", "", "continue the run in this folder with its config.json: keep finished results, resume interrupted runs from their checkpoints, run the missing ones")
	return fs
}

// settingError turns an error naming a setting by its key ("tasks must be positive") into one
// naming its flag ("--tasks must be positive").
func settingError(err error) error {
	msg := err.Error()
	for _, f := range runspec.Fields() {
		if f.Flag != "" && strings.HasPrefix(msg, f.Key+" ") {
			return usagef("--%s%s", f.Flag, msg[len(f.Key):])
		}
	}
	if strings.HasPrefix(msg, "unknown ") {
		return usagef("%s", msg)
	}
	return usagef("invalid settings: %s (check --iterations, --batch, --lr, --hidden)", msg)
}

// parseInts reads "1,2,3" or "1-5".
func parseInts(s string) ([]int64, error) { return runspec.ParseInts(s) }

// splitSpecs splits the --strategies list: on ';' when present, else on commas that start a new
// strategy name (a comma followed by text with no '=' before the next ',' or ':').
func splitSpecs(s string) []string {
	if strings.Contains(s, ";") {
		var out []string
		for _, p := range strings.Split(s, ";") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	var out []string
	cur := ""
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		// A piece with '=' but no ':' continues the previous spec's options.
		if cur != "" && strings.Contains(p, "=") && !strings.Contains(p, ":") && strings.Contains(cur, ":") {
			cur += "," + p
			continue
		}
		if cur != "" {
			out = append(out, cur)
		}
		cur = p
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

// plan is a validated run command.
type plan struct {
	spec  runspec.Spec // the command's settings (no strategy or seed)
	seeds []int64
	specs []string // canonical
	out   string
}

func (a *App) setupLog(f *runFlags) error { return a.setLogging(f.logLevel, f.logFormat) }

// validate turns flags into a plan, checking everything that can be checked before loading data.
func (a *App) validate(f *runFlags) (*plan, error) {
	p := &plan{}
	o := f.spec
	if !o.Has("data_dir") {
		if d := mnist.DirFromEnv(); d != "" {
			o.Set("data_dir", d)
		}
	}
	spec, err := streams.Spec(o)
	if err != nil {
		return nil, settingError(err)
	}
	p.spec = spec
	sc, _ := stream.ParseScenario(spec.Scenario)
	if p.seeds, err = parseInts(f.seeds); err != nil {
		return nil, usagef("--seeds: %v", err)
	}
	if len(p.seeds) == 0 {
		return nil, usagef("--seeds is empty: give at least one seed, e.g. --seeds 1,2,3")
	}
	seen := map[int64]bool{}
	for _, s := range p.seeds {
		if seen[s] {
			return nil, usagef("--seeds lists %d twice", s)
		}
		seen[s] = true
	}
	specs := splitSpecs(f.strategies)
	if len(specs) == 0 {
		return nil, usagef("--strategies is empty (see 'clgraph strategies')")
	}
	dup := map[string]string{} // Registry.Key -> the canonical spec that has it
	for _, spec := range specs {
		st, err := a.Registry.New(spec)
		if err != nil {
			return nil, usageError{err}
		}
		name := canonical(st, spec)
		key, err := a.Registry.Key(spec)
		if err != nil {
			return nil, usageError{err}
		}
		if prev, ok := dup[key]; ok {
			if prev == name {
				return nil, usagef("--strategies lists %s twice", name)
			}
			return nil, usagef("--strategies lists %s and %s, the same configuration once defaults are filled in (%s): drop one", prev, name, key)
		}
		dup[key] = name
		if err := strategies.RequirementsOf(st).Check(name, sc); err != nil {
			return nil, usagef("%v, or drop it from --strategies", err)
		}
		if err := loop.CheckSettings(p.spec, st, name); err != nil {
			return nil, usagef("%v", err)
		}
		p.specs = append(p.specs, name)
	}
	p.out = f.out
	if p.out == "" {
		p.out = filepath.Join("results", "runs", fmt.Sprintf("%s-%s-%s", time.Now().Format("20060102-150405"), spec.Stream, sc))
	}
	return p, nil
}

// tuningOverlap warns when seeds include seeds the stream's default strengths were tuned with
// at spec's protocol: numbers of those seeds with auto options are not held out from the choice.
func tuningOverlap(spec runspec.Spec, seeds []int64) string {
	tu, ok := streams.TuningOf(spec)
	if !ok {
		return ""
	}
	var both []int64
	for _, s := range seeds {
		if slices.Contains(tu.Seeds, s) {
			both = append(both, s)
		}
	}
	if len(both) == 0 {
		return ""
	}
	return fmt.Sprintf("seeds %v were used to tune %s's default strengths at the %s protocol (%s): results of auto options (lambda=auto, c=auto, gamma=auto) for them are not held out; report other seeds", both, spec.Stream, spec.Protocol, tu.Source)
}

func canonical(s strategies.Strategy, spec string) string {
	if n, ok := s.(strategies.Named); ok && n.Spec() != "" {
		return n.Spec()
	}
	return spec
}

// prepareOut checks that the run folder can be written and does not hold another run.
// With force, a run already in dir is moved aside, whole, to dir.replaced-<time> (and moved reports
// so), so that nothing of it (results, checkpoints, summaries) can be taken for the new run's.
func (a *App) prepareOut(dir string, force bool) error {
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
		if !force {
			return usagef("--out %s already holds a run (config.json); continue it with --resume %s, choose another folder, or pass --force to replace it", dir, dir)
		}
		old := strings.TrimRight(dir, string(filepath.Separator)) + ".replaced-" + time.Now().Format("20060102-150405")
		if err := os.Rename(dir, old); err != nil {
			return usagef("--force: cannot move the previous run in %s aside: %v (remove it yourself, or choose another --out)", dir, err)
		}
		a.Log.WithFields(logrus.Fields{"previous": old}).Warn("--force: moved the run that was in " + dir + " aside; delete it when you no longer need it")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return usagef("cannot create the run folder: %v (choose a writable --out)", err)
	}
	probe := filepath.Join(dir, ".write-test")
	if err := os.WriteFile(probe, nil, 0o644); err != nil {
		return usagef("cannot write in the run folder %s: %v (choose a writable --out)", dir, err)
	}
	return os.Remove(probe)
}

func (a *App) cmdRun(ctx context.Context, args []string) error {
	var f runFlags
	fs := a.runFlagSet(&f)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q (flags go before, e.g. clgraph run --strategies naive)", fs.Args())
	}
	f.given = visited(fs)
	if err := a.setupLog(&f); err != nil {
		return err
	}
	var p *plan
	var prior *results.Run // the run folder being resumed
	var err error
	if f.resume != "" {
		p, prior, err = a.resumePlan(&f)
	} else {
		p, err = a.validate(&f)
	}
	if err != nil {
		return err
	}
	binfo := blas.Setup()
	if binfo.Reason != "" {
		a.Log.Warn(binfo.String())
	} else {
		a.Log.Info(binfo.String())
	}
	if why := streams.Untuned(p.spec); why != "" {
		a.Log.Warnf("%s has no tuned default strengths at the %s protocol (%s): auto options (lambda=auto, c=auto, ...) take their strategies' fallbacks, listed by 'clgraph strategies'; give the strengths to compare tuned methods", p.spec.Stream, p.spec.Protocol, why)
	}
	if w := tuningOverlap(p.spec, p.seeds); w != "" {
		a.Log.Warn(w)
	}
	t0 := time.Now()
	mopts := mnist.Options{Dir: p.spec.DataDir}
	if p.spec.DataDir != "" {
		// A folder the user names is the data they mean: never fall back to other MNIST copies.
		mopts.Sources = []string{mnist.SourceDir}
	}
	data, err := loadMNIST(ctx, mopts)
	if err != nil {
		if ctx.Err() != nil {
			return interruptedError{"interrupted while loading MNIST; nothing was trained"}
		}
		return dataError(err, p.spec.DataDir)
	}
	a.Log.WithFields(logrus.Fields{"source": data.Source, "seconds": fmt.Sprintf("%.1f", time.Since(t0).Seconds())}).Info("MNIST loaded")
	// Build every seed's stream before training so an invalid combination fails early.
	streamOf := map[int64]*stream.Stream{}
	for _, seed := range p.seeds {
		st, err := streams.Build(data, p.spec.Cell("", seed))
		if err != nil {
			return usageError{err}
		}
		streamOf[seed] = st
	}
	// Set every strategy up once before any run trains, so that what only setup can see is a
	// usage error and nothing is written.
	if err := a.preflight(p.specs, streamOf[p.seeds[0]], p.spec); err != nil {
		return err
	}
	meta := loop.Meta(data.Files)
	cell := func(spec string, seed int64) loop.Cell {
		return loop.Cell{Dir: p.out, Spec: p.spec.Cell(spec, seed), Stream: streamOf[seed], Registry: a.Registry, Meta: meta,
			Resume: prior != nil, KeepInterrupted: true}
	}
	var resumed *resumeState
	if prior != nil {
		if resumed, err = a.checkResume(p, prior, data, streamOf, cell); err != nil {
			return err
		}
	} else if err := a.prepareOut(p.out, f.force); err != nil {
		return err
	}
	first := streamOf[p.seeds[0]]
	pending := 0
	for _, spec := range p.specs {
		for _, seed := range p.seeds {
			if resumed == nil || resumed.finished(runKey{spec, seed}) == nil {
				pending++
			}
		}
	}
	var runThreadCount int // BLAS threads each run uses
	binfo, runThreadCount = a.runThreads(prior, min(jobWorkers(f.workers), pending), first, p.spec)
	cfg := results.Config{
		CreatedAt: time.Now().UTC(), Command: append([]string{"clgraph", "run"}, args...),
		Spec: p.spec, Seeds: p.seeds, Strategies: p.specs, Versions: versions(),
		Data:  results.DataInfo{Source: data.Source, Files: data.Files},
		Extra: map[string]any{"outputs": first.Outputs, "blas": binfo.String(), "blas_threads": runThreadCount, "adam": map[string]any{"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}},
	}
	for _, t := range first.Tasks {
		cfg.Tasks = append(cfg.Tasks, t.Name)
	}
	if resumed != nil {
		cfg = resumed.prior.Config // the run's own config, unchanged
	} else if err := results.WriteConfig(p.out, cfg); err != nil {
		return fmt.Errorf("writing the run's config: %w", err)
	}
	run := &results.Run{Dir: p.out, Config: cfg}
	progress := newProgress(f.progress, a.Stderr, a.Log)
	runner := &loop.Runner{Hooks: []loop.Hook{loop.Observe(progress.hook), loop.Observe(a.checkpointHook)}, Log: a.Log}
	failed, stopped, elsewhere := 0, 0, 0
	owner := sweep.Self("run")
	total := len(p.specs) * len(p.seeds)
	already := 0
	for _, spec := range p.specs {
		for _, seed := range p.seeds {
			if resumed.finished(runKey{spec, seed}) != nil {
				already++
			}
		}
	}
	progress.job(total, already)
	workers := f.workers
	if workers <= 0 {
		// One run per core's worth of BLAS threads: a resumed folder that keeps two threads
		// trains one run at a time.
		workers = max(1, usableCores()/runThreadCount)
	}
	// The runs are independent (each its own strategy, random sources and result folder), so
	// workers train them at once; results keep the sequential order (spec-major), and each is
	// the same bit for bit as a sequential run's.
	type job struct {
		spec string
		seed int64
	}
	var jobs []job
	for _, spec := range p.specs {
		for _, seed := range p.seeds {
			jobs = append(jobs, job{spec, seed})
		}
	}
	slots := make([]*results.Result, len(jobs))
	var mu sync.Mutex
	var fatal error
	wctx, cancelWorkers := context.WithCancel(ctx)
	defer cancelWorkers()
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				spec, seed := jobs[k].spec, jobs[k].seed
				c := cell(spec, seed)
				if r := resumed.finished(runKey{spec, seed}); r != nil {
					mu.Lock()
					if r.Status != results.StatusOK {
						failed++
					}
					slots[k] = r
					mu.Unlock()
					loop.RemoveCheckpoint(c.CheckpointPath())
					continue
				}
				res, outcome, err := a.trainRun(wctx, runner, c, owner)
				mu.Lock()
				switch outcome {
				case runFatal:
					if fatal == nil {
						fatal = err
					}
					cancelWorkers()
				case runElsewhere:
					elsewhere++
				case runStopped:
					stopped++
				case runFailed:
					failed++
				}
				if res != nil {
					slots[k] = res
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for k := range jobs {
		if wctx.Err() != nil {
			break feed
		}
		select {
		case next <- k:
		case <-wctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if fatal != nil {
		return fatal
	}
	var stopErr error
	if err := ctx.Err(); err != nil {
		stopErr = err
	}
	for _, r := range slots {
		if r != nil {
			run.Results = append(run.Results, r)
		}
	}
	if err := results.WriteSummary(run); err != nil {
		return fmt.Errorf("writing the summary: %w", err)
	}
	if html := a.writeRunReport(run); html != "" {
		defer fmt.Fprintf(a.Stdout, "Report: %s\n", html)
	}
	printTable(a.Stdout, run)
	fmt.Fprintf(a.Stdout, "\nResults: %s (summary.md, summary.json, config.json, <strategy>/seed-<n>/)\n", p.out)
	if stopErr != nil {
		finished := len(run.Results) - stopped
		saved := 0 // unfinished runs with a checkpoint (a finished run's checkpoint is removed)
		for _, spec := range p.specs {
			for _, seed := range p.seeds {
				c := cell(spec, seed)
				if _, err := os.Stat(c.CheckpointPath()); err == nil {
					saved++
				}
			}
		}
		how := "the unfinished runs continue from their checkpoints"
		switch left := total - finished; {
		case saved == 0:
			how = "no checkpoint was written yet: the unfinished runs start from the beginning"
		case saved < left:
			how = fmt.Sprintf("%d unfinished runs continue from their checkpoints, the other %d start from the beginning", saved, left-saved)
		}
		return interruptedError{fmt.Sprintf("interrupted: %d of %d runs finished; continue with: clgraph run --resume %s (%s)", finished, total, p.out, how)}
	}
	if elsewhere > 0 {
		fmt.Fprintf(a.Stdout, "%d runs were left to another process running this folder; their results land in %s when it finishes\n", elsewhere, p.out)
	}
	if failed > 0 {
		return failedRuns{failed, total}
	}
	return nil
}

// printTable writes strategies x metrics (mean ± std over seeds): results.WriteTable.
func printTable(w io.Writer, run *results.Run) { results.WriteTable(w, run) }

// The outcomes of trainRun.
const (
	runOK        = iota // trained to the end
	runFailed           // the run failed (diverged, crashed): its result says why
	runStopped          // interrupted: its checkpoint is kept
	runElsewhere        // another process holds its lock
	runFatal            // the result could not be written, or nothing could run: stop the command
)

// trainRun trains cell c under its lock (one process per run: another clgraph run --resume of
// the folder leaves the runs the first is training to it) and says how it ended.
func (a *App) trainRun(ctx context.Context, runner *loop.Runner, c loop.Cell, owner sweep.Owner) (*results.Result, int, error) {
	spec, seed := c.Spec.Strategy, c.Spec.Seed
	if err := os.MkdirAll(c.ResultDir(), 0o755); err != nil {
		return nil, runFatal, fmt.Errorf("creating %s: %w", c.ResultDir(), err)
	}
	lock, err := sweep.TryLock(filepath.Join(c.ResultDir(), sweep.LockFile), owner, sweep.DefaultStaleAfter)
	if errors.Is(err, sweep.ErrLocked) {
		a.Log.WithFields(logrus.Fields{"strategy": spec, "seed": seed}).Warn("another process is running this run (" + err.Error() + "): left to it")
		return nil, runElsewhere, nil
	}
	if err != nil {
		return nil, runFatal, fmt.Errorf("locking %s seed %d: %w", spec, seed, err)
	}
	last := time.Now()
	refresh := loop.Observe(func(e loop.Event) {
		if time.Since(last) > sweep.DefaultHeartbeat {
			lock.Refresh()
			last = time.Now()
		}
	})
	cr := &loop.Runner{Hooks: append(slices.Clone(runner.Hooks), refresh), Log: runner.Log}
	res, err := cr.RunCell(ctx, c)
	lock.Release()
	var werr *loop.WriteError
	switch {
	case errors.As(err, &werr):
		return res, runFatal, err
	case res == nil:
		return nil, runFatal, usagef("%v", oneLine(err))
	case err != nil && loop.Interrupted(err):
		a.Log.WithFields(logrus.Fields{"strategy": spec, "seed": seed}).Warn(err)
		return res, runStopped, nil
	case err != nil:
		a.Log.WithFields(logrus.Fields{"strategy": spec, "seed": seed}).Error(err)
		return res, runFailed, nil
	}
	return res, runOK, nil
}

// jobWorkers is the number of runs a job trains at once: flag when positive, else usable cores
// over CLGRAPH_BLAS_THREADS (one when unset).
func jobWorkers(flag int) int {
	if flag > 0 {
		return flag
	}
	_, w := blasWorkers()
	return w
}

// runThreads sets the BLAS thread count of a job that trains concurrent runs at once and returns
// the BLAS in use. The environment's count (CLGRAPH_BLAS_THREADS, OPENBLAS_NUM_THREADS) is kept;
// a resumed folder keeps the count its config.json records (one when it records none), so its
// runs continue with the products' bits they began with; otherwise a job of one run at a time
// gets blas.ThreadsForStep for its model (every core for steps from 0.1 GFLOP on), and a job of
// concurrent runs one thread per run.
func (a *App) runThreads(prior *results.Run, concurrent int, st *stream.Stream, spec runspec.Spec) (blas.Info, int) {
	info := blas.Setup()
	recorded := 1 // a folder written before config.json recorded the count used one thread
	if prior != nil {
		if v, ok := prior.Config.Extra["blas_threads"].(float64); ok && v >= 1 {
			recorded = int(v)
		}
	}
	if threadsFromUser() {
		if prior != nil && info.Name == blas.NameOpenBLAS && info.Threads != recorded {
			a.Log.Warnf("the resumed folder's runs began with %d BLAS threads and the environment sets %d: interrupted runs continue with other bits in some products than they began with (unset %s to keep %d)", recorded, info.Threads, blas.EnvThreads, recorded)
		}
		t, _ := blasWorkers()
		return info, t
	}
	n, why := 1, "one thread per run for concurrent runs"
	switch {
	case prior != nil:
		n, why = recorded, "the resumed folder's count (config.json)"
	case concurrent <= 1:
		layers := append(append([]int{st.InputDim}, spec.Hidden...), st.Outputs)
		flop := blas.MLPStepFLOP(spec.Batch, layers)
		n = blas.ThreadsForStep(flop, usableCores())
		why = fmt.Sprintf("one run at a time, %.2f GFLOP per step (every core from %.1f GFLOP; %s overrides)", flop/1e9, blas.StepThreadsMinFLOP/1e9, blas.EnvThreads)
	}
	if info.Threads != n {
		info = blas.SetThreads(n)
	}
	a.Log.WithFields(logrus.Fields{"threads": info.Threads, "why": why}).Info("blas threads")
	return info, n
}
