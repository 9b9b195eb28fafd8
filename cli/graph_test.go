package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/awalterschulze/gographviz"
	"github.com/clgraph/clgraph/strategies"
)

func testApp() (*App, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &App{Registry: strategies.Default, Stdout: &out, Stderr: &errb}, &out, &errb
}

// graphArgs are small settings: synthetic data, 2 hidden layers of 8 units, batches of 4.
func graphArgs(extra ...string) []string {
	return append([]string{"graph", "--hidden", "8,8", "--batch", "4"}, extra...)
}

// parseDOT parses DOT with gographviz's parser and returns, per cluster label, the node ids in it.
func parseDOT(t *testing.T, dot []byte) (*gographviz.Graph, map[string][]string) {
	t.Helper()
	g, err := gographviz.Read(dot)
	if err != nil {
		t.Fatalf("the DOT does not parse: %v\n%s", err, dot)
	}
	clusters := map[string][]string{}
	for name, sub := range g.SubGraphs.SubGraphs {
		label := strings.Trim(sub.Attrs["label"], `"`)
		for n := range g.Relations.ParentToChildren[name] {
			clusters[label] = append(clusters[label], n)
		}
	}
	return g, clusters
}

// clusterWith returns the label of the cluster whose label starts with prefix.
func clusterWith(clusters map[string][]string, prefix string) (string, bool) {
	for l := range clusters {
		if strings.HasPrefix(l, prefix) {
			return l, true
		}
	}
	return "", false
}

func TestGraphCommand(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		// clusters whose label starts with each prefix must exist
		clusters []string
	}{
		{"pnn", []string{"--strategy", "pnn", "--task", "2"}, []string{"inputs", "col0: ", "col1: ", "output and loss", "backward"}},
		{"pnn-adapter", []string{"--strategy", "pnn:adapter=true", "--task", "3", "--forward-only"}, []string{"col0: ", "col1: ", "col2: "}},
		{"layerwise", []string{"--strategy", "layerwise:freeze=1,decay=0.5", "--task", "2", "--steps", "2"}, []string{"trunk: ", "head: "}},
		{"naive-permuted", []string{"--strategy", "naive", "--stream", "permuted-mnist", "--tasks", "3", "--scenario", "class"}, []string{"trunk: ", "head: "}},
		{"gorgonia-format", []string{"--strategy", "pnn", "--task", "2", "--format", "gorgonia"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app, _, stderr := testApp()
			out := filepath.Join(t.TempDir(), "g.dot")
			if code := app.Run(context.Background(), graphArgs(append(tc.args, "--out", out)...)); code != ExitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			dot, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "gorgonia-format" {
				// Gorgonia's HTML-like labels are beyond gographviz's parser: check with dot only.
				if !bytes.HasPrefix(dot, []byte("digraph")) || !bytes.Contains(dot, []byte("col1/l1/U0")) {
					t.Fatalf("not Gorgonia's DOT of a 2-column PNN:\n%.300s", dot)
				}
				checkSVG(t, out)
				return
			}
			g, clusters := parseDOT(t, dot)
			if len(g.Nodes.Nodes) < 10 {
				t.Fatalf("only %d nodes", len(g.Nodes.Nodes))
			}
			for _, c := range tc.clusters {
				if _, ok := clusterWith(clusters, c); !ok {
					t.Errorf("no cluster %q among %d clusters", c, len(clusters))
				}
			}
			if len(g.Edges.Edges) == 0 {
				t.Error("no edges")
			}
			checkSVG(t, out)
		})
	}
}

// checkSVG checks that the graph command rendered the DOT file out with Graphviz's dot (which
// parses it), when dot is installed.
func checkSVG(t *testing.T, out string) {
	t.Helper()
	if _, err := exec.LookPath("dot"); err != nil {
		t.Logf("Graphviz's dot is not installed: no SVG to check")
		return
	}
	b, err := os.ReadFile(strings.TrimSuffix(out, ".dot") + ".svg")
	if err != nil || !bytes.Contains(b, []byte("<svg")) {
		t.Fatalf("no SVG written by dot: %v", err)
	}
}

