package results

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// MetricStats aggregates each metric of Table over the successful seeds of a
// strategy, by key. It behaves like a value: Set changes s only, never copies
// of it. The zero MetricStats holds no metric.
type MetricStats struct {
	stats map[string]Stat // nil when empty
}

// Get returns the aggregate of the metric key; the zero Stat (N == 0, shown
// as "n/a") when s has none.
func (s MetricStats) Get(key string) Stat { return s.stats[key] }

// Set records st as the aggregate of the metric key.
func (s *MetricStats) Set(key string, st Stat) { s.stats = cloneWith(s.stats, key, st) }

// Keys returns the keys s has an aggregate for: those of Table in table
// order, then any others (read from a file written with a larger table) in
// sorted order.
func (s MetricStats) Keys() []string {
	return orderedKeys(func(k string) bool { _, ok := s.stats[k]; return ok }, s.stats, map[string]bool(nil))
}

// CostStats aggregates cost fields over the successful seeds of a strategy.
type CostStats struct {
	// TrainSeconds aggregates Cost.TrainSeconds.
	TrainSeconds Stat `json:"train_seconds"`
	// StepsPerSecond aggregates Cost.StepsPerSecond.
	StepsPerSecond Stat `json:"steps_per_second"`
	// Params aggregates Cost.Params.
	Params Stat `json:"params"`
}

// Failure describes a result that did not finish: status "failed" or "interrupted".
type Failure struct {
	// Seed is the seed of the result.
	Seed int64 `json:"seed"`
	// Status is its status, StatusFailed or StatusInterrupted.
	Status string `json:"status"`
	// Error is its error message.
	Error string `json:"error"`
	// TasksDone is the number of rows of its (partial) accuracy matrix.
	TasksDone int `json:"tasks_done"`
	// Tasks is the total number of tasks.
	Tasks int `json:"tasks"`
}

// StrategySummary aggregates all results of one strategy spec.
type StrategySummary struct {
	// Strategy is the strategy spec.
	Strategy string `json:"strategy"`
	// Slug is the result folder name of the strategy (see Slug).
	Slug string `json:"slug"`
	// OK is the number of results with status "ok".
	OK int `json:"ok"`
	// Failed is the number of results with status "failed".
	Failed int `json:"failed"`
	// Interrupted is the number of results with status "interrupted" (stopped by a signal;
	// clgraph run --resume continues them).
	Interrupted int `json:"interrupted"`
	// Missing is the number of seeds of Config.Seeds without a result of the strategy (not
	// run yet, or still running), 0 for a strategy not in Config.Strategies.
	Missing int `json:"missing"`
	// MissingSeeds are those seeds, in Config.Seeds order.
	MissingSeeds []int64 `json:"missing_seeds"`
	// Seeds are the seeds of the results with status "ok".
	Seeds []int64 `json:"seeds"`
	// Metrics aggregates the metrics of the "ok" results that have metrics.
	Metrics MetricStats `json:"metrics"`
	// Cost aggregates the cost of the "ok" results.
	Cost CostStats `json:"cost"`
	// Tasks are the task names (columns of MeanR).
	Tasks []string `json:"tasks"`
	// MeanR is the element-wise mean accuracy matrix over the "ok" results
	// with a complete T×T matrix, nil if there are none.
	MeanR [][]float64 `json:"mean_r"`
	// MeanRCount is the number of matrices averaged into MeanR.
	MeanRCount int `json:"mean_r_count"`
	// Failures lists the results that did not finish (failed and interrupted), in result
	// order.
	Failures []Failure `json:"failures"`
	// Note qualifies the strategy's numbers: SharedHeadNote when it ran task-IL with one shared
	// output layer (its results' resolved heads=single), so task identity was not used at test
	// time; empty otherwise.
	Note string `json:"note,omitempty"`
}

// SharedHeadNote labels a task-IL strategy with one output layer shared by every task (heads=single).
const SharedHeadNote = "task-IL, shared head"

