package loop

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/streams"
)

// TestClassOrderRecorded checks that a run records the class order its stream dealt (here drawn
// from the seed) in its result and in result.json, beside task names that spell it out.
func TestClassOrderRecorded(t *testing.T) {
	d := realMNIST(t)
	spec := runspec.Spec{Stream: "split-mnist", Scenario: "class", TrainLimit: 100, TestLimit: 50, Seed: 3, ClassOrderMode: runspec.ClassOrderRandom}
	st, err := streams.Build(d, spec)
	if err != nil {
		t.Fatal(err)
	}
	s, err := strategies.Default.New("naive")
	if err != nil {
		t.Fatal(err)
	}
	set := named(quickSettings(2), "naive")
	set.Seed, set.ClassOrderMode = 3, runspec.ClassOrderRandom
	var r Runner
	res, err := r.Run(context.Background(), st, s, set)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.ClassOrder, st.ClassOrder) || len(res.ClassOrder) != 10 {
		t.Fatalf("result class order %v, stream's %v", res.ClassOrder, st.ClassOrder)
	}
	if want := fmt.Sprintf("%d/%d", st.ClassOrder[0], st.ClassOrder[1]); res.Tasks[0] != want {
		t.Fatalf("task 1 named %s, want %s", res.Tasks[0], want)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"class_order":[`) {
		t.Fatalf("result.json holds no class order: %s", b)
	}
	var back results.Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.ClassOrder, st.ClassOrder) {
		t.Fatalf("class order read back %v, want %v", back.ClassOrder, st.ClassOrder)
	}
}
