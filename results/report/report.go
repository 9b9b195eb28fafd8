package report

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/clgraph/clgraph/runspec"

	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/results/published"
)

// File names written by Write in its output folder.
const (
	// HTMLFile is the self-contained HTML report.
	HTMLFile = "report.html"
	// MarkdownFile is the Markdown twin of the HTML report.
	MarkdownFile = "report.md"
)

// ErrMismatch is wrapped by the error of Check and Write when the runs do not
// measure the same thing (see the package documentation for the rules).
var ErrMismatch = errors.New("reports compare runs of one stream, scenario and protocol (same tasks, iterations, batch size, learning rate, hidden layers and data)")

// ErrDuplicateRun is wrapped by the error of Check and Write when two of the runs are the same
// run folder: its strategies would be listed twice.
var ErrDuplicateRun = errors.New("a report lists each run folder once")

// Files lists the files written by Write.
type Files struct {
	// Dir is the output folder.
	Dir string
	// HTML is the path of report.html.
	HTML string
	// Markdown is the path of report.md.
	Markdown string
	// PNG are the paths of the PNG plots, in report order.
	PNG []string
	// SVG are the paths of the SVG plots, in report order.
	SVG []string
	// PDF are the paths of the PDF plots (vector, for a paper), in report order.
	PDF []string
	// Replay are the paths of the generative strategies' pictures copied from their result
	// folders (samples and reconstructions after each task), in report order.
	Replay []string
}

// runName names run i (0-based) of a report in messages: "run 2 (DIR)".
func runName(i int, r *results.Run) string {
	if r.Dir == "" {
		return fmt.Sprintf("run %d", i+1)
	}
	return fmt.Sprintf("run %d (%s)", i+1, r.Dir)
}

// Check reports whether the runs can be compared in one report: it returns
// nil when every run matches the first one in the settings listed in the
// package documentation, and otherwise an error wrapping ErrMismatch that
// names the first mismatch, e.g. `run 2 (DIR) has scenario "class", run 1
// (DIR) has "task": reports compare runs of one stream, scenario and
// protocol (...)`. It also fails, without wrapping ErrMismatch, when runs is
// empty or holds a nil run, and, wrapping ErrDuplicateRun, when two runs are
// one folder (the same path once cleaned and made absolute, or the same
// directory through a symbolic link) or one *results.Run.
func Check(runs []*results.Run) error {
	if len(runs) == 0 {
		return errors.New("report: no runs to report on")
	}
	for i, r := range runs {
		if r == nil {
			return fmt.Errorf("report: run %d is nil", i+1)
		}
	}
	if err := checkDistinct(runs); err != nil {
		return err
	}
	a := runs[0]
	for i, b := range runs[1:] {
		if ta, tb := "["+strings.Join(a.Config.Tasks, " ")+"]", "["+strings.Join(b.Config.Tasks, " ")+"]"; ta != tb {
			return fmt.Errorf("report: %s has tasks %s, %s has %s: %w", runName(i+1, b), tb, runName(0, a), ta, ErrMismatch)
		}
		// The settings that change results must match (runspec.Diff; the data folder, the
		// evaluation batch and the checkpoint cadence may differ).
		if ds := runspec.Diff(a.Config.Spec, b.Config.Spec, runspec.Compare); len(ds) > 0 {
			d := ds[0]
			return fmt.Errorf("report: %s has %s %s, %s has %s: %w",
				runName(i+1, b), d.Name(), d.Show(d.B), runName(0, a), d.Show(d.A), ErrMismatch)
		}
		files := make([]string, 0, len(b.Config.Data.Files))
		for name := range b.Config.Data.Files {
			files = append(files, name)
		}
		slices.Sort(files)
		for _, name := range files {
			da, ok := a.Config.Data.Files[name]
			if db := b.Config.Data.Files[name]; ok && !strings.EqualFold(da, db) {
				return fmt.Errorf("report: %s has data file %s with SHA-256 %s, %s has %s: %w",
					runName(i+1, b), name, db, runName(0, a), da, ErrMismatch)
			}
		}
	}
	// A folder whose results were made with other settings than its config.json (an old run's
	// results left in it, an edited config) would put them under the wrong header.
	for i, r := range runs {
		if err := r.CheckSpecs(); err != nil {
			return fmt.Errorf("report: %s: %w", runName(i, r), err)
		}
	}
	return nil
}

