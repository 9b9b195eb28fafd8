package cli

import (
	"fmt"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/streams"
)

// A run over seeds the default strengths were tuned with is warned about; others are not.
func TestTuningOverlapWarning(t *testing.T) {
	spec, err := streams.Preset("split-mnist", "quick", "task")
	if err != nil {
		t.Fatal(err)
	}
	tu, _ := streams.TuningOf(spec)
	if w := tuningOverlap(spec, []int64{1, tu.Seeds[0]}); !strings.Contains(w, fmt.Sprint([]int64{tu.Seeds[0]})) || !strings.Contains(w, "not held out") {
		t.Errorf("warning for a tuning seed: %q", w)
	}
	if w := tuningOverlap(spec, []int64{1, 2, 3}); w != "" {
		t.Errorf("warning for reported seeds: %q", w)
	}
}
