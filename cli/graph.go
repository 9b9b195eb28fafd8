package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/clgraph/clgraph/datasets/mnist"
	"github.com/clgraph/clgraph/graphs"
	"github.com/clgraph/clgraph/loop"
	"github.com/clgraph/clgraph/runspec"
	"github.com/clgraph/clgraph/strategies"
	"github.com/clgraph/clgraph/stream"
	"github.com/clgraph/clgraph/streams"
	"github.com/sirupsen/logrus"
	G "gorgonia.org/gorgonia"
)

// graphFlags are clgraph graph's flags.
type graphFlags struct {
	strategy, stream, scenario, out, format, data, dataDir, hidden string
	task, tasks, batch, steps                                      int
	seed                                                           int64
	forwardOnly, svg                                               bool
}

func (a *App) graphFlagSet(f *graphFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("graph", flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: clgraph graph --strategy SPEC [flags]

Writes the Gorgonia training graph that a strategy has built by the start of task k as Graphviz
DOT (and SVG when Graphviz's dot is installed). A strategy that trains another graph besides the
classifier's (dgr's generator) gets one more file per graph, named after it: with --out g.dot,
g-generator.dot (and .svg); on standard output the graphs follow one another. The strategy runs through clgraph run's own loop
(the same seeding and calls) and is stopped at the start of task k: the graph drawn is the graph
the run builds. Each earlier task trains --steps steps (at least one, the loop's minimum), and with
--steps N task k trains N steps before it is drawn. The default synthetic data has the stream's
shapes, so no MNIST download is needed.

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.strategy, "strategy", "", "strategy spec to draw, e.g. pnn or pnn:adapter=true (required)")
	fs.StringVar(&f.stream, "stream", "split-mnist", "task stream: "+strings.Join(streams.Names(), ", "))
	fs.StringVar(&f.scenario, "scenario", "task", "scenario: task, domain or class")
	fs.IntVar(&f.task, "task", 1, "draw the graph as built for this task (1 = the first task)")
	fs.IntVar(&f.tasks, "tasks", 0, "number of tasks (default: 5 split, 10 permuted)")
	fs.StringVar(&f.hidden, "hidden", "", "hidden layer sizes, e.g. 400,400 (default: the quick protocol's)")
	fs.IntVar(&f.batch, "batch", 0, "mini-batch size (default: the quick protocol's)")
	fs.IntVar(&f.steps, "steps", 0, "training steps per task before drawing (0: task k untrained, earlier tasks one step each)")
	fs.Int64Var(&f.seed, "seed", 1, "random seed")
	fs.StringVar(&f.data, "data", "synthetic", "data: synthetic (random pixels with MNIST's shapes) or mnist (real MNIST)")
	fs.StringVar(&f.dataDir, "data-dir", mnist.DirFromEnv(), "folder with the MNIST IDX files, for --data mnist")
	fs.StringVar(&f.out, "out", "", "DOT file to write (default: standard output); the SVG goes next to it as .svg")
	fs.StringVar(&f.format, "format", "clean", "DOT style: clean (clustered by parameter group, forward and backward apart) or gorgonia (Gorgonia's own ToDot)")
	fs.BoolVar(&f.forwardOnly, "forward-only", false, "clean format: leave out the backward (gradient) nodes")
	fs.BoolVar(&f.svg, "svg", true, "with --out, also write an SVG with Graphviz's dot when it is installed")
	return fs
}

func (a *App) cmdGraph(ctx context.Context, args []string) error {
	var f graphFlags
	fs := a.graphFlagSet(&f)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("graph: unexpected arguments %q (flags go before, e.g. clgraph graph --strategy pnn --task 2)", fs.Args())
	}
	if f.strategy == "" {
		return usagef("graph: --strategy is required, e.g. --strategy pnn (see 'clgraph strategies')")
	}
	if f.format != "clean" && f.format != "gorgonia" {
		return usagef("graph: --format %q: want clean or gorgonia", f.format)
	}
	if f.data != "synthetic" && f.data != "mnist" {
		return usagef("graph: --data %q: want synthetic or mnist", f.data)
	}
	if strings.EqualFold(filepath.Ext(f.out), ".svg") {
		return usagef("graph: --out names the DOT file (e.g. graph.dot); the SVG is written next to it")
	}
	if f.task < 1 {
		return usagef("graph: --task %d: tasks count from 1", f.task)
	}
	if f.steps < 0 {
		return usagef("graph: --steps must be 0 or more, got %d", f.steps)
	}
	if f.tasks < 0 {
		return usagef("graph: --tasks must be positive, got %d", f.tasks)
	}
	var o runspec.Overrides
	o.Set("stream", f.stream)
	o.Set("scenario", f.scenario)
	o.Set("protocol", "quick")
	if f.tasks > 0 {
		o.SetValue("tasks", f.tasks)
	}
	if f.batch != 0 {
		o.SetValue("batch", f.batch)
	}
	if f.hidden != "" {
		h, err := parseWidthList(f.hidden)
		if err != nil {
			return usagef("graph: --hidden %q: %v", f.hidden, err)
		}
		o.SetValue("hidden", h)
	}
	// Train --steps steps per task before the drawn one (the runner needs at least one).
	o.SetValue("iterations", max(f.steps, 1))
	spec, err := streams.Spec(o)
	if err != nil {
		if strings.HasPrefix(err.Error(), "unknown stream") || strings.Contains(err.Error(), "scenario") {
			return usagef("graph: %v", err)
		}
		return usagef("graph: invalid settings: %v (check --batch and --hidden)", err)
	}
	sc, _ := stream.ParseScenario(spec.Scenario)
	s, err := a.Registry.New(f.strategy)
	if err != nil {
		return usageError{err}
	}
	name := canonical(s, f.strategy)
	if err := strategies.RequirementsOf(s).Check(name, sc); err != nil {
		return usagef("graph: %v", err)
	}
	var data *streams.Data
	if f.data == "mnist" {
		if data, err = streams.LoadMNIST(ctx, mnist.Options{Dir: f.dataDir}); err != nil {
			return fmt.Errorf("graph: loading MNIST: %w", err)
		}
	} else {
		data = syntheticMNIST(f.seed)
	}
	spec = spec.Cell(name, f.seed)
	spec.CheckpointEvery = -1
	st, err := streams.Build(data, spec)
	if err != nil {
		return usageError{err}
	}
	if f.task > len(st.Tasks) {
		return usagef("graph: --task %d, but the stream has %d tasks", f.task, len(st.Tasks))
	}
	if err := loop.Check(st, s, name); err != nil {
		return usageError{err}
	}
	model, err := buildFor(ctx, s, st, spec, f.task, f.steps, a.Log.WithField("strategy", name))
	if err != nil {
		return fmt.Errorf("graph: %s: %w", name, err)
	}
	proto := spec
	trainable := 0
	for _, q := range model.Trainable() {
		trainable += q.Size()
	}
	title := fmt.Sprintf("%s: training graph for task %d of %d (%s, %s-IL, batch %d); %d parameters, %d trainable",
		name, f.task, len(st.Tasks), st.Name, st.Scenario, proto.Batch, s.Params().Count(), trainable)
	// The classifier's graph, then any other graph the strategy trains (dgr's generator), each
	// in its own DOT file next to --out (or one after the other on standard output).
	type drawing struct {
		name, title string
		g           *G.ExprGraph
	}
	drawings := []drawing{{"", title, model.TrainGraph()}}
	if gr, ok := s.(strategies.Grapher); ok {
		for _, ng := range gr.Graphs() {
			drawings = append(drawings, drawing{ng.Name, fmt.Sprintf("%s: %s graph for task %d of %d (%s, %s-IL, batch %d), trained beside the classifier", name, ng.Name, f.task, len(st.Tasks), st.Name, st.Scenario, proto.Batch), ng.Graph})
		}
	}
	var msgs []string
	for _, d := range drawings {
		var buf bytes.Buffer
		var stats dotStats
		if f.format == "gorgonia" {
			buf.WriteString(d.g.ToDot())
			stats.nodes = len(d.g.AllNodes())
		} else if stats, err = writeDOT(&buf, d.g, s.Params().All(), d.title, f.forwardOnly); err != nil {
			return fmt.Errorf("graph: writing DOT: %w", err)
		}
		if f.out == "" || f.out == "-" {
			if _, err := a.Stdout.Write(buf.Bytes()); err != nil {
				return err
			}
			continue
		}
		out := f.out
		if d.name != "" {
			out = strings.TrimSuffix(f.out, filepath.Ext(f.out)) + "-" + d.name + filepath.Ext(f.out)
		}
		if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("graph: %w", err)
		}
		msg := fmt.Sprintf("wrote %s (%d nodes, %d edges)", out, stats.nodes, stats.edges)
		if f.format == "gorgonia" {
			msg = fmt.Sprintf("wrote %s (%d nodes, Gorgonia's format)", out, stats.nodes)
		}
		if f.svg {
			svg := strings.TrimSuffix(out, filepath.Ext(out)) + ".svg"
			switch done, err := renderSVG(ctx, out, svg); {
			case err != nil:
				return fmt.Errorf("graph: rendering %s: %w", svg, err)
			case done:
				msg += " and " + svg
			default:
				msg += "; Graphviz's dot is not installed, so no SVG (apt-get install graphviz)"
			}
		}
		msgs = append(msgs, msg)
	}
	if len(msgs) > 0 {
		fmt.Fprintln(a.Stderr, strings.Join(msgs, "\n"))
	}
	return nil
}

