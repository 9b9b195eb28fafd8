package strategies_test

import (
	"encoding/json"
	"math/rand"
	"reflect"
	"testing"

	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/strategytest"
	"github.com/clgraph/clgraph/stream"
)

// offerExample offers example k of a synthetic sequence: inputs k, k+0.5, …, target k%3, task
// k%2 and values -k, -k-1.
func offerExample(r *strategies.ReservoirBuffer, k int, rng *rand.Rand) int {
	x := make([]float32, r.Dim)
	for i := range x {
		x[i] = float32(k) + float32(i)/2
	}
	return r.Offer(x, int32(k%3), int32(k%2), []float32{float32(-k), float32(-k - 1)}, rng)
}

// TestMemoryReservoirBufferAlgorithmR checks, for several seeds and lengths, that after N
// offers into a buffer of M slots every slot holds exactly the example a brute-force replay of
// algorithm R with the same random source puts there.
func TestMemoryReservoirBufferAlgorithmR(t *testing.T) {
	const M, dim = 7, 3
	for seed := int64(1); seed <= 5; seed++ {
		for _, N := range []int{0, 3, 7, 8, 50, 400} {
			r := strategies.NewReservoirBuffer(M, dim, 2)
			rng := rand.New(rand.NewSource(seed))
			for k := 0; k < N; k++ {
				offerExample(r, k, rng)
			}
			// Brute force: slot j holds the last example k written to it.
			want, ref := []int{}, rand.New(rand.NewSource(seed))
			for k := 0; k < N; k++ {
				if len(want) < M {
					want = append(want, k)
				} else if j := ref.Intn(k + 1); j < M {
					want[j] = k
				}
			}
			if r.Len() != len(want) || r.Seen() != N {
				t.Fatalf("seed %d, N %d: %d held of %d seen, want %d of %d", seed, N, r.Len(), r.Seen(), len(want), N)
			}
			for j, k := range want {
				x, target, task, v := r.Example(j)
				if x[0] != float32(k) || x[dim-1] != float32(k)+float32(dim-1)/2 || target != int32(k%3) || task != int32(k%2) || v[0] != float32(-k) || v[1] != float32(-k-1) {
					t.Fatalf("seed %d, N %d: slot %d holds x %v, target %d, task %d, values %v; want example %d", seed, N, j, x, target, task, v, k)
				}
			}
		}
	}
}

// TestMemoryReservoirBufferUniform checks that each of N offered examples ends in the buffer with
// probability M/N.
func TestMemoryReservoirBufferUniform(t *testing.T) {
	const M, N, reps = 10, 100, 3000
	count := make([]int, N)
	for rep := 0; rep < reps; rep++ {
		r := strategies.NewReservoirBuffer(M, 1, 2)
		rng := rand.New(rand.NewSource(int64(rep)))
		for k := 0; k < N; k++ {
			offerExample(r, k, rng)
		}
		for j := 0; j < r.Len(); j++ {
			x, _, _, _ := r.Example(j)
			count[int(x[0])]++
		}
	}
	// Binomial(3000, 0.1): mean 300, sd 16.4; allow 5 sd.
	for k, c := range count {
		if c < 300-82 || c > 300+82 {
			t.Errorf("example %d kept %d times in %d runs, want about %d", k, c, reps, reps*M/N)
		}
	}
}

// TestMemoryReservoirBufferSample checks that Sample draws min(n, Len) distinct examples with their
// values, seeded, and that a saved buffer restores to the same contents and draws.
func TestMemoryReservoirBufferSample(t *testing.T) {
	r := strategies.NewReservoirBuffer(20, 3, 2)
	rng := rand.New(rand.NewSource(3))
	for k := 0; k < 12; k++ {
		offerExample(r, k, rng)
	}
	b, v := stream.NewBatch(16, 3), make([]float32, 32)
	for _, n := range []int{5, 12, 16} {
		r.Sample(b, v, n, rng)
		if want := min(n, 12); b.N != want || len(b.X) != 3*want {
			t.Fatalf("asked %d of 12: got %d rows, %d inputs", n, b.N, len(b.X))
		}
		seen := map[float32]bool{}
		for i := 0; i < b.N; i++ {
			k := b.X[3*i]
			if seen[k] || b.Target[i] != int32(int(k)%3) || b.Task[i] != int32(int(k)%2) || v[2*i] != -k || v[2*i+1] != -k-1 {
				t.Fatalf("row %d: example %v (seen %v), target %d, task %d, values %v", i, k, seen[k], b.Target[i], b.Task[i], v[2*i:2*i+2])
			}
			seen[k] = true
		}
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	st := strategytest.Synthetic(stream.ClassIL, 2, 2, 3, 5, 1) // tasks 0-1, units 0-3
	back := strategies.NewReservoirBuffer(20, 3, 2)
	if err := back.Restore(data, st); err != nil {
		t.Fatal(err)
	}
	r1, r2 := rand.New(rand.NewSource(9)), rand.New(rand.NewSource(9))
	for k := 12; k < 60; k++ {
		if a, b := offerExample(r, k, r1), offerExample(back, k, r2); a != b {
			t.Fatalf("offer %d: slot %d, restored buffer %d", k, a, b)
		}
	}
	b2 := stream.NewBatch(16, 3)
	r.Sample(b, v, 8, r1)
	back.Sample(b2, nil, 8, r2)
	if !reflect.DeepEqual(b.X, b2.X) || r.Seen() != back.Seen() {
		t.Fatal("a restored buffer draws differently")
	}
	small := strategies.NewReservoirBuffer(5, 3, 2)
	if err := small.Restore(data, st); err == nil {
		t.Error("12 examples restored into a buffer of 5")
	}
	if err := back.Restore([]byte(`{"seen":1,"x":"AAAAAAAAAAAAAAAA","v":"AAAAAAAAAAA=","target":"AAAAAA==","task":"BQAAAA=="}`), st); err == nil {
		t.Error("an example of task 6 restored into a stream of 2 tasks")
	}
	if back.Seen() != 60 {
		t.Errorf("a failed restore changed the buffer: %d seen", back.Seen())
	}
}
