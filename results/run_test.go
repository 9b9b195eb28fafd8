package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clgraph/clgraph/runspec"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// metricsOf returns Metrics holding the given values.
func metricsOf(vals map[string]float64) *Metrics {
	var m Metrics
	for k, v := range vals {
		m.Set(k, v)
	}
	return &m
}

func mustCompute(t testing.TB, R [][]float64, b []float64) *Metrics {
	t.Helper()
	m, err := Compute(R, b)
	if err != nil {
		t.Fatal(err)
	}
	return &m
}

// testRun returns a run with two strategies × two seeds; seed 2 of "naive"
// failed after the first task. Results are in the order Read returns them.
func testRun(t testing.TB, dir string) *Run {
	tasks := []string{"0/1", "2/3", "4/5"}
	bl := []float64{0.5, 0.5, 0.5}
	naive1 := [][]float64{{0.99, 0.5, 0.5}, {0.6, 0.98, 0.5}, {0.55, 0.6, 0.97}}
	ewc1 := [][]float64{{0.99, 0.5, 0.5}, {0.9, 0.95, 0.5}, {0.85, 0.9, 0.93}}
	ewc2 := [][]float64{{0.98, 0.48, 0.52}, {0.88, 0.96, 0.5}, {0.8, 0.88, 0.94}}
	return &Run{
		Dir: dir,
		Config: Config{
			Schema:     SchemaVersion,
			CreatedAt:  time.Date(2025, 3, 14, 15, 9, 26, 535000000, time.UTC),
			Command:    []string{"clgraph", "run", "-stream", "split-mnist", "-strategies", "naive;ewc:lambda=100"},
			Tasks:      tasks,
			Seeds:      []int64{1, 2},
			Strategies: []string{"naive", "ewc:lambda=100"},
			Versions:   map[string]string{"go": "go1.26", "clgraph": "v0.1.0", "gorgonia": "v0.9.18"},
			Data:       DataInfo{Source: "data/mnist", Files: map[string]string{"train-images-idx3-ubyte": "abc123"}},
			Extra:      map[string]any{"note": "test", "warmup": 1.5, "flags": []any{"a", true}}, Spec: runspec.Spec{Stream: "split-mnist", Scenario: "class-il", Protocol: "single-head", ClassOrder: []int{0, 1, 2, 3, 4, 5}, Iterations: 500, Batch: 128, EvalBatch: 1000, LR: 0.001, Hidden: []int{400, 400}},
		},
		Results: []*Result{
			{
				Strategy: "naive", Seed: 1, Status: StatusOK, Tasks: tasks, R: naive1, B: bl,
				Metrics: mustCompute(t, naive1, bl),
				Cost:    Cost{TrainSeconds: 10.5, EvalSeconds: 1.25, Steps: 1500, StepsPerSecond: 142.857, SamplesPerSecond: 18285.7, Params: 478410, ParamsPerTask: []int{478410, 478410, 478410}, PeakRSSBytes: 1 << 28},
			},
			{
				Strategy: "naive", Seed: 2, Status: StatusFailed, Error: "loss diverged | step 412: NaN",
				Tasks: tasks, R: [][]float64{{0.97, 0.5, 0.49}}, B: bl,
				Cost: Cost{TrainSeconds: 3.5, Steps: 412},
			},
			{
				Strategy: "ewc:lambda=100", Seed: 1, Status: StatusOK, Tasks: tasks, R: ewc1, B: bl,
				Metrics: mustCompute(t, ewc1, bl),
				Cost:    Cost{TrainSeconds: 20, EvalSeconds: 1.5, Steps: 1500, StepsPerSecond: 75, SamplesPerSecond: 9600, Params: 478410, PeakRSSBytes: 3 << 27},
			},
			{
				Strategy: "ewc:lambda=100", Seed: 2, Status: StatusOK, Tasks: tasks, R: ewc2, B: bl,
				Metrics: mustCompute(t, ewc2, bl),
				Cost:    Cost{TrainSeconds: 22, EvalSeconds: 1.5, Steps: 1500, StepsPerSecond: 68.2, SamplesPerSecond: 8727, Params: 478410, PeakRSSBytes: 3 << 27},
			},
		},
	}
}

