package report

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/clgraph/clgraph/results"
)

// replayPicture is one picture a generative strategy wrote at a task's end (results.SamplesDir),
// copied into the report's folder.
type replayPicture struct {
	task          int    // 1-based
	kind          string // "samples" or "recon"
	name          string // file name in the report's folder
	png           []byte
	width, height int // pixels
}

// replaySet is the pictures of one series: those of its lowest seed that wrote any.
type replaySet struct {
	s    *series
	seed int64
	pics []replayPicture // task order, samples before recon
}

// replayFile names a picture of series s in the report's folder: the series' position keeps two
// runs of one spec apart.
func replayFile(s *series, seed int64, kind string, task int) string {
	return fmt.Sprintf("%s-%d-%s-seed-%d-task-%d.png", kind, s.index+1, results.Slug(s.spec), seed, task)
}

// collectReplay reads the pictures of every generative series (a result folder holding
// results.SamplesDir). It takes the lowest seed with pictures among the series' results that
// finished or were interrupted; a picture that cannot be read is left out (the report notes it).
func collectReplay(runs []*results.Run, ss []*series) ([]*replaySet, []string) {
	var sets []*replaySet
	var notes []string
	for _, s := range ss {
		dir := runs[s.run].Dir
		if dir == "" {
			continue
		}
		var seeds []int64
		for _, res := range runs[s.run].Results {
			if res != nil && res.Strategy == s.spec {
				seeds = append(seeds, res.Seed)
			}
		}
		slices.Sort(seeds)
		for _, seed := range seeds {
			cell := results.ResultDir(dir, s.spec, seed)
			ks := results.Pictures(cell)
			if len(ks) == 0 {
				continue
			}
			set := &replaySet{s: s, seed: seed}
			for _, k := range ks {
				for _, p := range []struct{ kind, file string }{{"samples", results.SamplesFile(k)}, {"recon", results.ReconFile(k)}} {
					path := filepath.Join(cell, results.SamplesDir, p.file)
					data, err := os.ReadFile(path)
					if err != nil {
						if !os.IsNotExist(err) {
							notes = append(notes, fmt.Sprintf("%s: %v", s.label, err))
						}
						continue
					}
					cfg, err := png.DecodeConfig(bytes.NewReader(data))
					if err != nil {
						notes = append(notes, fmt.Sprintf("%s: %s is not a PNG picture (%v)", s.label, path, err))
						continue
					}
					set.pics = append(set.pics, replayPicture{task: k, kind: p.kind, name: replayFile(s, seed, p.kind, k), png: data, width: cfg.Width, height: cfg.Height})
				}
			}
			if len(set.pics) > 0 {
				sets = append(sets, set)
			}
			break
		}
	}
	return sets, notes
}

// replayCaption describes a picture.
func replayCaption(p replayPicture, tasks []string) string {
	name := fmt.Sprintf("task %d", p.task)
	if p.task-1 < len(tasks) {
		name = fmt.Sprintf("task %d (%s)", p.task, tasks[p.task-1])
	}
	if p.kind == "samples" {
		return fmt.Sprintf("After %s: samples of what the generator replays (the same latent draws after every task).", name)
	}
	return fmt.Sprintf("After %s: real test digits of each task so far (top) over their reconstructions (bottom).", name)
}

// pageReplay is a generative series' pictures as shown on the page.
type pageReplay struct {
	Label, Color string
	Seed         int64
	Figs         []*pageFigure
}

func pageReplays(sets []*replaySet, tasks []string) []pageReplay {
	var out []pageReplay
	for _, set := range sets {
		pr := pageReplay{Label: set.s.label, Color: hexColor(set.s.index), Seed: set.seed}
		for _, p := range set.pics {
			pr.Figs = append(pr.Figs, &pageFigure{Title: p.name, Caption: replayCaption(p, tasks), PNG: p.name, Width: p.width, Height: p.height, Src: dataSrc(p.png)})
		}
		out = append(out, pr)
	}
	return out
}

// markdownReplay writes the replay section of report.md.
func markdownReplay(b *strings.Builder, sets []*replaySet, notes []string, tasks []string) {
	if len(sets) == 0 && len(notes) == 0 {
		return
	}
	b.WriteString("## What the generators replay\n\n")
	for _, set := range sets {
		fmt.Fprintf(b, "### %s (seed %d)\n\n", mdEscape(set.s.label), set.seed)
		for _, p := range set.pics {
			fmt.Fprintf(b, "![%s](%s)\n\n%s\n\n", mdEscape(p.name), p.name, mdEscape(replayCaption(p, tasks)))
		}
	}
	for _, n := range notes {
		fmt.Fprintf(b, "- %s\n", mdEscape(n))
	}
	if len(notes) > 0 {
		b.WriteString("\n")
	}
}

// replay is the replay section's content: the pictures and notes on pictures not read.
type replay struct {
	sets  []*replaySet
	notes []string
}
