//go:build browser

package browsercheck

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/clgraph/clgraph/runspec"

	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/results/report"
)

// chromiumFlags keep headless Chromium from talking to anything: a fresh
// profile, no background services, and a host resolver that resolves nothing.
var chromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--disable-default-apps", "--disable-extensions", "--no-pings", "--disable-domain-reliability",
	"--host-resolver-rules=MAP * ~NOTFOUND", "--hide-scrollbars", "--virtual-time-budget=5000",
}

func chromium(t *testing.T) string {
	t.Helper()
	if c := os.Getenv("CHROMIUM"); c != "" {
		return c
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found: apt-get install -y chromium, or set $CHROMIUM")
	return ""
}

// runChromium runs Chromium on url with a new profile and returns stdout.
func runChromium(t *testing.T, bin, url string, extra ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append(append(append([]string{}, chromiumFlags...), "--user-data-dir="+t.TempDir()), extra...)
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, tail(stderr.String(), 2000))
	}
	return stdout.Bytes()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

var (
	externalRef = regexp.MustCompile(`(?i)(\b(src|href|action|srcset|poster|data|background)\s*=\s*["']?\s*(https?:|ftp:|//))|url\(|@import`)
	anyURL      = regexp.MustCompile(`(?i)https?://[^\s"'<>]+`)
	htmlTag     = regexp.MustCompile(`(?s)<html\b[^>]*>`)
	dataAttr    = regexp.MustCompile(`data-([a-z-]+)="([^"]*)"`)
)

// pageState reads the data-* attributes the report's script set on <html>.
func pageState(t *testing.T, dom []byte) map[string]string {
	t.Helper()
	tag := htmlTag.Find(dom)
	if tag == nil {
		t.Fatalf("no <html> element in the dumped DOM:\n%s", tail(string(dom), 500))
	}
	st := map[string]string{}
	for _, m := range dataAttr.FindAllSubmatch(tag, -1) {
		st[string(m[1])] = string(m[2])
	}
	return st
}

func fileURL(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		panic(err)
	}
	return "file://" + filepath.ToSlash(abs)
}

