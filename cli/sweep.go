package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/clgraph/clgraph/datasets/mnist"
	"github.com/clgraph/clgraph/graphs/blas"
	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/streams"
	"github.com/clgraph/clgraph/sweep"
	"github.com/sirupsen/logrus"
)

// sweepFlags are clgraph sweep's flags.
type sweepFlags struct {
	out, shard, dataDir, logLevel, logFormat string
	shards, workers, calibrateSteps          int
	dryRun                                   bool
	staleAfter, heartbeat, poll              time.Duration
}

const sweepUsage = `Usage: clgraph sweep FILE [flags]

Runs the experiment grid of the YAML file FILE (streams x scenarios x strategies with option grids
x seeds, see examples/sweeps/) into a sweep folder, several cells at once. Cells already complete
(result.json with status ok) are skipped, so running the same command again resumes an
interrupted sweep. Each <stream>-<scenario> subfolder is an ordinary run folder.

Scale-out: --shard i/N runs only cell indices i, i+N, i+2N, ...; every shard writes into the same
folder (a shared file system), each cell under its own lock. --shards N takes i from
$SLURM_ARRAY_TASK_ID (minus $SLURM_ARRAY_TASK_MIN) or $JOB_COMPLETION_INDEX (Kubernetes Indexed
Jobs). The shard that completes the grid writes the summaries; 'clgraph merge DIR' writes them at
any time.

Flags:
`

func (a *App) sweepFlagSet(f *sweepFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	fs.Usage = func() {
		fmt.Fprint(a.Stderr, sweepUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.out, "out", "", "sweep folder (default results/sweeps/<name from the file>)")
	fs.IntVar(&f.workers, "workers", 0, "cells run at once by this process (default: usable cores / "+blas.EnvThreads+", which is set to 1 when unset)")
	fs.StringVar(&f.shard, "shard", "", "run only shard INDEX/COUNT of the cells, e.g. 0/4 (shards are numbered from 0)")
	fs.IntVar(&f.shards, "shards", 0, "run one of COUNT shards, its index taken from $"+sweep.EnvSlurmTaskID+" or $"+sweep.EnvJobCompletionIndex)
	fs.BoolVar(&f.dryRun, "dry-run", false, "list the cells (and their state in the sweep folder) and estimate the time; write nothing")
	fs.IntVar(&f.calibrateSteps, "calibrate-steps", 10, "dry run: training steps timed per model shape, at least (0: no estimate)")
	fs.StringVar(&f.dataDir, "data-dir", mnist.DirFromEnv(), "folder with the MNIST IDX files (default $CLGRAPH_DATA, else the Go module cache, else download)")
	fs.DurationVar(&f.staleAfter, "stale-after", sweep.DefaultStaleAfter, "a cell lock untouched this long is taken over (locks of dead processes on this host at once)")
	fs.DurationVar(&f.heartbeat, "heartbeat", sweep.DefaultHeartbeat, "how often a running cell's lock is touched")
	fs.DurationVar(&f.poll, "poll", sweep.DefaultPoll, "how often cells locked by other processes are looked at again")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	return fs
}

// parseInterspersed parses flags that may come before or after the positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func (a *App) setLogging(level, format string) error {
	lvl, err := logrus.ParseLevel(level)
	if err != nil {
		return usagef("--log-level %q: want debug, info, warn or error", level)
	}
	a.Log.SetLevel(lvl)
	switch format {
	case "text":
		a.Log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	case "json":
		a.Log.SetFormatter(&logrus.JSONFormatter{})
	default:
		return usagef("--log-format %q: want text or json", format)
	}
	return nil
}

// blasWorkers reads the BLAS threads per worker ($CLGRAPH_BLAS_THREADS, set to 1 when unset so
// that graphs/blas.Setup gives every in-process worker one thread) and returns them with the
// default worker count: usable cores / threads.
func blasWorkers() (threads, workers int) {
	threads = 1
	if v := strings.TrimSpace(os.Getenv(blas.EnvThreads)); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			threads = n
		}
	} else {
		userThreads.Do(func() { userThreads.given = blas.ThreadsGiven() })
		os.Setenv(blas.EnvThreads, "1")
	}
	return threads, max(1, usableCores()/threads)
}

