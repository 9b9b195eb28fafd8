package sweep

import (
	"slices"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/strategies"
)

func mustPlan(t *testing.T, src string, reg *strategies.Registry) *Plan {
	t.Helper()
	f, err := Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	p, err := f.Expand(reg)
	if err != nil {
		t.Fatalf("expand: %v", err)
	}
	return p
}

func specs(p *Plan, group string) []string {
	for _, g := range p.Groups {
		if g.Dir == group {
			return g.Strategies
		}
	}
	return nil
}

func TestSmokeExample(t *testing.T) {
	f, err := Load("../examples/sweeps/smoke.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Expand(strategies.Default)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "smoke" || len(p.Groups) != 2 || len(p.Cells) != 8 || len(p.Skipped) != 0 {
		t.Fatalf("plan %s: %d groups, %d cells, %d skipped", p.Name, len(p.Groups), len(p.Cells), len(p.Skipped))
	}
	g := p.Groups[0]
	if g.Dir != "split-mnist-task" || g.Spec.Iterations != 20 || !slices.Equal(g.Spec.Hidden, []int{32}) ||
		g.Spec.TrainLimit != 500 || g.Spec.TestLimit != 200 || g.Spec.Tasks != 5 || len(g.Tasks) != 5 {
		t.Errorf("group %+v", g)
	}
	if p.Groups[1].Dir != "split-mnist-class" {
		t.Errorf("second group %s", p.Groups[1].Dir)
	}
	want := []string{"naive/1", "naive/2", "joint/1", "joint/2"}
	for i, c := range p.Cells[:4] {
		if got := c.Strategy + "/" + string(rune('0'+c.Seed)); got != want[i] || c.Index != i {
			t.Errorf("cell %d is %s, want %s", i, got, want[i])
		}
	}
}

