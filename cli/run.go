package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clgraph/clgraph/benchmarks"
	"github.com/clgraph/clgraph/benchmarks/mnist"
	"github.com/clgraph/clgraph/graphs/blas"
	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/stream"
	"github.com/sirupsen/logrus"
)

// failedRuns reports that some runs failed while others completed.
type failedRuns struct{ n, total int }

func (f failedRuns) Error() string {
	return fmt.Sprintf("%d of %d runs failed (see the summary above and summary.md)", f.n, f.total)
}

// loadMNIST loads the data of clgraph run (a variable so that tests can share one copy).
var loadMNIST = benchmarks.LoadMNIST

// runFlags are clgraph run's flags.
type runFlags struct {
	stream, scenario, strategies, seeds, protocol, out, dataDir string
	tasks                                                       int
	classOrder, hidden                                          string
	iterations, batch, evalBatch, testLimit, trainLimit         int
	lr                                                          float64
	logLevel, logFormat, progress                               string
	force                                                       bool
	checkpointEvery                                             int
	resume                                                      string
	given                                                       map[string]bool // flags set on the command line
}

func (a *App) runFlagSet(f *runFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	fs.StringVar(&f.stream, "stream", "split-mnist", "task stream: "+strings.Join(benchmarks.StreamNames(), ", "))
	fs.StringVar(&f.scenario, "scenario", "task", "scenario: task, domain or class")
	fs.StringVar(&f.strategies, "strategies", "naive,multihead,joint", "comma-separated strategy specs (see 'clgraph strategies'); separate specs with ';' when options contain commas, e.g. \"naive;ewc:lambda=100,online=true\"")
	fs.StringVar(&f.seeds, "seeds", "1,2,3", "comma-separated seeds, or a range like 1-5")
	fs.StringVar(&f.protocol, "protocol", "quick", "protocol preset: paper (the literature's settings) or quick (same shapes, fewer iterations)")
	fs.IntVar(&f.iterations, "iterations", 0, "override: training steps per task")
	fs.IntVar(&f.batch, "batch", 0, "override: mini-batch size")
	fs.IntVar(&f.evalBatch, "eval-batch", 0, "override: rows per evaluation pass")
	fs.Float64Var(&f.lr, "lr", 0, "override: Adam learning rate")
	fs.StringVar(&f.hidden, "hidden", "", "override: hidden layer sizes, e.g. 400,400")
	fs.IntVar(&f.tasks, "tasks", 0, "number of tasks (default: 5 split, 10 permuted)")
	fs.StringVar(&f.classOrder, "class-order", "", "split MNIST class order, e.g. 1,0,3,2,5,4,7,6,9,8")
	fs.IntVar(&f.testLimit, "test-limit", -1, "override: test examples per task (0 = all)")
	fs.IntVar(&f.trainLimit, "train-limit", 0, "training examples per task (0 = all)")
	fs.StringVar(&f.out, "out", "", "run folder (default results/runs/<time>-<stream>-<scenario>)")
	fs.BoolVar(&f.force, "force", false, "write into --out even if it already holds a run")
	fs.StringVar(&f.dataDir, "data-dir", mnist.DirFromEnv(), "folder with the MNIST IDX files (default $CLGRAPH_DATA, else the Go module cache, else download)")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&f.progress, "progress", "auto", "progress display: auto (bar on a terminal, log lines otherwise), bar, log or none")
	fs.IntVar(&f.checkpointEvery, "checkpoint-every", 0, "save each run's state every N training steps as well as at task boundaries (0: task boundaries only; -1: no checkpoints)")
	fs.StringVar(&f.resume, "resume", "", "continue the run in this folder with its config.json: keep finished results, resume interrupted runs from their checkpoints, run the missing ones")
	return fs
}

// parseInts reads "1,2,3" or "1-5".
func parseInts(s string) ([]int64, error) {
	var out []int64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if lo, hi, ok := strings.Cut(part, "-"); ok && lo != "" {
			a, err1 := strconv.ParseInt(lo, 10, 64)
			b, err2 := strconv.ParseInt(hi, 10, 64)
			if err1 != nil || err2 != nil || b < a || b-a > 10000 {
				return nil, fmt.Errorf("%q is not a range like 1-5", part)
			}
			for v := a; v <= b; v++ {
				out = append(out, v)
			}
			continue
		}
		v, err := strconv.ParseInt(part, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", part)
		}
		out = append(out, v)
	}
	return out, nil
}

func toInts(xs []int64) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = int(x)
	}
	return out
}

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
	streamCfg benchmarks.StreamConfig
	proto     benchmarks.Protocol
	seeds     []int64
	specs     []string // canonical
	out       string
}

func (a *App) setupLog(f *runFlags) error { return a.setLogging(f.logLevel, f.logFormat) }

