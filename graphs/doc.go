// Package graphs holds the Gorgonia building blocks of clgraph's models: a named parameter set,
// dense layers and MLP trunks, output heads, a fused masked softmax cross-entropy, and a Model that
// owns a training graph and a forward-only evaluation graph over the same weight tensors, updated
// in place by an allocation-free Adam. Everything is float32.
package graphs
