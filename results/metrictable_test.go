package results

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// minFinal is a test-only metric: the lowest final accuracy of any task,
// undefined with fewer than 3 tasks. Registering it must be all it takes to
// see it in every file and table.
var minFinal = Metric{
	Key: "test_min_final", Label: "Min final", Doc: "lowest final accuracy of any task",
	Headline: true,
	Undefined: func(in Input) string {
		if in.T() < 3 {
			return "needs 3 tasks in this test"
		}
		return ""
	},
	Value: func(in Input) float64 { return slices.Min(in.R[in.T()-1]) },
}

// withMetric appends m to Table for the duration of the test.
func withMetric(t testing.TB, m Metric) {
	t.Helper()
	old := Table
	Table = append(slices.Clip(old), m)
	t.Cleanup(func() { Table = old })
}

func TestTableValid(t *testing.T) {
	key := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	seen := map[string]bool{}
	primary := 0
	for _, m := range Table {
		if !key.MatchString(m.Key) || m.Key == undefinedKey || seen[m.Key] {
			t.Errorf("metric key %q is invalid, reserved or duplicate", m.Key)
		}
		seen[m.Key] = true
		if m.Label == "" || m.Doc == "" || strings.HasSuffix(m.Doc, ".") || m.Value == nil {
			t.Errorf("metric %q: needs a label, a doc without a final period and a Value function", m.Key)
		}
		if m.Primary {
			primary++
		}
	}
	if primary != 1 {
		t.Errorf("%d metrics are Primary, want exactly 1", primary)
	}
	// The keys of files written so far never change.
	var keys []string
	for _, m := range Table {
		keys = append(keys, m.Key)
	}
	if want := []string{"acc", "bwt", "fwt", "forgetting", "learning_accuracy"}; !slices.Equal(keys[:len(want)], want) {
		t.Errorf("keys = %v, want %v first", keys, want)
	}
	if PrimaryMetric().Key != KeyACC || len(HeadlineMetrics()) != 4 {
		t.Errorf("primary %q, %d headline metrics", PrimaryMetric().Key, len(HeadlineMetrics()))
	}
	if m, ok := LookupMetric(KeyFWT); !ok || m.Label != "FWT" {
		t.Errorf("LookupMetric(fwt) = %+v, %v", m, ok)
	}
}

func TestComputeSingleTaskUndefined(t *testing.T) {
	// BWT, FWT and forgetting are undefined for one task, with the reason
	// (files written before recorded them as 0).
	m, err := Compute([][]float64{{0.7}}, []float64{0.1})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{KeyBWT, KeyFWT, KeyForgetting} {
		mt, _ := LookupMetric(k)
		if v, ok := m.Lookup(k); ok || !strings.Contains(m.Reason(k), "at least 2 tasks") {
			t.Errorf("%s = %v, %v, %q; want undefined: needs at least 2 tasks", k, v, ok, m.Reason(k))
		}
		if mt.Undefined == nil || !strings.Contains(mt.Undefined(Input{R: [][]float64{{0.7}}}), "at least 2 tasks") {
			t.Errorf("%s: the table does not say it needs 2 tasks", k)
		}
	}
}

func TestMetricsValueSemantics(t *testing.T) {
	m := *mustCompute(t, r1, b1)
	c := m
	c.Set(KeyACC, 0.5)
	c.SetUndefined(KeyBWT, "why")
	if m.Get(KeyACC) != ACC(r1) || m.Reason(KeyBWT) != "" || !near(m.Get(KeyBWT), -0.25) {
		t.Errorf("changing a copy changed the original: %v", m)
	}
	if c.Get(KeyACC) != 0.5 || c.Reason(KeyBWT) != "why" || !math.IsNaN(c.Get(KeyBWT)) {
		t.Errorf("copy = %v", c)
	}
	c.Set(KeyBWT, 1)
	if c.Reason(KeyBWT) != "" || c.Get(KeyBWT) != 1 {
		t.Errorf("Set does not clear the reason: %v", c)
	}
	if got := c.String(); !strings.HasPrefix(got, "acc=0.5 bwt=1 fwt=") {
		t.Errorf("String() = %q", got)
	}
}

