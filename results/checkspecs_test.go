package results

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckSpecsCommittedRuns: every committed reference run folder (schema v1, results without a
// spec) passes the check, and a result of other settings fails it, in both forms.
func TestCheckSpecsCommittedRuns(t *testing.T) {
	var dirs []string
	filepath.WalkDir("reference", func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == ConfigFile {
			dirs = append(dirs, filepath.Dir(path))
		}
		return nil
	})
	if len(dirs) == 0 {
		t.Skip("no committed run folders")
	}
	var run *Run // the first with a result (a run in progress may have none yet)
	for _, dir := range dirs {
		r, err := Read(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.CheckSpecs(); err != nil {
			t.Errorf("%s: %v", dir, err)
		}
		if run == nil && len(r.Results) > 0 {
			run = r
		}
	}
	if run == nil {
		t.Skip("no committed result")
	}
	r := *run.Results[0]
	r.Spec = nil // a legacy result: no spec, its steps checked instead
	r.Cost.Steps++
	run.Results = []*Result{&r}
	if err := run.CheckSpecs(); !errors.Is(err, ErrMixedSettings) || !strings.Contains(err.Error(), "steps") {
		t.Errorf("legacy result with other steps: %v", err)
	}
	s := run.Config.Spec.Cell(r.Strategy, r.Seed)
	s.LR *= 2
	r.Spec = &s
	if err := run.CheckSpecs(); !errors.Is(err, ErrMixedSettings) || !strings.Contains(err.Error(), "learning rate") {
		t.Errorf("result with another lr: %v", err)
	}
	s.LR, s.CheckpointEvery, s.DataDir = run.Config.Spec.LR, 99, "/elsewhere"
	r.Cost.Steps--
	if err := run.CheckSpecs(); err != nil {
		t.Errorf("free settings differ only: %v", err)
	}
}