// reportDir returns the folder of the report to check, writing it if needed.
func reportDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("CLGRAPH_REPORT"); d != "" {
		return d
	}
	var run *results.Run
	out := os.Getenv("CLGRAPH_REPORT_OUT")
	if d := os.Getenv("CLGRAPH_RUN"); d != "" {
		r, err := results.Read(d)
		if err != nil {
			t.Fatal(err)
		}
		run = r
		if out == "" {
			out = filepath.Join(d, "report")
		}
	} else {
		run = synthRun()
		if out == "" {
			out = t.TempDir()
		}
	}
	if _, err := report.Write([]*results.Run{run}, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// synthRun is a small run of three strategies over five tasks and three seeds.
func synthRun() *results.Run {
	tasks := []string{"0/1", "2/3", "4/5", "6/7", "8/9"}
	specs := []string{"naive", "ewc:lambda=100", "joint"}
	seeds := []int64{1, 2, 3}
	run := &results.Run{Dir: "synthetic", Config: results.Config{
		Schema: results.SchemaVersion, CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Command: []string{"clgraph", "run", "--seeds", "1-3"}, Tasks: tasks, Seeds: seeds, Strategies: specs, Versions: map[string]string{"go": "go1.26"},
		Data: results.DataInfo{Source: "synthetic", Files: map[string]string{"train-images-idx3-ubyte.gz": "00ff"}}, Spec: runspec.Spec{Stream: "split-mnist", Scenario: "task", Protocol: "quick", Iterations: 30, Batch: 128, EvalBatch: 1000, LR: 0.001, Hidden: []int{64}},
	}}
	T := len(tasks)
	for si, spec := range specs {
		for _, seed := range seeds {
			R := make([][]float64, T)
			for i := range R {
				R[i] = make([]float64, T)
				for j := range R[i] {
					v := 0.5 + 0.02*float64(seed)
					if j <= i {
						v = 0.98 - 0.15*float64(i-j)/float64(si+1) - 0.01*float64(seed)
					}
					R[i][j] = math.Max(0, math.Min(1, v))
				}
			}
			b := []float64{0.5, 0.5, 0.5, 0.5, 0.5}
			m, err := results.Compute(R, b)
			if err != nil {
				panic(err)
			}
			run.Results = append(run.Results, &results.Result{Strategy: spec, Seed: seed, Status: results.StatusOK,
				Tasks: tasks, R: R, B: b, Metrics: &m,
				Cost: results.Cost{TrainSeconds: 2, EvalSeconds: 1, Steps: 150, StepsPerSecond: 75, Params: 50370, PeakRSSBytes: 450 << 20}})
		}
	}
	return run
}

func TestReportInBrowser(t *testing.T) {
	bin := chromium(t)
	dir := reportDir(t)
	htmlPath := filepath.Join(dir, report.HTMLFile)
	page, err := os.ReadFile(htmlPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("checking %s (%d bytes) with %s", htmlPath, len(page), bin)

	// 1. Static: no external reference at all, and the CSP meta tag.
	if m := externalRef.Find(page); m != nil {
		t.Errorf("report.html refers to an external resource: %q", m)
	}
	for _, u := range anyURL.FindAll(page, -1) {
		t.Logf("note: URL in the page's text (not a reference): %s", u)
	}
	csp := `<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; img-src data:; style-src &#39;unsafe-inline&#39;;`
	if !bytes.Contains(page, []byte(csp)) {
		t.Errorf("report.html lacks the CSP meta tag %s", csp)
	}
	wantImgs := bytes.Count(page, []byte("<img "))
	if wantImgs == 0 {
		t.Fatal("report.html has no images")
	}

	// 2. In the browser: every image decoded, nothing fetched, no CSP violation.
	st := pageState(t, runChromium(t, bin, fileURL(htmlPath), "--dump-dom", "--window-size=1280,900"))
	t.Logf("page state: %v", st)
	if st["ready"] != "1" {
		t.Fatalf("the page's load handler did not run (CSP blocking the script?): %v", st)
	}
	if st["images-total"] != strconv.Itoa(wantImgs) || st["images-loaded"] != st["images-total"] {
		t.Errorf("images: %s of %s decoded, want all %d", st["images-loaded"], st["images-total"], wantImgs)
	}
	if st["external-requests"] != "0" {
		t.Errorf("the page fetched %s non-data: resources", st["external-requests"])
	}
	if st["csp-violations"] != "0" {
		t.Errorf("%s Content-Security-Policy violations", st["csp-violations"])
	}

	// 3. Control: injected external resources are blocked by the CSP and
	// show up in the counters, so the check above can fail.
	bad := bytes.Replace(page, []byte("<body>"), []byte(`<body><img src="https://example.invalid/x.png"><link rel="stylesheet" href="http://example.invalid/x.css">`), 1)
	badPath := filepath.Join(t.TempDir(), "control.html")
	if err := os.WriteFile(badPath, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	cst := pageState(t, runChromium(t, bin, fileURL(badPath), "--dump-dom", "--window-size=1280,900"))
	t.Logf("control page state: %v", cst)
	if n, _ := strconv.Atoi(cst["csp-violations"]); n < 1 {
		t.Errorf("the control page's external image was not blocked by the CSP: %v", cst)
	}
	if cst["images-loaded"] == cst["images-total"] {
		t.Errorf("the control page's external image counted as loaded: %v", cst)
	}

	// 4. Screenshot of the whole page, not blank.
	height, err := strconv.Atoi(st["height"])
	if err != nil {
		height = 6000 // a report written before the page recorded its height
	}
	height = min(max(height, 800), 16000)
	shot := filepath.Join(dir, "screenshot.png")
	runChromium(t, bin, fileURL(htmlPath), "--screenshot="+shot, fmt.Sprintf("--window-size=1280,%d", height))
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	frac, colors := inked(img)
	t.Logf("screenshot %s: %dx%d, %.1f%% non-white pixels, %d colours", shot, img.Bounds().Dx(), img.Bounds().Dy(), 100*frac, colors)
	if frac < 0.02 || colors < 50 {
		t.Errorf("the screenshot looks blank: %.2f%% non-white pixels, %d colours", 100*frac, colors)
	}

	// 5. The panels of the report's newer figures, each shown alone in the browser and
	// screenshotted: not blank, and the accuracy matrices' panel shows both ends of its colour
	// scale (the viridis colours of 0 and 1, in the cells and the colour bar).
	for _, name := range []string{"heatmaps.png", "loss.png", "capacity.png", "task-accuracy.png"} {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err != nil {
			t.Logf("no %s in this report", name)
			continue
		}
		abs, _ := filepath.Abs(path)
		page := filepath.Join(t.TempDir(), "panel.html")
		os.WriteFile(page, []byte(`<html><body style="margin:0;background:#fff"><img src="`+fileURL(abs)+`"></body></html>`), 0o644)
		out := filepath.Join(t.TempDir(), "panel.png")
		runChromium(t, bin, fileURL(page), "--screenshot="+out, "--window-size=2400,1400")
		f, err := os.Open(out)
		if err != nil {
			t.Fatalf("%s: no screenshot: %v", name, err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: screenshot: %v", name, err)
		}
		frac, colors := inked(img)
		t.Logf("%s alone: %.1f%% non-white pixels, %d colours", name, 100*frac, colors)
		if frac < 0.002 || colors < 20 { // line charts leave most of a large window white
			t.Errorf("%s looks blank in the browser: %.2f%% non-white pixels, %d colours", name, 100*frac, colors)
		}
		if name == "heatmaps.png" && (!hasColour(img, 0x44, 0x01, 0x54) || !hasColour(img, 0xfd, 0xe7, 0x25)) {
			t.Errorf("heatmaps.png in the browser lacks the colour of 0 or of 1 (viridis ends)")
		}
	}
}

// hasColour reports whether img has a pixel within a small distance of the colour (r, g, b).
func hasColour(img image.Image, r, g, b uint8) bool {
	bd := img.Bounds()
	for y := bd.Min.Y; y < bd.Max.Y; y += 2 {
		for x := bd.Min.X; x < bd.Max.X; x += 2 {
			pr, pg, pb, _ := img.At(x, y).RGBA()
			d := func(p uint32, q uint8) int { v := int(p>>8) - int(q); return max(v, -v) }
			if d(pr, r)+d(pg, g)+d(pb, b) < 24 {
				return true
			}
		}
	}
	return false
}

// inked returns the fraction of clearly non-white pixels of img (sampled)
// and the number of distinct colours among the samples.
func inked(img image.Image) (float64, int) {
	b := img.Bounds()
	seen := map[[3]uint32]bool{}
	n, ink := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			n++
			if r < 0xe000 || g < 0xe000 || bl < 0xe000 {
				ink++
			}
			seen[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
		}
	}
	if n == 0 {
		return 0, 0
	}
	return float64(ink) / float64(n), len(seen)
}

func TestExternalRefPattern(t *testing.T) {
	for _, s := range []string{`<img src="https://x/y.png">`, `<a href='//cdn/x'>`, `<style>body{background:url(x.png)}</style>`, `<script src=http://x>`} {
		if !externalRef.MatchString(s) {
			t.Errorf("%q not flagged", s)
		}
	}
	for _, s := range []string{`<img src="data:image/png;base64,AAA">`, `<a href="#metrics">`, `<td>https://example.org/data</td>`} {
		if externalRef.MatchString(s) {
			t.Errorf("%q flagged", s)
		}
	}
}
