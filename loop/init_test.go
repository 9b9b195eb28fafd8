package loop_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

// recorder is a strategy that records its parameters when the first task starts (after the
// runner's initialisation).
type recorder struct {
	strategies.Strategy
	start []strategies.ParamState
	// unanchored lists, for si, the parameters whose penalty anchor differs from their value
	// when the first task starts.
	unanchored []string
}

func (r *recorder) StartTask(cur int) error {
	if cur == 0 {
		r.start = strategies.SaveParams(r.Params())
		if si, ok := r.Strategy.(*strategies.SI); ok {
			for _, term := range si.Q.Terms {
				if !slices.Equal(term.Anchors(), term.Param.Data()) {
					r.unanchored = append(r.unanchored, term.Param.Name)
				}
			}
		}
	}
	if ts, ok := r.Strategy.(strategies.TaskStarter); ok {
		return ts.StartTask(cur)
	}
	return nil
}

// TestSaveModelInitFrom: a run with save_model writes model.json; a run of the same stream with
// init_from that file starts where the first ended: its parameters when its first task starts
// are the file's, bit for bit (every one was loaded), and the record says so.
func TestSaveModelInitFrom(t *testing.T) {
	st := strategytest.Synthetic(stream.ClassIL, 3, 2, 12, 40, 9)
	dir := t.TempDir()
	set := smallSettings(1)
	set.SaveModel = true
	c := loop.Cell{Dir: dir, Spec: set.Spec.Cell("naive", 1), Stream: st, Registry: strategies.Default}
	first, err := (&loop.Runner{}).RunCell(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(c.ResultDir(), strategies.ModelFileName)
	m, err := strategies.ReadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.Strategy != "naive" || m.Seed != 1 || len(m.Params) == 0 {
		t.Fatalf("model file: strategy %q seed %d, %d parameters", m.Strategy, m.Seed, len(m.Params))
	}
	set2 := smallSettings(2)
	set2.InitFrom = path
	s, _ := strategies.Default.New("naive")
	rec := &recorder{Strategy: s}
	res, err := (&loop.Runner{}).Run(context.Background(), st, rec, set2)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range rec.start {
		if p.Name != m.Params[i].Name || !slices.Equal(p.Data, m.Params[i].Data) {
			t.Fatalf("parameter %s at the first task: not the model file's %s", p.Name, m.Params[i].Name)
		}
	}
	if first.Status != "ok" {
		t.Fatalf("first run: %s", first.Status)
	}
	if res.Init == nil || res.Init.From != path || len(res.Init.Loaded) != len(m.Params) || len(res.Init.Kept) != 0 {
		t.Errorf("init record %+v: want every one of %d parameters loaded from %s", res.Init, len(m.Params), path)
	}
	if !strings.Contains(res.Init.Describe(), path) {
		t.Errorf("Describe() = %q, does not name the file", res.Init.Describe())
	}
}

// TestInitFromBadFiles: a damaged model file, a file that is not a model, and a model none of
// whose parameters fit the strategy are refused before training, saying why.
func TestInitFromBadFiles(t *testing.T) {
	st := strategytest.Synthetic(stream.ClassIL, 3, 2, 12, 40, 9)
	dir := t.TempDir()
	set := smallSettings(1)
	set.SaveModel = true
	// A model of another input size, trunk and output space: no parameter has a shape in common.
	src := strategytest.Synthetic(stream.ClassIL, 2, 2, 8, 40, 9)
	c := loop.Cell{Dir: dir, Spec: set.Spec.Cell("naive", 1), Stream: src, Registry: strategies.Default}
	if _, err := (&loop.Runner{}).RunCell(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(c.ResultDir(), strategies.ModelFileName)
	data, err := os.ReadFile(foreign)
	if err != nil {
		t.Fatal(err)
	}
	damaged := filepath.Join(dir, "damaged.json")
	os.WriteFile(damaged, data[:len(data)/2], 0o644)
	other := filepath.Join(dir, "other.json")
	os.WriteFile(other, []byte(`{"format":"something-else"}`), 0o644)
	for path, want := range map[string]string{foreign: "none of its", damaged: "not a clgraph model", other: "format", filepath.Join(dir, "missing.json"): "reading the model file"} {
		set := smallSettings(1)
		set.InitFrom, set.Hidden = path, []int{20, 10}
		s, _ := strategies.Default.New("naive")
		_, err := (&loop.Runner{}).Run(context.Background(), st, s, set)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("init_from %s: error %v, want one saying %q", filepath.Base(path), err, want)
		}
	}
}

// pretrainStream is a class-IL synthetic stream with a pre-training task of 3 other synthetic
// classes.
func pretrainStream() *stream.Stream {
	st := strategytest.Synthetic(stream.ClassIL, 2, 2, 12, 40, 9)
	st.Pretrain = strategytest.Synthetic(stream.ClassIL, 1, 3, 12, 60, 4).Tasks[0]
	return st
}

// TestPretrain: with a pre-training task every run starts from the trunk a plain model learnt
// on it (the same for every strategy and the same seed: deterministic), its heads keep their
// own initialisation, SI is re-anchored at the pre-trained trunk, and the record gives the
// classes, steps and a test accuracy the pre-training reached.
func TestPretrain(t *testing.T) {
	st := pretrainStream()
	set := smallSettings(1)
	set.PretrainClasses, set.PretrainIterations = []int{0, 1, 2}, 60
	starts := map[string][]strategies.ParamState{}
	for _, spec := range []string{"naive", "si"} {
		inner, _ := strategies.Default.New(spec)
		rec := &recorder{Strategy: inner}
		res, err := (&loop.Runner{}).Run(context.Background(), st, rec, set)
		if err != nil {
			t.Fatal(err)
		}
		p := res.Init.Pretrain
		if p == nil || p.Steps != 60 || !slices.Equal(p.Classes, []int{0, 1, 2}) || p.TestAcc < 0.6 {
			t.Fatalf("%s: pre-training record %+v", spec, p)
		}
		if !slices.Equal(p.Transfer, []string{"trunk/l0/W", "trunk/l0/b", "trunk/l1/W", "trunk/l1/b"}) {
			t.Errorf("%s: transferred %v, want the trunk's four tensors", spec, p.Transfer)
		}
		starts[spec] = rec.start
		if len(rec.unanchored) > 0 {
			t.Errorf("si's penalty is not anchored at the pre-trained values of %v", rec.unanchored)
		}
	}
	for i, a := range starts["naive"] {
		b := starts["si"][i]
		if strings.HasPrefix(a.Name, "trunk/") && !slices.Equal(a.Data, b.Data) {
			t.Errorf("%s: naive and si start from different pre-trained values", a.Name)
		}
	}
	// Without pre-training the trunk starts elsewhere.
	inner, _ := strategies.Default.New("naive")
	rec := &recorder{Strategy: inner}
	plain := smallSettings(1)
	if _, err := (&loop.Runner{}).Run(context.Background(), st, rec, plain); err != nil {
		t.Fatal(err)
	}
	if slices.Equal(rec.start[0].Data, starts["naive"][0].Data) {
		t.Error("the trunk starts from the same values with and without pre-training")
	}
}

// TestPretrainResume: a pre-trained run resumes exactly from its checkpoints (the pre-training
// is not redone on resume: the parameters come from the checkpoint), and keeps its record.
func TestPretrainResume(t *testing.T) {
	st := pretrainStream()
	set := smallSettings(1)
	set.PretrainClasses = []int{0, 1, 2}
	if err := loop.VerifyResume(context.Background(), t.TempDir(), st, builder(t, "si"), set, 7, 3); err != nil {
		t.Fatal(err)
	}
}

// ParamsInitialized passes the runner's call on to the recorded strategy.
func (r *recorder) ParamsInitialized() {
	if i, ok := r.Strategy.(strategies.Initialized); ok {
		i.ParamsInitialized()
	}
}

// TestInitNewColumns checks that under Init tnormal a progressive network's columns added at
// later tasks start as its first does (biases 0.1, weights and laterals within two standard
// deviations of 0.1), seen at each task's start before training, that without Init they keep
// PNN's own initialisation (uniform, some weights beyond 0.2), and that such a run resumes bit for bit (the new columns' draws come from a
// source of their own per task).
func TestInitNewColumns(t *testing.T) {
	st := strategytest.Synthetic(stream.TaskIL, 3, 2, 12, 30, 4)
	set := loop.Settings{Spec: runspec.Spec{Protocol: "test", Iterations: 12, Batch: 4, EvalBatch: 16, LR: 0.05, Hidden: []int{8, 6}, Seed: 5, Init: runspec.InitTNormal, Optimizer: runspec.OptimizerSGD, Strategy: "pnn"}}
	for _, init := range []string{runspec.InitTNormal, ""} {
		set.Init = init
		s, err := strategies.Default.New("pnn")
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		hook := loop.Observe(func(e loop.Event) {
			if e.Kind != loop.TaskStart || e.Task == 0 {
				return
			}
			col := "col" + string(rune('0'+e.Task)) + "/"
			wide := false // a weight beyond tnormal's two standard deviations
			for _, p := range s.Params().All() {
				if !strings.HasPrefix(p.Name, col) {
					continue
				}
				if !strings.HasSuffix(p.Name, "/b") {
					for _, v := range p.Data() {
						wide = wide || math.Abs(float64(v)) > 0.2
					}
					continue
				}
				checked++
				for _, v := range p.Data() {
					if (v == 0.1) != (init == runspec.InitTNormal) {
						t.Errorf("init %q, task %d: %s starts with %v", init, e.Task+1, p.Name, v)
						return
					}
				}
			}
			if wide == (init == runspec.InitTNormal) {
				t.Errorf("init %q, task %d: a weight of the new column beyond 0.2: %v", init, e.Task+1, wide)
			}
		})
		if _, err := (&loop.Runner{Log: quietLogger(), Hooks: []loop.Hook{hook}}).Run(context.Background(), st, s, set); err != nil {
			t.Fatal(err)
		}
		if checked == 0 {
			t.Fatalf("init %q: no bias of a new column seen (names: %v)", init, s.Params().Names())
		}
	}
	set.Init = runspec.InitTNormal
	build := func() (strategies.Strategy, error) { return strategies.Default.New("pnn") }
	if err := loop.VerifyResume(context.Background(), t.TempDir(), st, build, set, 5, 6); err != nil {
		t.Fatal(err)
	}
}
