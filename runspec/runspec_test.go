package runspec

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestOverridesApplyAndDiff(t *testing.T) {
	base := Spec{Stream: "split-mnist", Scenario: "task", Protocol: "quick", Iterations: 200, Batch: 128, EvalBatch: 1000, LR: 1e-3, Hidden: []int{400, 400}}
	var o Overrides
	for k, v := range map[string]string{"iterations": "50", "lr": "0.01", "hidden": "32,16", "test-limit": "500", "class_order": "1,0"} {
		if err := o.Set(k, v); err != nil {
			t.Fatalf("Set(%s, %s): %v", k, v, err)
		}
	}
	got := base.Clone()
	if err := o.Apply(&got); err != nil {
		t.Fatal(err)
	}
	want := base.Clone()
	want.Iterations, want.LR, want.Hidden, want.TestLimit, want.ClassOrder = 50, 0.01, []int{32, 16}, 500, []int{1, 0}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("applied %+v, want %+v", got, want)
	}
	if len(base.Hidden) != 2 || base.Hidden[0] != 400 {
		t.Fatal("Apply changed the spec it was cloned from")
	}
	ds := Diff(base, got, All)
	var keys []string
	for _, d := range ds {
		keys = append(keys, d.Key)
	}
	if strings.Join(keys, ",") != "class_order,test_limit,iterations,lr,hidden" {
		t.Errorf("Diff keys %v", keys)
	}
	if s := Differences(ds); !strings.Contains(s, "iterations: 200 vs 50") || !strings.Contains(s, "learning rate (lr): 0.001 vs 0.01") {
		t.Errorf("Differences: %s", s)
	}
	// The free settings are skipped when comparing results.
	free := base.Clone()
	free.DataDir, free.CheckpointEvery = "/data", 7
	if d := Diff(base, free, Results); len(d) != 0 {
		t.Errorf("Results mode compares free settings: %v", d)
	}
	if d := Diff(base, free, All); len(d) != 2 {
		t.Errorf("All mode: %v", d)
	}
	eb := base.Clone()
	eb.EvalBatch = 10
	if len(Diff(base, eb, Results)) != 1 || len(Diff(base, eb, Compare)) != 0 {
		t.Error("eval_batch: compared by Results, ignored by Compare")
	}
	// nil and empty lists are the same setting.
	empty := base.Clone()
	empty.ClassOrder = []int{}
	if d := Diff(base, empty, All); len(d) != 0 {
		t.Errorf("nil vs empty class order: %v", d)
	}
}

func TestOverridesErrors(t *testing.T) {
	var o Overrides
	for _, tc := range []struct{ key, val, want string }{
		{"iteration", "5", "unknown setting"},
		{"iterations", "five", "not an integer"},
		{"lr", "NaN", "not a finite number"},
		{"hidden", "4,x", "not an integer"},
		// List settings take plain lists: a range is a typo, not 1,2,3 (issue 14).
		{"hidden", "1-3", `"1-3" is not an integer`},
		{"class_order", "0-9", `"0-9" is not an integer`},
		{"hidden", "400, 400-", "not an integer"},
	} {
		if err := o.Set(tc.key, tc.val); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Set(%s, %s): %v, want %q", tc.key, tc.val, err, tc.want)
		}
	}
	if o.Len() != 0 {
		t.Errorf("failed Sets recorded %v", o.Keys())
	}
}

func TestOverridesCopiesAreIndependent(t *testing.T) {
	var a Overrides
	a.Set("iterations", "5")
	b := a
	b.Set("scenario", "class")
	b.Set("iterations", "6")
	if a.Has("scenario") || a.Len() != 1 {
		t.Fatalf("a copy's Set changed the original: %v", a.Keys())
	}
	if v, _ := a.Get("iterations"); v != "5" {
		t.Fatalf("original iterations %s", v)
	}
	c := a.Over(b)
	if v, _ := c.Get("iterations"); v != "6" || !c.Has("scenario") {
		t.Fatalf("Over: %v", c.Keys())
	}
}

func TestValidate(t *testing.T) {
	ok := Spec{Iterations: 1, Batch: 1, EvalBatch: 1, LR: 0.1, Hidden: []int{1}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		change func(*Spec)
		want   string
	}{
		{func(s *Spec) { s.Iterations = 0 }, "iterations must be at least 1"},
		{func(s *Spec) { s.Batch = 0 }, "batch size must be at least 1"},
		{func(s *Spec) { s.LR = 11 }, "learning rate must be in (0, 10]"},
		{func(s *Spec) { s.Hidden = nil }, "at least one hidden layer"},
		{func(s *Spec) { s.Hidden = []int{3, 0} }, "hidden sizes must be positive"},
		{func(s *Spec) { s.TestLimit = -1 }, "test_limit must be 0"},
		{func(s *Spec) { s.CheckpointEvery = -2 }, "checkpoint_every -2"},
	} {
		s := ok.Clone()
		tc.change(&s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", s, err, tc.want)
		}
	}
}

// TestFieldsCoverSpec checks that every field has a key, that keys are the json names, and that
// a spec survives a JSON round trip.
func TestFieldsCoverSpec(t *testing.T) {
	typ := reflect.TypeFor[Spec]()
	if len(Fields()) != typ.NumField() {
		t.Fatalf("%d fields listed, Spec has %d", len(Fields()), typ.NumField())
	}
	for i, f := range Fields() {
		if name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ","); name != f.Key {
			t.Errorf("field %s: key %q, json %q", typ.Field(i).Name, f.Key, name)
		}
	}
	s := Spec{Stream: "s", Scenario: "class", Tasks: 3, ClassOrder: []int{2, 1, 0}, Protocol: "p", Iterations: 4, Batch: 5, EvalBatch: 6, LR: 0.25, Hidden: []int{7}, Strategy: "ewc:lambda=3", Seed: 9, CheckpointEvery: -1}
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Spec
	if err := json.Unmarshal(data, &back); err != nil || len(Diff(s, back, All)) != 0 {
		t.Fatalf("round trip: %v %v", err, Diff(s, back, All))
	}
}
