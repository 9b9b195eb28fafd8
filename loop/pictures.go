package loop

import (
	"fmt"
	"math/rand"
	"path/filepath"

	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/stream"
	"github.com/sirupsen/logrus"
)

// Pictures per task end of a generative strategy: a grid of PictureSamples generated inputs
// (the same latent draws after every task, so the grids show how the generator changes) and
// PictureRecon test inputs of each task so far over their reconstructions.
const (
	PictureSamples = 64
	PictureRecon   = 4
)

// pictureHook returns a hook that writes g's pictures into dir (results.SamplesDir) at each task
// end, for stream st and the run's seed; square inputs only (MNIST's 28 x 28). A picture that
// cannot be written is logged as a warning (to log, when set) and the run goes on.
func pictureHook(dir string, st *stream.Stream, g strategies.Generative, seed int64, log logrus.FieldLogger) Hook {
	write := func(e Event) error {
		side := 0
		for side*side < st.InputDim {
			side++
		}
		if e.Kind != TaskEnd || side*side != st.InputDim {
			return nil
		}
		gen := g.Generator()
		D := st.InputDim
		out := filepath.Join(dir, results.SamplesDir)
		pix := make([]float32, PictureSamples*D)
		gen.Sample(pix, PictureSamples, rand.New(rand.NewSource(seed)))
		if err := results.WriteDigitGrid(filepath.Join(out, results.SamplesFile(e.Task+1)), pix, PictureSamples, side, 8, 2); err != nil {
			return fmt.Errorf("pictures: %w", err)
		}
		b := stream.NewBatch(PictureRecon*(e.Task+1), D)
		for j := 0; j <= e.Task; j++ {
			t := st.Tasks[j]
			for k := 0; k < PictureRecon && k < t.Test.Len(); k++ {
				b.Add(t, &t.Test, k)
			}
		}
		n := b.N
		rec := make([]float32, 2*n*D)
		copy(rec, b.X[:n*D])
		gen.Reconstruct(rec[n*D:], b.X[:n*D], n)
		if err := results.WriteDigitGrid(filepath.Join(out, results.ReconFile(e.Task+1)), rec, 2*n, side, n, 2); err != nil {
			return fmt.Errorf("pictures: %w", err)
		}
		return nil
	}
	return func(e Event) error {
		if err := write(e); err != nil && log != nil {
			log.WithError(err).Warn("a generative strategy's pictures were not written; the run goes on")
		}
		return nil
	}
}
