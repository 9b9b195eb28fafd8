package published

import (
	"fmt"
	"testing"

	"github.com/clgraph/clgraph/strategies"
)

// TestSourceStrategiesValid checks every strategy spec the committed sources name (each row's
// method, the methods tables, the explanations' methods): the registry builds it, and it is
// canonical (options sorted, as runs record them), since rows find their runs by that string. A
// misspelt option would otherwise leave a row "not run yet" forever.
func TestSourceStrategiesValid(t *testing.T) {
	srcs, err := Sources("../reference/published")
	if err != nil {
		t.Fatal(err)
	}
	check := func(file, where, spec string) {
		t.Helper()
		if _, err := strategies.Default.New(spec); err != nil {
			t.Errorf("%s, %s: %v", file, where, err)
			return
		}
		sp, err := strategies.ParseSpec(spec)
		if err != nil {
			t.Errorf("%s, %s: %v", file, where, err)
		} else if c := sp.String(); c != spec {
			t.Errorf("%s, %s: %q is not canonical: write %q", file, where, spec, c)
		}
	}
	n := 0
	for _, src := range srcs {
		for _, r := range src.Rows {
			if m, ok := src.Method(r.Method); ok {
				check(src.File, "row "+r.Label, m.Strategy)
				n++
			}
		}
		for i, e := range src.Explanations {
			for name, m := range e.Methods {
				if m.Strategy != "" {
					check(src.File, fmt.Sprintf("explanation E%d, method %s", i+1, name), m.Strategy)
					n++
				}
			}
		}
	}
	if n < 50 {
		t.Errorf("only %d strategy specs checked", n)
	}
}
