// Package external checks that clgraph is usable from another module: its test writes a scratch
// module outside the tree (the files in testdata/mylab), which requires
// github.com/clgraph/clgraph through a replace directive, registers a strategy of its own and
// runs it through clgraph's command line. README's "Use clgraph from your own module" shows the
// same files.
package external
