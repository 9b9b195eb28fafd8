package strategies_test

import (
	"fmt"

	"github.com/clgraph/clgraph/strategies"
)

// Keep is a plugin author's strategy: naive fine-tuning on Base (an MLP trained with Adam, with the
// scenario's output heads). Base provides Setup, Step, Scores, Params, checkpoints and the heads
// option; a strategy changes only what it needs.
type Keep struct{ strategies.Base }

// Register a strategy by name with its options, then build it from a spec string, as the CLI and
// sweeps do.
func ExampleRegistry_Register() {
	reg := strategies.NewRegistry()
	reg.Register(strategies.Info{
		Name:    "keep",
		Doc:     "naive fine-tuning, registered by a plugin",
		Options: []strategies.Option{strategies.HeadsOption},
	}, func(o *strategies.Options) (strategies.Strategy, error) {
		k := &Keep{}
		k.ParseHeads(o)
		return k, nil
	})
	s, err := reg.New("keep:heads=multi")
	if err != nil {
		panic(err)
	}
	fmt.Println(reg.Names(), s.(strategies.Named).Spec(), strategies.RequirementsOf(s).TaskIdentity)
	_, err = reg.New("keep:lambda=3")
	fmt.Println(err)
	// Output:
	// [keep] keep:heads=multi true
	// strategies: unknown option "lambda" for strategy keep (known: heads)
}
