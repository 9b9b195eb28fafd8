package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/streams"
)

// TestPublishedInto runs 'clgraph published' on a run folder with one finished naive result
// against a one-row source, checks the table printed and written between a file's markers (the
// text around them kept), and that a file without the markers or a missing folder is a usage
// error.
func TestPublishedInto(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "sources")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	yaml := "source: {paper: 'P. Author. A paper', arxiv: '1111.2222', table: 'Table 9: accuracy.'}\n" +
		"rows:\n  - {stream: split-mnist, scenario: task, method: naive, label: None, mean: 87.5, unit: percent, as_printed: 'None 87.5'}\n"
	if err := os.WriteFile(filepath.Join(src, "p.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	spec, err := streams.Preset("split-mnist", "paper", "task")
	if err != nil {
		t.Fatal(err)
	}
	cfg := results.Config{Spec: spec, Seeds: []int64{1}, Strategies: []string{"naive"}, Tasks: []string{"0/1"}}
	if err := results.WriteConfig(run, cfg); err != nil {
		t.Fatal(err)
	}
	res := &results.Result{Strategy: "naive", Seed: 1, Status: results.StatusOK, Tasks: []string{"0/1"}, R: [][]float64{{0.875}}, B: []float64{0.5}}
	m, err := results.ComputeFor(res.R, res.B, "task")
	if err != nil {
		t.Fatal(err)
	}
	res.Metrics = &m
	if err := results.WriteResult(results.ResultDir(run, "naive", 1), res); err != nil {
		t.Fatal(err)
	}
	md := filepath.Join(dir, "README.md")
	if err := os.WriteFile(md, []byte("# before\n"+publishedBegin+"\nold table\n"+publishedEnd+"\nafter\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI(t, "published", "--sources", src, "--into", md, run)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "| split-mnist | task | None | 87.50 |  | 87.50 | n/a (n=1) | 1 | +0.00 | no | yes | paper (`naive`) |") {
		t.Fatalf("table:\n%s", out)
	}
	data, _ := os.ReadFile(md)
	s := string(data)
	if strings.Contains(s, "old table") || !strings.HasPrefix(s, "# before\n") || !strings.HasSuffix(s, publishedEnd+"\nafter\n") || !strings.Contains(s, "87.50") {
		t.Fatalf("file after --into:\n%s", s)
	}
	if err := os.WriteFile(md, []byte("no markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "published", "--sources", src, "--into", md, run); code != ExitUsage || !strings.Contains(stderr, "no '") {
		t.Errorf("no markers: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "published", "--sources", src, filepath.Join(dir, "nope")); code != ExitUsage {
		t.Errorf("missing folder: exit %d, %s", code, stderr)
	}
}
