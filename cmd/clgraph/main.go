// Command clgraph runs continual-learning experiments on Gorgonia graphs: it trains strategies
// over task streams of real MNIST, evaluates every task after every task, and writes the accuracy
// matrices, metrics and a comparison. See the README for the commands.
package main

import (
	"os"

	"github.com/clgraph/clgraph/cli"
	"github.com/clgraph/clgraph/strategies"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], strategies.Default))
}
