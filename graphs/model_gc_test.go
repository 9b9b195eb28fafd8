package graphs

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	G "gorgonia.org/gorgonia"
)

// TestModelCollected checks that a Model nobody references is freed, with its graphs, machines
// and buffers. Gorgonia puts a finalizer on every TapeMachine, and an object with a finalizer
// that can reach itself is never freed: a Read node writing into a field of the Model (the graph
// then points at the Model, the Model at its machines, the machines at the graph) kept every
// Model built in a process alive, and the live heap of clgraph run grew with every run.
func TestModelCollected(t *testing.T) {
	for _, tc := range []struct {
		name    string
		penalty bool
	}{{"plain", false}, {"penalty", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var freed atomic.Int32
			const models = 3
			for range models {
				var pen Penalty
				if tc.penalty { // a penalty adds a second Read, of its value
					pen = func(b *Binder) (*G.Node, error) { return NewQuadratic(1, b.Used()).Node(b) }
				}
				m, _ := tinyModel(t, pen)
				if _, _, err := m.Step(); err != nil {
					t.Fatal(err)
				}
				x, _, _ := m.Inputs()
				if err := m.Forward(x, 6, make([]float32, 6*3)); err != nil {
					t.Fatal(err)
				}
				runtime.AddCleanup(m, func(n *atomic.Int32) { n.Add(1) }, &freed)
			}
			// Finalizers and cleanups run on their own goroutine after a collection: give them a
			// few collections and a moment.
			for i := 0; i < 50 && freed.Load() < models; i++ {
				runtime.GC()
				time.Sleep(2 * time.Millisecond)
			}
			if n := freed.Load(); n < models {
				t.Errorf("%d of %d dropped models were freed", n, models)
			}
		})
	}
}
