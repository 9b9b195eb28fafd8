// Command plugin shows clgraph's extension API from outside the module's packages: it defines a
// new strategy, Synaptic Intelligence (si.go), with the exported API only, registers it next to
// the built-in strategies in strategies.Default, and runs the unchanged clgraph command line
// over that registry. Everything clgraph does works with the new strategy:
//
//	go run ./examples/plugin strategies
//	go run ./examples/plugin run --stream split-mnist --scenario domain --strategies "naive;si;ewc" --seeds 1
//
// The strategy passes clgraph's conformance suite (si_test.go calls strategytest.Run).
package main

import (
	"os"

	"github.com/clgraph/clgraph/cli"
	"github.com/clgraph/clgraph/graphs/blas"
	"github.com/clgraph/clgraph/strategies"
)

func main() {
	// Fast matrix products when OpenBLAS is installed; gonum's pure Go otherwise.
	blas.Setup()
	// si.go's init registered "si" in strategies.Default, next to the built-ins.
	os.Exit(cli.Main(os.Args[1:], strategies.Default))
}
