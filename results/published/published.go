// Package published compares clgraph's results with numbers published in papers: it reads the
// sources in results/reference/published (one YAML file per paper: its citation, setting and the
// printed numbers, row by row), matches each row to a clgraph run folder of the same stream and
// scenario and a strategy of the same method, and reports the published mean beside clgraph's
// mean ACC over seeds with its 95% interval, their difference, and whether the published mean lies
// inside the interval or within two points. Nothing is typed: the tables come from the files.
package published

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/runspec"
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
	// Rows are the published numbers.
	Rows []Row `yaml:"-"`
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
		Source  Source `yaml:"source"`
		Setting string `yaml:"setting"`
		Rows    []Row  `yaml:"rows"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("published: %s: %w", path, err)
	}
	s := f.Source
	s.File, s.Setting, s.Rows = path, strings.TrimSpace(f.Setting), f.Rows
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
	"der": "der", "hat": "hat", "packnet": "packnet", "pnn": "pnn",
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
		c := Comparison{Row: r, Diff: math.NaN(), Strategy: Strategies[r.Method]}
		if c.Strategy == "" {
			c.Note = "no clgraph strategy"
			out = append(out, c)
			continue
		}
		c.Note = "no run folder of this stream and scenario"
		for _, run := range runs {
			sp := run.Config.Spec
			if !Matches(sp, r) || (src.Protocol != "" && sp.Protocol != src.Protocol) {
				continue
			}
			var accs []float64
			for _, res := range run.Results {
				if res.Strategy == c.Strategy && res.Status == results.StatusOK && res.Metrics != nil {
					if v, ok := res.Metrics.Lookup("acc"); ok {
						accs = append(accs, 100*v)
					}
				}
			}
			if len(accs) == 0 {
				if c.Run == "" {
					c.Run, c.Protocol, c.Note = run.Dir, describe(sp), "no finished run yet"
				}
				continue
			}
			c.Run, c.Protocol, c.Note = run.Dir, describe(sp), ""
			c.ACC = results.Summarize(accs)
			c.Diff = c.ACC.Mean - r.Mean
			c.Within2 = math.Abs(c.Diff) <= 2
			c.Inside = c.ACC.HasCI() && r.Mean >= c.ACC.CILow && r.Mean <= c.ACC.CIHigh
			break
		}
		out = append(out, c)
	}
	return out
}

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
				return nil, fmt.Errorf("published: %s holds no run folder (no config.json in it or its subfolders)", d)
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
// task count).
func describe(sp runspec.Spec) string {
	d := sp.Protocol
	if sp.Pad > 0 {
		d += fmt.Sprintf(", pad %d", sp.Pad)
	}
	return d
}
