package strategies

// MaskOf exposes Base's training mask (model-space, 0 for active units) to the external tests.
func MaskOf(b *Base, cur, j int) []float32 { return b.mask(cur, j) }
