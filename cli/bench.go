package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/clgraph/clgraph/graphs/blas"
	"github.com/clgraph/clgraph/perf"
	G "gorgonia.org/gorgonia"
)

// benchFlags are clgraph bench's flags.
type benchFlags struct {
	hidden, blasMode           string
	model, filters             string
	batch, steps, warmup, thr  int
	evalRows, fisher, inputDim int
	classes, trainRows         int
	ewc                        bool
}

func (a *App) benchFlagSet(f *benchFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: clgraph bench [flags]

Times training steps of an MLP trunk (input-hidden...-classes), or with --model conv of the conv
trunk (5x5 conv layers of --filters, each ReLU and 2x2 max-pool, then dense --hidden, 256 unless
given: the peer's conv model), on random data of MNIST's shape,
through the code a run uses (batch sampling, the Gorgonia training graph, Adam), and prints
ms/step, samples/s, the achieved GFLOP/s of the step's matrix products, allocations per step
and the BLAS in use. The default is the PyTorch peer's epoch: 468 steps of batch 128 on
784-400-400-10 (compare with perf/peer/torch_epoch.py run back to back: its third argument,
conv, is the conv trunk).

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.hidden, "hidden", "400,400", "hidden layer sizes (with --model conv: 256 unless given)")
	fs.StringVar(&f.model, "model", "mlp", "trunk: mlp or conv")
	fs.StringVar(&f.filters, "filters", "16,32", "conv trunk: output channels of each 5x5 conv layer (--model conv only)")
	fs.IntVar(&f.batch, "batch", 128, "rows per training step")
	fs.IntVar(&f.steps, "steps", perf.EpochSteps, "timed training steps (468: an MNIST epoch at batch 128)")
	fs.IntVar(&f.warmup, "warmup", 10, "untimed steps first")
	fs.StringVar(&f.blasMode, "blas", envOr(blas.EnvBLAS, "auto"), "BLAS: auto (OpenBLAS when it loads, else the pure-Go one), openblas or gonum (pure Go); default: $"+blas.EnvBLAS+" or auto")
	thr, _ := strconv.Atoi(os.Getenv(blas.EnvThreads))
	fs.IntVar(&f.thr, "threads", max(thr, 0), "BLAS threads (0: the default, blas.DefaultThreads, unless OPENBLAS_NUM_THREADS is set); default: $"+blas.EnvThreads+" or 0")
	fs.IntVar(&f.evalRows, "eval", 10000, "also time an evaluation pass over this many rows (0: skip)")
	fs.IntVar(&f.fisher, "fisher", 0, "also time EWC's exact diagonal Fisher on this many rows (0: skip)")
	fs.IntVar(&f.inputDim, "input", 784, "input features")
	fs.IntVar(&f.classes, "classes", 10, "output units")
	fs.IntVar(&f.trainRows, "train-rows", 60000, "rows of the random training set the batches are drawn from")
	fs.BoolVar(&f.ewc, "ewc", false, "train with EWC's quadratic penalty on the trunk in the graph")
	return fs
}

// envOr returns the environment variable k, or def when it is unset or empty.
func envOr(k, def string) string {
	if v := strings.TrimSpace(os.Getenv(k)); v != "" {
		return v
	}
	return def
}

// benchTimer measures wall time, process CPU time and heap allocations over a span.
type benchTimer struct {
	wall          time.Time
	cpu           time.Duration
	allocs, bytes uint64
}

func startTimer() benchTimer {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return benchTimer{wall: time.Now(), cpu: perf.CPUTime(), allocs: ms.Mallocs, bytes: ms.TotalAlloc}
}

// stop returns the wall time, CPU time, heap allocations and allocated bytes since t started.
func (t benchTimer) stop() (wall, cpu time.Duration, allocs, bytes uint64) {
	wall, cpu = time.Since(t.wall), perf.CPUTime()-t.cpu
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return wall, cpu, ms.Mallocs - t.allocs, ms.TotalAlloc - t.bytes
}

