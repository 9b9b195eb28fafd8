// Package published compares clgraph's results with numbers published in papers: it reads the
// sources in results/reference/published (one YAML file per paper: its citation, setting and the
// printed numbers, row by row), matches each row to a clgraph run folder of the same stream and
// scenario and a strategy of the same method, and reports the published mean beside clgraph's
// mean ACC over seeds with its 95% interval, their difference, and whether the published mean lies
// inside the interval or within two points. Nothing is typed: the tables come from the files.
package published

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/streams"
	"go.yaml.in/yaml/v3"
)

// Source is one paper's published numbers, as a file of results/reference/published holds them.
type Source struct {
	// File is the path it was read from.
	File string `yaml:"-"`
	// Paper, Arxiv and Table cite the source; ReadAt says where the numbers were read.
	Paper  string `yaml:"paper"`
	Arxiv  string `yaml:"arxiv"`
	Table  string `yaml:"table"`
	ReadAt string `yaml:"read_at"`
	// ReadFrom is how the source's numbers were read, unless a row says otherwise.
	ReadFrom string `yaml:"read_from"`
	// Protocol names the clgraph protocol preset whose runs follow the source's setting: only
	// runs of it are set beside the source's numbers (in tables and report markers). Empty: no
	// preset follows it; tables then take runs of any protocol and name it, reports draw none.
	Protocol string `yaml:"protocol"`
	// Setting is the source's protocol, as the file describes it.
	Setting string `yaml:"-"`
	// Methods says how the source's methods run in clgraph where the default (Strategies)
	// does not: a strategy spec with the source's settings (a memory size, a Fisher), and the
	// optimiser of the source's runs of it.
	Methods map[string]MethodRun `yaml:"-"`
	// Rows are the published numbers.
	Rows []Row `yaml:"-"`
	// Explanations are the tested explanations of rows clgraph does not reproduce within two
	// points.
	Explanations []Explanation `yaml:"-"`
}

// MethodRun is how clgraph runs one of a source's methods.
type MethodRun struct {
	// Strategy is the strategy spec, as runs name it (e.g. "replay:budget=1100").
	Strategy string `yaml:"strategy"`
	// Optimizer, when set, is the optimiser the runs must train with (adam or sgd), for
	// methods that differ only in it (Hsu et al.'s Adam and SGD baselines).
	Optimizer string `yaml:"optimizer"`
	// Protocol, when set, replaces the source's protocol for this method's rows (rows a source
	// took over from another paper, in that paper's setting).
	Protocol string `yaml:"protocol"`
	// LR, when set, is the learning rate the runs must train with (sources that set one per
	// method).
	LR float64 `yaml:"lr"`
	// Scenario, when set, is the scenario of the runs that stand for the method's rows, when
	// clgraph files the method under another one (a method that picks its network by task
	// identity, as progressive networks, runs in task-IL).
	Scenario string `yaml:"scenario"`
}

// ProtocolOf returns the protocol runs of m must follow to stand for src's rows ("" any).
func (m MethodRun) ProtocolOf(src *Source) string { return m.protocol(src) }

// protocol returns the protocol runs of m must follow for src ("" any).
func (m MethodRun) protocol(src *Source) string {
	if m.Protocol != "" {
		return m.Protocol
	}
	return src.Protocol
}

// Explanation is a cause proposed for rows that clgraph's runs miss by more than two points,
// and the experiment that tests it: runs in the setting the cause names, whose mean should then
// land within two points of the published one (or hold it in its 95% interval).
type Explanation struct {
	// Rows are the rows it explains: each names a scenario and a method (and a stream; empty:
	// any).
	Rows []RowKey `yaml:"rows"`
	// Cause says what differs and why it moves the number.
	Cause string `yaml:"cause"`
	// Runs are the experiment's run or sweep folders; the seeds of every folder's matching runs
	// are pooled (a seed counted once, from the first folder that has it).
	Runs []string `yaml:"runs"`
	// Methods says how the experiment runs the rows' methods where it differs from the
	// source's (e.g. ewc: {strategy: "ewc:lambda=5000"}).
	Methods map[string]MethodRun `yaml:"methods"`
	// From, when set, names a file (relative to the source file's folder, e.g.
	// explanations/vandeven-code-lwf.yaml) holding the cause, runs and methods, shared by the
	// sources whose rows one cause explains; the entry then gives only its rows.
	From string `yaml:"from"`
}