// checkDistinct fails, wrapping ErrDuplicateRun, when two runs have the same folder: the same
// cleaned absolute path, or two paths of one directory (a symbolic link). The same *Run given
// twice counts too. Runs without a Dir (built in memory) are compared by pointer only.
func checkDistinct(runs []*results.Run) error {
	type seen struct {
		i    int
		path string
		info os.FileInfo
	}
	var prev []seen
	for i, r := range runs {
		for j := range i {
			if runs[j] == r {
				return fmt.Errorf("report: %s is %s again: %w", runName(i, r), runName(j, runs[j]), ErrDuplicateRun)
			}
		}
		if r.Dir == "" {
			continue
		}
		path := filepath.Clean(r.Dir)
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		info, _ := os.Stat(r.Dir)
		for _, p := range prev {
			if p.path == path || info != nil && p.info != nil && os.SameFile(p.info, info) {
				return fmt.Errorf("report: %s is the folder of %s again: %w", runName(i, r), runName(p.i, runs[p.i]), ErrDuplicateRun)
			}
		}
		prev = append(prev, seen{i, path, info})
	}
	return nil
}

// incompleteNotes describes every run of the report that is not complete (results.Completion):
// "run 1 (DIR) is incomplete: 3 of 6 runs finished, 1 interrupted, 2 missing; resume it with
// clgraph run --resume DIR". The series of run i carry its summaries.
func incompleteNotes(runs []*results.Run, ss []*series) []string {
	var out []string
	for i, r := range runs {
		var sums []results.StrategySummary
		for _, s := range ss {
			if s.run == i {
				sums = append(sums, s.sum)
			}
		}
		c := results.CompletionOf(sums)
		if c.Complete() {
			continue
		}
		name := "this run"
		if len(runs) > 1 || r.Dir != "" {
			name = runName(i, r)
		}
		note := fmt.Sprintf("%s is incomplete: %s", name, c)
		if r.Dir != "" {
			note += "; resume it with clgraph run --resume " + r.Dir
		}
		out = append(out, note+". Its means are over its successful seeds.")
	}
	return out
}

// showProgress reports whether the metric tables need the interrupted and missing columns.
func showProgress(ss []*series) bool {
	for _, s := range ss {
		if s.sum.Interrupted > 0 || s.sum.Missing > 0 {
			return true
		}
	}
	return false
}

// unfinished lists, for the failures section, every result of the series that did not finish
// (failed or interrupted) and every missing seed, with the label of its series.
func unfinished(ss []*series) []pageFailure {
	var out []pageFailure
	for _, s := range ss {
		for _, f := range s.sum.Failures {
			msg := f.Error
			if msg == "" {
				msg = "(no error message)"
			}
			status := f.Status
			if status == "" {
				status = results.StatusFailed
			}
			out = append(out, pageFailure{Label: s.label, Seed: f.Seed, Status: status, Done: fmt.Sprintf("%d of %d", f.TasksDone, f.Tasks), Error: msg})
		}
		for _, seed := range s.sum.MissingSeeds {
			out = append(out, pageFailure{Label: s.label, Seed: seed, Status: "missing", Done: "-", Error: "no " + results.ResultFile + " (not run yet, or still running)"})
		}
	}
	return out
}

// failuresTitle is the heading of the failures section.
func failuresTitle(fs []pageFailure) string {
	for _, f := range fs {
		if f.Status != results.StatusFailed {
			return "Failed, interrupted and missing runs"
		}
	}
	return "Failures"
}