// Label is the strategy's name in tables: its spec, with Note in parentheses when there is one.
func (s StrategySummary) Label() string {
	if s.Note != "" {
		return s.Strategy + " (" + s.Note + ")"
	}
	return s.Strategy
}

// Total is the number of results the strategy has or should have: OK + Failed + Interrupted +
// Missing.
func (s StrategySummary) Total() int { return s.OK + s.Failed + s.Interrupted + s.Missing }

// Completion counts the results of a run by status, and the results its config.json asks for
// (every strategy with every seed) that are missing; see Run.Completion.
type Completion struct {
	// OK, Failed and Interrupted count the results with that status.
	OK, Failed, Interrupted int
	// Missing counts the strategy and seed pairs of config.json without a result.
	Missing int
}

// CompletionOf adds up the counts of sums.
func CompletionOf(sums []StrategySummary) Completion {
	var c Completion
	for _, s := range sums {
		c.OK += s.OK
		c.Failed += s.Failed
		c.Interrupted += s.Interrupted
		c.Missing += s.Missing
	}
	return c
}

// Completion counts the run's results by status and its missing results (see Summary).
func (r *Run) Completion() Completion { return CompletionOf(r.Summary()) }

// Total is the number of results the run has or should have.
func (c Completion) Total() int { return c.OK + c.Failed + c.Interrupted + c.Missing }

// Finished is the number of results that ran to their end: OK + Failed (clgraph run --resume
// keeps both).
func (c Completion) Finished() int { return c.OK + c.Failed }

// Complete reports whether no result is interrupted or missing.
func (c Completion) Complete() bool { return c.Interrupted == 0 && c.Missing == 0 }

// String describes c as "3 of 6 runs finished (1 failed), 1 interrupted, 2 missing", leaving
// out the parts that are zero.
func (c Completion) String() string {
	s := fmt.Sprintf("%d of %d runs finished", c.Finished(), c.Total())
	if c.Failed > 0 {
		s += fmt.Sprintf(" (%d failed)", c.Failed)
	}
	if c.Interrupted > 0 {
		s += fmt.Sprintf(", %d interrupted", c.Interrupted)
	}
	if c.Missing > 0 {
		s += fmt.Sprintf(", %d missing", c.Missing)
	}
	return s
}

// MarshalJSON encodes s, writing non-finite values as "NaN", "Inf" or "-Inf".
func (s StrategySummary) MarshalJSON() ([]byte, error) {
	type plain StrategySummary
	return json.Marshal(struct {
		plain
		MeanR [][]jfloat `json:"mean_r"`
	}{plain(s), toJ2(s.MeanR)})
}

// UnmarshalJSON decodes s, accepting the encodings written by MarshalJSON.
func (s *StrategySummary) UnmarshalJSON(data []byte) error {
	type plain StrategySummary
	var p plain
	a := struct {
		*plain
		MeanR [][]jfloat `json:"mean_r"`
	}{plain: &p}
	if err := json.Unmarshal(data, &a); err != nil {
		return err
	}
	p.MeanR = fromJ2(a.MeanR)
	*s = StrategySummary(p)
	return nil
}

// Summary aggregates the results per strategy, in the order of
// Config.Strategies (strategies without results included), followed by
// strategies that only appear in Results, in order of first appearance. The
// seeds of Config.Seeds that a strategy of Config.Strategies has no result for
// are its missing ones.
func (r *Run) Summary() []StrategySummary {
	var order []string
	groups := map[string][]*Result{}
	add := func(s string) {
		if _, ok := groups[s]; !ok {
			groups[s] = nil
			order = append(order, s)
		}
	}
	for _, s := range r.Config.Strategies {
		add(s)
	}
	for _, res := range r.Results {
		if res == nil {
			continue
		}
		add(res.Strategy)
		groups[res.Strategy] = append(groups[res.Strategy], res)
	}
	listed := make(map[string]bool, len(r.Config.Strategies))
	for _, s := range r.Config.Strategies {
		listed[s] = true
	}
	joint := r.jointMatrices()
	out := make([]StrategySummary, 0, len(order))
	for _, s := range order {
		sum := summarize(s, groups[s], r.Config.Tasks, r.Config.Spec.Scenario, joint)
		if listed[s] {
			have := map[int64]bool{}
			for _, res := range groups[s] {
				have[res.Seed] = true
			}
			for _, seed := range r.Config.Seeds {
				if !have[seed] {
					have[seed] = true // a seed listed twice is missing once
					sum.Missing++
					sum.MissingSeeds = append(sum.MissingSeeds, seed)
				}
			}
		}
		out = append(out, sum)
	}
	return out
}

