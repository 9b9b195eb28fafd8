package published

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/streams"
)

func run(stream, scenario string, accs map[string][]float64) *results.Run {
	r := &results.Run{Dir: stream + "-" + scenario, Config: results.Config{Spec: preset(stream, "paper", scenario)}}
	for strategy, xs := range accs {
		for i, a := range xs {
			res := &results.Result{Strategy: strategy, Seed: int64(i + 1), Status: results.StatusOK, Metrics: &results.Metrics{}}
			res.Metrics.Set("acc", a)
			r.Results = append(r.Results, res)
		}
	}
	// A failed run never counts.
	bad := &results.Result{Strategy: "naive", Seed: 99, Status: results.StatusFailed, Metrics: &results.Metrics{}}
	bad.Metrics.Set("acc", 0.01)
	r.Results = append(r.Results, bad)
	return r
}

// preset is the spec of a run of protocol's preset, as runs record it.
func preset(stream, protocol, scenario string) runspec.Spec {
	sp, err := streams.Preset(stream, protocol, scenario)
	if err != nil {
		panic(err)
	}
	return sp
}

// under makes r's runs ones of protocol's preset.
func under(r *results.Run, protocol string) *results.Run {
	r.Config.Spec = preset(r.Config.Spec.Stream, protocol, r.Config.Spec.Scenario)
	return r
}