func writeRun(t testing.TB, run *Run) {
	t.Helper()
	if err := WriteConfig(run.Dir, run.Config); err != nil {
		t.Fatal(err)
	}
	// Write in an order different from the one Read returns.
	for i := len(run.Results) - 1; i >= 0; i-- {
		if err := WriteResult(run.Dir, run.Results[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteSummary(run); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	want := testRun(t, dir)
	writeRun(t, want)
	got, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", " ")
		wj, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("round trip differs:\ngot  %s\nwant %s", gj, wj)
	}
	for _, name := range []string{ConfigFile, SummaryJSONFile, SummaryMDFile,
		filepath.Join("naive", "seed-2", MatrixFile), filepath.Join(Slug("ewc:lambda=100"), "seed-1", BaselineFile)} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	// No temporary files are left behind.
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if strings.Contains(d.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", path)
		}
		return nil
	})
}

func TestCSVFiles(t *testing.T) {
	dir := t.TempDir()
	run := testRun(t, dir)
	writeRun(t, run)
	m, err := os.ReadFile(filepath.Join(ResultDir(dir, "naive", 2), MatrixFile))
	if err != nil {
		t.Fatal(err)
	}
	wantM := "after,0/1,2/3,4/5\n0/1,0.970000,0.500000,0.490000\n"
	if string(m) != wantM {
		t.Errorf("matrix.csv =\n%s\nwant\n%s", m, wantM)
	}
	b, err := os.ReadFile(filepath.Join(ResultDir(dir, "naive", 2), BaselineFile))
	if err != nil {
		t.Fatal(err)
	}
	wantB := "task,accuracy\n0/1,0.500000\n2/3,0.500000\n4/5,0.500000\n"
	if string(b) != wantB {
		t.Errorf("b.csv =\n%s\nwant\n%s", b, wantB)
	}
}

func TestNonFiniteRoundTrip(t *testing.T) {
	dir := t.TempDir()
	nan, inf := math.NaN(), math.Inf(1)
	cfg := Config{Tasks: []string{"a", "b"}, Seeds: []int64{7}, Strategies: []string{"sgd:lr=10"}}
	r := &Result{
		Strategy: "sgd:lr=10", Seed: 7, Status: StatusOK, Tasks: cfg.Tasks,
		R:       [][]float64{{0.9, nan}, {nan, math.Inf(-1)}},
		B:       []float64{0.5, 0.5},
		Metrics: metricsOf(map[string]float64{KeyACC: nan, KeyBWT: nan, KeyFWT: inf, KeyForgetting: nan, KeyLearningAccuracy: nan}),
		Cost:    Cost{TrainSeconds: 0, Steps: 10, StepsPerSecond: inf, SamplesPerSecond: nan},
	}
	if err := WriteConfig(dir, cfg); err != nil {
		t.Fatal(err)
	}
	if err := WriteResult(dir, r); err != nil {
		t.Fatal(err)
	}
	run := &Run{Dir: dir, Config: cfg, Results: []*Result{r}}
	if err := WriteSummary(run); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(ResultDir(dir, r.Strategy, r.Seed), ResultFile))
	if !bytes.Contains(raw, []byte(`"NaN"`)) || !bytes.Contains(raw, []byte(`"-Inf"`)) {
		t.Errorf("result.json does not encode NaN/-Inf as strings:\n%s", raw)
	}
	got, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	g := got.Results[0]
	same := func(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }
	for i := range r.R {
		for j := range r.R[i] {
			if !same(g.R[i][j], r.R[i][j]) {
				t.Errorf("R[%d][%d] = %v, want %v", i, j, g.R[i][j], r.R[i][j])
			}
		}
	}
	if !math.IsNaN(g.Metrics.Get(KeyACC)) || !math.IsInf(g.Metrics.Get(KeyFWT), 1) {
		t.Errorf("metrics = %+v", g.Metrics)
	}
	if !math.IsInf(g.Cost.StepsPerSecond, 1) || !math.IsNaN(g.Cost.SamplesPerSecond) || g.Cost.Steps != 10 {
		t.Errorf("cost = %+v", g.Cost)
	}
	// summary.json decodes, including NaN stats and matrix cells.
	var sj summaryJSON
	data, _ := os.ReadFile(filepath.Join(dir, SummaryJSONFile))
	if err := json.Unmarshal(data, &sj); err != nil {
		t.Fatal(err)
	}
	if len(sj.Strategies) != 1 || !math.IsNaN(sj.Strategies[0].Metrics.Get(KeyACC).Mean) || !math.IsNaN(sj.Strategies[0].MeanR[0][1]) {
		t.Errorf("summary.json = %s", data)
	}
}