// userThreads records, before blasWorkers first sets CLGRAPH_BLAS_THREADS itself, whether the
// user's environment fixed the BLAS thread count.
var userThreads struct {
	sync.Once
	given bool
}

// threadsFromUser reports whether the user's environment fixes the BLAS thread count.
func threadsFromUser() bool {
	userThreads.Do(func() { userThreads.given = blas.ThreadsGiven() })
	return userThreads.given
}

// usableCores is the number of cores the process may use.
func usableCores() int { return max(1, min(runtime.NumCPU(), runtime.GOMAXPROCS(0))) }

func (a *App) cmdSweep(ctx context.Context, args []string) error {
	var f sweepFlags
	fs := a.sweepFlagSet(&f)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if len(pos) != 1 {
		return usagef("sweep takes one experiment file, e.g. clgraph sweep examples/sweeps/smoke.yaml (got %d arguments)", len(pos))
	}
	if err := a.setLogging(f.logLevel, f.logFormat); err != nil {
		return err
	}
	file, err := sweep.Load(pos[0])
	if err != nil {
		return usageError{err}
	}
	plan, err := file.Expand(a.Registry)
	if err != nil {
		return usageError{err}
	}
	shard := sweep.Shard{Index: 0, Count: 1}
	switch {
	case f.shard != "" && f.shards != 0:
		return usagef("give --shard INDEX/COUNT or --shards COUNT, not both")
	case f.shard != "":
		if shard, err = sweep.ParseShard(f.shard); err != nil {
			return usagef("--shard: %v", err)
		}
	case f.shards < 0:
		return usagef("--shards must be positive, got %d", f.shards)
	case f.shards > 0:
		if shard, err = sweep.ShardFromEnv(f.shards, os.Getenv); err != nil {
			return usagef("--shards: %v", err)
		}
	}
	if f.staleAfter <= 2*f.heartbeat {
		return usagef("--stale-after (%v) must be more than twice --heartbeat (%v), or live cells would be taken over", f.staleAfter, f.heartbeat)
	}
	out := f.out
	if out == "" {
		out = filepath.Join("results", "sweeps", plan.Name)
	}
	threads, defWorkers := blasWorkers()
	workers := f.workers
	if workers == 0 {
		workers = defWorkers
	}
	if blas.Setup().Threads != threads && (threads != 1 || !threadsFromUser()) {
		blas.SetThreads(threads) // an earlier command of this process may have changed it (clgraph run of one run)
	}
	if workers < 0 {
		return usagef("--workers must be positive, got %d", workers)
	}
	if workers*threads > runtime.NumCPU() {
		a.Log.Warnf("%d workers x %d BLAS threads (%s) exceed the %d cores: expect contention", workers, threads, blas.EnvThreads, runtime.NumCPU())
	}
	cells := plan.Shard(shard.Index, shard.Count)
	if f.dryRun {
		return a.sweepDryRun(ctx, plan, cells, shard, out, workers, f.calibrateSteps)
	}
	if err := plan.Check(out); err != nil {
		return usageError{err}
	}
	ex := &sweep.Executor{
		Dir: out, Plan: plan, Source: file.Source, Registry: a.Registry, Workers: workers, Shard: shard, Log: a.Log,
		StaleAfter: f.staleAfter, Heartbeat: f.heartbeat, Poll: f.poll,
		Config: results.Config{CreatedAt: time.Now().UTC(), Command: append([]string{"clgraph", "sweep"}, args...), Versions: versions()},
	}
	todo := 0
	for _, c := range cells {
		if st, err := plan.StateOf(out, c); err != nil || st != sweep.Done {
			todo++
		}
	}
	if todo > 0 { // else there is nothing to train: skip loading the data
		bi := blas.Setup()
		a.Log.Info(bi.String())
		t0 := time.Now()
		mopts := mnist.Options{Dir: f.dataDir}
		if f.dataDir != "" {
			mopts.Sources = []string{mnist.SourceDir}
		}
		data, err := streams.LoadMNIST(ctx, mopts)
		if err != nil {
			return usagef("loading MNIST: %v", err)
		}
		a.Log.WithFields(logrus.Fields{"source": data.Source, "seconds": fmt.Sprintf("%.1f", time.Since(t0).Seconds())}).Info("MNIST loaded")
		ex.Data, ex.Config.Data = data, results.DataInfo{Source: data.Source, Files: data.Files}
	}
	rep, err := ex.Run(ctx)
	if err != nil {
		var ce *sweep.ConflictError
		if errors.As(err, &ce) {
			return usageError{err}
		}
		return err
	}
	fmt.Fprintf(a.Stdout, "\nShard %s: %d cells: %d already complete, %d run here (%d ok, %d failed), %d completed elsewhere, %d aborted\n",
		shard, rep.Cells, rep.Complete, rep.Ran, rep.OK, rep.Failed, rep.Elsewhere, rep.Aborted)
	sum, _, serr := plan.Summarize(out)
	if serr == nil && sum.Cells.Complete() && ctx.Err() == nil {
		if sum, serr = plan.Merge(out); serr == nil {
			printSweepSummary(a.Stdout, sum)
			fmt.Fprintf(a.Stdout, "\nSweep folder: %s (sweep-summary.md, sweep-summary.json, <stream>-<scenario>/summary.md)\n", out)
		}
	} else if serr == nil {
		fmt.Fprintf(a.Stdout, "The grid is not complete yet (%d of %d cells have results): the shard that completes it writes the summaries, or run 'clgraph merge %s'.\n",
			sum.Cells.OK+sum.Cells.Failed, sum.Cells.Total, out)
	}
	if serr != nil {
		return fmt.Errorf("summarising %s: %w", out, serr)
	}
	if ctx.Err() != nil {
		return interruptedError{fmt.Sprintf("interrupted (%v): running cells saved checkpoints; run the same command again to resume them where they stopped", ctx.Err())}
	}
	if len(rep.Errors) > 0 {
		return fmt.Errorf("%d cells could not be run or written (first: %v)", len(rep.Errors), rep.Errors[0])
	}
	if rep.Failed > 0 {
		return fmt.Errorf("%d of %d cells run here failed (status failed in their result.json); the next sweep runs them again", rep.Failed, rep.Ran)
	}
	return nil
}