func TestMetricsJSON(t *testing.T) {
	var m Metrics
	m.Set(KeyFWT, 0.25)
	m.Set(KeyACC, math.NaN())
	m.SetUndefined(KeyBWT, "no reason")
	m.Set("zz_newer", 1) // a metric of a newer table: kept and written back
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"acc":"NaN","bwt":null,"fwt":0.25,"zz_newer":1,"undefined":{"bwt":"no reason"}}`
	if string(data) != want {
		t.Errorf("JSON = %s, want %s", data, want)
	}
	var got Metrics
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(got)
	if string(again) != want {
		t.Errorf("round trip = %s, want %s", again, want)
	}
	if err := json.Unmarshal([]byte(`{"acc": "x"}`), &got); err == nil || !strings.Contains(err.Error(), "metrics.acc") {
		t.Errorf("bad value: err = %v", err)
	}
	var st MetricStats
	if err := json.Unmarshal([]byte(`{"zz":{"mean":1,"std":0,"n":1},"acc":{"mean":0,"std":0,"n":0,"undefined":"r"}}`), &st); err != nil {
		t.Fatal(err)
	}
	if data, _ := json.Marshal(st); string(data) != `{"acc":{"mean":0,"std":0,"n":0,"undefined":"r"},"zz":{"mean":1,"std":0,"n":1}}` {
		t.Errorf("MetricStats JSON = %s", data)
	}
}

// TestExtraMetric registers a metric and checks that it reaches result.json,
// Read, summary.json, summary.md and the terminal table with no other change.
func TestExtraMetric(t *testing.T) {
	withMetric(t, minFinal)
	dir := t.TempDir()
	run := testRun(t, dir) // computes the metrics with the extended table
	writeRun(t, run)

	// result.json: ewc seed 1's last row is 0.85, 0.9, 0.93.
	raw, err := os.ReadFile(filepath.Join(ResultDir(dir, "ewc:lambda=100", 1), ResultFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(`"test_min_final": 0.85`)) {
		t.Errorf("result.json lacks the metric:\n%s", raw)
	}
	got, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v := got.Results[2].Metrics.Get("test_min_final"); v != 0.85 {
		t.Errorf("read back %v", v)
	}

	// summary.json: the listing and the aggregate (0.85 and 0.8 over ewc's seeds).
	var sj struct {
		Metrics []struct {
			Key, Label, Doc string
			Headline        bool
		}
		Strategies []StrategySummary
	}
	data, _ := os.ReadFile(filepath.Join(dir, SummaryJSONFile))
	if err := json.Unmarshal(data, &sj); err != nil {
		t.Fatal(err)
	}
	if n := len(sj.Metrics); n != 8 || sj.Metrics[7].Key != "test_min_final" || sj.Metrics[7].Label != "Min final" || !sj.Metrics[7].Headline || sj.Metrics[0].Label != "ACC" {
		t.Errorf("summary.json metrics listing = %+v", sj.Metrics)
	}
	if st := sj.Strategies[1].Metrics.Get("test_min_final"); st.N != 2 || !near(st.Mean, 0.825) {
		t.Errorf("summary.json ewc test_min_final = %+v", st)
	}

	// summary.md: a column.
	md, _ := os.ReadFile(filepath.Join(dir, SummaryMDFile))
	for _, want := range []string{"| Forgetting | Learning acc. | Intransigence | Min final |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n", "| 0.825 ± 0.035 |\n"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("summary.md lacks %q:\n%s", want, md)
		}
	}
	// The terminal table: a column.
	var b strings.Builder
	WriteTable(&b, run)
	if head := strings.Split(b.String(), "\n")[3]; !strings.Contains(head, "  Learning acc       Intransigence  Min final          ") || !strings.Contains(b.String(), "0.825 ± 0.035") {
		t.Errorf("table lacks the metric:\n%s", b.String())
	}
}

// TestExtraMetricUndefined checks that an undefined metric is recorded with
// its reason, left out of the means and explained in summary.md.
func TestExtraMetricUndefined(t *testing.T) {
	withMetric(t, minFinal)
	dir := t.TempDir()
	tasks := []string{"a", "b"}
	R := [][]float64{{0.9, 0.5}, {0.8, 0.7}}
	run := &Run{Dir: dir, Config: Config{Tasks: tasks, Seeds: []int64{1}, Strategies: []string{"naive"}},
		Results: []*Result{{Strategy: "naive", Seed: 1, Status: StatusOK, Tasks: tasks, R: R, B: []float64{0.5, 0.5}, Metrics: mustCompute(t, R, []float64{0.5, 0.5})}}}
	writeRun(t, run)
	raw, _ := os.ReadFile(filepath.Join(ResultDir(dir, "naive", 1), ResultFile))
	if !bytes.Contains(raw, []byte(`"test_min_final": null`)) || !bytes.Contains(raw, []byte(`"test_min_final": "needs 3 tasks in this test"`)) {
		t.Errorf("result.json:\n%s", raw)
	}
	got, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := got.Results[0].Metrics
	if _, ok := m.Lookup("test_min_final"); ok || m.Reason("test_min_final") != "needs 3 tasks in this test" || m.Get(KeyACC) != 0.75 {
		t.Errorf("read back %v", m)
	}
	st := got.Summary()[0].Metrics.Get("test_min_final")
	if st.N != 0 || st.Undefined != "needs 3 tasks in this test" || st.String() != Undef {
		t.Errorf("aggregate = %+v", st)
	}
	data, _ := os.ReadFile(filepath.Join(dir, SummaryJSONFile))
	if !bytes.Contains(data, []byte(`"undefined": "needs 3 tasks in this test"`)) {
		t.Errorf("summary.json:\n%s", data)
	}
	md, _ := os.ReadFile(filepath.Join(dir, SummaryMDFile))
	for _, want := range []string{"| 0.800 ± n/a (n=1) | — | — |\n", "Undefined metrics (left out of the means):\n\n", "- naive, Min final: needs 3 tasks in this test\n"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("summary.md lacks %q:\n%s", want, md)
		}
	}
}

func TestWriteTable(t *testing.T) {
	run := testRun(t, "")
	run.Results = append(run.Results, &Result{Strategy: "ewc:lambda=100", Seed: 3, Status: StatusInterrupted, Tasks: run.Config.Tasks},
		&Result{Strategy: "joint", Seed: 1, Status: StatusFailed, Error: "boom"})
	var b strings.Builder
	if err := WriteTable(&b, run); err != nil {
		t.Fatal(err)
	}
	// One seed: no spread; undefined metrics are "—" with the reasons below; the
	// paired tests (here with too few common seeds) follow.
	want := `
