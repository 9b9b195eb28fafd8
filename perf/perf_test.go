package perf

import (
	"testing"
	"time"

	"github.com/clgraph/clgraph/graphs/blas"
)

// bench builds the workload cfg once per benchmark, with the BLAS of the environment
// (CLGRAPH_BLAS, CLGRAPH_BLAS_THREADS), outside the timed region.
func bench(tb testing.TB, cfg Config) *Bench {
	tb.Helper()
	blas.Setup()
	b, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := b.Steps(3); err != nil { // warm up: first-run allocations, BLAS threads
		tb.Fatal(err)
	}
	return b
}

// run times f, reporting allocations, GFLOP/s (when flops > 0) and the process's CPU time per
// operation (user + system, all threads: on a shared machine a steadier figure than wall time).
func run(b *testing.B, flops float64, f func(*Bench) error) {
	runCfg(b, Defaults(), flops, f)
}

func runCfg(b *testing.B, cfg Config, flops float64, f func(*Bench) error) {
	w := bench(b, cfg)
	b.ReportAllocs()
	b.ResetTimer()
	c0 := CPUTime()
	for i := 0; i < b.N; i++ {
		if err := f(w); err != nil {
			b.Fatal(err)
		}
	}
	cpu := CPUTime() - c0
	b.StopTimer()
	if flops > 0 {
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	}
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// BenchmarkStep is one training step of the MLP 784-400-400-10 at batch 128.
func BenchmarkStep(b *testing.B) {
	run(b, Defaults().StepFLOPs(), func(w *Bench) error { _, err := w.Step(); return err })
}

// BenchmarkStepLate is BenchmarkStep after 1000 steps on the random data, when the moments of
// the many weights whose gradient has become zero have decayed towards zero: before Adam
// flushed tiny moments (graphs.adamGo) they passed through subnormal numbers here and a step
// took 2.7 times as long as the first ones.
func BenchmarkStepLate(b *testing.B) {
	w := bench(b, Defaults())
	if _, err := w.Steps(1000); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := w.Step(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(Defaults().StepFLOPs()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// ConvConfig is the conv trunk of `clgraph bench --model conv` and the peer's conv model: 5×5
// conv 16 and 32 (ReLU, 2×2 max-pool), dense 256, 10 outputs, batch 128.
var ConvConfig = Config{Filters: []int{16, 32}, Hidden: []int{256}}

// BenchmarkStepConv is one training step of the conv trunk (ConvConfig) at batch 128.
func BenchmarkStepConv(b *testing.B) {
	runCfg(b, ConvConfig, ConvConfig.StepFLOPs(), func(w *Bench) error { _, err := w.Step(); return err })
}

// BenchmarkStepEWC is a training step with EWC's quadratic penalty on the trunk in the graph.
func BenchmarkStepEWC(b *testing.B) {
	runCfg(b, Config{EWC: true}, Defaults().StepFLOPs(), func(w *Bench) error { _, err := w.Step(); return err })
}

// BenchmarkEpoch is the PyTorch peer's epoch: 468 steps.
func BenchmarkEpoch(b *testing.B) {
	run(b, EpochSteps*Defaults().StepFLOPs(), func(w *Bench) error { _, err := w.Steps(EpochSteps); return err })
}

// BenchmarkEval is an evaluation pass over 10000 test rows.
func BenchmarkEval(b *testing.B) {
	run(b, Defaults().EvalFLOPs(), func(w *Bench) error { _, err := w.Eval(); return err })
}

// BenchmarkFisher is EWC's exact diagonal Fisher of the trunk on 1000 training rows.
func BenchmarkFisher(b *testing.B) {
	run(b, 0, func(w *Bench) error { _, err := w.Fisher(1000); return err })
}

// TestSmallWorkload runs the harness on a tiny configuration: steps train (the loss falls on
// repeated data), evaluation and the Fisher run.
func TestSmallWorkload(t *testing.T) {
	blas.Setup()
	cfg := Config{InputDim: 12, Classes: 3, Hidden: []int{8}, Batch: 8, EvalBatch: 16, TrainRows: 16, TestRows: 40, LR: 0.01}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	first, err := b.Step()
	if err != nil {
		t.Fatal(err)
	}
	last, err := b.Steps(300)
	if err != nil {
		t.Fatal(err)
	}
	if !(last < first) {
		t.Errorf("loss %v after 300 steps, %v at first", last, first)
	}
	if acc, err := b.Eval(); err != nil || acc < 0 || acc > 1 {
		t.Errorf("accuracy %v, %v", acc, err)
	}
	f, err := b.Fisher(10)
	if err != nil || len(f) != 2 {
		t.Errorf("fisher of %d params, %v", len(f), err)
	}
	if got, want := cfg.StepFLOPs(), 2*2*8.0*(12*8+8*3)+2*8.0*8*3; got != want {
		t.Errorf("StepFLOPs %v, want %v", got, want)
	}
}