func (a *App) cmdBench(ctx context.Context, args []string) error {
	var f benchFlags
	fs := a.benchFlagSet(&f)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("bench: unexpected arguments %q", fs.Args())
	}
	hiddenSet := false
	fs.Visit(func(fl *flag.Flag) { hiddenSet = hiddenSet || fl.Name == "hidden" })
	if f.model == "conv" && !hiddenSet {
		f.hidden = "256"
	}
	hidden, err := parseInts(f.hidden)
	if err != nil || len(hidden) == 0 {
		return usagef("--hidden: want sizes like 400,400 (%v)", err)
	}
	cfg := perf.Defaults()
	cfg.Hidden = cfg.Hidden[:0]
	for _, h := range hidden {
		if h < 1 || h > 1<<16 {
			return usagef("--hidden: size %d out of range", h)
		}
		cfg.Hidden = append(cfg.Hidden, int(h))
	}
	switch {
	case f.batch < 1 || f.batch > 1<<16:
		return usagef("--batch must be in [1, 65536], got %d", f.batch)
	case f.steps < 1:
		return usagef("--steps must be at least 1, got %d", f.steps)
	case f.warmup < 0 || f.evalRows < 0 || f.fisher < 0 || f.thr < 0:
		return usagef("--warmup, --eval, --fisher and --threads must not be negative")
	case f.inputDim < 1 || f.classes < 2 || f.classes > 256:
		return usagef("--input must be positive and --classes in [2, 256]")
	case f.trainRows < 1:
		return usagef("--train-rows must be positive")
	}
	switch f.model {
	case "mlp":
	case "conv":
		fl, err := parseInts(f.filters)
		if err != nil || len(fl) == 0 {
			return usagef("--filters: want channels like 16,32 (%v)", err)
		}
		for _, c := range fl {
			if c < 1 || c > 1<<12 {
				return usagef("--filters: %d channels out of range", c)
			}
			cfg.Filters = append(cfg.Filters, int(c))
		}
		if f.fisher > 0 {
			return usagef("--fisher: EWC's Fisher is computed for dense trunks only; drop it with --model conv")
		}
	default:
		return usagef("--model must be mlp or conv, got %q", f.model)
	}
	cfg.Batch, cfg.InputDim, cfg.Classes = f.batch, f.inputDim, f.classes
	cfg.TestRows = max(f.evalRows, 1)
	cfg.TrainRows = max(f.trainRows, f.fisher)
	cfg.EWC = f.ewc

	// Install the BLAS asked for, restoring the previous one afterwards (for callers that run
	// several commands in one process, such as tests).
	prev := G.WhichBLAS()
	defer G.Use(prev)
	info, err := blas.Install(f.blasMode, f.thr)
	if err != nil {
		return usageError{err}
	}
	if f.thr > 0 && info.Name == blas.NameOpenBLAS {
		ob, _ := blas.LoadOpenBLAS()
		before := ob.Threads()
		defer ob.SetThreads(before)
	}
	w := a.Stdout
	fmt.Fprintln(w, info.String())
	b, err := perf.New(cfg)
	if err != nil {
		return err
	}
	layers := make([]string, 0, len(cfg.Layers()))
	for _, n := range cfg.Layers() {
		layers = append(layers, fmt.Sprint(n))
	}
	penalty := ""
	if cfg.EWC {
		penalty = " + EWC penalty"
	}
	model := "MLP " + strings.Join(layers, "-")
	if len(cfg.Filters) > 0 {
		model = fmt.Sprintf("conv trunk, 5x5 conv %v (ReLU, 2x2 max-pool), dense %v, %d outputs", cfg.Filters, cfg.Hidden, cfg.Classes)
	}
	fmt.Fprintf(w, "model: %s%s, batch %d, %d steps after %d warm-up steps, GOMAXPROCS %d\n",
		model, penalty, cfg.Batch, f.steps, f.warmup, runtime.GOMAXPROCS(0))
	if _, err := b.Steps(f.warmup); err != nil {
		return err
	}
	t := startTimer()
	for i := 0; i < f.steps; i++ {
		if i%16 == 0 && ctx.Err() != nil {
			return interruptedError{"bench interrupted"}
		}
		if _, err := b.Step(); err != nil {
			return err
		}
	}
	wall, cpu, allocs, bytes := t.stop()
	n := float64(f.steps)
	ms := wall.Seconds() * 1e3 / n
	fmt.Fprintf(w, "train: %.3f s, %.3f ms/step, %.0f samples/s, %.1f GFLOP/s (%.3f GFLOP/step), CPU %.3f ms/step, %.1f allocs/step, %.0f B/step\n",
		wall.Seconds(), ms, n*float64(cfg.Batch)/wall.Seconds(), cfg.StepFLOPs()*n/wall.Seconds()/1e9,
		cfg.StepFLOPs()/1e9, cpu.Seconds()*1e3/n, float64(allocs)/n, float64(bytes)/n)
	if f.evalRows > 0 {
		t := startTimer()
		if _, err := b.Eval(); err != nil {
			return err
		}
		wall, cpu, allocs, bytes := t.stop()
		fmt.Fprintf(w, "eval: %d rows in %.1f ms, %.0f rows/s, %.1f GFLOP/s, CPU %.1f ms, %d allocs, %d B\n",
			cfg.TestRows, wall.Seconds()*1e3, float64(cfg.TestRows)/wall.Seconds(), cfg.EvalFLOPs()/wall.Seconds()/1e9,
			cpu.Seconds()*1e3, allocs, bytes)
	}
	if f.fisher > 0 {
		t := startTimer()
		if _, err := b.Fisher(f.fisher); err != nil {
			return err
		}
		wall, cpu, allocs, bytes := t.stop()
		fmt.Fprintf(w, "fisher: exact diagonal Fisher of the trunk on %d rows in %.1f ms, CPU %.1f ms, %d allocs, %d B\n",
			f.fisher, wall.Seconds()*1e3, cpu.Seconds()*1e3, allocs, bytes)
	}
	return nil
}