func quoteVal(s string) string {
	if s == "" {
		return `""`
	}
	if strings.HasPrefix(s, "[") || isNumber(s) {
		return s
	}
	return strconv.Quote(s)
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// series is one strategy of one run: the unit the report compares.
type series struct {
	label   string // spec, or "spec (run k)" when the spec is in several runs
	run     int    // index into the report's runs
	spec    string
	sum     results.StrategySummary
	ok      []*results.Result // status ok with a complete T×T matrix
	rss     results.Stat      // peak RSS in bytes over ok results
	evalSec results.Stat      // evaluation seconds over ok results
	index   int               // position in the report, from 0
	sameAs  string            // label of an earlier series with the same mean matrix ("" if none)
	pub     []pubMark         // published final ACCs of the series' stream, scenario, protocol and method
}

// pubMark is a published final average accuracy a series' runs can be set against.
type pubMark struct {
	value  float64 // a fraction
	source int     // index into Options.Published: picks the glyph
	cite   string  // the full citation
	short  string  // first author and arXiv id
	label  string  // the method's label in the source
}

// Options are WriteWith's choices beyond the runs.
type Options struct {
	// Published are sources of published numbers (results/reference/published): a row is drawn
	// as a "published" marker on the ACC bar and at the end of the average-accuracy curve of every
	// series whose run has the row's stream and scenario and the source's protocol
	// (published.Source.Protocol), and whose strategy is the one that runs the row's method.
	Published []*published.Source
}

// attachPublished sets each series' published marks.
func attachPublished(runs []*results.Run, ss []*series, srcs []*published.Source) {
	for k, src := range srcs {
		for _, s := range ss {
			sp := runs[s.run].Config.Spec
			for _, r := range src.Rows {
				// A row is drawn only beside runs of a protocol that follows its setting (the
				// source's, or its method's).
				if m, ok := src.Method(r.Method); ok && m.ProtocolOf(src) != "" && src.Stands(sp, s.spec, r) {
					s.pub = append(s.pub, pubMark{value: r.Mean / 100, source: k, cite: published.Cite(src), short: published.Short(src), label: r.Label})
				}
			}
		}
	}
}

// complete reports whether R is T×T.
func complete(R [][]float64, T int) bool {
	if T == 0 || len(R) != T {
		return false
	}
	for _, row := range R {
		if len(row) != T {
			return false
		}
	}
	return true
}

// buildSeries groups the results of runs into series, in run order and then
// in each run's summary order.
func buildSeries(runs []*results.Run, tasks []string) []*series {
	count := map[string]int{}
	for _, r := range runs {
		seen := map[string]bool{}
		for _, s := range r.Summary() {
			if !seen[s.Strategy] {
				seen[s.Strategy] = true
				count[s.Strategy]++
			}
		}
	}
	var out []*series
	for i, r := range runs {
		for _, s := range r.Summary() {
			se := &series{label: s.Label(), run: i, spec: s.Strategy, sum: s, index: len(out)}
			if count[s.Strategy] > 1 {
				se.label = fmt.Sprintf("%s (run %d)", s.Label(), i+1)
			}
			var rss, ev []float64
			for _, res := range r.Results {
				if res == nil || res.Strategy != s.Strategy || res.Status != results.StatusOK {
					continue
				}
				rss = append(rss, float64(res.Cost.PeakRSSBytes))
				ev = append(ev, res.Cost.EvalSeconds)
				if complete(res.R, len(tasks)) {
					se.ok = append(se.ok, res)
				}
			}
			se.rss = results.Summarize(rss)
			se.evalSec = results.Summarize(ev)
			out = append(out, se)
		}
	}
	return out
}

// reportTasks returns the task names of the report: those of the first run's
// config, else those of its first result that has any.
func reportTasks(runs []*results.Run) []string {
	if len(runs[0].Config.Tasks) > 0 {
		return runs[0].Config.Tasks
	}
	for _, r := range runs {
		for _, res := range r.Results {
			if res != nil && len(res.Tasks) > 0 {
				return res.Tasks
			}
		}
	}
	return nil
}

// Write checks that runs compare (see Check) and writes their report into
// outDir, creating it if needed: report.html, report.md and the plots as PNG
// and SVG files (see the package documentation). Every file is written
// atomically. A mismatch between runs is an error wrapping ErrMismatch;
// nothing is written then.
func Write(runs []*results.Run, outDir string) (Files, error) {
	return WriteWith(runs, outDir, Options{})
}

// WriteWith is Write with options: published numbers to overlay.
func WriteWith(runs []*results.Run, outDir string, opt Options) (Files, error) {
	if err := Check(runs); err != nil {
		return Files{}, err
	}
	tasks := reportTasks(runs)
	ss := buildSeries(runs, tasks)
	attachPublished(runs, ss, opt.Published)
	figs, err := buildFigures(runs, ss, tasks)
	if err != nil {
		return Files{}, err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return Files{}, fmt.Errorf("report: %w", err)
	}
	files := Files{Dir: outDir, HTML: filepath.Join(outDir, HTMLFile), Markdown: filepath.Join(outDir, MarkdownFile)}
	keep := map[string]bool{}
	for _, f := range figs {
		for _, out := range []struct {
			ext  string
			data []byte
			list *[]string
		}{{".png", f.png, &files.PNG}, {".svg", f.svg, &files.SVG}, {".pdf", f.pdf, &files.PDF}} {
			path := filepath.Join(outDir, f.name+out.ext)
			if err := results.WriteFileAtomic(path, out.data, 0o644); err != nil {
				return files, fmt.Errorf("report: writing %s: %w", path, err)
			}
			*out.list = append(*out.list, path)
			keep[f.name+out.ext] = true
		}
	}
	var rp replay
	rp.sets, rp.notes = collectReplay(runs, ss)
	for _, set := range rp.sets {
		for _, p := range set.pics {
			path := filepath.Join(outDir, p.name)
			if err := results.WriteFileAtomic(path, p.png, 0o644); err != nil {
				return files, fmt.Errorf("report: writing %s: %w", path, err)
			}
			files.Replay = append(files.Replay, path)
			keep[p.name] = true
		}
	}
	removeStale(outDir, keep)
	page, err := renderHTML(runs, ss, tasks, figs, rp)
	if err != nil {
		return files, err
	}
	if err := results.WriteFileAtomic(files.HTML, page, 0o644); err != nil {
		return files, fmt.Errorf("report: writing %s: %w", files.HTML, err)
	}
	md := renderMarkdown(runs, ss, tasks, figs, rp)
	if err := results.WriteFileAtomic(files.Markdown, md, 0o644); err != nil {
		return files, fmt.Errorf("report: writing %s: %w", files.Markdown, err)
	}
	return files, nil
}

// removeStale deletes heatmap plots and replay pictures of an earlier report in dir that the
// new report does not use (strategies are part of their names).
func removeStale(dir string, keep map[string]bool) {
	for _, pat := range []string{"heatmap-*.png", "heatmap-*.svg", "heatmap-*.pdf", "heatmaps.png", "heatmaps.svg", "heatmaps.pdf", "samples-*.png", "recon-*.png"} {
		old, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, p := range old {
			if !keep[filepath.Base(p)] {
				os.Remove(p)
			}
		}
	}
}

// initNotes says, for each series whose runs did not start from their own random
// initialisation (init_from, pretrain_classes), what they started from: the model file, and the
// pre-training's classes, steps and test accuracy (mean ± std over the seeds).
func initNotes(ss []*series) []string {
	var out []string
	for _, s := range ss {
		var first *results.Init
		var accs []float64
		for _, r := range s.ok {
			if r.Init == nil {
				continue
			}
			if first == nil {
				first = r.Init
			}
			if r.Init.Pretrain != nil {
				accs = append(accs, r.Init.Pretrain.TestAcc)
			}
		}
		if first == nil {
			continue
		}
		var parts []string
		if first.From != "" {
			parts = append(parts, fmt.Sprintf("parameters from %s (%d tensors loaded, %d kept their own initialisation)", first.From, len(first.Loaded), len(first.Kept)))
		}
		if p := first.Pretrain; p != nil {
			cs := make([]string, len(p.Classes))
			for i, c := range p.Classes {
				cs[i] = fmt.Sprint(c)
			}
			st := results.Summarize(accs)
			acc := fmt.Sprintf("%.3f", st.Mean)
			if st.N > 1 {
				acc += fmt.Sprintf(" ± %.3f over %d seeds", st.Std, st.N)
			}
			parts = append(parts, fmt.Sprintf("trunk pre-trained on classes %s (%d steps, test accuracy on them %s; %d tensors handed on)", strings.Join(cs, ","), p.Steps, acc, len(p.Transfer)))
		}
		out = append(out, s.label+": "+strings.Join(parts, ", then "))
	}
	return out
}
