package strategies

import (
	"github.com/clgraph/clgraph/graphs"
	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
)

// netLayer is one dense layer of Base's model as plain weights, or one of its conv layers (conv
// set; in and out are then the sizes of its input and output images).
type netLayer struct {
	p       [2]*graphs.Param // the weight and bias the values come from
	w, b    []float32
	in, out int
	col     int // first model-output column of a head; -1 for trunk layers

	conv    *graphs.Conv
	scratch graphs.ConvScratch
	buf     []float32 // a conv layer's output
}

// plainNet is Base's model (trunk with ReLU after each layer, heads side by side) evaluated in
// pure Go over weight slices, with matrix products on Gorgonia's BLAS: LwF's frozen previous
// model (a copy of the weights) and the forward pass of MAS's hand-written backward pass (the
// live weights). It keeps the activations of its last forward pass.
type plainNet struct {
	convs        []*netLayer // the trunk's conv layers, before its dense layers
	trunk, heads []*netLayer
	in, M        int
	acts         [][]float32 // acts[0] is the dense layers' input (the data, or the last conv layer's output), acts[l+1] the output of dense trunk layer l
	logits       []float32
}

// newPlainNet views b's layers; with copied set, over copies of the current weights (a frozen
// snapshot: snapshot refreshes it), else over the parameters' own data.
func newPlainNet(b *Base, copied bool) *plainNet {
	n := &plainNet{}
	add := func(d graphs.Dense, col int) *netLayer {
		sh := d.W.Shape()
		l := &netLayer{p: [2]*graphs.Param{d.W, d.B}, w: d.W.Data(), b: d.B.Data(), in: sh[0], out: sh[1], col: col}
		if copied {
			l.w, l.b = append([]float32(nil), l.w...), append([]float32(nil), l.b...)
		}
		return l
	}
	for i := range b.Trunk.Convs {
		c := &b.Trunk.Convs[i]
		l := add(graphs.Dense{W: c.W, B: c.B}, -1)
		l.conv, l.in, l.out = c, c.In.Size(), c.Out.Size()
		n.convs = append(n.convs, l)
	}
	for _, d := range b.Trunk.Layers {
		n.trunk = append(n.trunk, add(d, -1))
	}
	for _, d := range b.Out.Layers {
		n.heads = append(n.heads, add(d, n.M))
		n.M += d.W.Shape()[1]
	}
	n.in = n.layers()[0].in
	n.acts = make([][]float32, len(n.trunk)+1)
	return n
}

// layers returns the trunk's conv layers, its dense layers, then the heads'.
func (n *plainNet) layers() []*netLayer {
	return append(append(append([]*netLayer(nil), n.convs...), n.trunk...), n.heads...)
}

// snapshot copies the parameters' current values into a copied net.
func (n *plainNet) snapshot() {
	for _, l := range n.layers() {
		copy(l.w, l.p[0].Data())
		copy(l.b, l.p[1].Data())
	}
}

// forward computes the logits of the nb rows of x (nb x M, in a buffer reused across calls).
func (n *plainNet) forward(x []float32, nb int) []float32 {
	bl := G.WhichBLAS()
	n.acts[0] = x[:nb*n.in]
	for _, L := range n.convs {
		L.buf = grow(L.buf, nb*L.out)
		graphs.ConvForward(*L.conv, L.w, L.b, n.acts[0], nb, L.buf, &L.scratch)
		n.acts[0] = L.buf
	}
	for l, L := range n.trunk {
		a := grow(n.acts[l+1], nb*L.out)
		n.acts[l+1] = a
		bl.Sgemm(blas.NoTrans, blas.NoTrans, nb, L.out, L.in, 1, n.acts[l], L.in, L.w, L.out, 0, a, L.out)
		for i := range nb {
			row := a[i*L.out : (i+1)*L.out]
			for j, v := range row {
				row[j] = max(v+L.b[j], 0)
			}
		}
	}
	top := n.acts[len(n.trunk)]
	n.logits = grow(n.logits, nb*n.M)
	for _, L := range n.heads {
		bl.Sgemm(blas.NoTrans, blas.NoTrans, nb, L.out, L.in, 1, top, L.in, L.w, L.out, 0, n.logits[L.col:], n.M)
		for i := range nb {
			row := n.logits[i*n.M+L.col : i*n.M+L.col+L.out]
			for j := range row {
				row[j] += L.b[j]
			}
		}
	}
	return n.logits
}

// featureWidth is the width of the last trunk activation (acts[len(trunk)]): the last dense
// layer's, else the last conv layer's output, else the input's.
func (n *plainNet) featureWidth() int {
	switch {
	case len(n.trunk) > 0:
		return n.trunk[len(n.trunk)-1].out
	case len(n.convs) > 0:
		return n.convs[len(n.convs)-1].out
	}
	return n.in
}
