package strategies_test

import (
	"context"
	"math"
	"math/rand"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestDERConformance(t *testing.T) {
	for _, spec := range []string{"der", "der:budget=50", "der:alpha=0.5,beta=0.5,budget=50"} {
		t.Run(spec, func(t *testing.T) { strategytest.Run(t, strategies.Default, spec) })
	}
}

// TestDERLogitMSE checks LogitMSE's value and gradient on a hand-computed case, under an
// upstream factor of 3: z = [[1 2] [3 4] [5 6]], targets [[0 2] [1 1] [NaN 9]], row weights
// 0.5, 0.25 and 0 give
//
//	L  = 0.5 (1 + 0) + 0.25 (4 + 9) + 0 = 3.75
//	dL/dz = 2 w_i (z - t) = [[1 0] [1 1.5] [0 0]]
//
// (the row of weight 0 adds nothing, its NaN target included).
func TestDERLogitMSE(t *testing.T) {
	g := G.NewGraph()
	mat := func(r, c int, v ...float32) *tensor.Dense {
		return tensor.New(tensor.WithShape(r, c), tensor.WithBacking(v))
	}
	nan := float32(math.NaN())
	z := G.NewMatrix(g, tensor.Float32, G.WithShape(3, 2), G.WithName("z"), G.WithValue(mat(3, 2, 1, 2, 3, 4, 5, 6)))
	tg := G.NewMatrix(g, tensor.Float32, G.WithShape(3, 2), G.WithName("t"), G.WithValue(mat(3, 2, 0, 2, 1, 1, nan, 9)))
	w := G.NewMatrix(g, tensor.Float32, G.WithShape(3, 1), G.WithName("w"), G.WithValue(mat(3, 1, 0.5, 0.25, 0)))
	loss, err := strategies.LogitMSE(z, tg, w)
	if err != nil {
		t.Fatal(err)
	}
	cost := G.Must(G.Mul(loss, G.NewConstant(float32(3))))
	grads, err := G.Grad(cost, z)
	if err != nil {
		t.Fatal(err)
	}
	var lv G.Value
	G.Read(loss, &lv)
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	for run := 0; run < 2; run++ { // the gradient buffer is reused
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		if got := float32(*lv.(*G.F32)); got != 3.75 {
			t.Errorf("loss %v, want 3.75", got)
		}
		if got, want := grads[0].Value().Data().([]float32), []float32{3, 0, 3, 4.5, 0, 0}; !equal32(got, want) {
			t.Errorf("gradient %v, want 3 x %v", got, []float32{1, 0, 1, 1.5, 0, 0})
		}
		vm.Reset()
	}
}

// TestDERStep checks the step: the logits stored with each example are those the model gave it
// in that step, before the update; the logit term is Alpha times the mean squared error over the
// memory batch; DER++ adds a second memory batch.
func TestDERStep(t *testing.T) {
	st := strategytest.Synthetic(stream.ClassIL, 2, 2, 6, 30, 5)
	d := newStrategy(t, "der:budget=16,alpha=0.7,beta=0.3").(*strategies.DER)
	if err := d.Setup(regEnv(st, 1)); err != nil {
		t.Fatal(err)
	}
	smp := stream.NewSampler(rand.New(rand.NewSource(2)), st.Tasks[0])
	b := stream.NewBatch(16, st.InputDim)
	smp.Fill(b, 16)
	b.HideTasks()
	before, err := d.ModelScores(b)
	if err != nil {
		t.Fatal(err)
	}
	before = append([]float32(nil), before...)
	info, err := d.Step(0, b)
	if err != nil {
		t.Fatal(err)
	}
	if info.Samples != 16 || info.Penalty != 0 || d.Mem.Len() != 16 {
		t.Fatalf("first step: %d samples, penalty %v, %d in memory; want 16, 0 (empty memory), 16", info.Samples, info.Penalty, d.Mem.Len())
	}
	after, _ := d.ModelScores(b)
	M := d.Net.Outputs()
	moved := 0.0
	for i := 0; i < 16; i++ {
		x, target, task, v := d.Mem.Example(i)
		if !reflect.DeepEqual(x, b.X[i*6:(i+1)*6]) || target != b.Target[i] || task != 0 {
			t.Fatalf("slot %d holds another example (task %d)", i, task)
		}
		for j := range v {
			if math.Abs(float64(v[j]-before[i*M+j])) > 1e-5 {
				t.Fatalf("slot %d stores logit %v, the model gave %v before the update", i, v[j], before[i*M+j])
			}
			moved = max(moved, math.Abs(float64(after[i*M+j]-before[i*M+j])))
		}
	}
	if moved < 1e-4 {
		t.Fatalf("the update moved the logits by %g only: the check above cannot tell before from after", moved)
	}
	// The memory holds 16 = budget examples, so the logit term's batch is all of them.
	mem := stream.NewBatch(16, st.InputDim)
	stored := make([]float32, 0, 16*M)
	for i := 0; i < 16; i++ {
		x, target, _, v := d.Mem.Example(i)
		mem.X, mem.Target, mem.Task, mem.N = append(mem.X, x...), append(mem.Target, target), append(mem.Task, 0), mem.N+1
		stored = append(stored, v...)
	}
	z, err := d.ModelScores(mem)
	if err != nil {
		t.Fatal(err)
	}
	var sq float64
	for i, v := range stored {
		sq += float64(z[i]-v) * float64(z[i]-v)
	}
	want := 0.7 * sq / float64(len(stored))
	smp.Fill(b, 16)
	b.HideTasks()
	if info, err = d.Step(0, b); err != nil {
		t.Fatal(err)
	}
	if info.Samples != 48 || math.Abs(float64(info.Penalty)-want) > 1e-4*want {
		t.Fatalf("second step: %d samples, logit term %v; want 48 and %v", info.Samples, info.Penalty, want)
	}
}

// TestDERWithoutTermsIsNaive checks that der:alpha=0 (beta 0) trains bit for bit as naive in
// every scenario: the logit term with zero weights adds exactly nothing, and the reservoir's
// draws touch nothing else.
func TestDERWithoutTermsIsNaive(t *testing.T) {
	for _, sc := range stream.Scenarios {
		st := strategytest.Synthetic(sc, 3, 2, 16, 40, 3)
		run := func(spec string) ([][]float64, []strategies.ParamState) {
			s := newStrategy(t, spec)
			res, err := (&loop.Runner{}).Run(context.Background(), st, s, loop.Settings{Spec: quick.Cell(spec, 4)})
			if err != nil {
				t.Fatal(err)
			}
			return res.R, strategies.SaveParams(s.Params())
		}
		rn, pn := run("naive")
		rd, pd := run("der:alpha=0")
		if !reflect.DeepEqual(rn, rd) {
			t.Errorf("%s-IL: R differs:\nnaive %v\nder   %v", sc, rn, rd)
		}
		for i := range pn {
			for k, v := range pn[i].Data {
				if math.Float32bits(v) != math.Float32bits(pd[i].Data[k]) {
					t.Fatalf("%s-IL: %s[%d] = %v after naive, %v after der:alpha=0", sc, pn[i].Name, k, v, pd[i].Data[k])
				}
			}
		}
	}
}

// TestDERAndAGEMReleased checks that a finished run leaves nothing reachable (see
// loop.TestMemoryFlatAcrossRuns): DER's model closures hold the strategy, and a graph that led
// back to it would keep its TapeMachines, which carry finalizers, and everything else live.
func TestDERAndAGEMReleased(t *testing.T) {
	for _, spec := range []string{"naive", "agem", "der:beta=0.5"} {
		st := strategytest.Synthetic(stream.ClassIL, 2, 2, 16, 40, 3)
		done := make(chan struct{})
		func() {
			s := newStrategy(t, spec)
			if _, err := (&loop.Runner{}).Run(context.Background(), st, s, loop.Settings{Spec: quick.Cell(spec, 4)}); err != nil {
				t.Fatal(err)
			}
			runtime.AddCleanup(s.Params(), func(c chan struct{}) { close(c) }, done)
		}()
		freed := false
		for i := 0; i < 50 && !freed; i++ {
			runtime.GC()
			select {
			case <-done:
				freed = true
			case <-time.After(10 * time.Millisecond):
			}
		}
		if !freed {
			t.Errorf("%s: the strategy's parameters are still reachable after its run", spec)
		}
	}
}

// BenchmarkDERStep is a step of DER (the current batch and a memory batch in one pass).
func BenchmarkDERStep(b *testing.B) { benchStep(b, "der") }

// BenchmarkDERPPStep is a step of DER++ (the current batch and two memory batches).
func BenchmarkDERPPStep(b *testing.B) { benchStep(b, "der:beta=0.5") }
