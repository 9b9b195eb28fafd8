package benchmarks

import (
	"fmt"
	"strings"
)

// Protocol holds a run's training and evaluation settings.
type Protocol struct {
	Name       string
	Iterations int     // training steps per task
	Batch      int     // mini-batch size of the current task
	EvalBatch  int     // rows per evaluation-graph run
	LR         float64 // Adam learning rate
	Hidden     []int   // hidden layer sizes
	// TestLimit keeps the first TestLimit test examples of each task; 0 keeps all (the paper
	// protocol evaluates on the full test split).
	TestLimit int
}

// Protocols lists the protocol names.
var Protocols = []string{"paper", "quick"}

// ProtocolFor returns the named protocol's settings for a stream. "paper" reproduces the
// literature's settings (../shared PROTOCOL.md): 2 hidden layers of 400 (split) or 1000
// (permuted) units, Adam at 1e-3 (split) or 1e-4 (permuted), batch 128, 2000 (split) or 5000
// (permuted) iterations per task. "quick" keeps the shapes and learning rates with far fewer
// iterations (and, for permuted MNIST, 2000 test examples per task) for demos and tests.
func ProtocolFor(name, streamName string) (Protocol, error) {
	permuted := strings.HasPrefix(streamName, "permuted")
	p := Protocol{Name: name, Batch: 128, EvalBatch: 1000, LR: 1e-3, Hidden: []int{400, 400}, Iterations: 2000}
	if permuted {
		p.LR, p.Hidden, p.Iterations = 1e-4, []int{1000, 1000}, 5000
	}
	switch name {
	case "paper":
	case "quick":
		p.Iterations = 200
		if permuted {
			p.Iterations, p.TestLimit = 300, 2000
		}
	default:
		return p, fmt.Errorf("benchmarks: unknown protocol %q (known: %s)", name, strings.Join(Protocols, ", "))
	}
	return p, nil
}

// Validate checks that the settings can run.
func (p Protocol) Validate() error {
	switch {
	case p.Iterations < 1:
		return fmt.Errorf("iterations must be at least 1, got %d", p.Iterations)
	case p.Batch < 1:
		return fmt.Errorf("batch size must be at least 1, got %d", p.Batch)
	case p.EvalBatch < 1:
		return fmt.Errorf("evaluation batch must be at least 1, got %d", p.EvalBatch)
	case !(p.LR > 0) || p.LR > 10:
		return fmt.Errorf("learning rate must be in (0, 10], got %v", p.LR)
	case len(p.Hidden) == 0:
		return fmt.Errorf("at least one hidden layer is needed")
	}
	for _, h := range p.Hidden {
		if h < 1 {
			return fmt.Errorf("hidden sizes must be positive, got %v", p.Hidden)
		}
	}
	return nil
}
