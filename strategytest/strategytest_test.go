package strategytest_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

// importance is a MAS-like test regulariser built on strategies.Regularizer: during a task it
// sums every penalised parameter's squared gradient (acc) and counts the steps (n); at the task's
// end it adds acc/n to the importance weights and re-anchors. With save=false its running sums
// are scratch space (an unnamed Buffer, no State): a checkpoint in the middle of a task loses
// them, the mutation CheckResume must catch.
type importance struct {
	strategies.Regularizer
	save bool
	acc  [][]float32
	n    int
}

var importanceStrength = strategies.AutoTable{Key: "importance.lambda", Fallback: 1}

func (s *importance) Setup(env *strategies.Env) error {
	if err := s.Regularizer.Setup(env); err != nil {
		return err
	}
	name := ""
	if s.save {
		name = "acc"
		s.State = &s.n
	}
	s.acc = s.Buffer(name)
	return nil
}

func (s *importance) Step(cur int, bt *stream.Batch) (strategies.StepInfo, error) {
	info, err := s.Base.Step(cur, bt)
	if err != nil {
		return info, err
	}
	for i := range s.Q.Terms {
		for j, g := range s.Net.Grad(s.Q.Terms[i].Param) {
			s.acc[i][j] += g * g
		}
	}
	s.n++
	return info, nil
}

func (s *importance) EndTask(int) error {
	for i := range s.Q.Terms {
		w := s.Q.Terms[i].Weights()
		for j := range w {
			w[j] += s.acc[i][j] / float32(s.n)
		}
		clear(s.acc[i])
	}
	s.n = 0
	s.Q.SetAnchors()
	return nil
}

// tally is a Base strategy with one piece of state of its own, a step counter that decides which
// steps train (every fifth is skipped). With save=false it relies on Base's empty Checkpointer,
// so a resumed run restarts the count: the mutation CheckResume must catch.
type tally struct {
	strategies.Base
	save  bool
	steps int
}

func (s *tally) Step(cur int, bt *stream.Batch) (strategies.StepInfo, error) {
	s.steps++
	if s.steps%5 == 0 {
		return strategies.StepInfo{Samples: bt.N}, nil
	}
	return s.Base.Step(cur, bt)
}

func (s *tally) SaveState() ([]byte, error) {
	if !s.save {
		return s.Base.SaveState()
	}
	return json.Marshal(s.steps)
}

func (s *tally) LoadState(data []byte) error {
	if !s.save {
		return s.Base.LoadState(data)
	}
	return json.Unmarshal(data, &s.steps)
}

// opaque hides every optional interface of the strategy it wraps: it cannot be checkpointed.
type opaque struct{ strategies.Strategy }

func testRegistry() *strategies.Registry {
	reg := strategies.NewRegistry()
	save := strategies.Option{Name: "save", Default: "true", Doc: "save the strategy's own state in checkpoints"}
	reg.Register(strategies.Info{Name: "importance", Doc: "test regulariser", Options: []strategies.Option{
		{Name: "lambda", Default: "auto", Doc: "penalty strength", Auto: &importanceStrength}, save, strategies.HeadsOption,
	}}, func(o *strategies.Options) (strategies.Strategy, error) {
		s := &importance{}
		s.ParseRegularizer(o, "lambda", 0.5)
		s.save = o.Bool("save")
		return s, nil
	})
	reg.Register(strategies.Info{Name: "tally", Doc: "test counter", Options: []strategies.Option{save}},
		func(o *strategies.Options) (strategies.Strategy, error) { return &tally{save: o.Bool("save")}, nil })
	reg.Register(strategies.Info{Name: "opaque", Doc: "not checkpointable"},
		func(*strategies.Options) (strategies.Strategy, error) { return &opaque{&strategies.Naive{}}, nil })
	return reg
}

// TestConformingTestStrategies: the test strategies that save their state pass the whole suite,
// the resume check included.
func TestConformingTestStrategies(t *testing.T) {
	for _, spec := range []string{"importance", "tally"} {
		t.Run(spec, func(t *testing.T) { strategytest.Run(t, testRegistry(), spec) })
	}
}

// TestCheckResumeCatchesForgottenState: a strategy that keeps state it does not save fails the
// resume check, whether it embeds Regularizer (running sums left out of its buffers and State)
// or Base (a counter left to Base's empty state); the same strategies saving it pass.
func TestCheckResumeCatchesForgottenState(t *testing.T) {
	reg := testRegistry()
	for _, sc := range []stream.Scenario{stream.DomainIL, stream.ClassIL} {
		for _, spec := range []string{"importance:save=false", "tally:save=false"} {
			err := strategytest.CheckResume(context.Background(), t.TempDir(), reg, spec, sc)
			if err == nil || !strings.Contains(err.Error(), "does not resume exactly") {
				t.Errorf("%s in %s-IL: %v, want a resume difference", spec, sc, err)
			} else {
				t.Logf("%s in %s-IL (expected): %v", spec, sc, err)
			}
		}
		for _, spec := range []string{"importance:save=true", "tally:save=true"} {
			if err := strategytest.CheckResume(context.Background(), t.TempDir(), reg, spec, sc); err != nil {
				t.Errorf("%s in %s-IL: %v", spec, sc, err)
			}
		}
	}
}

func TestCheckResumeNotCheckpointable(t *testing.T) {
	err := strategytest.CheckResume(context.Background(), t.TempDir(), testRegistry(), "opaque", stream.ClassIL)
	if !errors.Is(err, strategytest.ErrNotCheckpointable) {
		t.Fatalf("%v, want ErrNotCheckpointable", err)
	}
}
