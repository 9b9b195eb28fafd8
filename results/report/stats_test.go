package report

import (
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/results"
)

// The report shows the confidence intervals, the paired tests, intransigence
// against the joint run and the stability/plasticity scatter.
func TestWriteStatistics(t *testing.T) {
	run := synthRun(t.TempDir(), "task", 3, []string{"naive", "joint"}, []int64{1, 2, 3})
	out := t.TempDir()
	files, err := Write([]*results.Run{run}, out)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(files.HTML)
	md, _ := os.ReadFile(files.Markdown)
	ts := run.PairedTests()
	if len(ts) != 2 || ts[0].N != 3 || ts[0].Undefined != "" {
		t.Fatalf("PairedTests = %v", ts)
	}
	sum := run.Summary()
	intr := sum[0].Metrics.Get(results.KeyIntransigence)
	acc := sum[0].Metrics.Get(results.KeyACC)
	if intr.N != 3 || intr.Undefined != "" || sum[1].Metrics.Get(results.KeyIntransigence).Mean != 0 {
		t.Errorf("intransigence = %+v", intr)
	}
	for _, want := range []string{`<h3 id="ci">95% confidence intervals</h3>`, "<li>" + html.EscapeString(ts[0].String()) + "</li>",
		`<td class="num">` + acc.FormatCI(3) + `</td>`, `<td class="num">` + intr.Format(3) + `</td>`, `alt="Stability and plasticity"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	for _, want := range []string{"### 95% confidence intervals", "### Paired comparisons\n", "- naive vs joint, ACC: ", "](stability.png)"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	for _, ext := range []string{".png", ".svg"} {
		if _, err := os.Stat(filepath.Join(out, "stability"+ext)); err != nil {
			t.Error(err)
		}
	}
}
