package strategies

import "github.com/clgraph/clgraph/graphs"

// MaskOf exposes Base's training mask (model-space, 0 for active units) to the external tests.
func MaskOf(b *Base, cur, j int) []float32 { return b.mask(cur, j) }

// GraphFisher is DiagonalFisher through the model's graph (graphFisher) whatever the trunk.
func GraphFisher(b *Base, cur, t int, cfg FisherConfig, params []*graphs.Param) (map[*graphs.Param][]float32, error) {
	cfg.graph = true
	return DiagonalFisher(b, cur, t, cfg, params)
}

// MASViaGraph makes MASImportance go through the model's graph for every trunk while on.
func MASViaGraph(on bool) { masViaGraph = on }

// PlainLogits is the pure-Go copy of b's model (LwF's, iCaRL's and DGR's previous model) on n
// rows of x, computed once on every row and then again on the first k rows with the same
// buffers (those k rows' logits are returned in place of the first run's).
func PlainLogits(b *Base, x []float32, n, k int) []float32 {
	net := newPlainNet(b, true)
	out := append([]float32(nil), net.forward(x, n)...)
	copy(out, net.forward(x, k))
	return out
}
