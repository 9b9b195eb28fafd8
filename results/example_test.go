package results_test

import (
	"fmt"

	"github.com/clgraph/clgraph/results"
)

// Compute the metrics of an accuracy matrix: R[i][j] is the accuracy on task j after training on
// tasks 1..i, b[j] the untrained model's.
func ExampleCompute() {
	R := [][]float64{
		{0.99, 0.50, 0.48},
		{0.60, 0.98, 0.52},
		{0.40, 0.70, 0.97},
	}
	b := []float64{0.50, 0.49, 0.51}
	m, err := results.Compute(R, b)
	if err != nil {
		panic(err)
	}
	for _, mt := range results.Table {
		if mt.Folder { // computed by the summaries, from the other runs of the folder
			continue
		}
		fmt.Printf("%-14s %+.3f\n", mt.Label, m.Get(mt.Key))
	}
	// Output:
	// ACC            +0.690
	// BWT            -0.435
	// FWT            +0.010
	// Forgetting     +0.435
	// Learning acc.  +0.980
}