split-mnist, class-il-IL, single-head protocol (500 iterations/task), seeds [1 2]: mean ± std over seeds

strategy        seeds              ACC                BWT                 FWT                 Forgetting         Learning acc       Intransigence  train s  steps/s  params  
naive           1 (1 failed)       0.707 ± n/a (n=1)  -0.410 ± n/a (n=1)  —                   0.410 ± n/a (n=1)  0.980 ± n/a (n=1)  —              10.5     143      478410  
ewc:lambda=100  2 (1 interrupted)  0.883 ± 0.014      -0.112 ± 0.025      -0.010 ± n/a (n=1)  0.112 ± 0.025      0.958 ± 0.002      —              21.0     72       478410  
joint           0 (1 failed)       -                  -                   -                   -                  -                  -              -        -        -       

— undefined:
  naive, FWT: unseen tasks scored exactly at baseline: FWT 0 by construction
  naive, Intransigence: no joint run of the same seed in the folder
  ewc:lambda=100, FWT: unseen tasks scored exactly at baseline: FWT 0 by construction (for some results; the mean is over the other 1)
  ewc:lambda=100, Intransigence: no joint run of the same seed in the folder

paired t-tests (A − B, 95% CI, Holm-corrected p):
  naive vs ewc:lambda=100, ACC: -0.187, undefined: needs at least 2 common seeds (n = 1)
  naive vs ewc:lambda=100, BWT: -0.315, undefined: needs at least 2 common seeds (n = 1)
`
	if b.String() != want {
		t.Errorf("table =\n%s\nwant\n%s", b.String(), want)
	}
}

// A task-IL strategy that ran with one shared head is labelled so in the table and summary.md;
// one with a head per task, or outside task-IL, is not.
func TestSharedHeadLabel(t *testing.T) {
	run := testRun(t, "")
	run.Config.Spec.Scenario = "task"
	for _, r := range run.Results {
		r.Resolved = map[string]string{"heads": "multi"}
		if r.Strategy == "naive" {
			r.Resolved["heads"] = "single"
		}
	}
	var b strings.Builder
	if err := WriteTable(&b, run); err != nil {
		t.Fatal(err)
	}
	md := MarkdownSummary(run)
	for _, out := range []string{b.String(), md} {
		if !strings.Contains(out, "naive (task-IL, shared head)") {
			t.Errorf("no shared-head label for naive:\n%s", out)
		}
		if strings.Contains(out, "ewc:lambda=100 (task-IL") {
			t.Errorf("multi-head ewc labelled shared:\n%s", out)
		}
	}
	run.Config.Spec.Scenario = "domain"
	if s := run.Summary()[0]; s.Note != "" {
		t.Errorf("domain-IL naive has note %q", s.Note)
	}
}

// Validation ACC is computed from r_val when results have one and shown only then.
func TestValidationACC(t *testing.T) {
	run := testRun(t, "")
	var b strings.Builder
	if err := WriteTable(&b, run); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "Val. ACC") {
		t.Errorf("Val. ACC shown without validation splits:\n%s", b.String())
	}
	for _, r := range run.Results {
		if r.Status == StatusOK {
			r.RVal = [][]float64{{0.9, 0.5, 0.5}, {0.8, 0.9, 0.5}, {0.7, 0.8, 0.9}}
		}
	}
	b.Reset()
	if err := WriteTable(&b, run); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "Val. ACC") || !strings.Contains(MarkdownSummary(run), "Val. ACC") {
		t.Errorf("Val. ACC not shown with validation splits:\n%s", b.String())
	}
	if st := run.Summary()[1].Metrics.Get(KeyValACC); st.N != 2 || !near(st.Mean, 0.8) {
		t.Errorf("ewc val_acc = %+v, want mean 0.8 over 2", st)
	}
	run.Results[0].RVal = [][]float64{{0.9}}
	if st := run.Summary()[0].Metrics.Get(KeyValACC); st.N != 0 || !strings.Contains(st.Undefined, "not 3×3") {
		t.Errorf("naive val_acc with a bad matrix = %+v", st)
	}
}
