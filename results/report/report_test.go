package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clgraph/clgraph/runspec"

	"github.com/clgraph/clgraph/results"
)

// synthRun builds a run in memory: T tasks, every strategy with every seed,
// accuracies that depend on strategy, seed and position.
func synthRun(dir, scenario string, T int, specs []string, seeds []int64) *results.Run {
	tasks := make([]string, T)
	for i := range tasks {
		tasks[i] = fmt.Sprintf("%d/%d", 2*i, 2*i+1)
	}
	run := &results.Run{Dir: dir, Config: results.Config{
		Schema: results.SchemaVersion, CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Command: []string{"clgraph", "run", "--seeds", "1,2", "--out", dir}, Tasks: tasks, Seeds: seeds, Strategies: specs,
		Versions: map[string]string{"go": "go1.26", "gorgonia.org/gorgonia": "v0.9.18"},
		Data:     results.DataInfo{Source: "synthetic", Files: map[string]string{"train-images-idx3-ubyte.gz": "abc123"}},
		Extra:    map[string]any{"test_limit": 0, "train_limit": 0}, Spec: runspec.Spec{Stream: "split-mnist", Scenario: scenario, Protocol: "quick", Iterations: 30, Batch: 128, EvalBatch: 1000, LR: 0.001, Hidden: []int{64}},
	}}
	for si, spec := range specs {
		for _, seed := range seeds {
			R := make([][]float64, T)
			for i := range R {
				R[i] = make([]float64, T)
				for j := range R[i] {
					v := 0.5 + 0.05*float64(si) + 0.01*float64(seed%7)
					if j <= i {
						v = 0.97 - 0.1*float64(i-j)/float64(si+1) - 0.005*float64(seed%5)
					}
					R[i][j] = math.Max(0, math.Min(1, v))
				}
			}
			b := make([]float64, T)
			for j := range b {
				b[j] = 0.5
			}
			m, err := results.Compute(R, b)
			if err != nil {
				panic(err)
			}
			run.Results = append(run.Results, &results.Result{
				Strategy: spec, Seed: seed, Status: results.StatusOK, Tasks: tasks, R: R, B: b, Metrics: &m,
				Cost: results.Cost{TrainSeconds: 1.5 + float64(si), EvalSeconds: 0.4, Steps: 30 * T, StepsPerSecond: 100,
					Params: 50370 + si, PeakRSSBytes: 400 << 20},
			})
		}
	}
	return run
}

var (
	dataPNG     = regexp.MustCompile(`<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"`)
	externalURL = regexp.MustCompile(`(?i)(src|href|action|srcset|poster|data)\s*=\s*["']?\s*(https?:|ftp:|//)|url\(|@import`)
)

// checkHTML checks that page is self-contained and returns its images.
func checkHTML(t *testing.T, page string) [][]byte {
	t.Helper()
	if m := externalURL.FindString(page); m != "" {
		t.Errorf("report.html refers to an external resource: %q", m)
	}
	if !strings.Contains(page, `<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; img-src data:; style-src &#39;unsafe-inline&#39;; script-src &#39;sha256-`) {
		t.Errorf("report.html lacks the Content-Security-Policy meta tag")
	}
	// The CSP allows exactly the page's script.
	i, j := strings.Index(page, "<script>"), strings.Index(page, "</script>")
	if i < 0 || j < i || strings.Count(page, "<script") != 1 {
		t.Fatalf("report.html should have exactly one inline script")
	}
	sum := sha256.Sum256([]byte(page[i+len("<script>") : j]))
	if h := base64.StdEncoding.EncodeToString(sum[:]); !strings.Contains(page, "sha256-"+h) {
		t.Errorf("the CSP does not allow the page's script (hash %s)", h)
	}
	var imgs [][]byte
	for _, m := range dataPNG.FindAllStringSubmatch(page, -1) {
		data, err := base64.StdEncoding.DecodeString(m[1])
		if err != nil {
			t.Fatalf("inline image: %v", err)
		}
		if _, err := png.Decode(bytes.NewReader(data)); err != nil {
			t.Fatalf("inline image is not a PNG: %v", err)
		}
		imgs = append(imgs, data)
	}
	if n := strings.Count(page, "<img"); n != len(imgs) {
		t.Errorf("report.html has %d <img> but %d inline PNGs", n, len(imgs))
	}
	return imgs
}

