package strategies

import "github.com/clgraph/clgraph/graphs"

// Hooks into HAT's step for the external tests (hat_test.go).

// HATScale returns the gate's scale at step n of the active task.
func HATScale(h *HAT, n int) float32 { h.step = n; return h.scale() }

// HATSetPrev sets the cumulative masks (nil: no task ended).
func HATSetPrev(h *HAT, prev [][]float32) { h.prev = prev }

// HATRestrict applies the gradient restriction to the last step's gradients.
func HATRestrict(h *HAT) { h.restrict() }

// HATCompensate applies the embeddings' gradient compensation at scale s.
func HATCompensate(h *HAT, s float32) { h.s = s; h.compensate() }

// HATRegularise adds the regulariser's gradient at scale s and returns the regulariser.
func HATRegularise(h *HAT, s float32) float64 { h.s = s; return h.regularise() }

// PathNetPair returns the paths of p's current tournament.
func PathNetPair(p *PathNet) (int, int) { return p.pair[0], p.pair[1] }

// PathNetSetFitness sets path i's fitness.
func PathNetSetFitness(p *PathNet, i int, f float64) { p.fit[i] = f }

// PathNetPath returns a copy of path i.
func PathNetPath(p *PathNet, i int) [][]int {
	out := make([][]int, len(p.pop[i]))
	for l, ms := range p.pop[i] {
		out[l] = append([]int(nil), ms...)
	}
	return out
}

// PathNetModule returns module m of layer l.
func PathNetModule(p *PathNet, l, m int) graphs.Dense { return p.mods[l][m] }
