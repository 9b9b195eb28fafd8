package report

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/results"
)

// incompleteSynthRun is synthRun with naive and joint over seeds 1, 2, 3 where naive seed 2
// failed, naive seed 3 was interrupted and joint seed 3 has no result yet.
func incompleteSynthRun(dir string) *results.Run {
	run := synthRun(dir, "task", 3, []string{"naive", "joint"}, []int64{1, 2, 3})
	var keep []*results.Result
	for _, r := range run.Results {
		switch {
		case r.Strategy == "naive" && r.Seed == 2:
			r.Status, r.Error, r.Metrics, r.R = results.StatusFailed, "loss is NaN", nil, r.R[:1]
		case r.Strategy == "naive" && r.Seed == 3:
			r.Status, r.Error, r.Metrics, r.R = results.StatusInterrupted, "interrupted by signal", nil, r.R[:2]
		case r.Strategy == "joint" && r.Seed == 3:
			continue
		}
		keep = append(keep, r)
	}
	run.Results = keep
	return run
}

func TestReportIncompleteRun(t *testing.T) {
	run := incompleteSynthRun("/runs/partial")
	out := t.TempDir()
	files, err := Write([]*results.Run{run}, out)
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(files.HTML)
	if err != nil {
		t.Fatal(err)
	}
	checkHTML(t, string(page))
	for _, want := range []string{
		"<strong>Incomplete:</strong> run 1 (/runs/partial) is incomplete: 4 of 6 runs finished (1 failed), 1 interrupted, 1 missing; resume it with clgraph run --resume /runs/partial.",
		"<th>ok</th><th>failed</th><th>interrupted</th><th>missing</th>",
		// naive: 1 ok, 1 failed, 1 interrupted, 0 missing; joint: 2 ok, 1 missing.
		`naive</td><td class="num">1</td><td class="num fail">1</td><td class="num fail">1</td><td class="num">0</td>`,
		`joint</td><td class="num">2</td><td class="num">0</td><td class="num">0</td><td class="num fail">1</td>`,
		`<h2 id="failures">Failed, interrupted and missing runs</h2>`,
		`<td>naive</td><td class="num">3</td><td>interrupted</td><td class="num">2 of 3</td>`,
		`<td>joint</td><td class="num">3</td><td>missing</td>`,
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	md, err := os.ReadFile(files.Markdown)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"> **Incomplete:** run 1 (/runs/partial) is incomplete: 4 of 6 runs finished (1 failed), 1 interrupted, 1 missing; resume it with clgraph run --resume /runs/partial.",
		"| Strategy | ok | failed | interrupted | missing | ACC |",
		"| naive | 1 | 1 | 1 | 0 | ",
		"| joint | 2 | 0 | 0 | 1 | ",
		"## Failed, interrupted and missing runs",
		"- naive, seed 2 (after 1 of 3 tasks): loss is NaN",
		"- naive, seed 3 interrupted (after 2 of 3 tasks): interrupted by signal",
		"- joint, seed 3 missing: no result.json",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}

	// A complete run (a failed seed included) has no notice and no extra columns.
	done := synthRun("/runs/done", "task", 3, []string{"naive"}, []int64{1, 2})
	done.Results[1].Status, done.Results[1].Metrics = results.StatusFailed, nil
	files, err = Write([]*results.Run{done}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	page, _ = os.ReadFile(files.HTML)
	md, _ = os.ReadFile(files.Markdown)
	for _, no := range []string{"Incomplete", "interrupted", "missing"} {
		if strings.Contains(string(page), no) || strings.Contains(string(md), no) {
			t.Errorf("the report of a complete run mentions %q", no)
		}
	}
	if !strings.Contains(string(md), "## Failures\n") {
		t.Errorf("report.md of a run with a failed seed lacks its Failures section:\n%s", md)
	}
}

func TestCheckDuplicateRun(t *testing.T) {
	dir := t.TempDir()
	a := synthRun(dir, "task", 3, []string{"naive"}, []int64{1})
	b := synthRun(dir+string(filepath.Separator), "task", 3, []string{"naive"}, []int64{1})
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	c := synthRun(link, "task", 3, []string{"naive"}, []int64{1})
	mem := synthRun("", "task", 3, []string{"naive"}, []int64{1})
	for name, runs := range map[string][]*results.Run{
		"same path": {a, b}, "symbolic link": {a, c}, "same *Run": {mem, mem},
	} {
		err := Check(runs)
		if !errors.Is(err, ErrDuplicateRun) {
			t.Errorf("%s: Check = %v, want ErrDuplicateRun", name, err)
			continue
		}
		if runs[0].Dir != "" && !strings.Contains(err.Error(), runs[1].Dir) {
			t.Errorf("%s: %v does not name %s", name, err, runs[1].Dir)
		}
		out := filepath.Join(t.TempDir(), "out")
		if _, err := Write(runs, out); !errors.Is(err, ErrDuplicateRun) {
			t.Errorf("%s: Write = %v, want ErrDuplicateRun", name, err)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: Write wrote %s", name, out)
		}
	}
	// Two in-memory runs without a folder, and two folders, are fine.
	other := synthRun(t.TempDir(), "task", 3, []string{"naive"}, []int64{1})
	if err := Check([]*results.Run{mem, synthRun("", "task", 3, []string{"naive"}, []int64{1})}); err != nil {
		t.Errorf("two runs without a folder: %v", err)
	}
	if err := Check([]*results.Run{a, other}); err != nil {
		t.Errorf("two folders: %v", err)
	}
}