func TestJFloatDecode(t *testing.T) {
	var xs []jfloat
	if err := json.Unmarshal([]byte(`[1.5, null, "NaN", "+Inf", "-Infinity", "0.25"]`), &xs); err != nil {
		t.Fatal(err)
	}
	f := fromJ(xs)
	if f[0] != 1.5 || !math.IsNaN(f[1]) || !math.IsNaN(f[2]) || !math.IsInf(f[3], 1) || !math.IsInf(f[4], -1) || f[5] != 0.25 {
		t.Errorf("decoded %v", f)
	}
	if err := json.Unmarshal([]byte(`["abc"]`), &xs); err == nil {
		t.Error("decoding \"abc\" succeeded")
	}
}

func TestReadErrors(t *testing.T) {
	setup := func(t *testing.T) string {
		dir := t.TempDir()
		writeRun(t, testRun(t, dir))
		return dir
	}
	t.Run("missing config", func(t *testing.T) {
		_, err := Read(t.TempDir())
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), ConfigFile) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("corrupt result", func(t *testing.T) {
		dir := setup(t)
		path := filepath.Join(ResultDir(dir, "naive", 1), ResultFile)
		os.WriteFile(path, []byte(`{"schema": "clgraph.run/v1", "r": [[0.5,`), 0o644)
		_, err := Read(dir)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "malformed JSON") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("corrupt config", func(t *testing.T) {
		dir := setup(t)
		path := filepath.Join(dir, ConfigFile)
		os.WriteFile(path, []byte(`not json`), 0o644)
		_, err := Read(dir)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "malformed JSON") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("wrong field type", func(t *testing.T) {
		dir := setup(t)
		path := filepath.Join(ResultDir(dir, "naive", 1), ResultFile)
		os.WriteFile(path, []byte(`{"schema": "clgraph.run/v1", "seed": "one"}`), 0o644)
		_, err := Read(dir)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("err = %v", err)
		}
	})
	schemaCases := []struct{ file, schema, want string }{
		{ConfigFile, "clgraph.run/v3", "newer"},
		{ConfigFile, "clgraph.run/v0", "unknown schema"},
		{ConfigFile, "something/else", "unknown schema"},
		{ConfigFile, "", "missing"},
		{ResultFile, "clgraph.run/v9", "newer"},
	}
	for _, c := range schemaCases {
		t.Run("schema "+c.file+" "+c.schema, func(t *testing.T) {
			dir := setup(t)
			path := filepath.Join(dir, ConfigFile)
			if c.file == ResultFile {
				path = filepath.Join(ResultDir(dir, "ewc:lambda=100", 2), ResultFile)
			}
			var m map[string]any
			data, _ := os.ReadFile(path)
			json.Unmarshal(data, &m)
			if c.schema == "" {
				delete(m, "schema")
			} else {
				m["schema"] = c.schema
			}
			data, _ = json.Marshal(m)
			os.WriteFile(path, data, 0o644)
			_, err := Read(dir)
			if !errors.Is(err, ErrUnsupportedSchema) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v", err)
			}
		})
	}
	t.Run("inconsistent result", func(t *testing.T) {
		dir := setup(t)
		r := testRun(t, dir).Results[0]
		r.R = append(r.R, []float64{1, 1, 1}) // 4 rows for 3 tasks
		WriteResult(dir, r)
		_, err := Read(dir)
		if err == nil || !strings.Contains(err.Error(), "4 rows but there are 3 tasks") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("bad status", func(t *testing.T) {
		dir := setup(t)
		r := testRun(t, dir).Results[0]
		r.Status = "done"
		WriteResult(dir, r)
		_, err := Read(dir)
		if err == nil || !strings.Contains(err.Error(), `status "done"`) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("duplicate", func(t *testing.T) {
		dir := setup(t)
		src := filepath.Join(ResultDir(dir, "naive", 1), ResultFile)
		data, _ := os.ReadFile(src)
		os.MkdirAll(filepath.Join(dir, "copy"), 0o755)
		os.WriteFile(filepath.Join(dir, "copy", ResultFile), data, 0o644)
		_, err := Read(dir)
		if err == nil || !strings.Contains(err.Error(), "duplicate") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestWriteConfigSchema(t *testing.T) {
	if err := WriteConfig(t.TempDir(), Config{Schema: "clgraph.run/v3"}); err == nil {
		t.Error("WriteConfig accepted a foreign schema")
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.txt")
	for _, s := range []string{"first", "second"} {
		if err := WriteFileAtomic(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); string(got) != s {
			t.Errorf("content = %q, want %q", got, s)
		}
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("perm = %v", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory has %d entries, want 1", len(entries))
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "f"), nil, 0o644); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

func TestSlug(t *testing.T) {
	specs := []string{
		"naive", "ewc", "EWC", "Ewc", "ewc:lambda=100", "ewc_lambda_100", "ewc_lambda-100",
		"ewc:lambda=100,online=true", "ewc:lambda=100;online=true", "ewc:lambda=1000",
		"ewc:Lambda=100", "si:c=0.1", "si:c=0_1", "si_c-0.1", "a/b", "a\\b", "a b", "a_b",
		"", ".", "..", "-x", "_x", "x.", "über", "uber",
		strings.Repeat("a", 64), strings.Repeat("a", 65), strings.Repeat("a", 64) + "b",
		strings.Repeat("x:", 40) + "1", strings.Repeat("x:", 40) + "2",
	}
	valid := regexp.MustCompile(`^[a-z0-9_][a-z0-9._-]*(\+[0-9a-f]{8})?$`)
	seen := map[string]string{}
	for _, s := range specs {
		slug := Slug(s)
		if !valid.MatchString(slug) || len(slug) > 64+9 {
			t.Errorf("Slug(%q) = %q is not a safe name", s, slug)
		}
		if Slug(s) != slug {
			t.Errorf("Slug(%q) is not deterministic", s)
		}
		key := strings.ToLower(slug) // case-insensitive file systems
		if prev, ok := seen[key]; ok {
			t.Errorf("Slug(%q) = Slug(%q) = %q", s, prev, slug)
		}
		seen[key] = s
	}
	for _, s := range []string{"naive", "ewc", "si_c-0.1", "lwf-2"} {
		if Slug(s) != s {
			t.Errorf("Slug(%q) = %q, want unchanged", s, Slug(s))
		}
	}
	if got := Slug("ewc:lambda=100"); !strings.HasPrefix(got, "ewc_lambda-100+") {
		t.Errorf("Slug(ewc:lambda=100) = %q", got)
	}
}

func TestSummary(t *testing.T) {
	run := testRun(t, "")
	// Put results out of order and add one for a strategy not in the config.
	run.Results = append([]*Result{run.Results[3], {Strategy: "extra", Seed: 1, Status: StatusFailed, Error: "boom"}}, run.Results[:3]...)
	run.Config.Strategies = append(run.Config.Strategies, "never-ran")
	sums := run.Summary()
	var names []string
	for _, s := range sums {
		names = append(names, s.Strategy)
	}
	if want := []string{"naive", "ewc:lambda=100", "never-ran", "extra"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("order = %v, want %v", names, want)
	}
	naive, ewc := sums[0], sums[1]
	if naive.OK != 1 || naive.Failed != 1 || naive.Metrics.Get(KeyACC).N != 1 || len(naive.Failures) != 1 || naive.Failures[0].TasksDone != 1 {
		t.Errorf("naive summary = %+v", naive)
	}
	// ewc ACC: seed 1 (0.85+0.9+0.93)/3 = 0.893333, seed 2 (0.8+0.88+0.94)/3 = 0.873333.
	if acc := ewc.Metrics.Get(KeyACC); ewc.OK != 2 || !near(acc.Mean, 0.8833333333333333) || acc.N != 2 {
		t.Errorf("ewc ACC = %+v", acc)
	}
	// Mean matrix cell R[2][0] = (0.85 + 0.8) / 2.
	if ewc.MeanRCount != 2 || !near(ewc.MeanR[2][0], 0.825) {
		t.Errorf("ewc MeanR = %v", ewc.MeanR)
	}
	if !near(ewc.Cost.TrainSeconds.Mean, 21) || ewc.Cost.Params.Mean != 478410 || ewc.Cost.Params.Std != 0 {
		t.Errorf("ewc cost = %+v", ewc.Cost)
	}
	if sums[2].OK != 0 || sums[2].Failed != 0 || sums[2].MeanR != nil {
		t.Errorf("never-ran = %+v", sums[2])
	}
}

func TestMarkdownSummary(t *testing.T) {
	md := MarkdownSummary(testRun(t, ""))
	for _, want := range []string{
		"# clgraph run: split-mnist / class-il",
		"- **Protocol:** single-head",
		"- **Seeds:** 1, 2",
		// ewc ACC 0.8833 ± std of {0.893333, 0.873333} = 0.014142.
		"| ewc:lambda=100 | 2 | 0 | 0.883 ± 0.014 |",
		// naive ACC over one seed: (0.55+0.6+0.97)/3 = 0.706667.
		"| naive | 1 | 1 | 0.707 ± n/a (n=1) |",
		// ewc mean matrix, row after 4/5: (0.85+0.8)/2, (0.9+0.88)/2, (0.93+0.94)/2.
		"| 4/5 | 0.825 | 0.890 | 0.935 |",
		"- seed 2 (after 1 of 3 tasks): loss diverged \\| step 412: NaN",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md)
		}
	}
}

func TestGoldenSummary(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, testRun(t, dir))
	got, err := os.ReadFile(filepath.Join(dir, SummaryMDFile))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "summary.md")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGoldenSummary -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("summary.md differs from %s (run with -update if intended):\n%s", golden, got)
	}
}

func FuzzRead(f *testing.F) {
	dir := f.TempDir()
	writeRun(f, testRun(f, dir))
	cfg, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
	res, _ := os.ReadFile(filepath.Join(ResultDir(dir, "naive", 2), ResultFile))
	f.Add(cfg, res)
	f.Add(cfg, []byte(`{"schema":"clgraph.run/v1","status":"ok","tasks":["a"],"r":[["NaN"]],"b":[null]}`))
	f.Add(cfg, []byte(`{"schema":"clgraph.run/v1","status":"failed","tasks":[],"r":[[]]}`))
	f.Add([]byte(`{"schema":"clgraph.run/v1","tasks":["x","y"],"strategies":["s"]}`), []byte(`{"schema":"clgraph.run/v1","strategy":"s","status":"ok","tasks":["a"],"r":[[1]]}`))
	f.Add([]byte(`{"schema":"clgraph.run/v2"}`), []byte(`null`))
	f.Add([]byte(`{`), []byte(`[]`))
	// One directory per fuzzing process, overwritten on every input: much
	// faster than a fresh t.TempDir per input. It is in memory (/dev/shm)
	// where there is one: writing the two files to a busy disk cost more than
	// all the rest of an execution. A file the input leaves unchanged (the
	// mutator often changes one argument only) is not written again.
	fdir := memTempDir(f)
	rd := filepath.Join(fdir, "s", "seed-1")
	if err := os.MkdirAll(rd, 0o755); err != nil {
		f.Fatal(err)
	}
	var lastCfg, lastRes []byte
	write := func(t *testing.T, path string, data []byte, last *[]byte) {
		if *last != nil && bytes.Equal(*last, data) {
			return
		}
		*last = nil
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		*last = append([]byte{}, data...)
	}
	f.Fuzz(func(t *testing.T, cfg, res []byte) {
		write(t, filepath.Join(fdir, ConfigFile), cfg, &lastCfg)
		write(t, filepath.Join(rd, ResultFile), res, &lastRes)
		run, err := Read(fdir)
		if err != nil {
			return
		}
		// Whatever Read accepts must be summarisable and renderable.
		for _, s := range run.Summary() {
			if _, err := json.Marshal(s); err != nil {
				t.Errorf("encoding summary: %v", err)
			}
		}
		_ = MarkdownSummary(run)
	})
}

// memTempDir returns a new directory in /dev/shm (a file system in memory) when there is one,
// removed when tb ends, else tb.TempDir().
func memTempDir(tb testing.TB) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "clgraph-fuzz-"); err == nil {
			tb.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return tb.TempDir()
}

// TestResultCapacityRoundTrip: a strategy's capacity (hat) survives result.json; a result
// without one writes no "capacity" key.
func TestResultCapacityRoundTrip(t *testing.T) {
	r := Result{Strategy: "hat", Seed: 1, Status: StatusOK, Tasks: []string{"a", "b"}, R: [][]float64{{1, 0.5}, {1, 1}}, B: []float64{0.5, 0.5},
		Capacity: &Capacity{Of: "hidden units", Task: []float64{0.25, 0.125}, Cumulative: []float64{0.25, 0.3125}}}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Capacity == nil || !reflect.DeepEqual(*back.Capacity, *r.Capacity) {
		t.Errorf("capacity after a round trip: %+v, want %+v (%s)", back.Capacity, r.Capacity, data)
	}
	r.Capacity = nil
	if data, _ = json.Marshal(r); strings.Contains(string(data), "capacity") {
		t.Errorf("a result without capacity writes one: %s", data)
	}
}
