package strategies_test

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"testing"
	"time"

	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

func TestDGRConformance(t *testing.T) {
	for _, spec := range []string{"dgr", "dgr:distill=true,T=1.5", "dgr:heads=single,latent=4", "rtf", "rtf:heads=single,latent=4"} {
		t.Run(spec, func(t *testing.T) { strategytest.Run(t, strategies.Default, spec) })
	}
}

// TestDGRReplayStep checks the step of task cur = 1 and 2 in every scenario, hard labels and
// distillation: the current rows weigh 1/(cur+1) in all, the replayed rows (generated, so pixels
// in (0, 1)) the rest, each labelled by the previous classifier's argmax over its task's units
// of then (with learning rate 0 the classifier stays the previous one, so its scores tell the
// labels), or, distilled, weigh nothing in the cross-entropy and carry the previous classifier's
// softmax at T as distillation targets over those units.
func TestDGRReplayStep(t *testing.T) {
	for _, sc := range stream.Scenarios {
		for _, spec := range []string{"dgr:latent=3", "dgr:latent=3,distill=true,T=2", "rtf:latent=3"} {
			distill := spec != "dgr:latent=3"
			t.Run(sc.String()+"/"+spec, func(t *testing.T) {
				st := strategytest.Synthetic(sc, 3, 2, 6, 30, 5)
				d := newStrategy(t, spec).(*strategies.DGR)
				env := regEnv(st, 1)
				env.LR = 0
				if err := d.Setup(env); err != nil {
					t.Fatal(err)
				}
				M, D, n := d.Net.Outputs(), st.InputDim, env.Batch
				for cur := range 3 {
					regTrain(t, d, st, cur, 2, int64(cur))
					if cur == 0 {
						if err := d.EndTask(0); err != nil {
							t.Fatal(err)
						}
						continue
					}
					x, w, mask := d.Net.Inputs()
					var sumCur, sumRep float64
					for i := range n {
						for c := range M {
							sumCur += float64(w[i*M+c])
							sumRep += float64(w[(n+i)*M+c])
						}
					}
					rnt := 1 / float64(cur+1)
					wantRep := 1 - rnt
					if distill {
						wantRep = 0
					}
					if math.Abs(sumCur-rnt) > 1e-5 || math.Abs(sumRep-wantRep) > 1e-5 {
						t.Fatalf("task %d: current rows weigh %v, replayed %v; want %v and %v", cur+1, sumCur, sumRep, rnt, wantRep)
					}
					b := stream.NewBatch(n, D)
					b.N, b.X = n, append(b.X, x[n*D:2*n*D]...)
					for range n {
						b.Target, b.Task = append(b.Target, 0), append(b.Task, stream.NoTask)
					}
					scores, err := d.ModelScores(b)
					if err != nil {
						t.Fatal(err)
					}
					var q []float32
					if distill {
						q = d.D.Targets[0].Float32s()
					}
					for i := range n {
						for _, v := range b.X[i*D : (i+1)*D] {
							if !(v > 0 && v < 1) {
								t.Fatalf("replayed pixel %v outside (0, 1)", v)
							}
						}
						// The units of then: this row's active units (mask 0) among the earlier
						// tasks' units.
						earlier := map[int]bool{}
						for j := range cur {
							for _, u := range st.Tasks[j].Units {
								earlier[st.ModelUnit(d.Heads, j, u)] = true
							}
						}
						row := (n + i) * M
						best, arg := float32(math.Inf(-1)), -1
						for c := range M {
							if mask[row+c] == 0 && earlier[c] && scores[i*M+c] > best {
								best, arg = scores[i*M+c], c
							}
						}
						if !distill {
							if w[row+arg] == 0 {
								t.Fatalf("task %d, replayed row %d: label column %d (the previous classifier's argmax) has weight 0: %v", cur+1, i, arg, w[row:row+M])
							}
							continue
						}
						var sum float64
						for c := range M {
							sum += float64(q[row+c])
							if q[row+c] != 0 && !earlier[c] {
								t.Fatalf("task %d, replayed row %d: distillation target on column %d, not a unit of an earlier task", cur+1, i, c)
							}
						}
						if math.Abs(sum-(1-rnt)/float64(n)) > 1e-6 {
							t.Fatalf("task %d, replayed row %d: targets sum to %v, want %v", cur+1, i, sum, (1-rnt)/float64(n))
						}
					}
					if err := d.EndTask(cur); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}
}

// TestDGRGeneratorLearnsAndFreezes: the generator's parameters (for rtf, its decoder's) are in
// Params (group "generator") and change as it trains, while the frozen copy replays the same
// inputs for the same noise until the next task ends; rtf's step loss holds the VAE's terms.
func TestDGRGeneratorLearnsAndFreezes(t *testing.T) {
	for _, spec := range []string{"dgr:latent=3", "rtf:latent=3"} {
		t.Run(spec, func(t *testing.T) { testGeneratorLearnsAndFreezes(t, spec) })
	}
}

func testGeneratorLearnsAndFreezes(t *testing.T, spec string) {
	st := strategytest.Synthetic(stream.ClassIL, 2, 2, 6, 30, 5)
	d := newStrategy(t, spec).(*strategies.DGR)
	if err := d.Setup(regEnv(st, 1)); err != nil {
		t.Fatal(err)
	}
	gen := d.Params().Filter(func(p *graphs.Param) bool { return p.Group == "generator" })
	if len(gen) == 0 {
		t.Fatal("no generator parameter in Params")
	}
	before := append([]float32(nil), gen[0].Data()...)
	regTrain(t, d, st, 0, 5, 1)
	if d.Feedback {
		recon, kl := d.FB.Terms()
		if !(recon > 0.3 && kl >= 0) {
			t.Fatalf("rtf's step: reconstruction term %v, KL %v: want the VAE's terms in the loss", recon, kl)
		}
	}
	if equal32(before, gen[0].Data()) {
		t.Fatalf("%s did not change in 5 steps", gen[0].Name)
	}
	if err := d.EndTask(0); err != nil {
		t.Fatal(err)
	}
	frozen := d.Generator()
	sample := func() []float32 {
		out := make([]float32, 4*st.InputDim)
		frozen.Sample(out, 4, rand.New(rand.NewSource(3)))
		return out
	}
	a := sample()
	regTrain(t, d, st, 1, 5, 2)
	if b := sample(); !equal32(a, b) {
		t.Fatal("a snapshot's samples changed while the live generator trained")
	}
	if c := d.Generator(); func() bool {
		out := make([]float32, 4*st.InputDim)
		c.Sample(out, 4, rand.New(rand.NewSource(3)))
		return equal32(a, out)
	}() {
		t.Fatal("the live generator did not change during task 2")
	}
}

// BenchmarkDGRStep is a dgr step on task 2 (benchStep, beside BenchmarkNaiveStep): the replayed
// batch drawn from the frozen generator and labelled by the frozen classifier, the classifier's
// step on both batches and the generator's (VAE) step on both.
func BenchmarkDGRStep(b *testing.B) { benchStep(b, "dgr") }

// BenchmarkDGRDistillStep is a dgr:distill=true step: as dgr, soft targets at T.
func BenchmarkDGRDistillStep(b *testing.B) { benchStep(b, "dgr:distill=true") }

// BenchmarkRtFStep is an rtf step: one model, classification, distillation and the VAE's terms.
func BenchmarkRtFStep(b *testing.B) { benchStep(b, "rtf") }

// TestDGRMemoryFlat: only one frozen copy of the generator and of the classifier is kept, so the
// live heap after each task's end (and a garbage collection) stays flat over tasks: after task 6
// it is within 1 MiB of after task 2, though the two frozen copies of this network (784-200-200
// trunk, latent 100: about 650 thousand float32s) take about 2.5 MiB, so one more pair per task
// would add 10 MiB by then.
func TestDGRMemoryFlat(t *testing.T) {
	for _, spec := range []string{"dgr", "rtf"} {
		t.Run(spec, func(t *testing.T) {
			st := strategytest.Synthetic(stream.ClassIL, 6, 2, 784, 40, 1)
			s := newStrategy(t, spec)
			env := regEnv(st, 1)
			env.Hidden = []int{200, 200}
			if err := s.Setup(env); err != nil {
				t.Fatal(err)
			}
			heap := make([]uint64, len(st.Tasks))
			for cur := range st.Tasks {
				regTrain(t, s, st, cur, 3, int64(cur))
				if err := s.(strategies.TaskEnder).EndTask(cur); err != nil {
					t.Fatal(err)
				}
				heap[cur] = settledHeap()
			}
			t.Logf("%s: live heap after each task (MiB): %v", spec, mibs(heap))
			// Against the larger of tasks 2 and 3 (one of them can dip when a scratch buffer is
			// between uses): a frozen copy kept per task would add one per task after them.
			if d := int64(heap[5]) - int64(max(heap[1], heap[2])); d > 1<<20 {
				t.Errorf("live heap grew by %.1f MiB from tasks 2-3 to task 6: frozen copies accumulate?", float64(d)/(1<<20))
			}
		})
	}
}

func mibs(xs []uint64) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%.1f", float64(x)/(1<<20))
	}
	return out
}

// settledHeap returns the live heap after the garbage of earlier tests is gone: Gorgonia's
// TapeMachines carry finalizers, so what an earlier test left is freed only by a collection after
// its finalizers ran, and one runtime.GC could count it or not (a 2 MiB step in a full run).
func settledHeap() uint64 {
	var ms runtime.MemStats
	for range 4 {
		runtime.GC()
		time.Sleep(2 * time.Millisecond) // the finalizer goroutine runs
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