// isJoint reports whether the strategy spec is joint training (JointStrategy,
// with or without options).
func isJoint(spec string) bool {
	return spec == JointStrategy || strings.HasPrefix(spec, JointStrategy+":")
}

// jointMatrices maps each seed to the accuracy matrix of the run's "ok"
// joint-training result of that seed (strategy "joint" preferred over
// "joint:<options>", then the first in result order): the reference of the
// folder metrics.
func (r *Run) jointMatrices() map[int64][][]float64 {
	out := map[int64][][]float64{}
	exact := map[int64]bool{}
	for _, res := range r.Results {
		if res == nil || res.Status != StatusOK || !isJoint(res.Strategy) {
			continue
		}
		if _, ok := out[res.Seed]; ok && (exact[res.Seed] || res.Strategy != JointStrategy) {
			continue
		}
		out[res.Seed] = res.R
		exact[res.Seed] = res.Strategy == JointStrategy
	}
	return out
}

// folderMetrics computes the folder metrics of Table (Metric.Folder) for an
// "ok" result, with the joint matrix of its seed (nil: none); the zero
// Metrics when its R and B are not valid.
func folderMetrics(res *Result, scenario string, joint [][]float64) Metrics {
	if validate(res.R, res.B) != nil {
		return Metrics{}
	}
	return computeInput(Input{R: res.R, B: res.B, Scenario: scenario, Joint: joint, RVal: res.RVal}, true)
}

func summarize(strategy string, rs []*Result, tasks []string, scenario string, joint map[int64][][]float64) StrategySummary {
	s := StrategySummary{Strategy: strategy, Slug: Slug(strategy), Tasks: tasks}
	if len(s.Tasks) == 0 {
		for _, res := range rs {
			if len(res.Tasks) > 0 {
				s.Tasks = res.Tasks
				break
			}
		}
	}
	T := len(s.Tasks)
	type metricValues struct {
		xs      []float64
		reasons []string // distinct reasons of the results where it is undefined
	}
	mv := make([]metricValues, len(Table))
	var train, sps, params []float64
	var sum [][]float64
	for _, res := range rs {
		if res.Status != StatusOK {
			if res.Status == StatusInterrupted {
				s.Interrupted++
			} else {
				s.Failed++
			}
			s.Failures = append(s.Failures, Failure{Seed: res.Seed, Status: res.Status, Error: res.Error, TasksDone: len(res.R), Tasks: len(res.Tasks)})
			continue
		}
		s.OK++
		s.Seeds = append(s.Seeds, res.Seed)
		if scenario == "task" && res.Resolved["heads"] == "single" {
			s.Note = SharedHeadNote
		}
		if m := res.Metrics; m != nil {
			fm := folderMetrics(res, scenario, joint[res.Seed])
			for i, mt := range Table {
				m := m
				if mt.Folder {
					m = &fm
				}
				if v, ok := m.Lookup(mt.Key); ok {
					mv[i].xs = append(mv[i].xs, v)
				} else if r := m.Reason(mt.Key); r != "" && !slices.Contains(mv[i].reasons, r) {
					mv[i].reasons = append(mv[i].reasons, r)
				}
			}
		}
		train = append(train, res.Cost.TrainSeconds)
		sps = append(sps, res.Cost.StepsPerSecond)
		params = append(params, float64(res.Cost.Params))
		if T > 0 && isSquare(res.R, T) {
			if sum == nil {
				sum = make([][]float64, T)
				for i := range sum {
					sum[i] = make([]float64, T)
				}
			}
			for i := range T {
				for j := range T {
					sum[i][j] += res.R[i][j]
				}
			}
			s.MeanRCount++
		}
	}
	for i := range sum {
		for j := range sum[i] {
			sum[i][j] /= float64(s.MeanRCount)
		}
	}
	s.MeanR = sum
	s.Metrics.stats = make(map[string]Stat, len(Table))
	for i, mt := range Table {
		st := Summarize(mv[i].xs)
		st.Undefined = strings.Join(mv[i].reasons, "; ")
		s.Metrics.stats[mt.Key] = st
	}
	s.Cost = CostStats{Summarize(train), Summarize(sps), Summarize(params)}
	return s
}

