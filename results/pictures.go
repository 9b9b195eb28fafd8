package results

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// SamplesDir is the folder, inside a cell's result folder, where a generative strategy's
// pictures go: SamplesFile(k) (what its generator replays after task k) and ReconFile(k) (real
// test digits over their reconstructions).
const SamplesDir = "samples"

// StepsFile is the training curve of a run (runspec's step_log), in its result folder: a CSV
// with loss, penalty, samples/s and learning rate every step_log steps (see ReadSteps). The
// folder also holds the same scalars as TensorBoard event files (events.out.tfevents.*).
const StepsFile = "steps.csv"

// SamplesFile is the name of the grid of generated inputs after task k (1-based).
func SamplesFile(k int) string { return fmt.Sprintf("task-%d.png", k) }

// ReconFile is the name of the picture of test inputs (top row) over their reconstructions
// (bottom row) after task k (1-based).
func ReconFile(k int) string { return fmt.Sprintf("recon-task-%d.png", k) }

// WriteDigitGrid writes n square gray images of side x side pixels (values in [0, 1], image
// after image, row-major) as one PNG, ink (1) black on white (0), of cols images per row, each pixel drawn scale x
// scale, with a one-pixel white gap between images.
func WriteDigitGrid(path string, pix []float32, n, side, cols, scale int) error {
	if n <= 0 || side <= 0 || cols <= 0 || scale <= 0 || len(pix) < n*side*side {
		return fmt.Errorf("results: a grid of %d images of %dx%d needs %d values, got %d", n, side, side, n*side*side, len(pix))
	}
	rows := (n + cols - 1) / cols
	cell := side*scale + 1
	img := image.NewGray(image.Rect(0, 0, cols*cell+1, rows*cell+1))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for k := range n {
		x0, y0 := 1+(k%cols)*cell, 1+(k/cols)*cell
		for y := range side * scale {
			for x := range side * scale {
				v := min(max(pix[k*side*side+(y/scale)*side+x/scale], 0), 1)
				img.SetGray(x0+x, y0+y, color.Gray{Y: uint8(255 - v*255 + 0.5)})
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("results: writing %s: %w", path, err)
	}
	return f.Close()
}

// Pictures lists the tasks (1-based, sorted) after which a cell's result folder dir holds a
// grid of generated samples.
func Pictures(dir string) []int {
	es, err := os.ReadDir(filepath.Join(dir, SamplesDir))
	if err != nil {
		return nil
	}
	var ks []int
	for _, e := range es {
		name, ok := strings.CutPrefix(e.Name(), "task-")
		if !ok {
			continue
		}
		if k, err := strconv.Atoi(strings.TrimSuffix(name, ".png")); err == nil && k > 0 {
			ks = append(ks, k)
		}
	}
	sort.Ints(ks)
	return ks
}