// parseWidthList reads comma-separated positive layer widths, e.g. "400,400".
func parseWidthList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("want positive integers separated by commas, e.g. 400,400")
		}
		out = append(out, n)
	}
	return out, nil
}

// syntheticMNIST is random data with MNIST's shapes (28x28 pixels in [0,1], 10 classes, a few
// examples per class), enough to build any stream's graphs without the real data.
func syntheticMNIST(seed int64) *streams.Data {
	rng := rand.New(rand.NewSource(seed))
	mk := func(per int) *stream.Dataset {
		d := &stream.Dataset{Dim: 28 * 28}
		for c := 0; c < 10; c++ {
			for k := 0; k < per; k++ {
				for i := 0; i < d.Dim; i++ {
					d.X = append(d.X, float32(rng.Float64()))
				}
				d.Labels = append(d.Labels, uint8(c))
				d.N++
			}
		}
		return d
	}
	return &streams.Data{Train: mk(8), Test: mk(2), Classes: 10, Source: "synthetic (random pixels, MNIST's shapes)"}
}

// buildFor runs s on st through the runner, as clgraph run would (the same seeding, the same
// calls), and stops it at the start of task (1-based), after its StartTask and, with steps > 0,
// after steps training steps of it. Earlier tasks train spec.Iterations steps each (steps, or
// one when steps is 0) and end as in a run. It returns the strategy's model at that point.
func buildFor(ctx context.Context, s strategies.Strategy, st *stream.Stream, spec runspec.Spec, task, steps int, log logrus.FieldLogger) (*graphs.Model, error) {
	m, ok := s.(strategies.Modeler)
	if !ok {
		return nil, errors.New("the strategy does not expose its Gorgonia model (strategies.Modeler), so there is no graph to draw")
	}
	stop := func(e loop.Event) error {
		if e.Task != task-1 {
			return nil
		}
		if (steps == 0 && e.Kind == loop.TaskStart) || (steps > 0 && e.Kind == loop.Step && e.Step == steps) {
			return loop.ErrStop
		}
		return nil
	}
	r := &loop.Runner{Hooks: []loop.Hook{stop}, Log: log}
	if _, err := r.Run(ctx, st, s, loop.Settings{Spec: spec}); !errors.Is(err, loop.ErrStop) {
		if err == nil {
			err = errors.New("the run ended before the task to draw")
		}
		return nil, err
	}
	if m.Model() == nil {
		return nil, errors.New("the strategy has no model after setup")
	}
	return m.Model(), nil
}

