package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/results/published"
)

// TestWritePublishedMarkers checks that published rows of the run's stream, scenario and protocol
// become marks of the right series (not of other protocols, scenarios or methods), change the
// figures (the same report without them draws different pictures) and are listed in report.md.
func TestWritePublishedMarkers(t *testing.T) {
	run := synthRun(t.TempDir(), "task", 4, []string{"naive", "ewc:online=true", "joint"}, []int64{1, 2})
	src := &published.Source{Paper: "A. Author. A paper", Arxiv: "1234.5678", Protocol: "quick", Rows: []published.Row{
		{Stream: "split-mnist", Scenario: "task", Method: "ewc_online", Label: "Online EWC", Mean: 93.5, Unit: "percent"},
		{Stream: "split-mnist", Scenario: "class", Method: "naive", Label: "None", Mean: 19.9, Unit: "percent"},
		{Stream: "split-mnist", Scenario: "task", Method: "sgd", Label: "SGD", Mean: 97, Unit: "percent"},
	}}
	other := &published.Source{Paper: "B. Other. Another", Protocol: "paper", Rows: []published.Row{
		{Stream: "split-mnist", Scenario: "task", Method: "naive", Label: "None", Mean: 50, Unit: "percent"},
	}}
	dirA, dirB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	with, err := WriteWith([]*results.Run{run}, dirA, Options{Published: []*published.Source{src, other}})
	if err != nil {
		t.Fatal(err)
	}
	without, err := Write([]*results.Run{run}, dirB)
	if err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(with.Markdown)
	if !strings.Contains(string(md), "| ewc:online=true | 0.") || !strings.Contains(string(md), "| 0.9350 | A. Author. A paper (arXiv 1234.5678) (Online EWC) |") {
		t.Fatalf("report.md lacks the published row:\n%s", md)
	}
	if n := strings.Count(string(md), "(arXiv 1234.5678) ("); n != 1 {
		t.Errorf("%d published rows listed, want 1 (other scenario, method and protocol left out)", n)
	}
	for _, name := range []string{"metrics.png", "avg-accuracy.png"} {
		a, _ := os.ReadFile(filepath.Join(dirA, name))
		b, _ := os.ReadFile(filepath.Join(dirB, name))
		if len(a) == 0 || string(a) == string(b) {
			t.Errorf("%s: the published marker does not change the figure", name)
		}
	}
	mdB, _ := os.ReadFile(without.Markdown)
	if strings.Contains(string(mdB), "Published numbers") {
		t.Error("a report without sources lists published numbers")
	}
}
