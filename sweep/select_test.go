package sweep

import (
	"strings"
	"testing"

	"github.com/clgraph/clgraph/results"
)

// settingWith returns a setting of base with the given mean test and validation ACC (NaN for none).
func settingWith(spec, base string, acc, val float64, hasVal bool) Setting {
	s := Setting{Strategy: spec, Base: base, Cells: Counts{Total: 2, OK: 2}}
	s.Metrics.Set(results.KeyACC, results.Summarize([]float64{acc, acc}))
	if hasVal {
		s.Metrics.Set(results.KeyValACC, results.Summarize([]float64{val, val}))
	}
	return s
}

// With validation splits the best setting is the one with the best validation ACC, whatever its
// test ACC; without them it is the best test ACC, and SelectedBy says which.
func TestBestSelectsOnValidation(t *testing.T) {
	withVal := []Setting{
		settingWith("ewc:lambda=1", "ewc", 0.90, 0.80, true),
		settingWith("ewc:lambda=10", "ewc", 0.85, 0.88, true),
	}
	b := best(withVal)
	if len(b) != 1 || b[0].Strategy != "ewc:lambda=10" || b[0].SelectedBy != results.KeyValACC {
		t.Errorf("with validation: %+v, want ewc:lambda=10 selected by val_acc", b)
	}
	noVal := []Setting{
		settingWith("ewc:lambda=1", "ewc", 0.90, 0, false),
		settingWith("ewc:lambda=10", "ewc", 0.85, 0, false),
	}
	b = best(noVal)
	if len(b) != 1 || b[0].Strategy != "ewc:lambda=1" || b[0].SelectedBy != results.KeyACC {
		t.Errorf("without validation: %+v, want ewc:lambda=1 selected by acc", b)
	}
	md := MarkdownSummary(&Summary{Name: "x", Groups: []GroupSummary{{Stream: "s", Scenario: "task", Settings: noVal, Best: b}}})
	if !strings.Contains(md, "Selected on test data") {
		t.Errorf("summary of a test-selected sweep does not say so:\n%s", md)
	}
}

// Grids of one strategy with different fixed options are separate families.
func TestFamilies(t *testing.T) {
	specs := []string{"naive", "naive:heads=multi", "ewc:lambda=1", "ewc:lambda=10",
		"ewc:gamma=1,lambda=1,online=true", "ewc:gamma=0.9,lambda=1,online=true", "ewc:gamma=1,lambda=10,online=true"}
	got := Families(specs)
	want := map[string]string{"naive": "naive", "naive:heads=multi": "naive:heads=multi", "ewc:lambda=1": "ewc", "ewc:lambda=10": "ewc",
		"ewc:gamma=1,lambda=1,online=true": "ewc:online=true", "ewc:gamma=0.9,lambda=1,online=true": "ewc:online=true", "ewc:gamma=1,lambda=10,online=true": "ewc:online=true"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("family of %s = %q, want %q", k, got[k], v)
		}
	}
}