// renderSVG runs Graphviz's dot on the DOT file src to write svg. It reports done=false, and no
// error, when dot is not installed.
func renderSVG(ctx context.Context, src, svg string) (done bool, err error) {
	dot, err := exec.LookPath("dot")
	if err != nil {
		return false, nil
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, dot, "-Tsvg", "-o", svg, src)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return false, fmt.Errorf("%s: %w: %s", dot, err, strings.TrimSpace(stderr.String()))
	}
	return true, nil
}

// dotStats counts what writeDOT drew.
type dotStats struct{ nodes, edges int }

// Node kinds of the clean DOT output.
const (
	kindParam = iota
	kindInput
	kindForward
	kindBackward
)

// Cluster names of the clean DOT output besides the parameter groups.
const (
	clusterInputs   = "inputs"
	clusterOutput   = "output and loss"
	clusterBackward = "backward (gradients)"
)

// writeDOT writes g as Graphviz DOT that a reader can follow: nodes numbered in creation order,
// parameters boxed and grouped with the operations that read them in one cluster per parameter
// Group (e.g. "trunk", "head", "col0", "col1"), frozen parameters greyed, the output and loss in
// their own cluster, and the backward pass (every node that exists only to compute gradients) in
// one more, or left out with forwardOnly. Broadcast plumbing is folded into its users. Edges run
// from operand to result.
func writeDOT(w io.Writer, g *G.ExprGraph, params []*graphs.Param, title string, forwardOnly bool) (dotStats, error) {
	nodes := g.AllNodes()
	id := make(map[*G.Node]int, len(nodes))
	for i, n := range nodes {
		id[n] = i
	}
	byName := map[string]*graphs.Param{}
	for _, p := range params {
		byName[p.Name] = p
	}
	children := func(n *G.Node) []*G.Node {
		var out []*G.Node
		it := g.From(n.ID())
		for it.Next() {
			if c, ok := it.Node().(*G.Node); ok {
				out = append(out, c)
			}
		}
		return out
	}
	param := func(n *G.Node) *graphs.Param {
		if n.Op() != nil {
			return nil
		}
		return byName[n.Name()]
	}
	// Forward: everything a differentiated node (one with a gradient) depends on, and the
	// statements (reads) over forward nodes only. Everything else serves the backward pass.
	forward := map[*G.Node]bool{}
	var mark func(n *G.Node)
	mark = func(n *G.Node) {
		if forward[n] {
			return
		}
		forward[n] = true
		for _, c := range children(n) {
			mark(c)
		}
	}
	for _, n := range nodes {
		if n.Deriv() != nil {
			mark(n)
		}
	}
	for _, n := range nodes {
		if forward[n] || len(n.DerivOf()) > 0 || g.To(n.ID()).Len() > 0 {
			continue
		}
		cs := children(n)
		all := len(cs) > 0
		for _, c := range cs {
			all = all && forward[c]
		}
		forward[n] = all
	}
	kind := make([]int, len(nodes))
	cluster := make([]string, len(nodes))
	for i, n := range nodes {
		switch {
		case param(n) != nil:
			kind[i], cluster[i] = kindParam, param(n).Group
		case n.Op() == nil:
			kind[i], cluster[i] = kindInput, clusterInputs
		case forward[n]:
			kind[i] = kindForward
		default:
			kind[i], cluster[i] = kindBackward, clusterBackward
		}
	}
	// Broadcast plumbing (SizeOf, Reshape, Repeat: how Gorgonia spells a broadcast bias add) is
	// folded into its users: they read the plumbing's operands directly.
	plumbing := make([]bool, len(nodes))
	eff := make([][]*G.Node, len(nodes))
	for i, n := range nodes {
		if n.Op() != nil {
			op := fmt.Sprint(n.Op())
			plumbing[i] = strings.HasPrefix(op, "SizeOf") || strings.HasPrefix(op, "Reshape") || strings.HasPrefix(op, "Repeat")
		}
		has := map[*G.Node]bool{}
		for _, c := range children(n) {
			srcs := []*G.Node{c}
			if j, ok := id[c]; ok && plumbing[j] {
				srcs = eff[j]
			}
			for _, c := range srcs {
				if !has[c] {
					has[c] = true
					eff[i] = append(eff[i], c)
				}
			}
		}
	}
	// Forward operations join the group of the parameters they read, else the one group their
	// operands share (children come before parents in creation order); operations over several
	// groups join the one group their users share, else the output cluster.
	for i := range nodes {
		if kind[i] != kindForward {
			continue
		}
		groups := map[string]bool{}
		for _, c := range eff[i] {
			if p := param(c); p != nil {
				cluster[i] = p.Group
				break
			}
			if k := kind[id[c]]; k == kindForward && cluster[id[c]] != "" {
				groups[cluster[id[c]]] = true
			}
		}
		if cluster[i] == "" && len(groups) == 1 {
			for gr := range groups {
				cluster[i] = gr
			}
		}
	}
	for i := len(nodes) - 1; i >= 0; i-- {
		if kind[i] != kindForward || cluster[i] != "" {
			continue
		}
		users := map[string]bool{}
		it := g.To(nodes[i].ID())
		for it.Next() {
			if u, ok := it.Node().(*G.Node); ok && kind[id[u]] == kindForward {
				users[cluster[id[u]]] = true
			}
		}
		cluster[i] = clusterOutput
		if len(users) == 1 {
			for gr := range users {
				if gr != "" {
					cluster[i] = gr
				}
			}
		}
	}
	// Clusters in order: inputs, parameter groups in order of first use, output, backward.
	order := []string{clusterInputs}
	seen := map[string]bool{clusterInputs: true, clusterOutput: true, clusterBackward: true}
	for i := range nodes {
		if c := cluster[i]; !seen[c] {
			seen[c] = true
			order = append(order, c)
		}
	}
	order = append(order, clusterOutput)
	if !forwardOnly {
		order = append(order, clusterBackward)
	}
	groupParams := map[string][]*graphs.Param{}
	for i, n := range nodes {
		if kind[i] == kindParam {
			groupParams[cluster[i]] = append(groupParams[cluster[i]], param(n))
		}
	}
	drawn := func(i int) bool { return !plumbing[i] && !(forwardOnly && kind[i] == kindBackward) }

	bw := bufio.NewWriter(w)
	var st dotStats
	fmt.Fprintln(bw, "digraph train {")
	fmt.Fprintf(bw, "  graph [label=%s, labelloc=t, fontname=\"Helvetica\", fontsize=14, rankdir=TB, newrank=true, nodesep=0.25, ranksep=0.35];\n", dotQuote(title))
	fmt.Fprintln(bw, `  node [fontname="Helvetica", fontsize=10, shape=ellipse, height=0.3];`)
	fmt.Fprintln(bw, `  edge [arrowsize=0.6, color="#555555"];`)
	for ci, c := range order {
		fmt.Fprintf(bw, "  subgraph cluster_%d {\n    label=%s; style=\"rounded,filled\"; fillcolor=%s; color=\"#999999\"; fontname=\"Helvetica\";\n",
			ci, dotQuote(clusterLabel(c, groupParams[c])), dotQuote(clusterColor(c, groupParams[c])))
		for i, n := range nodes {
			if cluster[i] != c || !drawn(i) {
				continue
			}
			st.nodes++
			fmt.Fprintf(bw, "    n%d [%s];\n", i, nodeAttrs(n, kind[i], param(n)))
		}
		fmt.Fprintln(bw, "  }")
	}
	for i := range nodes {
		if !drawn(i) {
			continue
		}
		for _, c := range eff[i] {
			j, ok := id[c]
			if !ok || !drawn(j) {
				continue
			}
			st.edges++
			if kind[i] == kindBackward {
				fmt.Fprintf(bw, "  n%d -> n%d [color=\"#bbbbbb\"];\n", j, i)
			} else {
				fmt.Fprintf(bw, "  n%d -> n%d;\n", j, i)
			}
		}
	}
	fmt.Fprintln(bw, "}")
	return st, bw.Flush()
}

