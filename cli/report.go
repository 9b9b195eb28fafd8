package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/results/published"
	"github.com/clgraph/clgraph/results/report"
	"github.com/clgraph/clgraph/sweep"
)

// ReportDir is the folder, inside a run directory, where 'clgraph run' and
// (by default) 'clgraph report' write the run's report.
const ReportDir = "report"

const reportUsage = `Usage: clgraph report RUN_DIR... [--out DIR]

Writes a report comparing the strategies of one or more run folders:
report.html (self-contained, opens offline), report.md, and the plots as PNG
and SVG files. Runs compare when they share stream, scenario, protocol,
tasks, iterations, batch size, learning rate, hidden layers and data; seeds
and strategies may differ; each folder may be named once. The default --out is
the first RUN_DIR's report/.

A run that is incomplete (interrupted runs, or strategy and seed pairs of its
config.json without a result.json: not run yet or still running) is reported
all the same, over the seeds that finished; the report and a line on stderr
say so, with how to resume it.

Flags:
`

// cmdReport implements 'clgraph report RUN_DIR... [--out DIR]'. Flags may
// come before, between or after the run folders. Missing or unreadable run
// folders, runs that do not compare and a folder named twice are usage errors
// (exit 2); failing to write the report exits 1.
//
// An incomplete run gets a one-line notice on stderr (incompleteNotice) and
// its report, which says so too, is written: the exit status stays 0, since
// reporting on a run that is still going, or on the finished part of an
// interrupted one, is a normal use and the report is correct about what it
// shows; scripts that need a complete run check summary.json's counts.
func (a *App) cmdReport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	out := fs.String("out", "", "report folder (default RUN_DIR/report of the first run)")
	pubDir := fs.String("published", "", "folder of published numbers (e.g. results/reference/published): overlay the rows of the runs' stream, scenario and protocol as markers")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), reportUsage)
		fs.PrintDefaults()
	}
	var dirs []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usageError{err}
		}
		if fs.NArg() == 0 {
			break
		}
		dirs = append(dirs, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(dirs) == 0 {
		return usagef("report needs at least one run folder: clgraph report RUN_DIR... [--out DIR]")
	}
	runs := make([]*results.Run, 0, len(dirs))
	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := results.Read(d)
		if err != nil {
			return usagef("cannot read the run folder %s: %v", d, err)
		}
		runs = append(runs, r)
	}
	if err := report.Check(runs); err != nil {
		return usageError{err}
	}
	for _, r := range runs {
		if msg := incompleteNotice(r); msg != "" {
			fmt.Fprintln(a.Stderr, msg)
		}
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join(dirs[0], ReportDir)
	}
	var opt report.Options
	if *pubDir != "" {
		srcs, err := published.Sources(*pubDir)
		if err != nil {
			return usageError{err}
		}
		opt.Published = srcs
	}
	files, err := report.WriteWith(runs, dir, opt)
	if err != nil {
		if errors.Is(err, report.ErrMismatch) {
			return usageError{err}
		}
		return fmt.Errorf("writing the report: %w", err)
	}
	pics := ""
	if len(files.Replay) > 0 {
		pics = fmt.Sprintf(", %d pictures of generative replay", len(files.Replay))
	}
	fmt.Fprintf(a.Stdout, "Report: %s (and %s, %d PNG and %d SVG plots%s in %s)\n",
		files.HTML, report.MarkdownFile, len(files.PNG), len(files.SVG), pics, files.Dir)
	return nil
}

// incompleteNotice returns "" for a complete run, else a line such as "run DIR is incomplete: 3
// of 6 runs finished, 1 interrupted, 2 missing; resume it with clgraph run --resume DIR".
// Missing runs whose folder holds a lock file are said to be perhaps still running.
func incompleteNotice(run *results.Run) string {
	sums := run.Summary()
	c := results.CompletionOf(sums)
	if c.Complete() {
		return ""
	}
	locked := 0
	for _, s := range sums {
		for _, seed := range s.MissingSeeds {
			if _, err := os.Stat(filepath.Join(results.ResultDir(run.Dir, s.Strategy, seed), sweep.LockFile)); err == nil {
				locked++
			}
		}
	}
	msg := fmt.Sprintf("run %s is incomplete: %s", run.Dir, c)
	if locked > 0 {
		them := "them"
		if locked == 1 {
			them = "it"
		}
		msg += fmt.Sprintf(" (%d of them locked: a clgraph run may still be running %s)", locked, them)
	}
	return msg + "; resume it with clgraph run --resume " + run.Dir
}

// writeRunReport writes the report of a finished run into its report/
// folder and returns the path of report.html. A failure is logged as a
// warning and returns "": the run's results are already safe.
func (a *App) writeRunReport(run *results.Run) string {
	files, err := report.Write([]*results.Run{run}, filepath.Join(run.Dir, ReportDir))
	if err != nil {
		a.Log.WithError(err).Warn("could not write the run's report (the results are complete; retry with 'clgraph report')")
		return ""
	}
	return files.HTML
}