// validate turns flags into a plan, checking everything that can be checked before loading data.
func (a *App) validate(f *runFlags) (*plan, error) {
	p := &plan{}
	known := false
	for _, n := range benchmarks.StreamNames() {
		known = known || n == f.stream
	}
	if !known {
		return nil, usagef("unknown stream %q (known: %s)", f.stream, strings.Join(benchmarks.StreamNames(), ", "))
	}
	sc, err := stream.ParseScenario(f.scenario)
	if err != nil {
		return nil, usagef("--scenario: %v", err)
	}
	p.streamCfg = benchmarks.StreamConfig{Name: f.stream, Scenario: sc, Tasks: f.tasks, TrainLimit: f.trainLimit}
	if f.tasks < 0 || (f.given["tasks"] && f.tasks == 0) {
		return nil, usagef("--tasks must be positive, got %d (leave it out for the stream's default)", f.tasks)
	}
	if f.trainLimit < 0 {
		return nil, usagef("--train-limit must be 0 (all) or positive, got %d", f.trainLimit)
	}
	if f.classOrder != "" {
		order, err := parseInts(f.classOrder)
		if err != nil {
			return nil, usagef("--class-order: %v", err)
		}
		p.streamCfg.ClassOrder = toInts(order)
	}
	if p.proto, err = benchmarks.ProtocolFor(f.protocol, f.stream); err != nil {
		return nil, usageError{err}
	}
	// An override given on the command line is used as given, 0 included (and then refused).
	if f.given["iterations"] {
		p.proto.Iterations = f.iterations
	}
	if f.given["batch"] {
		p.proto.Batch = f.batch
	}
	if f.given["eval-batch"] {
		p.proto.EvalBatch = f.evalBatch
	}
	if f.given["lr"] {
		p.proto.LR = f.lr
	}
	if f.given["test-limit"] {
		if f.testLimit < 0 {
			return nil, usagef("--test-limit must be 0 (all) or positive, got %d", f.testLimit)
		}
		p.proto.TestLimit = f.testLimit
	}
	if f.given["hidden"] {
		h, err := parseInts(f.hidden)
		if err != nil {
			return nil, usagef("--hidden: %v", err)
		}
		p.proto.Hidden = toInts(h)
	}
	if err := p.proto.Validate(); err != nil {
		return nil, usagef("invalid settings: %v (check --iterations, --batch, --lr, --hidden)", err)
	}
	p.streamCfg.TestLimit = p.proto.TestLimit
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
	dup := map[string]bool{}
	for _, spec := range specs {
		st, err := a.Registry.New(spec)
		if err != nil {
			return nil, usageError{err}
		}
		name := canonical(st, spec)
		if dup[name] {
			return nil, usagef("--strategies lists %s twice", name)
		}
		dup[name] = true
		if strategies.RequirementsOf(st).TaskIdentity && sc != stream.TaskIL {
			return nil, usagef("strategy %s needs task identities at test time, which the %s-IL scenario does not give; run it with --scenario task, or drop it from --strategies", name, sc)
		}
		p.specs = append(p.specs, name)
	}
	p.out = f.out
	if p.out == "" {
		p.out = filepath.Join("results", "runs", fmt.Sprintf("%s-%s-%s", time.Now().Format("20060102-150405"), f.stream, sc))
	}
	return p, nil
}

func canonical(s strategies.Strategy, spec string) string {
	if n, ok := s.(strategies.Named); ok && n.Spec() != "" {
		return n.Spec()
	}
	return spec
}