func TestWriteSyntheticRun(t *testing.T) {
	specs := []string{"naive", "ewc:lambda=100,online=true", "joint"}
	run := synthRun(t.TempDir(), "task", 4, specs, []int64{1, 2, 3})
	for _, r := range run.Results {
		if r.Strategy == specs[1] {
			r.Resolved = map[string]string{"lambda": "100"}
		}
	}
	// One failed seed with a partial matrix: listed, not plotted.
	run.Results = append(run.Results, &results.Result{Strategy: "naive", Seed: 9, Status: results.StatusFailed,
		Error: "loss is NaN at step 17", Tasks: run.Config.Tasks, R: [][]float64{{0.9, 0.5, 0.5, 0.5}}})
	out := filepath.Join(t.TempDir(), "report")
	files, err := Write([]*results.Run{run}, out)
	if err != nil {
		t.Fatal(err)
	}
	if files.HTML != filepath.Join(out, HTMLFile) || files.Markdown != filepath.Join(out, MarkdownFile) {
		t.Errorf("Files = %+v", files)
	}
	// 3 heatmaps and their side-by-side panel, the average accuracy curve, the per-task
	// panels, the metrics bars, the stability/plasticity scatter.
	const plots = 8
	if len(files.PNG) != plots || len(files.SVG) != plots || len(files.PDF) != plots {
		t.Fatalf("got %d PNG, %d SVG and %d PDF files, want %d each: %v %v", len(files.PNG), len(files.SVG), len(files.PDF), plots, files.PNG, files.SVG)
	}
	for _, f := range files.PDF {
		if data, err := os.ReadFile(f); err != nil || !bytes.HasPrefix(data, []byte("%PDF-")) {
			t.Errorf("%s is not a PDF (%v)", f, err)
		}
	}
	page, err := os.ReadFile(files.HTML)
	if err != nil {
		t.Fatal(err)
	}
	imgs := checkHTML(t, string(page))
	if len(imgs) != plots {
		t.Errorf("report.html has %d inline images, want %d", len(imgs), plots)
	}
	inlined := map[string]bool{}
	for _, img := range imgs {
		inlined[string(img)] = true
	}
	for _, p := range files.PNG {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(bytes.NewReader(data)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		if !inlined[string(data)] {
			t.Errorf("%s is not inlined in report.html", p)
		}
	}
	for _, p := range files.SVG {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(data, []byte("<svg")) || !bytes.HasSuffix(bytes.TrimSpace(data), []byte("</svg>")) {
			t.Errorf("%s is not an SVG document", p)
		}
	}
	md, err := os.ReadFile(files.Markdown)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append(append([]string{}, files.PNG...), files.SVG...) {
		if !bytes.Contains(md, []byte("("+filepath.Base(p)+")")) {
			t.Errorf("report.md does not link %s", filepath.Base(p))
		}
	}
	// The heatmap numbers: in the SVG cells (2 decimals) and in report.md's tables (3 decimals).
	sums := run.Summary()
	for k, s := range sums {
		svg, err := os.ReadFile(files.SVG[k])
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(filepath.Base(files.SVG[k]), results.Slug(s.Strategy)) {
			t.Fatalf("SVG %d is %s, want the heatmap of %s", k, files.SVG[k], s.Strategy)
		}
		for _, row := range s.MeanR {
			for _, v := range row {
				if cell := fmt.Sprintf("%.2f", v); !bytes.Contains(svg, []byte(">"+cell+"<")) {
					t.Errorf("heatmap of %s lacks the cell %s", s.Strategy, cell)
				}
				if cell := fmt.Sprintf(" %.3f |", v); !bytes.Contains(md, []byte(cell)) {
					t.Errorf("report.md lacks the matrix entry%s of %s", cell, s.Strategy)
				}
			}
		}
	}
	for _, want := range []string{
		"loss is NaN at step 17",                                                                     // the failure
		sums[0].Metrics.Get(results.KeyACC).Format(3), sums[1].Metrics.Get(results.KeyBWT).Format(3), // metrics table
		"50371",                                  // parameters in the cost table
		"400 ± 0",                                // peak RSS in MiB
		"abc123",                                 // data checksum
		"go1.26",                                 // versions
		"--seeds 1,2",                            // command
		"ewc:lambda=100,online=true",             // spec as is in the HTML
		"ewc:lambda=100,online=true: lambda=100", // resolved options, once for 3 seeds
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	for _, want := range []string{"loss is NaN at step 17", "`clgraph run --seeds 1,2 --out", "| Peak RSS (MiB) |", "ewc:lambda=100,online=true", "**Resolved options:** ewc:lambda=100,online=true: lambda=100\n"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if strings.Contains(string(page), "(run 1)") {
		t.Errorf("a single run's strategies should not be labelled by run")
	}
}

func TestWriteLabelsSameStrategyByRun(t *testing.T) {
	a := synthRun("/runs/a", "class", 3, []string{"naive", "joint"}, []int64{1, 2})
	b := synthRun("/runs/b", "class", 3, []string{"naive", "ewc"}, []int64{7})
	b.Config.CreatedAt = a.Config.CreatedAt.Add(48 * time.Hour)
	b.Config.Versions["gorgonia.org/gorgonia"] = "v0.9.19"
	files, err := Write([]*results.Run{a, b}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(files.HTML)
	md, _ := os.ReadFile(files.Markdown)
	for _, want := range []string{"naive (run 1)", "naive (run 2)", "/runs/a", "/runs/b"} {
		if !strings.Contains(string(page), want) || !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, unlabelled := range []string{"joint (run", "ewc (run"} {
		if strings.Contains(string(page), unlabelled) {
			t.Errorf("%q: a strategy in one run only should keep its plain name", unlabelled)
		}
	}
	// 4 heatmaps, their panel and 4 comparison plots.
	if n := len(checkHTML(t, string(page))); n != 9 {
		t.Errorf("%d images, want 9", n)
	}
}

func TestWriteRefusesMismatch(t *testing.T) {
	base := func() *results.Run { return synthRun("/runs/a", "task", 3, []string{"naive"}, []int64{1}) }
	cases := []struct {
		field  string
		change func(c *results.Config)
		want   string
	}{
		{"scenario", func(c *results.Config) { c.Spec.Scenario = "class" }, `run 2 (/runs/b) has scenario "class", run 1 (/runs/a) has "task": reports compare runs of one stream, scenario and protocol`},
		{"stream", func(c *results.Config) { c.Spec.Stream = "permuted-mnist" }, `has stream "permuted-mnist"`},
		{"protocol", func(c *results.Config) { c.Spec.Protocol = "paper" }, `has protocol "paper", run 1 (/runs/a) has "quick"`},
		{"iterations", func(c *results.Config) { c.Spec.Iterations = 31 }, "has iterations 31, run 1 (/runs/a) has 30"},
		{"lr", func(c *results.Config) { c.Spec.LR = 0.01 }, "has learning rate (lr) 0.01"},
		{"hidden", func(c *results.Config) { c.Spec.Hidden = []int{400, 400} }, "has hidden 400,400, run 1 (/runs/a) has 64"},
		{"batch", func(c *results.Config) { c.Spec.Batch = 64 }, "has batch size (batch) 64"},
		{"tasks", func(c *results.Config) { c.Tasks = []string{"1/0", "2/3", "4/5"} }, "has tasks [1/0 2/3 4/5]"},
		{"train_limit", func(c *results.Config) { c.Spec.TrainLimit = 100 }, "has train limit 100"},
		{"data", func(c *results.Config) { c.Data.Files["train-images-idx3-ubyte.gz"] = "def456" }, "has data file train-images-idx3-ubyte.gz with SHA-256 def456, run 1 (/runs/a) has abc123"},
	}
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			a, b := base(), base()
			b.Dir = "/runs/b"
			tc.change(&b.Config)
			out := filepath.Join(t.TempDir(), "report")
			_, err := Write([]*results.Run{a, b}, out)
			if !errors.Is(err, ErrMismatch) {
				t.Fatalf("err = %v, want ErrMismatch", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to contain %q", err, tc.want)
			}
			if _, serr := os.Stat(out); serr == nil {
				t.Errorf("Write created %s despite the mismatch", out)
			}
		})
	}
	// What may differ: seeds, strategies, versions, eval batch, data source, a missing extra entry.
	a, b := base(), synthRun("/runs/b", "task", 3, []string{"joint"}, []int64{5, 6})
	b.Config.Spec.EvalBatch = 10
	b.Config.Data.Source = "elsewhere"
	b.Config.Versions = nil
	delete(b.Config.Extra, "test_limit")
	if err := Check([]*results.Run{a, b}); err != nil {
		t.Errorf("compatible runs refused: %v", err)
	}
	if err := Check(nil); err == nil || errors.Is(err, ErrMismatch) {
		t.Errorf("Check(nil) = %v, want a plain error", err)
	}
}

func TestWriteEdgeCases(t *testing.T) {
	one := synthRun("/runs/one", "task", 1, []string{"naive"}, []int64{1})
	empty := synthRun("/runs/empty", "task", 3, []string{"naive", "joint"}, nil)
	failed := synthRun("/runs/failed", "task", 3, []string{"naive"}, []int64{1})
	failed.Results = append(failed.Results, &results.Result{Strategy: "ewc", Seed: 1, Status: results.StatusFailed, Error: "diverged", Tasks: failed.Config.Tasks})
	failed.Config.Strategies = append(failed.Config.Strategies, "ewc")
	nan := synthRun("/runs/nan", "task", 2, []string{"naive"}, []int64{1, 2})
	nan.Results[0].R[1][0] = math.NaN()
	nan.Results[0].Metrics.Set(results.KeyACC, math.NaN())
	for name, run := range map[string]*results.Run{"one task": one, "no results": empty, "all seeds failed": failed, "NaN": nan} {
		t.Run(name, func(t *testing.T) {
			files, err := Write([]*results.Run{run}, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			page, err := os.ReadFile(files.HTML)
			if err != nil {
				t.Fatal(err)
			}
			imgs := checkHTML(t, string(page))
			if len(imgs) != len(files.PNG) {
				t.Errorf("%d inline images, %d PNG files", len(imgs), len(files.PNG))
			}
		})
	}
}

func TestWriteRemovesStaleHeatmaps(t *testing.T) {
	out := t.TempDir()
	if _, err := Write([]*results.Run{synthRun("/r", "task", 2, []string{"naive", "joint"}, []int64{1})}, out); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(out, "notes.txt")
	os.WriteFile(keep, []byte("mine"), 0o644)
	if _, err := Write([]*results.Run{synthRun("/r", "task", 2, []string{"naive"}, []int64{1})}, out); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(out, "heatmap*"))
	if len(left) != 3 {
		t.Errorf("heatmaps left: %v, want naive's PNG, SVG and PDF only (no panel of one strategy)", left)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("Write removed a file it did not write: %v", err)
	}
}

// TestWriteCapacityFigure: a run whose results record capacity (hat, packnet) gets the
// capacity figure, in report.html (with its nav link) and report.md, labelled with what the
// strategy counts; a run without it gets neither.
func TestWriteCapacityFigure(t *testing.T) {
	run := synthRun(t.TempDir(), "task", 3, []string{"naive", "packnet"}, []int64{1, 2})
	for _, r := range run.Results {
		if r.Strategy == "packnet" {
			r.Capacity = &results.Capacity{Of: "trunk weights", Task: []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}, Cumulative: []float64{1.0 / 3, 2.0 / 3, 1}}
		}
	}
	out := filepath.Join(t.TempDir(), "report")
	files, err := Write([]*results.Run{run}, out)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(files.PNG, filepath.Join(out, "capacity.png")) {
		t.Fatalf("no capacity.png among %v", files.PNG)
	}
	page, _ := os.ReadFile(files.HTML)
	md, _ := os.ReadFile(files.Markdown)
	for _, want := range []string{`id="capacity"`, `href="#capacity"`, "Capacity used per task"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if !strings.Contains(string(md), "## Capacity used per task") || !strings.Contains(string(md), "capacity.png") {
		t.Errorf("report.md has no capacity section")
	}
	checkHTML(t, string(page))

	plain := synthRun(t.TempDir(), "task", 3, []string{"naive"}, []int64{1, 2})
	out2 := filepath.Join(t.TempDir(), "report")
	files2, err := Write([]*results.Run{plain}, out2)
	if err != nil {
		t.Fatal(err)
	}
	page2, _ := os.ReadFile(files2.HTML)
	if slices.Contains(files2.PNG, filepath.Join(out2, "capacity.png")) || strings.Contains(string(page2), `id="capacity"`) {
		t.Error("a run without capacity got a capacity figure")
	}
}

// TestWriteInitNotes: runs that started from a pre-trained trunk or a model file say so in
// report.html and report.md, with the pre-training's mean test accuracy over the seeds; runs
// from their own initialisation say nothing.
func TestWriteInitNotes(t *testing.T) {
	run := synthRun(t.TempDir(), "class", 2, []string{"naive", "si"}, []int64{1, 2})
	for _, r := range run.Results {
		if r.Strategy == "naive" {
			r.Init = &results.Init{Pretrain: &results.Pretrain{Classes: []int{5, 6, 7}, Steps: 300, TestAcc: 0.9 + 0.02*float64(r.Seed), Transfer: []string{"trunk/l0/W", "trunk/l0/b"}}}
		}
	}
	out := filepath.Join(t.TempDir(), "report")
	files, err := Write([]*results.Run{run}, out)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(files.HTML)
	md, _ := os.ReadFile(files.Markdown)
	want := "naive: trunk pre-trained on classes 5,6,7 (300 steps, test accuracy on them 0.930 ± 0.014 over 2 seeds; 2 tensors handed on)"
	for name, text := range map[string]string{"report.html": string(page), "report.md": mdUnescape(string(md))} {
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q", name, want)
		}
		if strings.Contains(text, "si: trunk") {
			t.Errorf("%s says si was pre-trained", name)
		}
	}
}

// mdUnescape undoes mdEscape's backslashes, for matching text in report.md.
func mdUnescape(s string) string { return strings.ReplaceAll(s, `\`, "") }

// TestWriteLossFigure: runs whose results have steps.csv get the training-loss figure (in
// report.html and report.md); without step logs there is none.
func TestWriteLossFigure(t *testing.T) {
	dir := t.TempDir()
	run := synthRun(dir, "class", 2, []string{"naive", "ewc"}, []int64{1, 2})
	plain := filepath.Join(t.TempDir(), "report")
	files, err := Write([]*results.Run{run}, plain)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(files.PNG, filepath.Join(plain, "loss.png")) {
		t.Fatal("a loss figure without step logs")
	}
	for _, r := range run.Results {
		d := results.ResultDir(dir, r.Strategy, r.Seed)
		os.MkdirAll(d, 0o755)
		csv := "step,task,task_step,loss,penalty,samples_per_s,lr,train_seconds\n"
		for s := 10; s <= 40; s += 10 {
			csv += fmt.Sprintf("%d,%d,%d,%g,0.01,1000,0.001,0.1\n", s, (s-1)/20+1, (s-1)%20+1, 1/float64(s))
		}
		os.WriteFile(filepath.Join(d, results.StepsFile), []byte(csv), 0o644)
	}
	out := filepath.Join(t.TempDir(), "report")
	if files, err = Write([]*results.Run{run}, out); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(files.PNG, filepath.Join(out, "loss.png")) {
		t.Fatalf("no loss.png among %v", files.PNG)
	}
	page, _ := os.ReadFile(files.HTML)
	md, _ := os.ReadFile(files.Markdown)
	if !strings.Contains(string(page), `id="loss"`) || !strings.Contains(string(md), "## Training loss") {
		t.Error("the report has no training-loss section")
	}
}

// TestLegendSaysIdentical: a strategy whose mean accuracy matrix equals an earlier one's (its
// curves hide under that one's) says so in the legend, with every series' number of seeds.
func TestLegendSaysIdentical(t *testing.T) {
	run := synthRun(t.TempDir(), "class", 2, []string{"naive", "ewc"}, []int64{1, 2})
	for _, r := range run.Results {
		r.R = [][]float64{{0.9, 0.1}, {0, 0.95}} // both strategies alike
	}
	ss := buildSeries([]*results.Run{run}, reportTasks([]*results.Run{run}))
	markIdentical(ss)
	if got := legendLabel(ss[1]); got != "ewc (n=2; identical to naive)" {
		t.Errorf("legend %q", got)
	}
	if got := legendLabel(ss[0]); got != "naive (n=2)" {
		t.Errorf("legend %q", got)
	}
}

// TestHeatmapColourBar: the strip right of an accuracy matrix holds the colour bar: near its top
// the palette's colour for 1 and near its bottom the colour for 0 (so the scale is drawn, and
// drawn the right way up).
func TestHeatmapColourBar(t *testing.T) {
	run := synthRun(t.TempDir(), "task", 3, []string{"naive", "joint"}, []int64{1})
	out := filepath.Join(t.TempDir(), "report")
	if _, err := Write([]*results.Run{run}, out); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"heatmap-01-naive.png", "heatmaps.png"} {
		f, err := os.Open(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		pal := heatColors().Colors()
		lo, hi := pal[0], pal[len(pal)-1]
		b := img.Bounds()
		strip := int(float64(colorbarWidth) / 72 * pngDPI) // points to pixels
		near := func(c1, c2 color.Color) bool {
			r1, g1, b1, _ := c1.RGBA()
			r2, g2, b2, _ := c2.RGBA()
			d := func(x, y uint32) float64 { return math.Abs(float64(x)-float64(y)) / 0xffff }
			return d(r1, r2)+d(g1, g2)+d(b1, b2) < 0.06
		}
		var top, bottom bool
		h := b.Dy()
		for x := b.Max.X - strip; x < b.Max.X; x++ {
			for y := b.Min.Y; y < b.Min.Y+h/3; y++ {
				top = top || near(img.At(x, y), hi)
			}
			for y := b.Max.Y - h/3; y < b.Max.Y; y++ {
				bottom = bottom || near(img.At(x, y), lo)
			}
		}
		if !top || !bottom {
			t.Errorf("%s: colour bar strip: colour of 1 near the top %v, of 0 near the bottom %v", name, top, bottom)
		}
	}
}
