package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/results/report"
	"github.com/clgraph/clgraph/runspec"
)

const compareUsage = `Usage: clgraph compare RUN_DIR_1 RUN_DIR_2

Compares two run folders of one protocol strategy by strategy: for each strategy both ran, its
mean ± std in each run and the paired difference run 2 − run 1 over the seeds both ran (95%
confidence interval, two-sided p of a paired t-test, Holm-corrected over the strategies of each
metric) for ACC, BWT and forgetting. The runs must match as a report's do (stream, scenario,
protocol, tasks, iterations, batch size, learning rate, hidden layers, data); they may differ in
seeds, strategies, evaluation batch and initialisation (--pretrain-classes, --init-from), which
the output states. Mismatched runs are refused, naming the setting.
`

func (a *App) cmdCompare(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), compareUsage) }
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() != 2 {
		return usagef("compare takes two run folders: clgraph compare RUN_DIR_1 RUN_DIR_2 (got %d)", fs.NArg())
	}
	var runs []*results.Run
	for _, d := range fs.Args() {
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
		return usageError{fmt.Errorf("%w (clgraph compare takes two runs a report could compare)", err)}
	}
	a.writeComparison(runs[0], runs[1])
	return nil
}

// writeComparison prints the comparison of runs r1 and r2.
func (a *App) writeComparison(r1, r2 *results.Run) {
	w := a.Stdout
	s := r1.Config.Spec
	fmt.Fprintf(w, "clgraph compare: %s, %s-IL, %s protocol\n  run 1: %s\n  run 2: %s\n", s.Stream, s.Scenario, s.Protocol, r1.Dir, r2.Dir)
	if ds := runspec.Diff(r1.Config.Spec, r2.Config.Spec, runspec.Results); len(ds) > 0 {
		fmt.Fprintf(w, "  settings that differ (run 1 vs run 2): %s\n", runspec.Differences(ds))
	}
	for i, r := range []*results.Run{r1, r2} {
		for _, sum := range r.Summary() {
			for _, res := range r.Results {
				if res != nil && res.Strategy == sum.Strategy && res.Init != nil {
					fmt.Fprintf(w, "  run %d, %s (seed %d): %s\n", i+1, sum.Strategy, res.Seed, res.Init.Describe())
					break
				}
			}
		}
	}
	tests, only := results.CompareRuns(r1, r2)
	stats := func(r *results.Run) map[string]results.StrategySummary {
		m := map[string]results.StrategySummary{}
		for _, sum := range r.Summary() {
			m[sum.Strategy] = sum
		}
		return m
	}
	s1, s2 := stats(r1), stats(r2)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tstrategy\trun 1\trun 2\trun 2 − run 1 [95% CI]\tp\tHolm p\tseeds")
	for _, t := range tests {
		name := strings.TrimSuffix(t.A, " (run 2)")
		label := t.Metric
		if mt, ok := results.LookupMetric(t.Metric); ok {
			label = mt.Label
		}
		diff := fmt.Sprintf("%+.3f", t.MeanDiff)
		p, holm := "—", "—"
		if t.Undefined == "" {
			diff += fmt.Sprintf(" [%+.3f, %+.3f]", t.CILow, t.CIHigh)
			p, holm = results.FormatP(t.P), results.FormatP(t.PHolm)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", label, name, s1[name].Metrics.Get(t.Metric).Format(3), s2[name].Metrics.Get(t.Metric).Format(3), diff, p, holm, t.N)
	}
	tw.Flush()
	for _, t := range tests {
		if t.Undefined != "" {
			fmt.Fprintf(w, "\n%s: no test (%s)\n", strings.TrimSuffix(t.A, " (run 2)"), t.Undefined)
			break
		}
	}
	if len(only) > 0 {
		fmt.Fprintf(w, "\nnot compared (in one run only, or no seed in common): %s\n", strings.Join(only, ", "))
	}
}