// TestGraphPNNClusters checks what the PNN drawing says: column 0 frozen, column 1 trainable with
// its lateral connections, and every parameter in its column's cluster.
func TestGraphPNNClusters(t *testing.T) {
	app, stdout, stderr := testApp()
	if code := app.Run(context.Background(), graphArgs("--strategy", "pnn", "--task", "2")); code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	g, clusters := parseDOT(t, stdout.Bytes())
	col0, ok0 := clusterWith(clusters, "col0: ")
	col1, ok1 := clusterWith(clusters, "col1: ")
	if !ok0 || !ok1 || !strings.HasSuffix(col0, "frozen") || !strings.HasSuffix(col1, "trainable") {
		t.Fatalf("clusters %q and %q: want col0 frozen and col1 trainable", col0, col1)
	}
	in := func(cluster string) map[string]bool {
		m := map[string]bool{}
		for _, id := range clusters[cluster] {
			m[strings.Trim(g.Nodes.Lookup[id].Attrs["label"], `"`)] = true
		}
		return m
	}
	if x := in("inputs"); !x[`x\n(4, 784)`] {
		t.Errorf("the input is not x of 4 rows (--batch 4) and 784 features: %v", x)
	}
	labels0, labels1 := in(col0), in(col1)
	for _, want := range []string{`col0/l0/W\n(784, 8) frozen`, `col0/head/b\n(1, 2) frozen`} {
		if !labels0[want] {
			t.Errorf("col0's cluster lacks %s", want)
		}
	}
	for _, want := range []string{`col1/l0/W\n(784, 8)`, `col1/l1/U0\n(8, 8)`, `col1/head/U0\n(8, 2)`} {
		if !labels1[want] {
			t.Errorf("col1's cluster lacks %s", want)
		}
	}
}

func TestGraphDeterministic(t *testing.T) {
	var outs []string
	for i := 0; i < 2; i++ {
		app, stdout, stderr := testApp()
		if code := app.Run(context.Background(), graphArgs("--strategy", "pnn:adapter=true", "--task", "3")); code != ExitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		outs = append(outs, stdout.String())
	}
	if outs[0] != outs[1] {
		t.Fatal("two identical graph commands wrote different DOT")
	}
}

func TestGraphUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--strategy", "nope"},
		{"--strategy", "pnn", "--task", "0"},
		{"--strategy", "pnn", "--task", "6"},
		{"--strategy", "pnn", "--scenario", "class"},
		{"--strategy", "pnn", "--format", "png"},
		{"--strategy", "pnn", "--data", "cifar"},
		{"--strategy", "pnn", "--out", "g.svg"},
		{"--strategy", "pnn", "--stream", "nope"},
		{"--strategy", "pnn", "extra"},
		{"--strategy", "pnn", "--hidden", "8,0"},
		{"--strategy", "pnn", "--batch", "-1"},
		{"--strategy", "pnn", "--tasks", "-1"},
		{"--strategy", "pnn", "--tasks", "3", "--stream", "split-mnist"},
	} {
		app, _, stderr := testApp()
		if code := app.Run(context.Background(), graphArgs(args...)); code != ExitUsage {
			t.Errorf("%q: exit %d, want %d (usage); stderr %s", args, code, ExitUsage, stderr)
		}
	}
}

// TestGraphGenerator: clgraph graph --strategy dgr draws the classifier's graph and, next to it,
// the generator's (encoder, latent, decoder and their gradients, in the generator's cluster);
// rtf draws one graph whose decoder is in it.
func TestGraphGenerator(t *testing.T) {
	app, _, stderr := testApp()
	dir := t.TempDir()
	out := filepath.Join(dir, "g.dot")
	if code := app.Run(context.Background(), graphArgs("--strategy", "dgr", "--scenario", "class", "--task", "2", "--out", out)); code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	cls, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := os.ReadFile(filepath.Join(dir, "g-generator.dot"))
	if err != nil {
		t.Fatalf("no generator graph: %v (stderr: %s)", err, stderr)
	}
	if !strings.Contains(stderr.String(), "g-generator.dot") {
		t.Errorf("the message does not name the generator's file: %s", stderr)
	}
	_, cc := parseDOT(t, cls)
	if _, ok := clusterWith(cc, "trunk: "); !ok {
		t.Errorf("classifier graph has no trunk cluster: %v", cc)
	}
	gg, gc := parseDOT(t, gen)
	l, ok := clusterWith(gc, "generator: ")
	if !ok {
		t.Fatalf("generator graph has no generator cluster: %v", gc)
	}
	if len(gc[l]) < 10 || len(gg.Edges.Edges) < 10 {
		t.Errorf("generator graph too small: %d nodes in its cluster, %d edges", len(gc[l]), len(gg.Edges.Edges))
	}
	if _, ok := clusterWith(gc, "trunk: "); ok {
		t.Error("the generator graph reads the classifier's trunk")
	}
	if !bytes.Contains(gen, []byte("generator graph for task 2")) {
		t.Error("generator graph's title")
	}
	checkSVG(t, filepath.Join(dir, "g-generator.dot"))

	app, stdout, stderr := testApp()
	if code := app.Run(context.Background(), graphArgs("--strategy", "rtf", "--scenario", "class", "--task", "2")); code != ExitOK {
		t.Fatalf("rtf: exit %d: %s", code, stderr)
	}
	if n := bytes.Count(stdout.Bytes(), []byte("digraph")); n != 1 {
		t.Errorf("rtf drew %d graphs, want 1 (its decoder is in the classifier's graph)", n)
	}
	_, rc := parseDOT(t, stdout.Bytes())
	if _, ok := clusterWith(rc, "generator: "); !ok {
		t.Errorf("rtf's graph has no generator (decoder) cluster: %v", rc)
	}
}