// sharedExplanation is an explanation file's content: an Explanation without rows.
type sharedExplanation struct {
	Cause   string               `yaml:"cause"`
	Runs    []string             `yaml:"runs"`
	Methods map[string]MethodRun `yaml:"methods"`
}

// resolveFrom fills e from the shared explanation file it names (relative to dir).
func (e *Explanation) resolveFrom(dir string) error {
	if e.Cause != "" || len(e.Runs) > 0 || len(e.Methods) > 0 {
		return fmt.Errorf("an entry with from: %s gives only rows (its cause, runs and methods are the file's)", e.From)
	}
	p := filepath.Join(dir, filepath.FromSlash(e.From))
	data, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("from: %w", err)
	}
	var sh sharedExplanation
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&sh); err != nil {
		return fmt.Errorf("from: %s: %w (a shared explanation holds cause, runs and methods; rows stay in the source)", p, err)
	}
	e.Cause, e.Runs, e.Methods = sh.Cause, sh.Runs, sh.Methods
	return nil
}

// RowKey names published rows: a stream (empty: any), scenario and method.
type RowKey struct {
	// Stream is the row's stream; empty matches any.
	Stream string `yaml:"stream"`
	// Scenario and Method name the row, as Row's fields do.
	Scenario string `yaml:"scenario"`
	Method   string `yaml:"method"`
}

// covers reports whether k names row r.
func (k RowKey) covers(r Row) bool {
	return (k.Stream == "" || k.Stream == r.Stream) && k.Scenario == r.Scenario && k.Method == r.Method
}

// Row is one published number: a method's mean accuracy in a stream and scenario.
type Row struct {
	Stream   string  `yaml:"stream"`
	Scenario string  `yaml:"scenario"`
	Method   string  `yaml:"method"`
	Label    string  `yaml:"label"`
	Mean     float64 `yaml:"mean"`
	Std      float64 `yaml:"std"`
	// Unit is "percent" (the files' convention); clgraph's accuracies are fractions.
	Unit      string `yaml:"unit"`
	AsPrinted string `yaml:"as_printed"`
	// ReadFrom says how the number was read (e.g. image, secondary-quote, summary: see the
	// folder's README); empty takes the source's.
	ReadFrom string `yaml:"read_from"`
}

