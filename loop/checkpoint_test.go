package loop_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/clgraph/clgraph/runspec"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

func smallSettings(seed int64) loop.Settings {
	return loop.Settings{Spec: runspec.Spec{Protocol: "test", Iterations: 30, Batch: 16, EvalBatch: 64, LR: 3e-3, Hidden: []int{24, 16}, Seed: seed}}
}

func builder(t testing.TB, spec string) func() (strategies.Strategy, error) {
	t.Helper()
	return func() (strategies.Strategy, error) { return strategies.Default.New(spec) }
}

// TestResumeBuiltins resumes every built-in strategy from every checkpoint of a run and from an
// interruption, and gets the uninterrupted run's matrices bit for bit.
func TestResumeBuiltins(t *testing.T) {
	for _, tc := range []struct {
		spec string
		sc   stream.Scenario
	}{
		{"naive", stream.ClassIL},
		{"naive", stream.DomainIL},
		{"multihead", stream.TaskIL},
		{"joint", stream.ClassIL},
		{"joint:heads=multi", stream.TaskIL},
		{"pnn", stream.TaskIL},
		{"pnn:adapter=true,width=8", stream.TaskIL},
		{"layerwise:freeze=1,decay=0.5", stream.DomainIL},
		{"layerwise:decay=0.7,heads=multi", stream.TaskIL},
		{"agem:per_class=4,ref=48", stream.ClassIL}, // a reference batch larger than the batch
	} {
		t.Run(tc.spec+"/"+tc.sc.String(), func(t *testing.T) {
			st := strategytest.Synthetic(tc.sc, 3, 2, 12, 40, 9)
			err := loop.VerifyResume(context.Background(), t.TempDir(), st, builder(t, tc.spec), named(smallSettings(5), tc.spec), 7, 6)
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	// The other optimisers' state (Adagrad's sums of squares) resumes too.
	for _, opt := range []string{runspec.OptimizerSGD, runspec.OptimizerAdagrad} {
		t.Run("naive/"+opt, func(t *testing.T) {
			st := strategytest.Synthetic(stream.ClassIL, 3, 2, 12, 40, 9)
			set := named(smallSettings(5), "naive")
			set.Optimizer, set.LR = opt, 0.05
			if err := loop.VerifyResume(context.Background(), t.TempDir(), st, builder(t, "naive"), set, 7, 6); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// writeCheckpoint runs naive on st and returns the bytes of the checkpoint at the end of task 1.
func writeCheckpoint(t testing.TB, st *stream.Stream, set loop.Settings) []byte {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, loop.CheckpointFile)
	var first []byte
	hook := func(e loop.Event) {
		if e.Kind == loop.CheckpointSaved && first == nil {
			first, _ = os.ReadFile(e.Checkpoint)
		}
	}
	s, err := strategies.Default.New("naive")
	if err != nil {
		t.Fatal(err)
	}
	set.Checkpoint, set.CheckpointEvery = loop.CheckpointSettings{Path: path}, 11
	if _, err := (&loop.Runner{Hooks: []loop.Hook{loop.Observe(hook)}}).Run(context.Background(), st, s, named(set, "naive")); err != nil {
		t.Fatal(err)
	}
	if first == nil {
		t.Fatal("no checkpoint written")
	}
	return first
}

// reseal recomputes a checkpoint's checksum line after an edit.
func reseal(data []byte) []byte {
	n := len("sha256 ") + 65
	if len(data) < n {
		return data
	}
	body := data[:len(data)-n]
	sum := sha256.Sum256(body)
	return append(bytes.Clone(body), "sha256 "+hex.EncodeToString(sum[:])+"\n"...)
}

func TestCheckpointRefused(t *testing.T) {
	st := strategytest.Synthetic(stream.ClassIL, 3, 2, 12, 40, 9)
	set := smallSettings(5)
	good := writeCheckpoint(t, st, set)
	c, err := loop.DecodeCheckpoint(good)
	if err != nil {
		t.Fatal(err)
	}
	if c.Header.Task != 0 || c.Header.Step != 11 || c.Header.Done || c.Header.Spec.Strategy != "naive" || c.Header.Spec.Seed != 5 {
		t.Fatalf("header %+v", c.Header)
	}
	again, err := c.Encode()
	if err != nil || !bytes.Equal(again, good) {
		t.Fatalf("re-encoding differs (%v)", err)
	}
	flip := bytes.Clone(good)
	flip[len(flip)/2] ^= 0x20
	other := bytes.Replace(good, []byte(loop.CheckpointFormat), []byte("clgraph.checkpoint/v9"), 1)
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"empty":     {nil, "empty"},
		"truncated": {good[:len(good)-30], "truncated"},
		"cut":       {good[:len(good)/3], "truncated"},
		"corrupt":   {flip, "checksum mismatch"},
		"version":   {other, `format "clgraph.checkpoint/v9"`},
		"foreign":   {[]byte("{\"hello\": 1}\n"), "not a clgraph checkpoint"},
		"resealed":  {reseal(bytes.Replace(good, []byte(`"task":0`), []byte(`"task":7`), 1)), "outside the stream's 3 tasks"},
	} {
		_, err := loop.DecodeCheckpoint(tc.data)
		if !errors.Is(err, loop.ErrCheckpoint) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want ErrCheckpoint saying %q", name, err, tc.want)
		}
	}
	// A valid checkpoint of another run is refused before training, naming the difference.
	r := &loop.Runner{}
	for name, tc := range map[string]struct {
		st   *stream.Stream
		spec string
		set  func(*loop.Settings)
		want string
	}{
		"seed":       {st, "naive", func(s *loop.Settings) { s.Seed = 6 }, "seed is 5 in the checkpoint but 6"},
		"iterations": {st, "naive", func(s *loop.Settings) { s.Iterations = 31 }, "iterations is 30"},
		"lr":         {st, "naive", func(s *loop.Settings) { s.LR = 1e-3 }, "learning rate"},
		"strategy":   {st, "joint", func(*loop.Settings) {}, `strategy is "naive" in the checkpoint but "joint"`},
		"data":       {strategytest.Synthetic(stream.ClassIL, 3, 2, 12, 40, 10), "naive", func(*loop.Settings) {}, "data differ"},
		"scenario":   {strategytest.Synthetic(stream.TaskIL, 3, 2, 12, 40, 9), "naive", func(*loop.Settings) {}, "scenario"},
		"meta": {st, "naive", func(s *loop.Settings) {
			s.Checkpoint.Meta = map[string]string{"data/x": "abc"}
		}, "data/x is (none) in the checkpoint"},
	} {
		s2 := set
		tc.set(&s2)
		s2.Checkpoint.Resume = c
		if err := r.CheckCheckpoint(c, tc.st, tc.spec, s2); !errors.Is(err, loop.ErrCheckpointMismatch) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a mismatch saying %q", name, err, tc.want)
		}
		s, _ := strategies.Default.New(tc.spec)
		res, err := r.Run(context.Background(), tc.st, s, named(s2, tc.spec))
		if err == nil || !strings.Contains(err.Error(), "cannot resume") || len(res.R) != 0 {
			t.Errorf("%s: Run resumed anyway: %v", name, err)
		}
	}
	if err := r.CheckCheckpoint(c, st, "naive", set); err != nil {
		t.Fatalf("the matching run is refused: %v", err)
	}
}

// TestCheckpointNoPerturbation checks that saving at every step changes nothing.
func TestCheckpointNoPerturbation(t *testing.T) {
	st := strategytest.Synthetic(stream.ClassIL, 2, 2, 12, 40, 9)
	set := smallSettings(3)
	run := func(ck loop.CheckpointSettings, every int) [][]float64 {
		s, _ := strategies.Default.New("joint")
		set := set
		set.Checkpoint, set.CheckpointEvery = ck, every
		res, err := (&loop.Runner{}).Run(context.Background(), st, s, named(set, "joint"))
		if err != nil {
			t.Fatal(err)
		}
		return res.R
	}
	a := run(loop.CheckpointSettings{}, 0)
	b := run(loop.CheckpointSettings{Path: filepath.Join(t.TempDir(), "c")}, 1)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("checkpointing every step changed R:\n%v\n%v", a, b)
	}
}

// TestResolvedOptions checks that a result names the strength lambda=auto resolved to (the
// table's fallback on a synthetic stream), an explicit one as given, and nothing for a strategy
// without options to resolve, and that the field survives the write/read round trip.
func TestResolvedOptions(t *testing.T) {
	st := strategytest.Synthetic(stream.DomainIL, 2, 2, 12, 40, 9)
	for spec, want := range map[string]string{
		"ewc":          strconv.FormatFloat(strategies.EWCLambdas.Fallback, 'g', -1, 64),
		"ewc:lambda=5": "5",
		"l2":           strconv.FormatFloat(strategies.L2Lambdas.Fallback, 'g', -1, 64),
		"naive":        "",
	} {
		s, err := strategies.Default.New(spec)
		if err != nil {
			t.Fatal(err)
		}
		set := smallSettings(1)
		set.Iterations = 3
		res, err := (&loop.Runner{}).Run(context.Background(), st, s, named(set, spec))
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Resolved["lambda"]; got != want {
			t.Errorf("%s: resolved lambda %q, want %q (all: %v)", spec, got, want, res.Resolved)
		}
		dir := t.TempDir()
		if err := results.WriteResult(dir, res); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(results.ResultDir(dir, res.Strategy, res.Seed), results.ResultFile))
		if err != nil {
			t.Fatal(err)
		}
		var back results.Result
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(back.Resolved, res.Resolved) {
			t.Errorf("%s: resolved %v read back as %v", spec, res.Resolved, back.Resolved)
		}
	}
}

// named returns set for strategy spec.
func named(set loop.Settings, spec string) loop.Settings {
	set.Strategy = spec
	return set
}

// goldenCheckpoint is a checkpoint of format v3 written by the code of its commit (naive on a
// small synthetic class-IL stream, task 1, step 11); CLGRAPH_UPDATE_GOLDEN=1 rewrites it, which
// a change of the format must not need.
const goldenCheckpoint = "testdata/checkpoint-v3.ckpt"

// TestCheckpointGolden checks that a committed v3 checkpoint still decodes to the state it holds
// and encodes back to the same bytes: the format (header, JSON part, tensors, checksum) is stable
// across changes of the code that reads and writes it.
func TestCheckpointGolden(t *testing.T) {
	if os.Getenv("CLGRAPH_UPDATE_GOLDEN") == "1" {
		st := strategytest.Synthetic(stream.ClassIL, 2, 2, 8, 20, 3)
		data := writeCheckpoint(t, st, smallSettings(1))
		if err := os.WriteFile(goldenCheckpoint, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(goldenCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	c, err := loop.DecodeCheckpoint(data)
	if err != nil {
		t.Fatalf("the committed v3 checkpoint does not decode: %v", err)
	}
	if c.Header.Format != loop.CheckpointFormat || c.Header.Task != 0 || c.Header.Step != 11 || len(c.State.Params) == 0 || c.State.Adam == nil {
		t.Fatalf("decoded header %+v, %d parameters", c.Header, len(c.State.Params))
	}
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), data) {
		t.Errorf("re-encoding the committed checkpoint gives other bytes (%d against %d): the format changed", b.Len(), len(data))
	}
}
