package sweep

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/strategies"
)

// Counts counts cells by outcome.
type Counts struct {
	// Total is the number of cells in the grid.
	Total int `json:"total"`
	// OK is the number with a result of status ok.
	OK int `json:"ok"`
	// Failed is the number with a failed result.
	Failed int `json:"failed"`
	// Missing is the number without a result.
	Missing int `json:"missing"`
}

// Complete reports whether every cell has a result (ok or failed).
func (c Counts) Complete() bool { return c.Missing == 0 }

func (c *Counts) add(o Counts) {
	c.Total += o.Total
	c.OK += o.OK
	c.Failed += o.Failed
	c.Missing += o.Missing
}

// Summary is the content of sweep-summary.json. It depends only on the results' accuracies (no
// timings), so the same grid gives the same bytes however it was sharded.
type Summary struct {
	// Schema is SummarySchema.
	Schema string `json:"schema"`
	// Name names the sweep.
	Name string `json:"name"`
	// Cells counts every cell of the grid.
	Cells Counts `json:"cells"`
	// Groups summarise each stream and scenario.
	Groups []GroupSummary `json:"groups"`
	// Skipped are the combinations left out of the grid.
	Skipped []Skip `json:"skipped"`
}

// GroupSummary summarises one stream and scenario.
type GroupSummary struct {
	// Dir is the group's run folder, relative to the sweep folder.
	Dir string `json:"dir"`
	// Stream, Scenario and Protocol name the group's stream, scenario and protocol.
	Stream   string `json:"stream"`
	Scenario string `json:"scenario"`
	Protocol string `json:"protocol"`
	// Cells counts the group's cells.
	Cells Counts `json:"cells"`
	// Best is, per strategy base name in grid order, its best setting.
	Best []Best `json:"best"`
	// Settings are every strategy setting of the group, in grid order.
	Settings []Setting `json:"settings"`
}

// Setting is one strategy setting's results over seeds.
type Setting struct {
	// Strategy is the canonical spec.
	Strategy string `json:"strategy"`
	// Base is the setting's strategy family (Families), e.g. "ewc" or "ewc:online=true".
	Base string `json:"base"`
	// Cells counts the setting's cells (one per seed).
	Cells Counts `json:"cells"`
	// Metrics are mean ± sample std over the seeds with status ok.
	Metrics results.MetricStats `json:"metrics"`
}

// Best is the best setting of a strategy in a group: the highest mean validation ACC
// (results.SelectionMetric) when the group's runs have validation splits (val_per_task > 0), so
// that no test accuracy takes part in the choice; otherwise the best mean of the primary metric
// (results.PrimaryMetric, test ACC), and SelectedBy says so. Among the settings whose every seed
// completed with status ok or, when none did, among those with any such seed.
type Best struct {
	// Base is the strategy family (Families).
	Base string `json:"base"`
	// Strategy is the best setting's spec.
	Strategy string `json:"strategy"`
	// Settings is the number of settings compared.
	Settings int `json:"settings"`
	// Complete is false when no setting had every seed ok (the pick is then provisional).
	Complete bool `json:"complete"`
	// Cells counts the best setting's cells.
	Cells Counts `json:"cells"`
	// Metrics are the best setting's metrics.
	Metrics results.MetricStats `json:"metrics"`
	// SelectedBy is the key of the metric the choice ranked by: results.SelectionMetric
	// ("val_acc") or, without validation splits, the primary metric ("acc", test data).
	SelectedBy string `json:"selected_by"`
}

// selectionMetric is the metric settings are ranked by: validation ACC when any setting has it,
// else the primary (test) metric.
func selectionMetric(settings []Setting) results.Metric {
	for _, s := range settings {
		if s.Metrics.Get(results.SelectionMetric).N > 0 {
			m, _ := results.LookupMetric(results.SelectionMetric)
			return m
		}
	}
	return results.PrimaryMetric()
}