func isSquare(R [][]float64, T int) bool {
	if len(R) != T {
		return false
	}
	for _, row := range R {
		if len(row) != T {
			return false
		}
	}
	return true
}

// metricJSON describes a metric of Table in summary.json's "metrics"
// listing, for readers that do not know the table (the notebooks).
type metricJSON struct {
	Key           string `json:"key"`
	Label         string `json:"label"`
	Doc           string `json:"doc"`
	Headline      bool   `json:"headline"`
	Primary       bool   `json:"primary"`
	LowerIsBetter bool   `json:"lower_is_better"`
	Folder        bool   `json:"folder"`
	Optional      bool   `json:"optional"`
}

func metricListing() []metricJSON {
	out := make([]metricJSON, len(Table))
	for i, m := range Table {
		out[i] = metricJSON{m.Key, m.Label, m.Doc, m.Headline, m.Primary, m.LowerIsBetter, m.Folder, m.Optional}
	}
	return out
}

// summaryJSON is the layout of summary.json.
type summaryJSON struct {
	Schema      string            `json:"schema"`
	Stream      string            `json:"stream"`
	Scenario    string            `json:"scenario"`
	Protocol    string            `json:"protocol"`
	Tasks       []string          `json:"tasks"`
	Seeds       []int64           `json:"seeds"`
	Metrics     []metricJSON      `json:"metrics"`
	Strategies  []StrategySummary `json:"strategies"`
	Comparisons []PairedTest      `json:"comparisons"`
}

// WriteSummary writes run.Dir/summary.json (the run's Summary plus the
// stream, scenario, protocol, tasks and seeds, and the metrics of Table:
// key, label, doc, headline, primary and lower_is_better of each, in table
// order, and whether each is a folder metric), the paired tests of the
// strategies (Run.PairedTests, "comparisons") and run.Dir/summary.md
// (MarkdownSummary).
func WriteSummary(run *Run) error {
	if run == nil {
		return fmt.Errorf("results: WriteSummary: nil run")
	}
	c := run.Config
	sj := summaryJSON{SchemaVersion, c.Spec.Stream, c.Spec.Scenario, c.Spec.Protocol, c.Tasks, c.Seeds, metricListing(), run.Summary(), run.PairedTests()}
	if err := writeJSON(filepath.Join(run.Dir, SummaryJSONFile), sj); err != nil {
		return err
	}
	path := filepath.Join(run.Dir, SummaryMDFile)
	if err := WriteFileAtomic(path, []byte(MarkdownSummary(run)), 0o644); err != nil {
		return fmt.Errorf("results: writing %s: %w", path, err)
	}
	return nil
}