// Load reads a source file.
func Load(path string) (*Source, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("published: %w", err)
	}
	var f struct {
		Source       Source               `yaml:"source"`
		Setting      string               `yaml:"setting"`
		Methods      map[string]MethodRun `yaml:"methods"`
		Rows         []Row                `yaml:"rows"`
		Explanations []Explanation        `yaml:"explanations"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("published: %s: %w", path, err)
	}
	s := f.Source
	s.File, s.Setting, s.Methods, s.Rows, s.Explanations = path, strings.TrimSpace(f.Setting), f.Methods, f.Rows, f.Explanations
	for i := range s.Explanations {
		e := &s.Explanations[i]
		if e.From != "" {
			if err := e.resolveFrom(filepath.Dir(path)); err != nil {
				return nil, fmt.Errorf("published: %s: explanation %d: %w", path, i+1, err)
			}
		}
		if len(e.Rows) == 0 || len(e.Runs) == 0 || strings.TrimSpace(e.Cause) == "" {
			return nil, fmt.Errorf("published: %s: explanation %d needs rows, a cause and the runs that test it", path, i+1)
		}
		for _, k := range e.Rows {
			if k.Scenario == "" || k.Method == "" {
				return nil, fmt.Errorf("published: %s: explanation %d: a row needs a scenario and a method", path, i+1)
			}
		}
	}
	for i, r := range s.Rows {
		if r.ReadFrom == "" {
			s.Rows[i].ReadFrom = s.ReadFrom
		}
		if r.Stream == "" || r.Scenario == "" || r.Method == "" {
			return nil, fmt.Errorf("published: %s: row %d (%q) needs stream, scenario and method", path, i+1, r.AsPrinted)
		}
		if r.Unit != "percent" {
			return nil, fmt.Errorf("published: %s: row %d (%q): unit %q, want percent", path, i+1, r.AsPrinted, r.Unit)
		}
		if !(r.Mean >= 0 && r.Mean <= 100) {
			return nil, fmt.Errorf("published: %s: row %d (%q): mean %v outside [0, 100]", path, i+1, r.AsPrinted, r.Mean)
		}
	}
	return &s, nil
}

// Strategies maps the method names of the published files to the clgraph strategy spec that runs
// the method (a method not here has no clgraph counterpart: the optimiser baselines sgd and
// adagrad, replay_c).
var Strategies = map[string]string{
	"naive": "naive", "joint": "joint", "ewc": "ewc", "ewc_online": "ewc:online=true", "si": "si",
	"l2": "l2", "mas": "mas", "lwf": "lwf", "dgr": "dgr", "dgr_distill": "dgr:distill=true",
	"rtf": "rtf", "icarl": "icarl", "gem": "gem", "agem": "agem", "replay": "replay", "xdg": "xdg",
	"der": "der", "hat": "hat", "packnet": "packnet", "pnn": "pnn", "rwalk": "rwalk",
}

// Method returns how clgraph runs method for src: the source's Methods entry, else the default
// strategy (Strategies) with any optimiser; ok is false when clgraph has none.
func (src *Source) Method(method string) (m MethodRun, ok bool) {
	m = src.Methods[method]
	if m.Strategy == "" { // an entry may constrain the runs of the default strategy only
		if m.Strategy, ok = Strategies[method]; !ok {
			return m, false
		}
	}
	return m, true
}

// over returns m with base's fields where m leaves them empty (an explanation's entry over
// the source's).
func (m MethodRun) over(base MethodRun) MethodRun {
	if m.Strategy == "" {
		m.Strategy = base.Strategy
	}
	if m.Optimizer == "" {
		m.Optimizer = base.Optimizer
	}
	if m.Protocol == "" {
		m.Protocol = base.Protocol
	}
	if m.LR == 0 {
		m.LR = base.LR
	}
	if m.Scenario == "" {
		m.Scenario = base.Scenario
	}
	return m
}

// Trains reports whether runs of spec train as m says: its optimiser and learning rate, when
// it names them.
func (m MethodRun) Trains(spec runspec.Spec) bool {
	if m.LR != 0 && spec.LR != m.LR {
		return false
	}
	if m.Optimizer == "" {
		return true
	}
	opt := spec.Optimizer
	if opt == "" {
		opt = "adam"
	}
	return opt == m.Optimizer
}

// row returns r as m's runs file it: under m's scenario when it names one.
func (m MethodRun) row(r Row) Row {
	if m.Scenario != "" {
		r.Scenario = m.Scenario
	}
	return r
}

// Stands reports whether a run of spec with strategy strategy stands for row r of src in
// tables and report markers: the row's stream and scenario on the MLP trunk (Matches), the
// source's protocol when it names one, and the strategy and optimiser that run the row's method.
func (src *Source) Stands(spec runspec.Spec, strategy string, r Row) bool {
	m, ok := src.Method(r.Method)
	p := m.protocol(src)
	return ok && Matches(spec, m.row(r)) && (p == "" || spec.Protocol == p) && m.Strategy == strategy && m.Trains(spec)
}

// Comparison is a published row beside clgraph's runs of it.
type Comparison struct {
	Row
	// Strategy is the clgraph spec of Method ("" when clgraph has none).
	Strategy string
	// Run is the folder the runs were read from ("" when none matched).
	Run string
	// Protocol is that folder's protocol preset.
	Protocol string
	// ACC is clgraph's final average accuracy over the seeds with an ok result, in percent.
	ACC results.Stat
	// Diff is ACC.Mean − Mean, in points (NaN without runs).
	Diff float64
	// Inside reports whether Mean lies in ACC's 95% interval; Within2 whether |Diff| ≤ 2.
	Inside, Within2 bool
	// Note says why there is no clgraph number (no strategy, no run folder, no result yet).
	Note string
}

// Compare matches every row of src to the runs: the first run folder of the row's stream and
// scenario on the MLP trunk (Matches), and of the source's protocol when it names one
// (Source.Protocol; a source without one takes any, and the table names the run's), whose
// results include the row's strategy.
func Compare(src *Source, runs []*results.Run) []Comparison {
	out := make([]Comparison, 0, len(src.Rows))
	for _, r := range src.Rows {
		c := Comparison{Row: r, Diff: math.NaN()}
		m, ok := src.Method(r.Method)
		if !ok {
			c.Note = "no clgraph strategy"
			out = append(out, c)
			continue
		}
		c.Strategy = m.Strategy
		c.Note = "no run folder of this stream and scenario"
		for _, run := range runs {
			sp := run.Config.Spec
			if p := m.protocol(src); !Matches(sp, m.row(r)) || (p != "" && sp.Protocol != p) || !m.Trains(sp) {
				continue
			}
			accs := finalACCs(run, m.Strategy, nil)
			if len(accs) == 0 {
				if c.Run == "" {
					c.Run, c.Protocol, c.Note = run.Dir, describe(sp), "no finished run yet"
				}
				continue
			}
			c.Run, c.Protocol, c.Note = run.Dir, describe(sp), ""
			c.set(accs)
			break
		}
		out = append(out, c)
	}
	return out
}

// set fills c's statistics from the final accuracies accs (in percent).
func (c *Comparison) set(accs []float64) {
	c.ACC = results.Summarize(accs)
	c.Diff = c.ACC.Mean - c.Mean
	c.Within2 = math.Abs(c.Diff) <= 2
	c.Inside = c.ACC.HasCI() && c.Mean >= c.ACC.CILow && c.Mean <= c.ACC.CIHigh
}

// finalACCs returns the final ACC, in percent, of run's finished results of strategy, skipping
// the seeds in seen and adding the others to it (when seen is not nil).
func finalACCs(run *results.Run, strategy string, seen map[int64]bool) []float64 {
	var accs []float64
	for _, res := range run.Results {
		if res.Strategy != strategy || res.Status != results.StatusOK || res.Metrics == nil {
			continue
		}
		v, ok := res.Metrics.Lookup("acc")
		if !ok || (seen != nil && seen[res.Seed]) {
			continue
		}
		if seen != nil {
			seen[res.Seed] = true
		}
		accs = append(accs, 100*v)
	}
	return accs
}

// Tested is an explained row: the comparison of the main runs, the explanation, and the
// experiment's runs of the row (Experiment.Run lists its folders).
type Tested struct {
	Comparison
	// Explanation is the first of the source's explanations that covers the row (nil: none),
	// Index its position among them.
	Explanation *Explanation
	Index       int
	// Experiment is the explanation's runs of the row: Run lists its folders, Strategy the spec
	// they were read for, Note why the verdict is open (a folder with nothing run).
	Experiment Comparison
}

// Verdict says what the experiment showed: "explained" when its runs land within two points
// of the published mean or hold it in their 95% interval, "not explained" when they do not,
// "no experiment run yet" while one of its folders has no finished run of the row (a test
// must add runs of its own, not only reread the main comparison's), and "no explanation" for a
// row none covers.
func (t Tested) Verdict() string {
	switch {
	case t.Explanation == nil:
		return "no explanation"
	case t.Experiment.ACC.N == 0 || t.Experiment.Note != "":
		return "no experiment run yet"
	case t.Experiment.Within2 || t.Experiment.Inside:
		return "explained"
	}
	return "not explained"
}

// Explain pairs every compared row that misses the published mean by more than two points with
// the first of src's explanations that covers it, and evaluates the explanation's experiment:
// the rows' runs in the explanation's folders (any protocol: the experiment sets its own), seeds
// pooled over the folders. load reads the folders (ReadRuns).
func Explain(src *Source, cs []Comparison, load func(dirs ...string) ([]*results.Run, error)) ([]Tested, error) {
	var out []Tested
	f := &folders{load: load, cache: map[string][]*results.Run{}}
	for _, c := range cs {
		if c.ACC.N == 0 || c.Within2 {
			continue
		}
		t := Tested{Comparison: c, Experiment: Comparison{Row: c.Row, Diff: math.NaN()}}
		i := slices.IndexFunc(src.Explanations, func(e Explanation) bool {
			return slices.ContainsFunc(e.Rows, func(k RowKey) bool { return k.covers(c.Row) })
		})
		if i >= 0 {
			e := &src.Explanations[i]
			t.Explanation, t.Index = e, i
			m, _ := src.Method(c.Method)
			if em, ok := e.Methods[c.Method]; ok {
				m = em.over(m)
			}
			t.Experiment.Strategy, t.Experiment.Run = m.Strategy, strings.Join(e.Runs, ", ")
			accs, setting, open, err := f.pool(e, m, c.Row)
			if err != nil {
				return nil, fmt.Errorf("published: %s: the explanation of %s %s %w", src.File, c.Scenario, c.Method, err)
			}
			t.Experiment.Protocol, t.Experiment.Note = setting, open
			if len(accs) > 0 {
				t.Experiment.set(accs)
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// folders reads explanations' folders, each once.
type folders struct {
	load  func(dirs ...string) ([]*results.Run, error)
	cache map[string][]*results.Run
}

// runs returns dir's runs: none, without error, for a folder not made or not run yet.
func (f *folders) runs(dir string) ([]*results.Run, error) {
	if runs, ok := f.cache[dir]; ok {
		return runs, nil
	}
	runs, err := f.load(dir)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrNoRuns) {
		runs, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	f.cache[dir] = runs
	return runs, nil
}

// pool returns the final accuracies of row r's runs of method m in e's folders, seeds pooled
// (a seed counts once), the pooled runs' setting (describe), and why the verdict stays open: a
// folder that adds no run of the row ("" when every folder adds some). Runs of different
// settings are refused.
func (f *folders) pool(e *Explanation, m MethodRun, r Row) (accs []float64, setting, open string, err error) {
	seen := map[int64]bool{}
	var ref *results.Run // the first run pooled: the others must share its settings
	for _, dir := range e.Runs {
		runs, err := f.runs(dir)
		if err != nil {
			return nil, "", "", fmt.Errorf("in %s: %w", dir, err)
		}
		if runs == nil && open == "" {
			open = "nothing run in " + dir
		}
		ran := false // this folder adds runs of the row: every folder of the test must
		for _, run := range runs {
			sp := run.Config.Spec
			if !Matches(sp, m.row(r)) || !m.Trains(sp) {
				continue
			}
			got := finalACCs(run, m.Strategy, seen)
			if len(got) == 0 {
				continue
			}
			ran = true
			if ref == nil {
				ref = run
			} else if ds := runspec.Diff(ref.Config.Spec, sp, runspec.Results); len(ds) > 0 {
				d := ds[0]
				return nil, "", "", fmt.Errorf("pools runs of different settings (%s: %s in %s, %s in %s): give it folders of one setting", d.Key, d.Show(d.A), ref.Dir, d.Show(d.B), run.Dir)
			}
			accs = append(accs, got...)
			setting = describe(sp)
		}
		if !ran && open == "" {
			open = "no finished run of `" + m.Strategy + "` in " + dir
		}
	}
	return accs, setting, open, nil
}

// ErrNoRuns says that a folder holds no run folder (no config.json in it or its subfolders).
var ErrNoRuns = errors.New("holds no run folder (no config.json in it or its subfolders)")

// ReadRuns reads every run folder under the given folders: each one itself if it holds a
// config.json, else its subfolders that do (a sweep's groups).
func ReadRuns(dirs ...string) ([]*results.Run, error) {
	var runs []*results.Run
	for _, d := range dirs {
		cands := []string{d}
		if _, err := os.Stat(filepath.Join(d, results.ConfigFile)); err != nil {
			ents, err := os.ReadDir(d)
			if err != nil {
				return nil, fmt.Errorf("published: %w", err)
			}
			cands = nil
			for _, e := range ents {
				if e.IsDir() {
					if _, err := os.Stat(filepath.Join(d, e.Name(), results.ConfigFile)); err == nil {
						cands = append(cands, filepath.Join(d, e.Name()))
					}
				}
			}
			if len(cands) == 0 {
				return nil, fmt.Errorf("published: %s: %w", d, ErrNoRuns)
			}
		}
		for _, c := range cands {
			run, err := results.Read(c)
			if err != nil {
				return nil, err
			}
			runs = append(runs, run)
		}
	}
	if len(runs) == 0 {
		return nil, errors.New("published: no run folder given")
	}
	return runs, nil
}

// Markdown writes src's comparison as a Markdown section: the citation, then one table row per
// published row, and a count of the rows inside the interval or within two points.
func Markdown(src *Source, cs []Comparison) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n", cite(src))
	fmt.Fprintf(&b, "Published: %s (`%s`). ", strings.TrimSuffix(firstSentence(src.Table), "."), filepath.Base(src.File))
	b.WriteString("Read from: how each number was read (the folder's README says what each tag means). clgraph: mean final ACC over its seeds with the 95% interval (Student t); Δ = clgraph − published, in points.\n\n")
	if len(cs) == 0 {
		b.WriteString("The file holds no published number yet; its `missing` note says what was searched.\n")
		return b.String()
	}
	b.WriteString("| stream | scenario | method | published | read from | clgraph | 95% interval | seeds | Δ | inside | within 2 | clgraph protocol |\n")
	b.WriteString("|---|---|---|---:|---|---:|---|---:|---:|:-:|:-:|---|\n")
	var n, inside, within int
	for _, c := range cs {
		pub := fmt.Sprintf("%.2f", c.Mean)
		if c.Std > 0 {
			pub += fmt.Sprintf(" ± %.2f", c.Std)
		}
		if c.Note != "" {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | — | — | — | — | — | — | %s |\n", c.Stream, c.Scenario, c.Label, pub, c.ReadFrom, c.Note)
			continue
		}
		n++
		in, w := "no", "no"
		if c.Inside {
			in = "yes"
			inside++
		}
		if c.Within2 {
			w = "yes"
			within++
		}
		ci := c.ACC.FormatCI(2)
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.2f | %s | %d | %+.2f | %s | %s | %s (`%s`) |\n",
			c.Stream, c.Scenario, c.Label, pub, c.ReadFrom, c.ACC.Mean, ci, c.ACC.N, c.Diff, in, w, c.Protocol, c.Strategy)
	}
	fmt.Fprintf(&b, "\n%d of %d published rows have clgraph runs; of those, %d lie inside clgraph's 95%% interval and %d within 2 points.\n", n, len(cs), inside, within)
	return b.String()
}

// ExplainedMarkdown writes the rows that miss the published mean by more than two points (ts,
// from Explain): each with its explanation's number, the experiment's mean over its seeds and
// 95% interval, and the verdict; then the explanations (cause and experiment) and a count of the
// verdicts. It writes nothing for no rows.
func ExplainedMarkdown(ts []Tested) string {
	if len(ts) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\nRows more than 2 points off, and the experiment that tests each one's explanation (listed below the table: runs in the setting its cause names; \"explained\" when they land within 2 points of the published mean or hold it in their 95% interval):\n\n")
	b.WriteString("| scenario | method | published | clgraph | Δ | explanation | experiment's clgraph | its 95% interval | seeds | its Δ | verdict |\n")
	b.WriteString("|---|---|---:|---:|---:|---|---:|---|---:|---:|---|\n")
	counts := map[string]int{}
	var used []int
	for _, t := range ts {
		v := t.Verdict()
		counts[v]++
		exp, mean, ci, n, diff := "—", "—", "—", "—", "—"
		if t.Explanation != nil {
			exp = fmt.Sprintf("E%d (`%s`)", t.Index+1, t.Experiment.Strategy)
			if !slices.Contains(used, t.Index) {
				used = append(used, t.Index)
			}
			if t.Experiment.ACC.N > 0 {
				mean, ci, n, diff = fmt.Sprintf("%.2f", t.Experiment.ACC.Mean), t.Experiment.ACC.FormatCI(2), fmt.Sprint(t.Experiment.ACC.N), fmt.Sprintf("%+.2f", t.Experiment.Diff)
			}
			if t.Experiment.Note != "" {
				v += " (" + t.Experiment.Note + ")"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %.2f | %.2f | %+.2f | %s | %s | %s | %s | %s | %s |\n",
			t.Scenario, t.Label, t.Mean, t.ACC.Mean, t.Diff, exp, mean, ci, n, diff, v)
	}
	slices.Sort(used)
	if len(used) > 0 {
		b.WriteString("\n")
	}
	for _, i := range used {
		for _, t := range ts {
			if t.Explanation != nil && t.Index == i {
				fmt.Fprintf(&b, "- **E%d.** %s Experiment: %s.\n", i+1, strings.Join(strings.Fields(t.Explanation.Cause), " "), t.Experiment.Run)
				break
			}
		}
	}
	fmt.Fprintf(&b, "\n%d rows more than 2 points off: %d explained, %d not explained, %d with the experiment not run yet, %d with no explanation.\n",
		len(ts), counts["explained"], counts["not explained"], counts["no experiment run yet"], counts["no explanation"])
	return b.String()
}

// Short names the source briefly: its first author ("et al." when there are more) and arXiv id,
// e.g. "Yen-Chang Hsu et al., arXiv 1810.12488".
func Short(s *Source) string {
	p := strings.TrimSpace(s.Paper)
	first := p
	if i := strings.Index(p, ","); i > 0 {
		first = p[:i] + " et al."
	} else if i := strings.Index(p, ". "); i > 0 {
		first = p[:i]
	}
	if s.Arxiv != "" {
		return first + ", arXiv " + s.Arxiv
	}
	return first
}

// Cite names the source: its paper and arXiv id.
func Cite(s *Source) string { return cite(s) }

func cite(s *Source) string {
	p := strings.TrimSpace(s.Paper)
	if s.Arxiv != "" {
		p += " (arXiv " + s.Arxiv + ")"
	}
	return p
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i > 0 {
		return s[:i+1]
	}
	return s
}

// Sources loads every *.yaml file of dir, sorted by name.
func Sources(dir string) ([]*Source, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("published: %w", err)
	}
	sort.Strings(names)
	var out []*Source
	for _, n := range names {
		s, err := Load(n)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("published: no source file (*.yaml) in %s", dir)
	}
	return out, nil
}

// Matches reports whether runs of spec can stand for row r: the same stream and scenario, on
// the MLP trunk the papers use (a conv trunk never matches).
func Matches(spec runspec.Spec, r Row) bool {
	return spec.Stream == r.Stream && spec.Scenario == r.Scenario && spec.Model != runspec.ModelConv
}

// describe names a run's protocol and the settings that set it apart from the preset (padding,
// normalisation, the optimiser, the learning rate, ...: describedKeys).
func describe(sp runspec.Spec) string {
	d := sp.Protocol
	preset, err := streams.Preset(sp.Stream, sp.Protocol, sp.Scenario)
	if err != nil {
		return d
	}
	for _, x := range runspec.Diff(preset, sp, runspec.Results) {
		if slices.Contains(describedKeys, x.Key) {
			d += ", " + x.Key + " " + x.Show(x.B)
		}
	}
	return d
}

// describedKeys are the settings describe names when a run's differ from its preset's.
var describedKeys = []string{"pad", "normalize", "permute_first", "class_order_mode", "optimizer", "lr", "iterations", "batch", "hidden", "tasks", "train_limit"}
