package strategies_test

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

// TestRequirementsDeclaredOnce checks that what a listing reports (Registry.Requirements of a
// name or spec) is what the strategy itself reports to the runner, and that naive:heads=multi
// needs task identity in both and is refused outside task-IL when run.
func TestRequirementsDeclaredOnce(t *testing.T) {
	want := map[string]bool{
		"naive": false, "naive:heads=multi": true, "multihead": true, "joint": false, "joint:heads=multi": true,
		"ewc": false, "ewc:heads=multi": true, "l2:heads=multi": true, "replay": false, "pnn": true,
		"layerwise": false, "layerwise:heads=multi": true, "si": false, "si:heads=multi": true,
		"agem": false, "der": false, "der:heads=multi": true, "lwf": false, "mas": false, "mas:heads=multi": true,
		"gem": false, "gem:heads=multi": true, "gdumb": false, "gdumb:heads=multi": true, "icarl": false, "xdg": true,
	}
	for spec, w := range want {
		req, err := strategies.Default.Requirements(spec)
		if err != nil {
			t.Fatal(err)
		}
		if req.TaskIdentity != w {
			t.Errorf("%s: listing says task identity %v, want %v", spec, req.TaskIdentity, w)
		}
	}
	for _, name := range strategies.Default.Names() {
		req, err := strategies.Default.Requirements(name)
		if err != nil {
			t.Fatal(err)
		}
		s, err := strategies.Default.New(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := strategies.RequirementsOf(s); !reflect.DeepEqual(got, req) {
			t.Errorf("%s: listing %+v, strategy %+v", name, req, got)
		}
	}
	if _, err := strategies.Default.Requirements("nosuch"); err == nil {
		t.Error("requirements of an unknown strategy")
	}
	st := strategytest.Synthetic(stream.ClassIL, 2, 2, 6, 10, 1)
	s, err := strategies.Default.New("naive:heads=multi")
	if err != nil {
		t.Fatal(err)
	}
	set := runspec.Spec{Protocol: "test", Iterations: 1, Batch: 8, EvalBatch: 16, LR: 1e-3, Hidden: []int{4}}
	_, err = (&loop.Runner{}).Run(context.Background(), st, s, loop.Settings{Spec: set.Cell("naive:heads=multi", 1)})
	if err == nil || !strings.Contains(err.Error(), "needs task identities") {
		t.Errorf("naive:heads=multi in class-IL: %v, want a task-identity refusal", err)
	}
}

// TestAutoOptionKind checks the auto option kind: listings describe it, FloatOrAuto reads it,
// and a plain option does not take "auto".
func TestAutoOptionKind(t *testing.T) {
	info, ok := strategies.Default.Lookup("ewc")
	if !ok {
		t.Fatal("ewc not registered")
	}
	var lambda strategies.Option
	for _, o := range info.Options {
		if o.Name == "lambda" {
			lambda = o
		}
	}
	if lambda.Auto == nil || *lambda.Auto != strategies.EWCLambdas {
		t.Fatalf("ewc's lambda is not an auto option over EWCLambdas: %+v", lambda)
	}
	if got, want := lambda.Help(), "penalty strength; auto: the stream's default (ewc.lambda), else 100"; got != want {
		t.Errorf("Help %q, want %q", got, want)
	}
	if h := strategies.HeadsOption.Help(); h != strategies.HeadsOption.Doc {
		t.Errorf("a plain option's Help %q is not its Doc", h)
	}
	table := strategies.AutoTable{Key: "x.k", Fallback: 2}
	test := strategies.Info{Name: "x", Options: []strategies.Option{{Name: "k", Default: "auto", Auto: &table}, {Name: "plain", Default: "1"}}}
	for spec, want := range map[string]strategies.AutoFloat{
		"x":         {Name: "k", Auto: true, Table: table},
		"x:k=AUTO":  {Name: "k", Auto: true, Table: table},
		"x:k=0.25":  {Name: "k", Value: 0.25, Table: table},
		"x:plain=3": {Name: "k", Auto: true, Table: table},
	} {
		o, err := strategies.NewOptions(test, spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := o.FloatOrAuto("k"); got != want || o.Err() != nil {
			t.Errorf("%s: %+v (%v), want %+v", spec, got, o.Err(), want)
		}
	}
	for _, spec := range []string{"x:k=-1", "x:k=inf", "x:k=nan", "x:k=x", "x:plain=auto"} {
		o, _ := strategies.NewOptions(test, spec)
		o.FloatOrAuto("k")
		o.FloatOrAuto("plain")
		if o.Err() == nil {
			t.Errorf("%s accepted", spec)
		}
	}
	a := strategies.AutoFloat{Name: "k", Auto: true, Table: table}
	st := strategytest.Synthetic(stream.DomainIL, 2, 2, 6, 10, 1)
	a.Resolve(&strategies.Env{Stream: st}, stream.SingleHead)
	if a.Value != 2 || !reflect.DeepEqual(a.Resolved(), map[string]string{"k": "2"}) {
		t.Errorf("resolved to %v (%v), want the fallback 2", a.Value, a.Resolved())
	}
	st.Defaults = map[string]float64{"x.k/domain": 9}
	a.Resolve(&strategies.Env{Stream: st}, stream.SingleHead)
	if a.Value != 9 {
		t.Errorf("resolved to %v, want the stream's default 9", a.Value)
	}
}

// TestBaseIsStatelessCheckpointer: strategies with no state of their own are checkpointable
// through Base and refuse a non-empty state.
func TestBaseIsStatelessCheckpointer(t *testing.T) {
	for _, spec := range []string{"naive", "multihead", "joint", "layerwise", "pnn"} {
		s, err := strategies.Default.New(spec)
		if err != nil {
			t.Fatal(err)
		}
		c, ok := s.(strategies.Checkpointer)
		if !ok {
			t.Fatalf("%s is not a Checkpointer", spec)
		}
		if b, err := c.SaveState(); b != nil || err != nil {
			t.Errorf("%s: state %q, %v", spec, b, err)
		}
		if err := c.LoadState(nil); err != nil {
			t.Errorf("%s: empty state: %v", spec, err)
		}
		if err := c.LoadState([]byte("{}")); err == nil {
			t.Errorf("%s: a non-empty state accepted", spec)
		}
	}
}

// TestRegularizerState round-trips a regulariser's state (penalty and a named buffer) into a
// fresh strategy and checks that malformed states are refused without changing anything.
func TestRegularizerState(t *testing.T) {
	st := strategytest.Synthetic(stream.ClassIL, 2, 2, 6, 20, 5)
	setup := func() *strategies.EWC {
		s, err := strategies.Default.New("ewc:lambda=3,samples=0")
		if err != nil {
			t.Fatal(err)
		}
		e := s.(*strategies.EWC)
		if err := e.Setup(regEnv(st, 1)); err != nil {
			t.Fatal(err)
		}
		return e
	}
	a := setup()
	buf := a.Buffer("running")
	buf[0][1] = 42
	regTrain(t, a, st, 0, 5, 1)
	if err := a.EndTask(0); err != nil {
		t.Fatal(err)
	}
	data, err := a.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Resolved(); !reflect.DeepEqual(got, map[string]string{"heads": "single", "lambda": "3"}) || a.Q.Scale != 1.5 {
		t.Errorf("resolved %v, scale %v; want lambda 3, scale 1.5", got, a.Q.Scale)
	}
	b := setup()
	bbuf := b.Buffer("running")
	if err := b.LoadState(data); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(strategies.SaveQuadratic(a.Q), strategies.SaveQuadratic(b.Q)) || !reflect.DeepEqual(buf, bbuf) {
		t.Fatal("penalty or buffer not restored")
	}
	c := setup() // no buffer
	if err := c.LoadState(data); err == nil || !strings.Contains(err.Error(), "buffers") {
		t.Errorf("a state with a buffer the strategy lacks: %v", err)
	}
	d := setup()
	dbuf := d.Buffer("running")
	before := strategies.SaveQuadratic(d.Q)
	for _, cut := range []int{0, 10, len(data) / 2, len(data) - 1} {
		if err := d.LoadState(data[:cut]); err == nil {
			t.Errorf("a state cut to %d of %d bytes accepted", cut, len(data))
		}
	}
	if err := d.LoadState(append(bytes.Clone(data), 0)); err == nil || !strings.Contains(err.Error(), "left over") {
		t.Errorf("a state with a trailing byte: %v", err)
	}
	bad := bytes.Clone(data)
	bad[8] ^= 1 // the format string's first byte
	if err := d.LoadState(bad); err == nil || !strings.Contains(err.Error(), "format") {
		t.Errorf("a state of another format: %v", err)
	}
	if !reflect.DeepEqual(before, strategies.SaveQuadratic(d.Q)) || dbuf[0][1] != 0 {
		t.Error("a refused state changed the penalty or a buffer")
	}
	var x struct{ N int }
	d.State = &x
	if err := d.LoadState(data); err == nil || !strings.Contains(err.Error(), "no strategy state") {
		t.Errorf("a state without the strategy's State: %v", err)
	}
	// The penalty alone, as JSON.
	q, err := strategies.SaveQuadraticJSON(a.Q)
	if err != nil {
		t.Fatal(err)
	}
	e := setup()
	if err := strategies.LoadQuadraticJSON(e.Q, q); err != nil || !reflect.DeepEqual(strategies.SaveQuadratic(a.Q), strategies.SaveQuadratic(e.Q)) {
		t.Fatalf("LoadQuadraticJSON: %v", err)
	}
	if err := strategies.LoadQuadraticJSON(e.Q, []byte(`{"scale":1,"terms":[]}`)); err == nil {
		t.Error("a penalty with no terms accepted")
	}
}

// TestScenarioRequirements: a strategy limited to some scenarios lists them, the runner refuses
// the others before training with the reason and the scenario to use, and strategytest runs it
// only where it applies.
func TestScenarioRequirements(t *testing.T) {
	for spec, want := range map[string]string{
		"naive":             "task, domain, class",
		"pnn":               "task only (needs task identity at test time)",
		"naive:heads=multi": "task only (needs task identity at test time)",
		"icarl":             "class only (iCaRL is class-incremental: one sigmoid output per class, nearest-mean-of-exemplars classification over every class seen)",
	} {
		req, err := strategies.Default.Requirements(spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := req.Describe(); got != want {
			t.Errorf("%s: %q, want %q", spec, got, want)
		}
	}
	s, err := strategies.Default.New("icarl")
	if err != nil {
		t.Fatal(err)
	}
	st := strategytest.Synthetic(stream.DomainIL, 2, 2, 6, 10, 1)
	set := runspec.Spec{Protocol: "test", Iterations: 1, Batch: 8, EvalBatch: 16, LR: 1e-3, Hidden: []int{4}}
	_, err = (&loop.Runner{}).Run(context.Background(), st, s, loop.Settings{Spec: set.Cell("icarl", 1)})
	if err == nil || !strings.Contains(err.Error(), "does not run in the domain-IL scenario") || !strings.Contains(err.Error(), "--scenario class") {
		t.Errorf("icarl in domain-IL: %v", err)
	}
}

// ownNetwork is a third-party strategy built on Base that says its network is not only Base's.
type ownNetwork struct{ strategies.Naive }

func (*ownNetwork) ConvTrunk() bool { return false }

// TestConvTrunkOptOut checks the conv-trunk default: a strategy built on Base runs on a conv
// trunk without saying so, one that overrides ConvTrunk is refused one by the runner's check, and
// xdg follows its inner strategy.
func TestConvTrunkOptOut(t *testing.T) {
	conv := runspec.Spec{Model: runspec.ModelConv}
	if !strategies.RunsOnConv(&strategies.Naive{}) {
		t.Error("a strategy built on Base does not run on a conv trunk by default")
	}
	own := &ownNetwork{}
	if strategies.RunsOnConv(own) {
		t.Error("a strategy that overrides ConvTrunk with false runs on a conv trunk")
	}
	if err := loop.CheckSettings(conv, own, "own"); err == nil || !strings.Contains(err.Error(), "drop --model conv") {
		t.Errorf("conv trunk for an opted-out strategy: got %v, want a refusal that says what to do", err)
	}
	if err := loop.CheckSettings(conv, &strategies.Naive{}, "naive"); err != nil {
		t.Errorf("conv trunk for naive refused: %v", err)
	}
	if strategies.RunsOnConv(&strategies.XdG{}) {
		t.Error("xdg without an inner strategy claims a conv trunk")
	}
	if !strategies.RunsOnConv(&strategies.XdG{Inner: &strategies.Naive{}}) {
		t.Error("xdg over naive does not run on a conv trunk")
	}
}

// TestNormalizeRefusedForGenerators checks that dgr and rtf, whose generators reconstruct pixel
// values in [0, 1], refuse normalised inputs with the reason, while naive takes them.
func TestNormalizeRefusedForGenerators(t *testing.T) {
	spec := runspec.Spec{Normalize: []float64{0.1, 0.2752}}
	for _, name := range []string{"dgr", "rtf", "dgr:distill=true"} {
		s, err := strategies.Default.New(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := loop.CheckSettings(spec, s, name); err == nil || !strings.Contains(err.Error(), "drop --normalize") {
			t.Errorf("%s with normalised inputs: %v", name, err)
		}
	}
	if err := loop.CheckSettings(spec, &strategies.Naive{}, "naive"); err != nil {
		t.Errorf("naive with normalised inputs: %v", err)
	}
}