func TestRegularizationExample(t *testing.T) {
	f, err := Load("../examples/sweeps/regularization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Without a registry only the syntax is checked.
	p, err := f.Expand(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := specs(p, "permuted-mnist-class")
	want := []string{"naive", "joint", "multihead", "naive:heads=multi",
		"ewc:lambda=100", "ewc:lambda=1000", "ewc:lambda=10000",
		"ewc:gamma=0.9,lambda=100,online=true", "ewc:gamma=1,lambda=100,online=true", "ewc:gamma=0.9,lambda=1000,online=true", "ewc:gamma=1,lambda=1000,online=true",
		"l2:lambda=0.1", "l2:lambda=1", "l2:lambda=10"}
	if !slices.Equal(got, want) {
		t.Errorf("settings\n got %q\nwant %q", got, want)
	}
	if len(p.Groups) != 6 || len(p.Cells) != 6*len(want)*5 {
		t.Errorf("%d groups, %d cells", len(p.Groups), len(p.Cells))
	}
	if g := p.Groups[3]; g.Dir != "permuted-mnist-task" || g.Spec.Tasks != 10 || g.Spec.Iterations != 5000 || g.Spec.Protocol != "paper" {
		t.Errorf("permuted group %+v", g)
	}
}

func TestOptionGridAndSkips(t *testing.T) {
	p := mustPlan(t, `
streams: [split]
scenarios: [task, class]
strategies:
  naive: {heads: [single, multi]}
  joint: ~
  multihead: {}
seeds: 3-4
overrides: {iterations: 5, hidden: [8], tasks: 2}
`, strategies.Default)
	if got := specs(p, "split-mnist-task"); !slices.Equal(got, []string{"naive:heads=single", "naive:heads=multi", "joint", "multihead"}) {
		t.Errorf("task specs %q", got)
	}
	if got := specs(p, "split-mnist-class"); !slices.Equal(got, []string{"naive:heads=single", "joint"}) {
		t.Errorf("class specs %q", got)
	}
	if len(p.Skipped) != 2 || p.Skipped[0].Strategy != "naive:heads=multi" || p.Skipped[1].Strategy != "multihead" || !strings.Contains(p.Skipped[0].Reason, "task identity") {
		t.Errorf("skipped %+v", p.Skipped)
	}
	if len(p.Cells) != (4+2)*2 || p.Cells[0].Seed != 3 || p.Cells[1].Seed != 4 || p.Groups[0].Spec.Tasks != 2 {
		t.Errorf("cells %+v", p.Cells)
	}
	// The list form gives the same settings; spec strings are canonicalised.
	q := mustPlan(t, `
streams: [split]
scenarios: [task, class]
strategies: ["naive:heads=single", {naive: {heads: multi}}, joint, multihead]
seeds: [3, 4]
overrides: {iterations: 5, hidden: [8], tasks: 2}
`, strategies.Default)
	for i := range p.Cells {
		if p.Cells[i] != q.Cells[i] {
			t.Errorf("cell %d: %+v vs %+v", i, p.Cells[i], q.Cells[i])
		}
	}
}

func TestCanonicalValues(t *testing.T) {
	p := mustPlan(t, `
streams: [split-mnist]
scenarios: [task]
strategies:
  x: {a: [1e2, 1e-5, 0.5, 1_000, 0x10], b: [true, "off"], c: [-3]}
seeds: [1]
`, nil)
	got := p.Groups[0].Strategies
	for _, want := range []string{"x:a=100,b=true,c=-3", "x:a=1e-05,b=true,c=-3", "x:a=0.5,b=off,c=-3", "x:a=1000,b=true,c=-3", "x:a=16,b=off,c=-3"} {
		if !slices.Contains(got, want) {
			t.Errorf("%s not among %q", want, got)
		}
	}
	if len(got) != 10 {
		t.Errorf("%d settings, want 10", len(got))
	}
}

func TestFileErrors(t *testing.T) {
	base := "streams: [split-mnist]\nscenarios: [task]\nstrategies: {naive: {}}\nseeds: [1]\n"
	for _, tc := range []struct {
		name, src string
		want      []string // substrings of the error
	}{
		{"empty", "", []string{"test.yaml: the file is empty"}},
		{"unknown top key", base + "iteratons: 5\n", []string{"test.yaml:5:", `unknown key "iteratons"`, "known: name"}},
		{"unknown override", base + "overrides:\n  iterations: 5\n  hiden: [3]\n", []string{"test.yaml:7:", `unknown key "hiden" in overrides`}},
		{"bad override type", base + "overrides:\n  hidden: many\n", []string{"test.yaml:6:", "cannot unmarshal"}},
		{"bad lr", base + "overrides: {lr: -1}\n", []string{"test.yaml:5:", "learning rate"}},
		{"bad seed", "streams: [split-mnist]\nscenarios: [task]\nstrategies: {naive: {}}\nseeds: [1, x]\n", []string{"test.yaml:4:", `seed "x" is not an integer`}},
		{"seed range", "streams: [split-mnist]\nscenarios: [task]\nstrategies: {naive: {}}\nseeds: 5-1\n", []string{"test.yaml:4:", "a range such as 1-5"}},
		{"duplicate seed", "streams: [split-mnist]\nscenarios: [task]\nstrategies: {naive: {}}\nseeds: [1, 1]\n", []string{"test.yaml:4:", "listed twice"}},
		{"bad scenario", "streams: [split-mnist]\nscenarios:\n  - task\n  - sideways\nstrategies: {naive: {}}\nseeds: [1]\n", []string{"test.yaml:4:", `unknown scenario "sideways"`}},
		{"unknown stream", "streams: [cifar]\nscenarios: [task]\nstrategies: {naive: {}}\nseeds: [1]\n", []string{"test.yaml:1:", `unknown stream "cifar"`, "split-mnist"}},
		{"unknown strategy", "streams: [split-mnist]\nscenarios: [task]\nstrategies:\n  naive: {}\n  nosuch: {}\nseeds: [1]\n", []string{"test.yaml:5:", `unknown strategy "nosuch"`}},
		{"unknown option", "streams: [split-mnist]\nscenarios: [task]\nstrategies:\n  naive: {lambda: [1, 2]}\nseeds: [1]\n", []string{"test.yaml:4:", `unknown option "lambda"`}},
		{"bad option value", "streams: [split-mnist]\nscenarios: [task]\nstrategies:\n  naive: {heads: [single, triple]}\nseeds: [1]\n", []string{"test.yaml:4:", "heads", "single, multi"}},
		{"option list of lists", "streams: [split-mnist]\nscenarios: [task]\nstrategies:\n  naive:\n    heads: [[single]]\nseeds: [1]\n", []string{"test.yaml:5:", "got a list"}},
		{"duplicate setting", "streams: [split-mnist]\nscenarios: [task]\nstrategies:\n  - naive:heads=single\n  - naive: {heads: single}\nseeds: [1]\n", []string{"test.yaml:5:", "also produced at line 4"}},
		{"stream key", "streams:\n  - {name: split-mnist, task: 5}\nscenarios: [task]\nstrategies: {naive: {}}\nseeds: [1]\n", []string{"test.yaml:2:", `unknown key "task" in a stream`}},
		{"tasks do not divide", "streams:\n  - {name: split-mnist, tasks: 3}\nscenarios: [task]\nstrategies: {naive: {}}\nseeds: [1]\n", []string{"test.yaml:2:", "do not split evenly"}},
		{"class order on permuted", "streams:\n  - {name: permuted-mnist, class_order: [1, 0]}\nscenarios: [task]\nstrategies: {naive: {}}\nseeds: [1]\n", []string{"test.yaml:2:", "class_order applies to split-mnist only"}},
		{"same stream twice", "streams: [split-mnist, split]\nscenarios: [task]\nstrategies: {naive: {}}\nseeds: [1]\n", []string{"appears twice", "label"}},
		{"bad protocol", base + "protocol: fast\n", []string{"test.yaml:5:", `unknown protocol "fast"`}},
		{"bad name", "name: my sweep\n" + base, []string{"test.yaml:1:", "name"}},
		{"syntax", base + "overrides: {iterations: 5\n", []string{"test.yaml:"}},
		{"two documents", base + "---\nname: x\n", []string{"second YAML document"}},
		{"several errors", "streams: [cifar]\nscenarios: [sideways]\nstrategies: {naive: {}}\nseeds: [1]\n", []string{"test.yaml:2:", "sideways"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("test.yaml", []byte(tc.src))
			if err == nil {
				_, err = f.Expand(strategies.Default)
			}
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
}

func TestCellIDsStable(t *testing.T) {
	src := `
streams: [split-mnist]
scenarios: [task]
strategies: {naive: {}, joint: {}}
seeds: [1, 2]
overrides: {iterations: 20, hidden: [32], train_limit: 500, test_limit: 200}
`
	p := mustPlan(t, src, strategies.Default)
	// Pinned: an id change silently re-runs every existing sweep. Change only on purpose.
	if p.Cells[0].ID != "3b33ce40fa147be4" || p.Cells[3].ID != "84ca353c360ece2f" {
		t.Errorf("ids changed: %s %s", p.Cells[0].ID, p.Cells[3].ID)
	}
	// Adding strategies, seeds and scenarios renumbers cells but keeps their ids.
	q := mustPlan(t, `
streams: [split-mnist]
scenarios: [class, task]
strategies: {multihead: {}, naive: {}, joint: {}}
seeds: [0, 1, 2]
overrides: {iterations: 20, hidden: [32], train_limit: 500, test_limit: 200, tasks: 5}
`, strategies.Default)
	ids := map[string]Cell{}
	for _, c := range q.Cells {
		ids[c.ID] = c
	}
	for _, c := range p.Cells {
		d, ok := ids[c.ID]
		if !ok || d.Strategy != c.Strategy || d.Seed != c.Seed || q.Groups[d.Group].Dir != p.Groups[c.Group].Dir {
			t.Errorf("cell %+v has no twin in the larger grid", c)
		}
	}
	// Any setting change changes every id.
	r := mustPlan(t, strings.Replace(src, "iterations: 20", "iterations: 21", 1), strategies.Default)
	for i := range p.Cells {
		if p.Cells[i].ID == r.Cells[i].ID {
			t.Errorf("cell %d kept its id with other iterations", i)
		}
	}
	// Unique within a grid.
	f, _ := Load("../examples/sweeps/regularization.yaml")
	big, err := f.Expand(nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range big.Cells {
		if seen[c.ID] {
			t.Fatalf("duplicate id %s", c.ID)
		}
		seen[c.ID] = true
	}
}
