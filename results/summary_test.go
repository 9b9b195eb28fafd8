package results

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// incompleteRun returns testRun with a third seed: naive seed 2 failed (as in testRun), naive
// seed 3 interrupted after one task, ewc:lambda=100 seed 3 missing (no result).
func incompleteRun(t *testing.T, dir string) *Run {
	run := testRun(t, dir)
	run.Config.Seeds = []int64{1, 2, 3}
	run.Results = append(run.Results[:2:2], append([]*Result{{Strategy: "naive", Seed: 3, Status: StatusInterrupted,
		Error: "interrupted by signal", Tasks: run.Config.Tasks, R: [][]float64{{0.98, 0.5, 0.5}}}}, run.Results[2:]...)...)
	return run
}

func TestSummaryCountsInterruptedAndMissing(t *testing.T) {
	sums := incompleteRun(t, "").Summary()
	naive, ewc := sums[0], sums[1]
	if naive.OK != 1 || naive.Failed != 1 || naive.Interrupted != 1 || naive.Missing != 0 || naive.Total() != 3 {
		t.Errorf("naive: ok %d failed %d interrupted %d missing %d, want 1 1 1 0", naive.OK, naive.Failed, naive.Interrupted, naive.Missing)
	}
	if len(naive.Failures) != 2 || naive.Failures[0].Status != StatusFailed || naive.Failures[1].Status != StatusInterrupted {
		t.Errorf("naive failures = %+v", naive.Failures)
	}
	if ewc.OK != 2 || ewc.Failed != 0 || ewc.Interrupted != 0 || ewc.Missing != 1 || !reflect.DeepEqual(ewc.MissingSeeds, []int64{3}) {
		t.Errorf("ewc: ok %d failed %d interrupted %d missing %d %v, want 2 0 0 1 [3]", ewc.OK, ewc.Failed, ewc.Interrupted, ewc.Missing, ewc.MissingSeeds)
	}
	c := CompletionOf(sums)
	if want := (Completion{OK: 3, Failed: 1, Interrupted: 1, Missing: 1}); c != want || c.Complete() {
		t.Errorf("completion = %+v, want %+v, incomplete", c, want)
	}
	if got, want := c.String(), "4 of 6 runs finished (1 failed), 1 interrupted, 1 missing"; got != want {
		t.Errorf("completion = %q, want %q", got, want)
	}
	if c := testRun(t, "").Completion(); !c.Complete() || c.String() != "4 of 4 runs finished (1 failed)" {
		t.Errorf("a run with a failed seed and no interrupted or missing one: %+v %q, want complete", c, c)
	}
	// Read back from disk: the same counts.
	dir := t.TempDir()
	writeRun(t, incompleteRun(t, dir))
	back, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Completion(); got != c {
		t.Errorf("completion of the folder = %+v, want %+v", got, c)
	}
	// A strategy only in the results expects no seeds; a seed listed twice is missing once.
	run := incompleteRun(t, "")
	run.Config.Seeds = []int64{1, 2, 3, 3}
	run.Results = append(run.Results, &Result{Strategy: "extra", Seed: 1, Status: StatusOK})
	if got := run.Completion(); got.Missing != 1 || got.OK != 4 {
		t.Errorf("completion = %+v, want 1 missing and 4 ok", got)
	}
}

func TestWriteSummaryIncomplete(t *testing.T) {
	dir := t.TempDir()
	run := incompleteRun(t, dir)
	writeRun(t, run)
	data, err := os.ReadFile(filepath.Join(dir, SummaryJSONFile))
	if err != nil {
		t.Fatal(err)
	}
	var sj struct {
		Strategies []struct {
			Strategy     string  `json:"strategy"`
			OK           int     `json:"ok"`
			Failed       int     `json:"failed"`
			Interrupted  *int    `json:"interrupted"`
			Missing      *int    `json:"missing"`
			MissingSeeds []int64 `json:"missing_seeds"`
			Failures     []struct {
				Seed   int64  `json:"seed"`
				Status string `json:"status"`
			} `json:"failures"`
		} `json:"strategies"`
	}
	if err := json.Unmarshal(data, &sj); err != nil {
		t.Fatal(err)
	}
	if len(sj.Strategies) != 2 {
		t.Fatalf("summary.json has %d strategies:\n%s", len(sj.Strategies), data)
	}
	n, e := sj.Strategies[0], sj.Strategies[1]
	if n.OK != 1 || n.Failed != 1 || n.Interrupted == nil || *n.Interrupted != 1 || n.Missing == nil || *n.Missing != 0 ||
		len(n.Failures) != 2 || n.Failures[1].Status != StatusInterrupted {
		t.Errorf("summary.json's naive entry counts the interrupted seed as failed:\n%s", data)
	}
	if e.Missing == nil || *e.Missing != 1 || !reflect.DeepEqual(e.MissingSeeds, []int64{3}) {
		t.Errorf("summary.json's ewc entry lacks its missing seed 3:\n%s", data)
	}
	md, err := os.ReadFile(filepath.Join(dir, SummaryMDFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"- **Incomplete:** 4 of 6 runs finished (1 failed), 1 interrupted, 1 missing\n",
		"| Strategy | ok | failed | interrupted | missing | ACC |",
		"| naive | 1 | 1 | 1 | 0 | 0.707 ± n/a (n=1) |",
		"| ewc:lambda=100 | 2 | 0 | 0 | 1 | 0.883 ± 0.014 |",
		"- seed 2 (after 1 of 3 tasks): loss diverged",
		"- seed 3 interrupted (after 1 of 3 tasks): interrupted by signal",
		"Missing runs (no result yet): seed 3",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md)
		}
	}
}
