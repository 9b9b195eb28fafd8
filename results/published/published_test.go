package published

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/runspec"
)

func run(stream, scenario string, accs map[string][]float64) *results.Run {
	r := &results.Run{Dir: stream + "-" + scenario, Config: results.Config{Spec: runspec.Spec{Stream: stream, Scenario: scenario, Protocol: "paper"}}}
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
	quick.Config.Spec.Protocol = "quick"
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