// mdReplacer escapes Markdown (see mdEscape); built once, as building a Replacer costs more than
// using it.
var mdReplacer = strings.NewReplacer(`\`, `\\`, "|", `\|`, "`", "\\`", "*", `\*`, "_", `\_`, "<", "&lt;", ">", "&gt;")

// mdEscape makes s safe inside a Markdown table cell or list item.
func mdEscape(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return mdReplacer.Replace(s)
}

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return mdEscape(s)
}

// MarkdownSummary renders the run as a Markdown page: a header with the
// stream, scenario, protocol, tasks and seeds; a table of strategies ×
// metrics (mean ± std over successful seeds); a cost table; and for each
// strategy its mean accuracy matrix, its failed and interrupted runs with their
// errors and its missing seeds. A run that is not complete (see Completion)
// says so in the header, and its metric table gains interrupted and missing
// columns. The output depends only on Config and Results (not on Dir), so it is
// reproducible.
func MarkdownSummary(run *Run) string {
	var b strings.Builder
	c := run.Config
	title := "clgraph run"
	if c.Spec.Stream != "" || c.Spec.Scenario != "" {
		title += ": " + mdEscape(strings.Trim(c.Spec.Stream+" / "+c.Spec.Scenario, " /"))
	}
	fmt.Fprintf(&b, "# %s\n\n", title)
	fmt.Fprintf(&b, "- **Stream:** %s\n", orNA(c.Spec.Stream))
	fmt.Fprintf(&b, "- **Scenario:** %s\n", orNA(c.Spec.Scenario))
	fmt.Fprintf(&b, "- **Protocol:** %s\n", orNA(c.Spec.Protocol))
	fmt.Fprintf(&b, "- **Seeds:** %s\n", orNA(joinSeeds(c.Seeds)))
	if len(c.Tasks) > 0 {
		fmt.Fprintf(&b, "- **Tasks:** %d (%s)\n", len(c.Tasks), mdEscape(strings.Join(c.Tasks, ", ")))
	}
	if !c.CreatedAt.IsZero() {
		fmt.Fprintf(&b, "- **Created:** %s\n", c.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if len(c.Command) > 0 {
		fmt.Fprintf(&b, "- **Command:** %s\n", mdEscape(strings.Join(c.Command, " ")))
	}

	sums := run.Summary()
	done := CompletionOf(sums)
	shown := Shown(sums)
	if !done.Complete() {
		fmt.Fprintf(&b, "- **Incomplete:** %s\n", done)
	}
	b.WriteString("\n## Metrics\n\nMean ± sample std over successful seeds; accuracies are fractions in [0, 1]. " +
		"\"n/a (n=1)\": one seed, no spread; \"" + Undef + "\": undefined (see the notes below the table).\n\n")
	b.WriteString("| Strategy | ok | failed |")
	if !done.Complete() {
		b.WriteString(" interrupted | missing |")
	}
	for _, mt := range shown {
		fmt.Fprintf(&b, " %s |", mdEscape(mt.Label))
	}
	b.WriteString("\n|---|---:|---:|")
	if !done.Complete() {
		b.WriteString("---:|---:|")
	}
	b.WriteString(strings.Repeat("---:|", len(shown)) + "\n")
	for _, s := range sums {
		fmt.Fprintf(&b, "| %s | %d | %d |", mdEscape(s.Label()), s.OK, s.Failed)
		if !done.Complete() {
			fmt.Fprintf(&b, " %d | %d |", s.Interrupted, s.Missing)
		}
		for _, mt := range shown {
			fmt.Fprintf(&b, " %s |", s.Metrics.Get(mt.Key))
		}
		b.WriteString("\n")
	}
	if notes := UndefinedNotes(sums, nil); len(notes) > 0 {
		b.WriteString("\nUndefined metrics (left out of the means):\n\n")
		for _, n := range notes {
			fmt.Fprintf(&b, "- %s\n", mdEscape(n))
		}
	}
	b.WriteString("\n## 95% confidence intervals\n\nOf the mean over seeds (Student t, n − 1 degrees of freedom).\n\n| Strategy |")
	for _, mt := range shown {
		fmt.Fprintf(&b, " %s |", mdEscape(mt.Label))
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(shown)) + "\n")
	for _, s := range sums {
		fmt.Fprintf(&b, "| %s |", mdEscape(s.Label()))
		for _, mt := range shown {
			fmt.Fprintf(&b, " %s |", s.Metrics.Get(mt.Key).FormatCI(3))
		}
		b.WriteString("\n")
	}
	writePairedMarkdown(&b, run.PairedTests())
	b.WriteString("\n## Cost\n\n")
	b.WriteString("| Strategy | Train seconds | Steps/s | Params |\n")
	b.WriteString("|---|---:|---:|---:|\n")
	for _, s := range sums {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", mdEscape(s.Label()),
			s.Cost.TrainSeconds.Format(1), s.Cost.StepsPerSecond.Format(1), s.Cost.Params.Format(0))
	}
	b.WriteString("\n## Accuracy matrices\n\nRow: after training on that task; column: evaluated task.\n")
	for _, s := range sums {
		fmt.Fprintf(&b, "\n### %s\n\n", mdEscape(s.Label()))
		if s.MeanR == nil {
			b.WriteString("No complete accuracy matrix.\n")
		} else {
			fmt.Fprintf(&b, "Mean over %d seed(s).\n\n", s.MeanRCount)
			b.WriteString("| after |")
			for _, t := range s.Tasks {
				fmt.Fprintf(&b, " %s |", mdEscape(t))
			}
			b.WriteString("\n|---|")
			b.WriteString(strings.Repeat("---:|", len(s.Tasks)))
			b.WriteString("\n")
			for i, row := range s.MeanR {
				fmt.Fprintf(&b, "| %s |", mdEscape(taskName(s.Tasks, i)))
				for _, v := range row {
					fmt.Fprintf(&b, " %s |", fmtCell(v))
				}
				b.WriteString("\n")
			}
		}
		if len(s.Failures) > 0 {
			b.WriteString("\nFailed runs:\n\n")
			for _, f := range s.Failures {
				msg := f.Error
				if msg == "" {
					msg = "(no error message)"
				}
				if f.Status == StatusInterrupted {
					fmt.Fprintf(&b, "- seed %d interrupted (after %d of %d tasks): %s\n", f.Seed, f.TasksDone, f.Tasks, mdEscape(msg))
					continue
				}
				fmt.Fprintf(&b, "- seed %d (after %d of %d tasks): %s\n", f.Seed, f.TasksDone, f.Tasks, mdEscape(msg))
			}
		}
		if len(s.MissingSeeds) > 0 {
			fmt.Fprintf(&b, "\nMissing runs (no result yet): seed %s\n", joinSeeds(s.MissingSeeds))
		}
	}
	return b.String()
}

// writePairedMarkdown writes the "Paired comparisons" section of summary.md.
func writePairedMarkdown(b *strings.Builder, ts []PairedTest) {
	b.WriteString("\n## Paired comparisons\n\n")
	if len(ts) == 0 {
		b.WriteString("No two strategies share a successful seed.\n")
		return
	}
	b.WriteString("Difference A − B over the seeds both ran (paired t-test, 95% CI of the mean difference; " +
		"p two-sided, Holm-corrected over the pairs of each metric).\n\n")
	b.WriteString("| Metric | A | B | Diff | 95% CI | p | p (Holm) | n |\n|---|---|---|---:|---:|---:|---:|---:|\n")
	for _, t := range ts {
		label := t.Metric
		if mt, ok := LookupMetric(t.Metric); ok {
			label = mt.Label
		}
		if t.Undefined != "" {
			fmt.Fprintf(b, "| %s | %s | %s | %+.3f | %s | %s | %s | %d |\n", mdEscape(label), mdEscape(t.A), mdEscape(t.B), t.MeanDiff,
				Undef, Undef, Undef, t.N)
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s | %+.3f | [%.3f, %.3f] | %s | %s | %d |\n", mdEscape(label), mdEscape(t.A), mdEscape(t.B), t.MeanDiff,
			t.CILow, t.CIHigh, mdEscape(FormatP(t.P)), mdEscape(FormatP(t.PHolm)), t.N)
	}
	for _, t := range ts {
		if t.Undefined != "" {
			fmt.Fprintf(b, "\n%s: the test needs at least 2 common seeds.\n", Undef)
			break
		}
	}
}

// joinSeeds lists seeds as "1, 2, 3".
func joinSeeds(seeds []int64) string {
	out := make([]string, len(seeds))
	for i, s := range seeds {
		out[i] = strconv.FormatInt(s, 10)
	}
	return strings.Join(out, ", ")
}

// fmtCell formats an accuracy with three decimals ("NaN", "+Inf" as such).
func fmtCell(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// UndefinedNotes lists, for every strategy of sums and every metric of Table
// that is undefined for some of its results, a line such as "naive, FWT:
// needs at least 2 tasks (T = 1)", in table order within each strategy. label
// names the strategies (nil: the spec).
func UndefinedNotes(sums []StrategySummary, label func(i int) string) []string {
	var out []string
	for i, s := range sums {
		name := s.Strategy
		if label != nil {
			name = label(i)
		}
		for _, mt := range Shown(sums) {
			st := s.Metrics.Get(mt.Key)
			if st.Undefined == "" {
				continue
			}
			note := name + ", " + mt.Label + ": " + st.Undefined
			if st.N > 0 {
				note += fmt.Sprintf(" (for some results; the mean is over the other %d)", st.N)
			}
			out = append(out, note)
		}
	}
	return out
}

// WriteTable writes the run's strategies × metrics (mean ± std over seeds)
// and cost as a plain-text table for a terminal, as printed by clgraph run:
// a header line with the stream, scenario, protocol, iterations and seeds,
// then one row per strategy of Summary with its seed count (failed and
// interrupted results counted apart), every metric of Table (Shown: an
// optional one only when some strategy has it), the mean
// training time, steps/s and parameters. Column headings are the metrics'
// labels without a final period ("Learning acc"). A metric undefined for
// every result is "—", explained in the notes under the table; a single
// seed has no spread ("n/a (n=1)"). Under the notes, the paired tests
// (Run.PairedTests): all of them when there are at most MaxTablePairs, else
// those with a Holm-corrected p below 0.05.
func WriteTable(w io.Writer, run *Run) error {
	c := run.Config
	fmt.Fprintf(w, "\n%s, %s-IL, %s protocol (%d iterations/task), seeds %v: mean ± std over seeds\n\n", c.Spec.Stream, c.Spec.Scenario, c.Spec.Protocol, c.Spec.Iterations, c.Seeds)
	sums := run.Summary()
	shown := Shown(sums)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"strategy", "seeds"}
	for _, mt := range shown {
		head = append(head, strings.TrimSuffix(mt.Label, "."))
	}
	head = append(head, "train s", "steps/s", "params")
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, s := range sums {
		seeds := fmt.Sprint(s.OK)
		if s.Failed > 0 {
			seeds += fmt.Sprintf(" (%d failed)", s.Failed)
		}
		if s.Interrupted > 0 {
			seeds += fmt.Sprintf(" (%d interrupted)", s.Interrupted)
		}
		row := []string{s.Label(), seeds}
		if s.OK == 0 {
			for range len(shown) + 3 {
				row = append(row, "-")
			}
		} else {
			for _, mt := range shown {
				row = append(row, s.Metrics.Get(mt.Key).Format(3))
			}
			k := s.Cost
			row = append(row, fmt.Sprintf("%.1f", k.TrainSeconds.Mean), fmt.Sprintf("%.0f", k.StepsPerSecond.Mean), fmt.Sprintf("%.0f", k.Params.Mean))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if notes := UndefinedNotes(sums, nil); len(notes) > 0 {
		fmt.Fprintf(w, "\n%s undefined:\n", Undef)
		for _, n := range notes {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
	ts := run.PairedTests()
	listed, what := ts, "paired t-tests (A − B, 95% CI, Holm-corrected p)"
	if len(ts) > MaxTablePairs {
		listed = SignificantTests(ts, 0.05)
		what = fmt.Sprintf("paired t-tests with Holm-corrected p < 0.05 (%d of %d; all in summary.md)", len(listed), len(ts))
	}
	if len(ts) > 0 {
		fmt.Fprintf(w, "\n%s:\n", what)
		for _, t := range listed {
			fmt.Fprintf(w, "  %s\n", t)
		}
		if len(listed) == 0 {
			fmt.Fprintf(w, "  none (with %d seeds a paired test has little power: add seeds)\n", len(c.Seeds))
		}
	}
	return nil
}

// MaxTablePairs is the number of paired tests up to which WriteTable lists
// them all.
const MaxTablePairs = 6
