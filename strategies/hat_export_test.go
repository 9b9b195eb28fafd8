package strategies

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