// fmtSeconds writes a duration for estimates: 0.3s, 45s, 12m05s, 3h20m.
func fmtSeconds(s float64) string {
	if s < 10 {
		return fmt.Sprintf("%.1fs", s)
	}
	d := time.Duration(s * float64(time.Second)).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

func (a *App) sweepDryRun(ctx context.Context, plan *sweep.Plan, cells []sweep.Cell, shard sweep.Shard, out string, workers, steps int) error {
	w := a.Stdout
	_, statErr := os.Stat(filepath.Join(out, sweep.ManifestFile))
	haveDir := statErr == nil
	if haveDir {
		if err := plan.Check(out); err != nil {
			return usageError{err}
		}
	}
	var est *sweep.Estimate
	if steps > 0 {
		bi := blas.Setup()
		a.Log.Debug(bi.String())
		var err error
		if est, err = plan.Calibrate(ctx, a.Registry, cells, steps); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "Sweep %s: %d cells in %d groups", plan.Name, len(plan.Cells), len(plan.Groups))
	if len(plan.Skipped) > 0 {
		fmt.Fprintf(w, " (%d combinations left out)", len(plan.Skipped))
	}
	fmt.Fprintf(w, "; shard %s runs %d of them with %d workers; folder %s\n\n", shard, len(cells), workers, out)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tid\tgroup\tstrategy\tseed\tstate\test.\t")
	var pending []float64
	counts := map[sweep.State]int{}
	for _, c := range cells {
		state := sweep.Pending
		if haveDir {
			var err error
			if state, err = plan.StateOf(out, c); err != nil {
				return usageError{err}
			}
		}
		counts[state]++
		e := "-"
		if est != nil {
			e = fmtSeconds(est.CellSeconds[c.Index])
			if state != sweep.Done {
				pending = append(pending, est.CellSeconds[c.Index])
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t\n", c.Index, c.ID, plan.Groups[c.Group].Dir, c.Strategy, c.Seed, state, e)
	}
	tw.Flush()
	for _, k := range plan.Skipped {
		fmt.Fprintf(w, "left out: %s in %s (%s)\n", k.Strategy, k.Group, k.Reason)
	}
	fmt.Fprintf(w, "\nStates: %d done, %d failed (run again), %d running, %d pending\n", counts[sweep.Done], counts[sweep.Failed], counts[sweep.Running], counts[sweep.Pending])
	if est == nil {
		return nil
	}
	fmt.Fprintf(w, "\nCalibration (CPU time of %d+ training steps per model shape, on synthetic data of MNIST's shape):\n", steps)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "model shape\tcells\tsetup ms\tms/step\tms/eval run\t")
	for _, c := range est.Calibrations {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2f\t%.2f\t\n", c.Shape, c.Cells, c.SetupSeconds*1000, c.StepSeconds*1000, c.EvalSecondsPerRun*1000)
	}
	tw.Flush()
	total := 0.0
	for _, s := range pending {
		total += s
	}
	fmt.Fprintf(w, "\nEstimated time: %s of compute for %d cells to run; about %s with %d workers (plus loading MNIST, a few seconds)\n",
		fmtSeconds(total), len(pending), fmtSeconds(sweep.Makespan(pending, workers)), workers)
	return nil
}

// printSweepSummary writes the best setting per group and strategy.
func printSweepSummary(w io.Writer, s *sweep.Summary) {
	fmt.Fprintf(w, "\nSweep %s: cells %d ok, %d failed, %d missing of %d. Best setting per strategy (mean ± std over seeds):\n\n", s.Name, s.Cells.OK, s.Cells.Failed, s.Cells.Missing, s.Cells.Total)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "stream\tscenario\tstrategy\tbest setting\tseeds ok\t"
	for _, mt := range results.HeadlineMetrics() {
		head += strings.TrimSuffix(mt.Label, ".") + "\t"
	}
	fmt.Fprintln(tw, head)
	for _, g := range s.Groups {
		for _, b := range g.Best {
			name := b.Strategy
			if name == "" {
				name = "-"
			} else if !b.Complete {
				name += " (provisional)"
			}
			row := fmt.Sprintf("%s\t%s\t%s\t%s\t%d/%d\t", g.Stream, g.Scenario, b.Base, name, b.Cells.OK, b.Cells.Total)
			for _, mt := range results.HeadlineMetrics() {
				row += b.Metrics.Get(mt.Key).Format(3) + "\t"
			}
			fmt.Fprintln(tw, row)
		}
	}
	tw.Flush()
}

const mergeUsage = `Usage: clgraph merge SWEEP_DIR

Gathers a sweep folder written by one or many shards: writes each <stream>-<scenario>/summary.json
and summary.md, and SWEEP_DIR/sweep-summary.json and sweep-summary.md (the best setting per stream,
scenario and strategy, and the whole grid). Cells without results are counted as missing. Run it
from one process at a time.
`

func (a *App) cmdMerge(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	fs.Usage = func() { fmt.Fprint(a.Stderr, mergeUsage) }
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if len(pos) != 1 {
		return usagef("merge takes one sweep folder, e.g. clgraph merge results/sweeps/smoke")
	}
	m, err := sweep.ReadManifest(pos[0])
	if err != nil {
		return usageError{err}
	}
	p, err := m.Plan()
	if err != nil {
		return err
	}
	s, err := p.Merge(pos[0])
	if err != nil {
		return err
	}
	printSweepSummary(a.Stdout, s)
	if secs, n, err := p.CellTime(pos[0]); err == nil && n > 0 {
		fmt.Fprintf(a.Stdout, "\nCell time: %.2f h over %d completed cells (the sum of their cell.json wall times, last attempts; cells run N at a time take about this divided by N)\n", secs/3600, n)
	}
	fmt.Fprintf(a.Stdout, "\nWrote %s and %s in %s\n", sweep.SummaryMDFile, sweep.SummaryJSONFile, pos[0])
	if !s.Cells.Complete() {
		fmt.Fprintf(a.Stdout, "%d of %d cells have no result yet: run the sweep (or its missing shards) again to complete it.\n", s.Cells.Missing, s.Cells.Total)
	}
	return nil
}
