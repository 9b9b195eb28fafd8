package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/strategies"
	"github.com/sirupsen/logrus"
)

// Exit codes.
const (
	ExitOK      = 0 // everything went well
	ExitFailure = 1 // a run failed (diverged, crashed) or results could not be written
	ExitUsage   = 2 // bad command line or input: nothing was trained
)

// usageError marks errors caused by the user's input (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// App is one invocation's environment.
type App struct {
	Registry *strategies.Registry
	Stdout   io.Writer
	Stderr   io.Writer
	Log      *logrus.Logger
}

// Main runs the command line args (without the program name) with strategies from reg and
// returns the process exit code.
func Main(args []string, reg *strategies.Registry) int {
	// The first SIGINT/SIGTERM stops at the next step with a checkpoint; a second exits at once.
	ctx, stop := interruptContext(os.Stderr)
	defer stop()
	app := &App{Registry: reg, Stdout: os.Stdout, Stderr: os.Stderr}
	return app.Run(ctx, args)
}

const usageText = `clgraph: continual-learning experiments on Gorgonia graphs.

Usage:
  clgraph run [flags]        train strategies over a task stream and compare them
  clgraph strategies         list the strategies, their options and scenarios
  clgraph streams            list the task streams and their scenarios
  clgraph graph [flags]      draw a strategy's Gorgonia training graph as Graphviz DOT/SVG
  clgraph sweep FILE [flags] run an experiment grid (YAML) on the local cores or as a shard
  clgraph merge SWEEP_DIR    gather a sweep's shards into one summary
  clgraph report RUN_DIR...  compare runs: HTML and Markdown report with plots (--out DIR)
  clgraph compare DIR1 DIR2  the differences of two runs per strategy, with paired tests
  clgraph published DIR...   published numbers (results/reference/published) beside the runs'
  clgraph bench [flags]      time training steps (ms/step, samples/s, GFLOP/s) and name the BLAS
  clgraph version            print versions

Run 'clgraph run -h' for the run flags.
`

// commands are the commands Run dispatches, in usageText's order.
var commands = []string{"run", "strategies", "streams", "graph", "sweep", "merge", "report", "compare", "published", "bench", "version"}

// Run executes one command and returns its exit code.
func (a *App) Run(ctx context.Context, args []string) int {
	if a.Log == nil {
		a.Log = logrus.New()
		a.Log.SetOutput(a.Stderr)
	}
	if len(args) == 0 {
		fmt.Fprint(a.Stderr, usageText)
		return ExitUsage
	}
	var err error
	switch args[0] {
	case "run":
		err = a.cmdRun(ctx, args[1:])
	case "strategies":
		err = a.cmdStrategies(args[1:])
	case "streams":
		err = a.cmdStreams(args[1:])
	case "graph":
		err = a.cmdGraph(ctx, args[1:])
	case "sweep":
		err = a.cmdSweep(ctx, args[1:])
	case "merge":
		err = a.cmdMerge(ctx, args[1:])
	case "report":
		err = a.cmdReport(ctx, args[1:])
	case "compare":
		err = a.cmdCompare(ctx, args[1:])
	case "published":
		err = a.cmdPublished(args[1:])
	case "bench":
		err = a.cmdBench(ctx, args[1:])
	case "version":
		fmt.Fprintln(a.Stdout, strings.Join(versionLines(), "\n"))
	case "help", "-h", "--help":
		fmt.Fprint(a.Stdout, usageText)
	default:
		err = usagef("unknown command %q (commands: %s; run 'clgraph help' for what each does)", args[0], strings.Join(commands, ", "))
	}
	return a.exit(err)
}

func (a *App) exit(err error) int {
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	fmt.Fprintln(a.Stderr, "clgraph:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	var ie interruptedError
	if errors.As(err, &ie) {
		return ExitInterrupted
	}
	var fe failedRuns
	if errors.As(err, &fe) {
		return ExitFailure
	}
	return ExitFailure
}

func (a *App) cmdStrategies(args []string) error {
	if len(args) > 0 {
		return usagef("strategies takes no arguments")
	}
	w := a.Stdout
	fmt.Fprintln(w, "Strategies (use as --strategies name or name:key=value,key=value):")
	for _, in := range a.Registry.Infos() {
		req, err := a.Registry.Requirements(in.Name)
		if err != nil {
			return fmt.Errorf("strategy %s: %w", in.Name, err)
		}
		sc := req.Describe()
		fmt.Fprintf(w, "\n  %s\n      %s\n      scenarios: %s\n", in.Name, in.Doc, sc)
		opts := append([]strategies.Option(nil), in.Options...)
		sort.Slice(opts, func(i, j int) bool { return opts[i].Name < opts[j].Name })
		for _, o := range opts {
			fmt.Fprintf(w, "      %s=%s\t%s\n", o.Name, o.Default, o.Help())
		}
	}
	return nil
}

func versionLines() []string {
	out := []string{"go " + strings.TrimPrefix(goVersion(), "go")}
	for k, v := range versions() {
		if k != "go" {
			out = append(out, k+" "+v)
		}
	}
	sort.Strings(out[1:])
	return out
}

func goVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return "unknown"
}

// versions names the go toolchain, clgraph and its main dependencies.
func versions() map[string]string { return loop.Versions() }
