package sweep

import (
	"strings"
	"testing"

	"github.com/clgraph/clgraph/strategies"
)

// TestExpandRefusesSameConfigurations checks that a sweep whose strategy entries produce the
// same configuration once defaults are filled in is refused, naming both settings and their
// lines, and that settings a strategy can only refuse at setup are refused at expansion (issue
// 14, item 5).
func TestExpandRefusesSameConfigurations(t *testing.T) {
	const head = "streams: [split-mnist]\nscenarios: [task]\nseeds: [1]\noverrides: {hidden: [8], iterations: 2}\nstrategies:\n"
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"default filled in", head + "  - ewc\n  - ewc:lambda=auto\n", []string{"test.yaml:7:", "ewc:lambda=auto", "ewc", "line 6", "same configuration"}},
		{"grid and entry", head + "  - naive\n  - naive: {heads: [multi, auto]}\n", []string{"test.yaml:7:", "naive:heads=auto", "line 6"}},
		{"number forms", head + "  - l2:lambda=100\n  - l2: {lambda: [10, 100.0]}\n", []string{"test.yaml:7:", "l2:lambda=100", "line 6"}},
		{"freeze beyond the trunk", head + "  - naive\n  - layerwise:freeze=99\n", []string{"test.yaml:7:", "layerwise:freeze=99", "split-mnist-task", "freeze=99"}},
		{"pnn width", head + "  - pnn:width=8/8\n", []string{"test.yaml:6:", "pnn:width=8/8", "has 2 layers"}},
		{"float32", head + "  - ewc: {lambda: [1e300]}\n", []string{"test.yaml:6:", "float32"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("test.yaml", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.Expand(strategies.Default)
			if err == nil {
				t.Fatalf("no error for\n%s", tc.src)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	// Different configurations of one strategy still expand.
	p := mustPlan(t, head+"  - ewc\n  - ewc:lambda=100\n  - ewc: {online: [true]}\n", strategies.Default)
	if got := p.Groups[0].Strategies; len(got) != 3 || got[0] != "ewc" {
		t.Errorf("strategies %q", got)
	}
}

// A validation split larger than the synthetic pre-flight data is not refused by the
// pre-flight: the cells carve it from the real training data.
func TestExpandValidationSplit(t *testing.T) {
	p := mustPlan(t, "streams: [split-mnist]\nscenarios: [task]\nprotocol: quick\noverrides: {val_per_task: 1000}\nseeds: [1]\nstrategies: [naive]\n", strategies.Default)
	if got := p.Groups[0].Spec.ValPerTask; got != 1000 {
		t.Errorf("val_per_task = %d, want 1000", got)
	}
}
