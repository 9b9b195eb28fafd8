package report

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/results"
)

// TestExtraMetric registers a test-only metric in results.Table and checks
// that the report shows it (table columns, legend, bar chart) and explains
// where it is undefined, with no other change.
func TestExtraMetric(t *testing.T) {
	old := results.Table
	results.Table = append(slices.Clip(old), results.Metric{
		Key: "test_min_final", Label: "Min final", Doc: "lowest final accuracy of any task", Headline: true,
		Undefined: func(in results.Input) string {
			if in.T() < 3 {
				return "needs 3 tasks in this test"
			}
			return ""
		},
		Value: func(in results.Input) float64 { return slices.Min(in.R[in.T()-1]) },
	})
	t.Cleanup(func() { results.Table = old })

	run := synthRun(t.TempDir(), "task", 4, []string{"naive", "joint"}, []int64{1, 2})
	files, err := Write([]*results.Run{run}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(files.HTML)
	md, _ := os.ReadFile(files.Markdown)
	st := run.Summary()[0].Metrics.Get("test_min_final")
	if st.N != 2 {
		t.Fatalf("naive test_min_final = %+v", st)
	}
	for _, want := range []string{"<th>Learning acc.</th><th>Intransigence</th><th>Min final</th></tr>", "Min final: lowest final accuracy of any task.", ">" + st.Format(3) + "</td></tr>",
		`alt="ACC, BWT, FWT, Forgetting and Min final"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	for _, want := range []string{"| Learning acc. | Intransigence | Min final |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n", " | " + st.Format(3) + " |\n", "Min final: lowest final accuracy of any task."} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	var svg string
	for _, p := range files.SVG {
		if strings.HasSuffix(p, "metrics.svg") {
			data, _ := os.ReadFile(p)
			svg = string(data)
		}
	}
	if !strings.Contains(svg, ">Min final</text>") || !strings.Contains(svg, ">ACC, BWT, FWT, Forgetting and Min final (mean ± std over seeds)</text>") {
		t.Errorf("the bar chart lacks the metric")
	}

	// With 2 tasks the metric is undefined: "—" and the reason.
	two := synthRun(t.TempDir(), "task", 2, []string{"naive"}, []int64{1})
	files, err = Write([]*results.Run{two}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	page, _ = os.ReadFile(files.HTML)
	md, _ = os.ReadFile(files.Markdown)
	if !strings.Contains(string(page), "<li>naive, Min final: needs 3 tasks in this test</li>") || !strings.Contains(string(page), `<td class="num">—</td></tr>`) {
		t.Errorf("report.html does not explain the undefined metric")
	}
	if !strings.Contains(string(md), "Undefined metrics (left out of the means):\n\n") || !strings.Contains(string(md), "- naive, Min final: needs 3 tasks in this test\n") || !strings.Contains(string(md), " | — |\n") {
		t.Errorf("report.md does not explain the undefined metric:\n%s", md)
	}
}
