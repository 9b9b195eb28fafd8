package streams

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/stream"
)

// TestRegisterOneFile registers a stream in a fresh registry, as a stream file does, and finds
// its presets, defaults and builder through it.
func TestRegisterOneFile(t *testing.T) {
	r := NewRegistry()
	built := 0
	r.Register(Def{
		Name: "tiny", Aliases: []string{"t"}, Doc: "a test stream", DefaultTasks: 2, Scenarios: []stream.Scenario{stream.TaskIL},
		Build: func(data *Data, spec runspec.Spec, sc stream.Scenario) (*stream.Stream, error) {
			built++
			st := &stream.Stream{Name: "tiny", Scenario: sc, InputDim: 1, Outputs: 2}
			ds := &stream.Dataset{N: 1, Dim: 1, X: []float32{0}, Labels: []uint8{0}}
			for i := range spec.Tasks {
				sp := stream.Split{Data: ds, Index: []int32{0}, Target: []int32{0}}
				st.Tasks = append(st.Tasks, &stream.Task{ID: i, Name: "t", Units: []int{0, 1}, Train: sp, Test: sp})
			}
			return st, nil
		},
		Protocols: map[string]runspec.Spec{"paper": {Iterations: 9, Batch: 2, EvalBatch: 3, LR: 0.5, Hidden: []int{4}}, "quick": {Iterations: 1, Batch: 2, EvalBatch: 3, LR: 0.5, Hidden: []int{4}}},
		Defaults:  map[string]Tuning{"paper": {Values: map[string]float64{"ewc.lambda/task": 42}}, "quick": {Values: map[string]float64{"ewc.lambda/task": 7}}},
	})
	var o runspec.Overrides
	o.Set("stream", "t") // an alias
	o.Set("protocol", "paper")
	o.Set("batch", "7")
	spec, err := r.Spec(o)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Stream != "tiny" || spec.Iterations != 9 || spec.Batch != 7 || spec.Tasks != 2 || spec.Scenario != "task" {
		t.Fatalf("resolved %+v", spec)
	}
	st, err := r.Build(nil, spec)
	if err != nil || built != 1 || len(st.Tasks) != 2 || st.Defaults["ewc.lambda/task"] != 42 {
		t.Fatalf("built %v (%d calls), defaults %v", err, built, st.Defaults)
	}
	// The defaults are the protocol's: quick's value under the quick protocol.
	quick := spec
	quick.Protocol = "quick"
	if st, err := r.Build(nil, quick); err != nil || st.Defaults["ewc.lambda/task"] != 7 {
		t.Fatalf("quick protocol: %v, defaults %v", err, st.Defaults)
	}
	o.Set("scenario", "class")
	if _, err := r.Spec(o); err == nil || !strings.Contains(err.Error(), "class-IL") {
		t.Errorf("a scenario the stream does not register: %v", err)
	}
	if names := r.Names(); len(names) != 1 || names[0] != "tiny" {
		t.Errorf("names %v", names)
	}
	for name, d := range map[string]Def{
		"duplicate alias": {Name: "other", Aliases: []string{"t"}, Build: r.m["tiny"].Build, Protocols: r.m["tiny"].Protocols},
		"no builder":      {Name: "x", Protocols: r.m["tiny"].Protocols},
		"no quick":        {Name: "y", Build: r.m["tiny"].Build, Protocols: map[string]runspec.Spec{"paper": {}}},
		"bad name":        {Name: "a b", Build: r.m["tiny"].Build, Protocols: r.m["tiny"].Protocols},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Register did not panic", name)
				}
			}()
			r.Register(d)
		}()
	}
}

// TestBuiltinPresets checks the presets and strengths split and permuted MNIST register.
func TestBuiltinPresets(t *testing.T) {
	for _, tc := range []struct {
		stream, protocol string
		iters, hidden    int
		lr               float64
		testLimit        int
	}{
		{"split-mnist", "paper", 2000, 400, 1e-3, 0},
		{"split-mnist", "quick", 200, 400, 1e-3, 0},
		{"permuted", "paper", 5000, 1000, 1e-4, 0},
		{"permuted-mnist", "quick", 300, 1000, 1e-3, 2000},
	} {
		s, err := Preset(tc.stream, tc.protocol, "domain")
		if err != nil {
			t.Fatal(err)
		}
		if s.Iterations != tc.iters || s.Hidden[0] != tc.hidden || s.LR != tc.lr || s.TestLimit != tc.testLimit || s.Batch != 128 || s.EvalBatch != 1000 {
			t.Errorf("%s %s: %+v", tc.stream, tc.protocol, s)
		}
	}
}

// Every built-in stream registers default strengths for both protocols, for every regulariser's
// auto options in every scenario, tuned with seeds disjoint from the seeds clgraph reports
// (ReportedSeeds) and naming a source that is in the repository.
func TestTuningCoversProtocols(t *testing.T) {
	for _, name := range Names() {
		d, _ := Lookup(name)
		if d.Untuned != "" {
			t.Logf("%s: untuned (%s)", name, d.Untuned)
			continue
		}
		for _, p := range []string{"paper", "quick"} {
			tu, ok := d.Defaults[p]
			if !ok {
				t.Errorf("%s %s: no defaults", name, p)
				continue
			}
			for _, key := range []string{"ewc.lambda", "ewc_online.lambda", "ewc_online.gamma", "l2.lambda", "si.c"} {
				for _, sc := range []string{"task/multi", "domain", "class"} {
					k := key + "/" + sc
					_, exact := tu.Values[k]
					_, scen := tu.Values[strings.TrimSuffix(k, "/multi")]
					if !exact && !scen {
						t.Errorf("%s %s: no default for %s", name, p, k)
					}
				}
			}
			for _, seed := range tu.Seeds {
				if slices.Contains(ReportedSeeds, seed) {
					t.Errorf("%s %s: tuned with seed %d, which is a reported seed %v", name, p, seed, ReportedSeeds)
				}
			}
			if len(tu.Seeds) == 0 {
				t.Errorf("%s %s: no tuning seeds recorded", name, p)
			}
			src := strings.Fields(tu.Source)
			if len(src) == 0 {
				t.Errorf("%s %s: no source", name, p)
				continue
			}
			if _, err := os.Stat(filepath.Join("..", src[0])); err != nil {
				t.Errorf("%s %s: source %q: %v", name, p, tu.Source, err)
			}
		}
	}
}
