package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/results"
)

// TestWriteReplayPictures: a generative strategy's pictures (its lowest seed's) are copied into
// the report's folder, embedded in report.html and linked from report.md; a strategy without
// pictures gets none, an unreadable picture is named, and a later report without them removes
// the copies.
func TestWriteReplayPictures(t *testing.T) {
	dir := t.TempDir()
	run := synthRun(dir, "class", 3, []string{"naive", "dgr"}, []int64{2, 1})
	side, D := 28, 28*28
	pix := make([]float32, 4*D)
	for i := range pix {
		pix[i] = float32(i%7) / 6
	}
	for _, seed := range []int64{1, 2} {
		cell := filepath.Join(results.ResultDir(dir, "dgr", seed), results.SamplesDir)
		for k := 1; k <= 3; k++ {
			if err := results.WriteDigitGrid(filepath.Join(cell, results.SamplesFile(k)), pix, 4, side, 2, 1); err != nil {
				t.Fatal(err)
			}
			if err := results.WriteDigitGrid(filepath.Join(cell, results.ReconFile(k)), pix, 4, side, 4, 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Seed 2's task-2 grid is damaged: seed 1 is the one shown, so it is not read.
	if err := os.WriteFile(filepath.Join(results.ResultDir(dir, "dgr", 2), results.SamplesDir, results.SamplesFile(2)), []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "report")
	files, err := Write([]*results.Run{run}, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(files.Replay) != 6 {
		t.Fatalf("copied %d replay pictures, want 6 (3 tasks x samples and recon): %v", len(files.Replay), files.Replay)
	}
	for _, p := range files.Replay {
		if !strings.Contains(filepath.Base(p), "-dgr-seed-1-task-") {
			t.Errorf("picture %s is not of dgr's lowest seed", p)
		}
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	page, err := os.ReadFile(files.HTML)
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	imgs := checkHTML(t, html)
	sec := html[strings.Index(html, `<h2 id="replay">`):strings.Index(html, `<h2 id="cost">`)]
	if n := strings.Count(sec, "<img "); n != 6 {
		t.Errorf("the replay section has %d images, want 6", n)
	}
	if strings.Contains(sec, "naive") || !strings.Contains(sec, "dgr (seed 1)") || !strings.Contains(sec, "After task 3 (4/5)") {
		t.Errorf("replay section names the wrong strategies or tasks:\n%s", sec[:min(len(sec), 2000)])
	}
	if !strings.Contains(html, `<a href="#replay">`) {
		t.Error("no navigation link to the replay section")
	}
	if len(imgs) < 6 {
		t.Errorf("%d inline images", len(imgs))
	}
	md, err := os.ReadFile(files.Markdown)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range files.Replay {
		if !strings.Contains(string(md), "]("+filepath.Base(p)+")") {
			t.Errorf("report.md does not show %s", filepath.Base(p))
		}
	}

	// Seed 1's task-2 recon unreadable: named in the page and left out.
	bad := filepath.Join(results.ResultDir(dir, "dgr", 1), results.SamplesDir, results.ReconFile(2))
	if err := os.WriteFile(bad, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err = Write([]*results.Run{run}, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(files.Replay) != 5 {
		t.Errorf("copied %d pictures with one damaged, want 5", len(files.Replay))
	}
	page, _ = os.ReadFile(files.HTML)
	if !strings.Contains(string(page), "recon-task-2.png is not a PNG picture") {
		t.Error("the damaged picture is not named in report.html")
	}
	if _, err := os.Stat(filepath.Join(out, replayFile(&series{index: 1, spec: "dgr"}, 1, "recon", 2))); !os.IsNotExist(err) {
		t.Errorf("the stale copy of the damaged picture is still there: %v", err)
	}

	// Without pictures: no section, copies removed.
	if err := os.RemoveAll(filepath.Join(results.ResultDir(dir, "dgr", 1), results.SamplesDir)); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(results.ResultDir(dir, "dgr", 2), results.SamplesDir)); err != nil {
		t.Fatal(err)
	}
	files, err = Write([]*results.Run{run}, out)
	if err != nil {
		t.Fatal(err)
	}
	page, _ = os.ReadFile(files.HTML)
	if strings.Contains(string(page), `id="replay"`) || len(files.Replay) != 0 {
		t.Error("a report without pictures has a replay section")
	}
	left, _ := filepath.Glob(filepath.Join(out, "samples-*.png"))
	if len(left) != 0 {
		t.Errorf("stale replay pictures left: %v", left)
	}
}