// Summarize reads the results of every group of the plan in the sweep folder dir and
// summarises them. It writes nothing. The runs read are returned too, in group order.
func (p *Plan) Summarize(dir string) (*Summary, []*results.Run, error) {
	s := &Summary{Schema: SummarySchema, Name: p.Name, Skipped: p.Skipped}
	var runs []*results.Run
	for _, g := range p.Groups {
		run, err := results.Read(GroupDir(dir, g))
		if err != nil {
			return nil, nil, err
		}
		runs = append(runs, run)
		byKey := map[string]*results.Result{}
		for _, r := range run.Results {
			byKey[fmt.Sprintf("%s\x00%d", r.Strategy, r.Seed)] = r
		}
		gs := GroupSummary{Dir: g.Dir, Stream: g.Spec.Stream, Scenario: g.Spec.Scenario, Protocol: g.Spec.Protocol}
		family := Families(g.Strategies)
		for _, spec := range g.Strategies {
			set := Setting{Strategy: spec, Base: family[spec]}
			// Only the grid's seeds count, also when the folder holds results of others.
			sub := &results.Run{Config: run.Config}
			for _, seed := range g.Seeds {
				set.Cells.Total++
				r := byKey[fmt.Sprintf("%s\x00%d", spec, seed)]
				switch {
				case r == nil:
					set.Cells.Missing++
					continue
				case r.Status == results.StatusOK:
					set.Cells.OK++
				default:
					set.Cells.Failed++
				}
				sub.Results = append(sub.Results, r)
			}
			sub.Config.Strategies = []string{spec}
			set.Metrics = sub.Summary()[0].Metrics
			gs.Cells.add(set.Cells)
			gs.Settings = append(gs.Settings, set)
		}
		gs.Best = best(gs.Settings)
		s.Cells.add(gs.Cells)
		s.Groups = append(s.Groups, gs)
	}
	return s, runs, nil
}

// CellTime sums the wall times of the plan's cells with status ok in the sweep folder dir,
// each its cell.json's last attempt (a lower bound for a cell resumed after an interruption,
// which counts only its last part), and counts them; cells run N at a time take about
// seconds/N of wall time. It is kept out of the summaries, which depend on the results only
// (a sharded sweep's equal an unsharded one's).
func (p *Plan) CellTime(dir string) (seconds float64, cells int, err error) {
	for _, c := range p.Cells {
		st, err := p.StateOf(dir, c)
		if err != nil {
			return seconds, cells, err
		}
		if st != Done {
			continue
		}
		ci, err := ReadCellInfo(p.CellDir(dir, c))
		if err != nil {
			return seconds, cells, err
		}
		seconds += ci.Seconds
		cells++
	}
	return seconds, cells, nil
}

