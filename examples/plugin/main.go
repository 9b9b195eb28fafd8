// Command plugin shows clgraph's extension API from outside the module's packages: it defines a
// strategy that is not built in, mean-IMM (incremental moment matching, Lee et al. 2017; imm.go),
// with the exported API only, registers it as "imm" next to the built-in strategies in
// strategies.Default, and runs the unchanged clgraph command line over that registry. IMM
// fine-tunes each task from the previous task's solution (optionally with an L2 penalty toward
// it, imm:l2=...) and is evaluated after each task with the average of the task solutions so far
// (imm:alpha=uniform, or a weight for the newest). Everything clgraph does works with it:
//
//	go run ./examples/plugin strategies
//	go run ./examples/plugin run --stream split-mnist --scenario domain --strategies "naive;imm;ewc" --seeds 1 --iterations 50
//
// The strategy passes clgraph's conformance suite, exact resumption from checkpoints included
// (imm_test.go calls strategytest.Run).
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
	// imm.go's init registered "imm" in strategies.Default, next to the built-ins.
	os.Exit(cli.Main(os.Args[1:], strategies.Default))
}
