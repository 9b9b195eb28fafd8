package results

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// MetricStats aggregates each metric over the successful seeds of a strategy.
type MetricStats struct {
	// ACC aggregates Metrics.ACC.
	ACC Stat `json:"acc"`
	// BWT aggregates Metrics.BWT.
	BWT Stat `json:"bwt"`
	// FWT aggregates Metrics.FWT.
	FWT Stat `json:"fwt"`
	// Forgetting aggregates Metrics.Forgetting.
	Forgetting Stat `json:"forgetting"`
	// LearningAccuracy aggregates Metrics.LearningAccuracy.
	LearningAccuracy Stat `json:"learning_accuracy"`
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

// Failure describes a failed result.
type Failure struct {
	// Seed is the seed of the failed result.
	Seed int64 `json:"seed"`
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
	// Failed is the number of other results.
	Failed int `json:"failed"`
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
	// Failures lists the failed results.
	Failures []Failure `json:"failures"`
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
// strategies that only appear in Results, in order of first appearance.
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
	out := make([]StrategySummary, 0, len(order))
	for _, s := range order {
		out = append(out, summarize(s, groups[s], r.Config.Tasks))
	}
	return out
}

func summarize(strategy string, rs []*Result, tasks []string) StrategySummary {
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
	var acc, bwt, fwt, fgt, la, train, sps, params []float64
	var sum [][]float64
	for _, res := range rs {
		if res.Status != StatusOK {
			s.Failed++
			s.Failures = append(s.Failures, Failure{Seed: res.Seed, Error: res.Error, TasksDone: len(res.R), Tasks: len(res.Tasks)})
			continue
		}
		s.OK++
		s.Seeds = append(s.Seeds, res.Seed)
		if m := res.Metrics; m != nil {
			acc = append(acc, m.ACC)
			bwt = append(bwt, m.BWT)
			fwt = append(fwt, m.FWT)
			fgt = append(fgt, m.Forgetting)
			la = append(la, m.LearningAccuracy)
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
	s.Metrics = MetricStats{Summarize(acc), Summarize(bwt), Summarize(fwt), Summarize(fgt), Summarize(la)}
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

// summaryJSON is the layout of summary.json.
type summaryJSON struct {
	Schema     string            `json:"schema"`
	Stream     string            `json:"stream"`
	Scenario   string            `json:"scenario"`
	Protocol   string            `json:"protocol"`
	Tasks      []string          `json:"tasks"`
	Seeds      []int64           `json:"seeds"`
	Strategies []StrategySummary `json:"strategies"`
}

// WriteSummary writes run.Dir/summary.json (the run's Summary plus the
// stream, scenario, protocol, tasks and seeds) and run.Dir/summary.md
// (MarkdownSummary).
func WriteSummary(run *Run) error {
	if run == nil {
		return fmt.Errorf("results: WriteSummary: nil run")
	}
	c := run.Config
	sj := summaryJSON{SchemaVersion, c.Stream, c.Scenario, c.Protocol, c.Tasks, c.Seeds, run.Summary()}
	if err := writeJSON(filepath.Join(run.Dir, SummaryJSONFile), sj); err != nil {
		return err
	}
	path := filepath.Join(run.Dir, SummaryMDFile)
	if err := WriteFileAtomic(path, []byte(MarkdownSummary(run)), 0o644); err != nil {
		return fmt.Errorf("results: writing %s: %w", path, err)
	}
	return nil
}

// mdEscape makes s safe inside a Markdown table cell or list item.
func mdEscape(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	r := strings.NewReplacer(`\`, `\\`, "|", `\|`, "`", "\\`", "*", `\*`, "_", `\_`, "<", "&lt;", ">", "&gt;")
	return r.Replace(s)
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
// strategy its mean accuracy matrix and its failed runs with their errors.
// The output depends only on Config and Results (not on Dir), so it is
// reproducible.
func MarkdownSummary(run *Run) string {
	var b strings.Builder
	c := run.Config
	title := "clgraph run"
	if c.Stream != "" || c.Scenario != "" {
		title += ": " + mdEscape(strings.Trim(c.Stream+" / "+c.Scenario, " /"))
	}
	fmt.Fprintf(&b, "# %s\n\n", title)
	fmt.Fprintf(&b, "- **Stream:** %s\n", orNA(c.Stream))
	fmt.Fprintf(&b, "- **Scenario:** %s\n", orNA(c.Scenario))
	fmt.Fprintf(&b, "- **Protocol:** %s\n", orNA(c.Protocol))
	seeds := make([]string, len(c.Seeds))
	for i, s := range c.Seeds {
		seeds[i] = strconv.FormatInt(s, 10)
	}
	fmt.Fprintf(&b, "- **Seeds:** %s\n", orNA(strings.Join(seeds, ", ")))
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
	b.WriteString("\n## Metrics\n\nMean ± sample std over successful seeds; accuracies are fractions in [0, 1].\n\n")
	b.WriteString("| Strategy | ok | failed | ACC | BWT | FWT | Forgetting | Learning acc. |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range sums {
		m := s.Metrics
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %s | %s | %s | %s |\n", mdEscape(s.Strategy), s.OK, s.Failed,
			m.ACC, m.BWT, m.FWT, m.Forgetting, m.LearningAccuracy)
	}
	b.WriteString("\n## Cost\n\n")
	b.WriteString("| Strategy | Train seconds | Steps/s | Params |\n")
	b.WriteString("|---|---:|---:|---:|\n")
	for _, s := range sums {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", mdEscape(s.Strategy),
			s.Cost.TrainSeconds.Format(1), s.Cost.StepsPerSecond.Format(1), s.Cost.Params.Format(0))
	}
	b.WriteString("\n## Accuracy matrices\n\nRow: after training on that task; column: evaluated task.\n")
	for _, s := range sums {
		fmt.Fprintf(&b, "\n### %s\n\n", mdEscape(s.Strategy))
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
				fmt.Fprintf(&b, "- seed %d (after %d of %d tasks): %s\n", f.Seed, f.TasksDone, f.Tasks, mdEscape(msg))
			}
		}
	}
	return b.String()
}

// fmtCell formats an accuracy with three decimals ("NaN", "+Inf" as such).
func fmtCell(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
