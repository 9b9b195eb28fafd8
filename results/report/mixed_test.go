package report

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/clgraph/clgraph/results"
)

// TestRefusesMixedResults: a folder holding a result of other settings than its config.json (left
// by an earlier run in the folder) is refused instead of reported under the folder's header.
func TestRefusesMixedResults(t *testing.T) {
	run := synthRun("/runs/a", "task", 3, []string{"naive"}, []int64{1})
	s := run.Config.Spec.Cell("naive", 1)
	s.Iterations += 50
	run.Results[0].Spec = &s
	_, err := Write([]*results.Run{run}, filepath.Join(t.TempDir(), "report"))
	if !errors.Is(err, results.ErrMixedSettings) {
		t.Fatalf("err = %v, want ErrMixedSettings", err)
	}
}