// TestCompare checks the matching of published rows to runs and the interval arithmetic: the
// mean in percent, the Student t interval, inside and within-2 flags, and the notes of rows
// without a strategy, a folder or a finished run.
func TestCompare(t *testing.T) {
	src := &Source{File: "x.yaml", Paper: "A. Author, B. Author. A paper. Venue 2019", Arxiv: "1234.5678", Table: "Table 1: accuracy. More.",
		Rows: []Row{
			{Stream: "split-mnist", Scenario: "task", Method: "naive", Label: "None", Mean: 90, Unit: "percent"},
			{Stream: "split-mnist", Scenario: "task", Method: "ewc_online", Label: "Online EWC", Mean: 99.5, Unit: "percent"},
			{Stream: "split-mnist", Scenario: "task", Method: "sgd", Label: "SGD", Mean: 97, Unit: "percent"},
			{Stream: "split-mnist", Scenario: "class", Method: "naive", Label: "None", Mean: 20, Unit: "percent"},
			{Stream: "split-mnist", Scenario: "task", Method: "si", Label: "SI", Mean: 99, Unit: "percent"},
		}}
	runs := []*results.Run{run("split-mnist", "task", map[string][]float64{
		"naive":           {0.88, 0.90, 0.92},
		"ewc:online=true": {0.96, 0.97},
	})}
	cs := Compare(src, runs)
	if len(cs) != 5 {
		t.Fatalf("%d comparisons", len(cs))
	}
	n := cs[0]
	// mean 90, std 2, t(0.975, 2) = 4.303: interval 90 ± 4.303·2/√3.
	half := 4.302652729911275 * 2 / math.Sqrt(3)
	if n.ACC.N != 3 || math.Abs(n.ACC.Mean-90) > 1e-9 || math.Abs(n.ACC.CIHigh-(90+half)) > 1e-6 || !n.Inside || !n.Within2 || math.Abs(n.Diff) > 1e-9 {
		t.Errorf("naive: %+v", n)
	}
	e := cs[1]
	if e.ACC.N != 2 || math.Abs(e.Diff-(96.5-99.5)) > 1e-9 || e.Within2 {
		t.Errorf("online ewc: %+v", e)
	}
	if !e.Inside { // 96.5 ± 12.7·0.707: wide with two seeds
		t.Errorf("online ewc: 99.5 should lie in %v", e.ACC.FormatCI(2))
	}
	for i, want := range []string{"", "", "no clgraph strategy", "no run folder of this stream and scenario", "no finished run yet"} {
		if cs[i].Note != want {
			t.Errorf("row %d: note %q, want %q", i, cs[i].Note, want)
		}
	}
	md := Markdown(src, cs)
	for _, want := range []string{"A. Author, B. Author. A paper. Venue 2019 (arXiv 1234.5678)", "| split-mnist | task | None | 90.00 |  | 90.00 |", "-3.00", "2 of 5 published rows have clgraph runs; of those, 2 lie inside"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestLoadChecksRows checks that a row without its keys, with another unit or a mean outside
// [0, 100] is refused with the row named, and that the committed sources load.
func TestLoadChecksRows(t *testing.T) {
	dir := t.TempDir()
	for _, bad := range []string{
		"rows:\n  - {stream: split-mnist, method: ewc, mean: 90, unit: percent, as_printed: 'EWC 90'}\n",
		"rows:\n  - {stream: split-mnist, scenario: task, method: ewc, mean: 0.9, unit: fraction, as_printed: 'EWC 0.9'}\n",
		"rows:\n  - {stream: split-mnist, scenario: task, method: ewc, mean: 990, unit: percent, as_printed: 'EWC 990'}\n",
	} {
		p := filepath.Join(dir, "bad.yaml")
		if err := os.WriteFile(p, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "row 1") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	srcs, err := Sources("../reference/published")
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, s := range srcs {
		rows += len(s.Rows)
	}
	if len(srcs) < 3 || rows < 45 {
		t.Errorf("%d sources with %d rows in results/reference/published", len(srcs), rows)
	}
}

// TestCompareSkipsConvAndPrefersProtocol checks that conv-trunk runs never stand for a
// published row and that, with a source protocol, only a folder of that protocol is taken.
func TestCompareSkipsConvAndPrefersProtocol(t *testing.T) {
	src := &Source{Protocol: "paper", Rows: []Row{{Stream: "split-mnist", Scenario: "task", Method: "naive", Label: "None", Mean: 90, Unit: "percent"}}}
	quick := run("split-mnist", "task", map[string][]float64{"naive": {0.5, 0.5}})
	under(quick, "quick")
	conv := run("split-mnist", "task", map[string][]float64{"naive": {0.6, 0.6}})
	conv.Config.Spec.Model = runspec.ModelConv
	paper := run("split-mnist", "task", map[string][]float64{"naive": {0.9, 0.9}})
	paper.Config.Spec.Pad = 2
	c := Compare(src, []*results.Run{quick, conv, paper})[0]
	if c.ACC.Mean != 90 || c.Protocol != "paper, pad 2" {
		t.Errorf("matched %v (%s), want the paper folder's 90", c.ACC.Mean, c.Protocol)
	}
	if c := Compare(src, []*results.Run{conv})[0]; c.Note == "" {
		t.Error("a conv-trunk run stood for a published MLP row")
	}
	if c := Compare(src, []*results.Run{quick})[0]; c.Note == "" {
		t.Error("a quick-protocol run stood for a paper-protocol source")
	}
	src.Protocol = ""
	if c := Compare(src, []*results.Run{quick})[0]; c.ACC.Mean != 50 || c.Protocol != "quick" {
		t.Errorf("a source without a protocol: %v (%s), want the quick folder's 50", c.ACC.Mean, c.Protocol)
	}
}

// TestMethodsOverride checks a source's own method table: its strategy spec, the optimiser its
// runs must train with (Adam and SGD rows of one strategy go to different folders) and a
// per-method protocol (rows taken over from another paper), in tables and for report markers.
func TestMethodsOverride(t *testing.T) {
	src := &Source{Protocol: "hsu",
		Methods: map[string]MethodRun{
			"naive":  {Strategy: "naive", Optimizer: "adam"},
			"sgd":    {Strategy: "naive", Optimizer: "sgd"},
			"replay": {Strategy: "replay:budget=1100"},
			"dgr":    {Strategy: "dgr", Protocol: "paper"},
		},
		Rows: []Row{
			{Stream: "split-mnist", Scenario: "task", Method: "naive", Label: "Adam", Mean: 90, Unit: "percent"},
			{Stream: "split-mnist", Scenario: "task", Method: "sgd", Label: "SGD", Mean: 97, Unit: "percent"},
			{Stream: "split-mnist", Scenario: "task", Method: "replay", Label: "Rehearsal", Mean: 99, Unit: "percent"},
			{Stream: "split-mnist", Scenario: "task", Method: "dgr", Label: "DGR", Mean: 99, Unit: "percent"},
		}}
	sgd := run("split-mnist", "task", map[string][]float64{"naive": {0.97, 0.97}})
	under(sgd, "hsu").Config.Spec.Optimizer = "sgd"
	adam := run("split-mnist", "task", map[string][]float64{"naive": {0.91, 0.91}, "replay": {0.5}, "replay:budget=1100": {0.99, 0.99}})
	under(adam, "hsu")
	paper := run("split-mnist", "task", map[string][]float64{"dgr": {0.98, 0.98}, "naive": {0.1, 0.1}})
	cs := Compare(src, []*results.Run{sgd, paper, adam})
	for i, want := range []float64{91, 97, 99, 98} {
		if cs[i].ACC.N != 2 || math.Abs(cs[i].ACC.Mean-want) > 1e-9 {
			t.Errorf("%s: %v over %d seeds, want %v", cs[i].Label, cs[i].ACC.Mean, cs[i].ACC.N, want)
		}
	}
	if !src.Stands(sgd.Config.Spec, "naive", src.Rows[1]) || src.Stands(sgd.Config.Spec, "naive", src.Rows[0]) {
		t.Error("report markers: the SGD folder's naive should stand for the SGD row only")
	}
	if src.Stands(adam.Config.Spec, "replay", src.Rows[2]) {
		t.Error("report markers: replay with its default budget stood for the 1100-example row")
	}
	// A learning rate per method, and a method filed under another scenario (PNN's rows are
	// domain-IL in A-GEM's table, its runs task-IL).
	agem := &Source{Protocol: "agem", Methods: map[string]MethodRun{
		"naive": {Strategy: "naive", LR: 0.03},
		"pnn":   {Strategy: "pnn", LR: 0.1, Scenario: "task"},
	}, Rows: []Row{
		{Stream: "permuted-mnist", Scenario: "domain", Method: "naive", Label: "VAN", Mean: 48, Unit: "percent"},
		{Stream: "permuted-mnist", Scenario: "domain", Method: "pnn", Label: "PROG-NN", Mean: 93, Unit: "percent"},
	}}
	fast := run("permuted-mnist", "domain", map[string][]float64{"naive": {0.2, 0.2}})
	under(fast, "agem").Config.Spec.LR = 0.1
	slow := run("permuted-mnist", "domain", map[string][]float64{"naive": {0.5, 0.5}})
	under(slow, "agem").Config.Spec.LR = 0.03
	cols := run("permuted-mnist", "task", map[string][]float64{"pnn": {0.93, 0.93}})
	under(cols, "agem").Config.Spec.LR = 0.1
	ac := Compare(agem, []*results.Run{fast, cols, slow})
	if ac[0].ACC.Mean != 50 || ac[1].ACC.Mean != 93 {
		t.Errorf("lr and scenario per method: VAN %v (want the lr 0.03 folder's 50), PROG-NN %v (want the task-IL folder's 93)", ac[0].ACC.Mean, ac[1].ACC.Mean)
	}
	if m, ok := src.Method("ewc_online"); !ok || m.Strategy != "ewc:online=true" {
		t.Errorf("a method the source does not list: %+v, want the default strategy", m)
	}
}

// TestExplain checks the explanations of rows more than two points off: the first explanation
// that covers a row is tested on its folders' runs (seeds pooled, a seed counted once, the
// explanation's own strategy), each verdict, and the Markdown's count.
func TestExplain(t *testing.T) {
	src := &Source{Protocol: "paper",
		Rows: []Row{
			{Stream: "split-mnist", Scenario: "domain", Method: "naive", Label: "None", Mean: 57, Unit: "percent"},
			{Stream: "split-mnist", Scenario: "task", Method: "ewc", Label: "EWC", Mean: 85, Unit: "percent"},
			{Stream: "split-mnist", Scenario: "task", Method: "si", Label: "SI", Mean: 90, Unit: "percent"},
			{Stream: "split-mnist", Scenario: "task", Method: "naive", Label: "None", Mean: 88, Unit: "percent"},
			{Stream: "split-mnist", Scenario: "domain", Method: "si", Label: "SI", Mean: 50, Unit: "percent"},
			{Stream: "split-mnist", Scenario: "domain", Method: "ewc", Label: "EWC", Mean: 50, Unit: "percent"},
		},
		Explanations: []Explanation{
			{Rows: []RowKey{{Scenario: "domain", Method: "naive"}, {Scenario: "domain", Method: "si"}}, Cause: "seed spread", Runs: []string{"main", "extra"}},
			{Rows: []RowKey{{Scenario: "task", Method: "ewc"}}, Cause: "untuned lambda", Runs: []string{"untuned"}, Methods: map[string]MethodRun{"ewc": {Strategy: "ewc:lambda=5000"}}},
			{Rows: []RowKey{{Scenario: "domain", Method: "ewc"}}, Cause: "not run yet", Runs: []string{"untuned"}},
		}}
	mainTask := run("split-mnist", "task", map[string][]float64{"naive": {0.88, 0.88}, "ewc": {0.99, 0.99}, "si": {0.99, 0.99}})
	mainDomain := run("split-mnist", "domain", map[string][]float64{"naive": {0.64, 0.62}, "si": {0.70, 0.70}, "ewc": {0.65, 0.65}})
	extra := run("split-mnist", "domain", map[string][]float64{"naive": {0.50, 0.50, 0.55, 0.50}, "si": {0.7, 0.7, 0.7, 0.7}})
	untuned := run("split-mnist", "task", map[string][]float64{"ewc:lambda=5000": {0.86, 0.84, 0.85}, "ewc": {0.2}})
	folders := map[string][]*results.Run{"main": {mainTask, mainDomain}, "extra": {extra}, "untuned": {untuned}}
	load := func(dirs ...string) ([]*results.Run, error) { return folders[dirs[0]], nil }
	cs := Compare(src, []*results.Run{mainTask, mainDomain})
	ts, err := Explain(src, cs, load)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Tested{}
	for _, x := range ts {
		got[x.Scenario+" "+x.Method] = x
	}
	if len(ts) != 5 {
		t.Fatalf("%d rows off by more than 2 points, want 5 (task naive is within): %+v", len(ts), got)
	}
	// domain naive: main seeds 1,2 (64, 62) then extra's seeds 3,4 (55, 50; its 1,2 are dropped).
	if n := got["domain naive"]; n.Verdict() != "explained" || n.Experiment.ACC.N != 4 || math.Abs(n.Experiment.ACC.Mean-57.75) > 1e-9 {
		t.Errorf("domain naive: %s, %v over %d seeds, want explained, 57.75 over 4", n.Verdict(), n.Experiment.ACC.Mean, n.Experiment.ACC.N)
	}
	if e := got["task ewc"]; e.Verdict() != "explained" || math.Abs(e.Experiment.ACC.Mean-85) > 1e-9 || e.Experiment.Strategy != "ewc:lambda=5000" {
		t.Errorf("task ewc: %s, %v (%s)", e.Verdict(), e.Experiment.ACC.Mean, e.Experiment.Strategy)
	}
	if s := got["domain si"]; s.Verdict() != "not explained" {
		t.Errorf("domain si: %s, want not explained (70 against 50)", s.Verdict())
	}
	if s := got["task si"]; s.Verdict() != "no explanation" {
		t.Errorf("task si: %s", s.Verdict())
	}
	if e := got["domain ewc"]; e.Verdict() != "no experiment run yet" {
		t.Errorf("domain ewc: %s", e.Verdict())
	}
	md := ExplainedMarkdown(ts)
	for _, want := range []string{"| domain | None | 57.00 | 63.00 | +6.00 | E1 (`naive`) | 57.75 |", "- **E1.** seed spread Experiment: main, extra.", "- **E2.** untuned lambda", "5 rows more than 2 points off: 2 explained, 1 not explained, 1 with the experiment not run yet, 1 with no explanation."} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if ExplainedMarkdown(nil) != "" {
		t.Error("no rows off should write nothing")
	}
	// A folder that adds no run of the row (only seeds the main comparison has) leaves the
	// verdict open: the test must add runs.
	folders["stale"] = []*results.Run{run("split-mnist", "domain", map[string][]float64{"naive": {0.57, 0.57}})}
	src.Explanations[0].Runs = []string{"main", "stale"}
	if ts, err := Explain(src, cs, load); err != nil || ts[0].Verdict() != "no experiment run yet" || !strings.Contains(ts[0].Experiment.Note, "stale") {
		t.Errorf("a folder adding nothing: %v, %+v", err, ts[0].Experiment)
	}
	// A folder not made yet leaves the verdict open and says so, even with runs elsewhere.
	src.Explanations[0].Runs = []string{"main", "missing"}
	if ts, err := Explain(src, cs, load); err != nil || ts[0].Verdict() != "no experiment run yet" || !strings.Contains(ts[0].Experiment.Note, "missing") {
		t.Errorf("missing folder: %v, %+v", err, ts[0].Experiment)
	}
	// Pooling runs of different settings is refused.
	other := run("split-mnist", "domain", map[string][]float64{"naive": {0.5, 0.5, 0.5, 0.5}})
	other.Config.Spec.LR = 0.5
	folders["other"] = []*results.Run{other}
	src.Explanations[0].Runs = []string{"main", "other"}
	if _, err := Explain(src, cs, load); err == nil || !strings.Contains(err.Error(), "lr") {
		t.Errorf("pooling two learning rates: %v", err)
	}
	// An explanation's entry keeps the source's constraints it does not set.
	base := MethodRun{Strategy: "pnn", LR: 0.1, Scenario: "task", Optimizer: "sgd"}
	if got := (MethodRun{Strategy: "pnn:adapter=true"}).over(base); got.LR != 0.1 || got.Scenario != "task" || got.Optimizer != "sgd" || got.Strategy != "pnn:adapter=true" {
		t.Errorf("over: %+v", got)
	}
	if m, ok := (&Source{Methods: map[string]MethodRun{"l2": {LR: 0.03}}}).Method("l2"); !ok || m.Strategy != "l2" || m.LR != 0.03 {
		t.Errorf("an entry without a strategy: %+v, %v", m, ok)
	}
}

// TestLoadChecksExplanations checks that an explanation without rows, a cause or runs is refused.
func TestLoadChecksExplanations(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.yaml")
	for _, bad := range []string{
		"explanations:\n  - {cause: c, runs: [a]}\n",
		"explanations:\n  - {rows: [{scenario: task, method: ewc}], runs: [a]}\n",
		"explanations:\n  - {rows: [{scenario: task, method: ewc}], cause: c}\n",
		"explanations:\n  - {rows: [{method: ewc}], cause: c, runs: [a]}\n",
	} {
		if err := os.WriteFile(p, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "explanation 1") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestSharedExplanation checks that an entry with from: takes its cause, runs and methods from
// the shared file (two sources reading one file get the same explanation), and that a from: entry
// that also gives a cause, a missing file or a shared file with rows of its own is refused.
func TestSharedExplanation(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("explanations/kd.yaml", "cause: >-\n  their loss\n  differs\nruns: [r/explain]\nmethods:\n  lwf: {strategy: \"lwf:alpha=1\"}\n")
	var got []Explanation
	for _, src := range []string{"a.yaml", "b.yaml"} {
		s, err := Load(write(src, "explanations:\n  - rows: [{scenario: class, method: lwf}]\n    from: explanations/kd.yaml\n"))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s.Explanations[0])
	}
	e := got[0]
	if e.Cause != "their loss differs" || len(e.Runs) != 1 || e.Runs[0] != "r/explain" || e.Methods["lwf"].Strategy != "lwf:alpha=1" || len(e.Rows) != 1 {
		t.Fatalf("explanation from the shared file: %+v", e)
	}
	if got[1].Cause != e.Cause || got[1].Runs[0] != e.Runs[0] {
		t.Fatalf("two sources read different explanations: %+v and %+v", got[0], got[1])
	}
	write("explanations/rows.yaml", "rows: [{scenario: task, method: ewc}]\ncause: c\nruns: [a]\n")
	for bad, want := range map[string]string{
		"explanations:\n  - {rows: [{scenario: class, method: lwf}], from: explanations/kd.yaml, cause: c}\n": "gives only rows",
		"explanations:\n  - {rows: [{scenario: class, method: lwf}], from: explanations/none.yaml}\n":         "none.yaml",
		"explanations:\n  - {rows: [{scenario: class, method: lwf}], from: explanations/rows.yaml}\n":         "rows stay in the source",
	} {
		if _, err := Load(write("bad.yaml", bad)); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "explanation 1") {
			t.Errorf("%q: %v, want an error naming explanation 1 and %q", bad, err, want)
		}
	}
}