// prepareOut checks that the run folder can be written and does not hold another run.
func prepareOut(dir string, force bool) error {
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil && !force {
		return usagef("--out %s already holds a run (config.json); continue it with --resume %s, choose another folder, or pass --force to overwrite it", dir, dir)
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
	if err := checkCheckpointFlag(&f); err != nil {
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
	t0 := time.Now()
	mopts := mnist.Options{Dir: f.dataDir}
	if f.dataDir != "" {
		// A folder the user names is the data they mean: never fall back to other MNIST copies.
		mopts.Sources = []string{mnist.SourceDir}
	}
	data, err := loadMNIST(ctx, mopts)
	if err != nil {
		if ctx.Err() != nil {
			return interruptedError{"interrupted while loading MNIST; nothing was trained"}
		}
		return dataError(err, f.dataDir)
	}
	a.Log.WithFields(logrus.Fields{"source": data.Source, "seconds": fmt.Sprintf("%.1f", time.Since(t0).Seconds())}).Info("MNIST loaded")
	// Build every seed's stream before training so an invalid combination fails early.
	streams := map[int64]*stream.Stream{}
	for _, seed := range p.seeds {
		cfg := p.streamCfg
		cfg.Seed = seed
		st, err := benchmarks.BuildStream(data, cfg)
		if err != nil {
			return usageError{err}
		}
		streams[seed] = st
	}
	meta := runMeta(data, binfo)
	var resumed *resumeState
	if prior != nil {
		if resumed, err = a.checkResume(p, prior, data, streams, meta); err != nil {
			return err
		}
	} else if err := prepareOut(p.out, f.force); err != nil {
		return err
	}
	first := streams[p.seeds[0]]
	cfg := results.Config{
		CreatedAt: time.Now().UTC(), Command: append([]string{"clgraph", "run"}, args...),
		Stream: f.stream, Scenario: first.Scenario.String(), Protocol: p.proto.Name,
		ClassOrder: p.streamCfg.ClassOrder, Iterations: p.proto.Iterations, BatchSize: p.proto.Batch,
		EvalBatch: p.proto.EvalBatch, LearningRate: p.proto.LR, Hidden: p.proto.Hidden,
		Seeds: p.seeds, Strategies: p.specs, Versions: versions(),
		Data:  results.DataInfo{Source: data.Source, Files: data.Files},
		Extra: map[string]any{"test_limit": p.proto.TestLimit, "train_limit": p.streamCfg.TrainLimit, "outputs": first.Outputs, "blas": binfo.String(), "adam": map[string]any{"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}},
	}
	cfg.Extra["checkpoint_every"] = f.checkpointEvery
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
	runner := &benchmarks.Runner{Hooks: []benchmarks.Hook{progress.hook, a.checkpointHook}, Log: a.Log}
	failed, stopped := 0, 0
	total := len(p.specs) * len(p.seeds)
	var stopErr error
loop:
	for _, spec := range p.specs {
		for _, seed := range p.seeds {
			if ctx.Err() != nil {
				stopErr = ctx.Err()
				break loop
			}
			key, ckPath := runKey{spec, seed}, checkpointPath(p.out, spec, seed)
			if r := resumed.finished(key); r != nil {
				if r.Status != results.StatusOK {
					failed++
				}
				run.Results = append(run.Results, r)
				benchmarks.RemoveCheckpoint(ckPath)
				continue
			}
			st, err := a.Registry.New(spec)
			if err != nil {
				return usageError{err}
			}
			set := benchmarks.Settings{Protocol: p.proto, Seed: seed, Checkpoint: checkpointSettings(&f, p.out, spec, seed, meta)}
			if resumed.hasCheckpoint(key) {
				if set.Checkpoint.Resume, err = benchmarks.ReadCheckpoint(ckPath); err != nil {
					return usagef("cannot resume %s seed %d: %v (delete %s to rerun it from the start)", spec, seed, oneLine(err), ckPath)
				}
			} else if err := benchmarks.RemoveCheckpoint(ckPath); err != nil { // a stale one from --force
				return err
			}
			benchmarks.CleanCheckpointTemp(ckPath)
			res, err := runner.Run(ctx, streams[seed], st, spec, set)
			switch {
			case err != nil && benchmarks.Interrupted(err):
				stopped++
				a.Log.WithFields(logrus.Fields{"strategy": spec, "seed": seed}).Warn(err)
			case err != nil:
				failed++
				a.Log.WithFields(logrus.Fields{"strategy": spec, "seed": seed}).Error(err)
			}
			if werr := results.WriteResult(p.out, res); werr != nil {
				return fmt.Errorf("writing the result of %s seed %d: %w", spec, seed, werr)
			}
			if res.Status != results.StatusInterrupted {
				benchmarks.RemoveCheckpoint(ckPath) // the result is final
			}
			run.Results = append(run.Results, res)
			if ctx.Err() != nil {
				stopErr = ctx.Err()
				break loop
			}
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
		return interruptedError{fmt.Sprintf("interrupted: %d of %d runs finished; continue the others (from their checkpoints) with: clgraph run --resume %s", len(run.Results)-stopped, total, p.out)}
	}
	if failed > 0 {
		return failedRuns{failed, total}
	}
	return nil
}

// printTable writes strategies x metrics (mean ± std over seeds).
func printTable(w io.Writer, run *results.Run) {
	c := run.Config
	fmt.Fprintf(w, "\n%s, %s-IL, %s protocol (%d iterations/task), seeds %v: mean ± std over seeds\n\n", c.Stream, c.Scenario, c.Protocol, c.Iterations, c.Seeds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "strategy\tseeds\tACC\tBWT\tFWT\tForgetting\tLearning acc\ttrain s\tsteps/s\tparams\t")
	stopped := map[string]int{} // interrupted runs, which the summary counts as failed
	for _, r := range run.Results {
		if r.Status == results.StatusInterrupted {
			stopped[r.Strategy]++
		}
	}
	for _, s := range run.Summary() {
		m, k := s.Metrics, s.Cost
		seeds := fmt.Sprint(s.OK)
		if n := s.Failed - stopped[s.Strategy]; n > 0 {
			seeds += fmt.Sprintf(" (%d failed)", n)
		}
		if n := stopped[s.Strategy]; n > 0 {
			seeds += fmt.Sprintf(" (%d interrupted)", n)
		}
		if s.OK == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t-\t-\t-\t-\t\n", s.Strategy, seeds)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%.0f\t%.0f\t\n", s.Strategy, seeds,
			m.ACC.Format(3), m.BWT.Format(3), m.FWT.Format(3), m.Forgetting.Format(3), m.LearningAccuracy.Format(3),
			k.TrainSeconds.Mean, k.StepsPerSecond.Mean, k.Params.Mean)
	}
	tw.Flush()
}