// Families maps each spec to its strategy family, the unit a best setting is chosen for: the
// strategy's name plus the options that every spec of the same name and the same option keys
// sets to the same value. So the grids ewc: {lambda: [...]} and ewc: {online: true, gamma: [...],
// lambda: [...]} are the families "ewc" and "ewc:online=true", each with its own best setting, and
// a single spec such as naive:heads=multi is its own family. A spec that does not parse is its own.
func Families(specs []string) map[string]string {
	type shape struct{ name, keys string }
	parsed := map[string]strategies.Spec{}
	values := map[shape]map[string]map[string]bool{} // shape -> option -> values seen
	shapeOf := func(sp strategies.Spec) shape {
		keys := make([]string, 0, len(sp.Options))
		for k := range sp.Options {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return shape{sp.Name, strings.Join(keys, ",")}
	}
	for _, spec := range specs {
		sp, err := strategies.ParseSpec(spec)
		if err != nil {
			continue
		}
		parsed[spec] = sp
		sh := shapeOf(sp)
		if values[sh] == nil {
			values[sh] = map[string]map[string]bool{}
		}
		for k, v := range sp.Options {
			if values[sh][k] == nil {
				values[sh][k] = map[string]bool{}
			}
			values[sh][k][v] = true
		}
	}
	out := make(map[string]string, len(specs))
	for _, spec := range specs {
		sp, ok := parsed[spec]
		if !ok {
			out[spec] = spec
			continue
		}
		fixed := strategies.Spec{Name: sp.Name, Options: map[string]string{}}
		for k, v := range sp.Options {
			if len(values[shapeOf(sp)][k]) == 1 {
				fixed.Options[k] = v
			}
		}
		out[spec] = fixed.String()
	}
	return out
}

// best picks each strategy family's best setting.
func best(settings []Setting) []Best {
	var order []string
	by := map[string][]Setting{}
	for _, s := range settings {
		if _, ok := by[s.Base]; !ok {
			order = append(order, s.Base)
		}
		by[s.Base] = append(by[s.Base], s)
	}
	rank := selectionMetric(settings)
	better := func(a, b results.Stat) bool {
		if rank.LowerIsBetter {
			return a.Mean < b.Mean
		}
		return a.Mean > b.Mean
	}
	var out []Best
	for _, base := range order {
		b := Best{Base: base, Settings: len(by[base]), SelectedBy: rank.Key}
		pick := -1
		for pass := 0; pass < 2 && pick < 0; pass++ {
			for i, s := range by[base] {
				st := s.Metrics.Get(rank.Key)
				eligible := st.N > 0 && (pass == 1 || s.Cells.OK == s.Cells.Total)
				if eligible && (pick < 0 || better(st, by[base][pick].Metrics.Get(rank.Key))) {
					pick = i
				}
			}
			if pick >= 0 {
				b.Complete = pass == 0
			}
		}
		if pick < 0 {
			out = append(out, b)
			continue
		}
		s := by[base][pick]
		b.Strategy, b.Cells, b.Metrics = s.Strategy, s.Cells, s.Metrics
		out = append(out, b)
	}
	return out
}

// Merge gathers the sweep folder dir (written by one or many shards): for every group it
// rewrites config.json when the manifest lists other strategies or seeds (keeping its other
// fields), writes summary.json and summary.md (results.WriteSummary), and writes the sweep's
// sweep-summary.json and sweep-summary.md. Only one process should merge a folder at a time;
// every file is replaced atomically.
func Merge(dir string) (*Summary, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	p, err := m.Plan()
	if err != nil {
		return nil, err
	}
	return p.Merge(dir)
}

// Merge is the package-level Merge with the plan already at hand.
func (p *Plan) Merge(dir string) (*Summary, error) {
	for _, g := range p.Groups {
		if err := p.CheckGroup(dir, g); err != nil {
			return nil, err
		}
		run, err := results.Read(GroupDir(dir, g))
		if err != nil {
			return nil, err
		}
		if !slices.Equal(run.Config.Strategies, g.Strategies) || !slices.Equal(run.Config.Seeds, g.Seeds) {
			run.Config.Strategies, run.Config.Seeds = g.Strategies, g.Seeds
			if err := results.WriteConfig(run.Dir, run.Config); err != nil {
				return nil, err
			}
		}
	}
	s, runs, err := p.Summarize(dir)
	if err != nil {
		return nil, err
	}
	for _, run := range runs {
		if err := results.WriteSummary(run); err != nil {
			return nil, err
		}
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("sweep: encoding the summary: %w", err)
	}
	if err := results.WriteFileAtomic(filepath.Join(dir, SummaryJSONFile), append(data, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := results.WriteFileAtomic(filepath.Join(dir, SummaryMDFile), []byte(MarkdownSummary(s)), 0o644); err != nil {
		return nil, err
	}
	return s, nil
}

// ReadSummary reads dir/sweep-summary.json.
func ReadSummary(dir string) (*Summary, error) {
	data, err := os.ReadFile(filepath.Join(dir, SummaryJSONFile))
	if err != nil {
		return nil, err
	}
	var s Summary
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("sweep: %s: %w", filepath.Join(dir, SummaryJSONFile), err)
	}
	return &s, nil
}

func md(s string) string {
	return strings.NewReplacer("|", `\|`, "_", `\_`, "*", `\*`, "<", "&lt;", ">", "&gt;").Replace(s)
}

func countsText(c Counts) string {
	t := fmt.Sprintf("%d of %d complete", c.OK+c.Failed, c.Total)
	var more []string
	if c.Failed > 0 {
		more = append(more, fmt.Sprintf("%d failed", c.Failed))
	}
	if c.Missing > 0 {
		more = append(more, fmt.Sprintf("%d missing", c.Missing))
	}
	if len(more) > 0 {
		t += " (" + strings.Join(more, ", ") + ")"
	}
	return t
}

// metricHeads returns the Markdown table headings of ms: " ACC | BWT |".
func metricHeads(ms []results.Metric) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(" " + md(m.Label) + " |")
	}
	return b.String()
}