func clusterLabel(c string, ps []*graphs.Param) string {
	if len(ps) == 0 {
		return c
	}
	size, frozen := 0, 0
	for _, p := range ps {
		size += p.Size()
		if p.Frozen {
			frozen++
		}
	}
	state := "trainable"
	switch {
	case frozen == len(ps):
		state = "frozen"
	case frozen > 0:
		state = fmt.Sprintf("%d of %d tensors frozen", frozen, len(ps))
	}
	return fmt.Sprintf("%s: %d parameters, %s", c, size, state)
}

func clusterColor(c string, ps []*graphs.Param) string {
	switch c {
	case clusterInputs:
		return "#fff8e1"
	case clusterOutput:
		return "#fdecea"
	case clusterBackward:
		return "#f5f5f5"
	}
	for _, p := range ps {
		if !p.Frozen {
			return "#e8f0fe"
		}
	}
	return "#eeeeee"
}

func nodeAttrs(n *G.Node, kind int, p *graphs.Param) string {
	shape := fmt.Sprint(n.Shape())
	switch kind {
	case kindParam:
		if p.Frozen {
			return fmt.Sprintf(`label=%s, shape=box, style=filled, fillcolor="#d9d9d9", fontcolor="#555555"`, dotQuote(p.Name+"\n"+shape+" frozen"))
		}
		lr := ""
		if p.LRScale != 0 && p.LRScale != 1 {
			lr = fmt.Sprintf(" lr×%g", p.LRScale)
		}
		return fmt.Sprintf(`label=%s, shape=box, style=filled, fillcolor="#aecbfa"`, dotQuote(p.Name+"\n"+shape+lr))
	case kindInput:
		return fmt.Sprintf(`label=%s, shape=note, style=filled, fillcolor="#ffe082"`, dotQuote(n.Name()+"\n"+shape))
	case kindBackward:
		return fmt.Sprintf(`label=%s, fontsize=8, color="#999999", fontcolor="#666666"`, dotQuote(opLabel(n)+"\n"+shape))
	}
	return fmt.Sprintf(`label=%s, style=filled, fillcolor=white`, dotQuote(opLabel(n)+"\n"+shape))
}

// addrRE matches pointers, which Gorgonia prints in some op names; they would make the output
// differ from run to run.
var addrRE = regexp.MustCompile(`0x[0-9a-f]+`)

func opLabel(n *G.Node) string {
	s := fmt.Sprint(n.Op())
	switch {
	case s == "print":
		s = "read"
	case strings.HasSuffix(s, " false"), strings.HasSuffix(s, " true"):
		// Gorgonia's elementwise ops print whether they return a boolean, e.g. "+ false".
		s = s[:strings.LastIndexByte(s, ' ')]
	}
	return addrRE.ReplaceAllString(s, "…")
}

// dotQuote returns s as a DOT quoted string, with newlines as \n.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", "")
	return `"` + r.Replace(s) + `"`
}
