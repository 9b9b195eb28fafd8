package loop_test

import (
	"context"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

// TestGenerativePictures: a dgr cell leaves, after each task, a PNG grid of 64 generated 4x4
// inputs (8 a row, each pixel 2x2, one-pixel gaps: 8*9+1 wide) and a PNG of the test inputs of
// every task so far over their reconstructions; a naive cell leaves none.
func TestGenerativePictures(t *testing.T) {
	st := strategytest.Synthetic(stream.ClassIL, 3, 2, 16, 40, 9)
	for _, spec := range []string{"dgr:latent=3", "naive"} {
		c := loop.Cell{Dir: t.TempDir(), Spec: smallSettings(5).Spec.Cell(spec, 5), Stream: st, Registry: strategies.Default}
		if _, err := (&loop.Runner{}).RunCell(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		got := results.Pictures(c.ResultDir())
		if spec == "naive" {
			if len(got) != 0 {
				t.Fatalf("naive left pictures after tasks %v", got)
			}
			continue
		}
		if !reflect.DeepEqual(got, []int{1, 2, 3}) {
			t.Fatalf("pictures after tasks %v, want 1, 2, 3", got)
		}
		for k := 1; k <= 3; k++ {
			for name, w := range map[string]int{results.SamplesFile(k): 8*9 + 1, results.ReconFile(k): loop.PictureRecon*k*9 + 1} {
				f, err := os.Open(filepath.Join(c.ResultDir(), results.SamplesDir, name))
				if err != nil {
					t.Fatal(err)
				}
				img, err := png.Decode(f)
				f.Close()
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if b := img.Bounds(); b.Dx() != w {
					t.Errorf("%s is %d wide, want %d", name, b.Dx(), w)
				}
			}
		}
	}
}