// metricCells returns the Markdown table cells of ms in st: " 0.853 ± 0.012 | ... |".
func metricCells(ms []results.Metric, st results.MetricStats) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(" " + st.Get(m.Key).String() + " |")
	}
	return b.String()
}

// MarkdownSummary renders a sweep summary: the best setting per stream, scenario and strategy,
// then every setting of every group.
func MarkdownSummary(s *Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# clgraph sweep: %s\n\n", md(s.Name))
	fmt.Fprintf(&b, "- **Cells:** %s\n", countsText(s.Cells))
	fmt.Fprintf(&b, "- **Groups:** %d (each a run folder with its own summary.md)\n", len(s.Groups))
	if len(s.Skipped) > 0 {
		fmt.Fprintf(&b, "- **Left out:** %d combinations (see the end)\n", len(s.Skipped))
	}
	b.WriteString("\n## Best setting per strategy\n\n")
	headline := results.HeadlineMetrics()
	var all []Setting
	for _, g := range s.Groups {
		all = append(all, g.Settings...)
	}
	if rank := selectionMetric(all); rank.Key == results.SelectionMetric {
		headline = append(headline, rank)
		b.WriteString("Per stream, scenario and strategy, the setting with the highest mean validation ACC over seeds (validation splits carved from the training data: no test accuracy takes part in the choice), among the settings whose every seed completed; metrics are mean ± sample std over seeds.\n\n")
	} else {
		most := "highest"
		if rank.LowerIsBetter {
			most = "lowest"
		}
		fmt.Fprintf(&b, "Per stream, scenario and strategy, the setting with the %s mean %s over seeds (among the settings whose every seed completed); metrics are mean ± sample std over seeds. **Selected on test data**: the runs have no validation split (set `val_per_task` in the sweep's overrides to select on validation data).\n\n", most, md(rank.Label))
	}
	b.WriteString("| Stream | Scenario | Strategy | Best setting | Settings | Seeds ok |" + metricHeads(headline) + "\n")
	b.WriteString("|---|---|---|---|---:|---:|" + strings.Repeat("---:|", len(headline)) + "\n")
	for _, g := range s.Groups {
		for _, x := range g.Best {
			name := md(x.Strategy)
			if x.Strategy == "" {
				name = "no results"
			} else if !x.Complete {
				name += " (provisional)"
			}
			stream := md(g.Stream)
			if g.Dir != "" && g.Dir != g.Stream+"-"+g.Scenario { // a labelled stream entry
				stream += " (" + md(g.Dir) + ")"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %d/%d |%s\n", stream, md(g.Scenario), md(x.Base), name, x.Settings,
				x.Cells.OK, x.Cells.Total, metricCells(headline, x.Metrics))
		}
	}
	b.WriteString("\n## Whole grid\n")
	for _, g := range s.Groups {
		fmt.Fprintf(&b, "\n### %s / %s (%s)\n\n", md(g.Stream), md(g.Scenario), md(g.Dir))
		fmt.Fprintf(&b, "Protocol %s; cells: %s. Details: [%s/summary.md](%s/summary.md).\n\n", md(g.Protocol), countsText(g.Cells), md(g.Dir), g.Dir)
		sums := make([]results.StrategySummary, len(g.Settings))
		for i, x := range g.Settings {
			sums[i].Metrics = x.Metrics
		}
		shown := results.Shown(sums)
		b.WriteString("| Setting | ok | failed | missing |" + metricHeads(shown) + "\n")
		b.WriteString("|---|---:|---:|---:|" + strings.Repeat("---:|", len(shown)) + "\n")
		for _, x := range g.Settings {
			fmt.Fprintf(&b, "| %s | %d | %d | %d |%s\n", md(x.Strategy), x.Cells.OK, x.Cells.Failed, x.Cells.Missing,
				metricCells(shown, x.Metrics))
		}
	}
	if len(s.Skipped) > 0 {
		b.WriteString("\n## Left out\n\n")
		for _, k := range s.Skipped {
			fmt.Fprintf(&b, "- %s in %s: %s\n", md(k.Strategy), md(k.Group), md(k.Reason))
		}
	}
	return b.String()
}
