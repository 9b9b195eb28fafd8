package external

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestExternalModule builds a scratch module outside the tree that requires clgraph (through a
// replace directive, as long as the module path is not published), registers a strategy and
// runs it through clgraph's CLI on real MNIST.
func TestExternalModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a separate module (about a minute without a warm build cache)")
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/mylab/main.go")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	mod := "module example.com/mylab\n\ngo 1.26\n\nrequire github.com/clgraph/clgraph v0.0.0\n\nreplace github.com/clgraph/clgraph => " + root + "\n"
	for name, data := range map[string][]byte{"go.mod": []byte(mod), "go.sum": sum, "main.go": src} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod -buildvcs=false")
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run(goBin, "mod", "tidy")
	run(goBin, "build", "-o", "mylab", ".")
	bin := filepath.Join(dir, "mylab")
	if out := run(bin, "strategies"); !strings.Contains(out, "shrink") || !strings.Contains(out, "ewc") {
		t.Fatalf("the registry lists neither the new strategy nor the built-ins:\n%s", out)
	}
	out := filepath.Join(dir, "run")
	run(bin, "run", "--strategies", "naive;shrink", "--seeds", "1", "--tasks", "2", "--iterations", "5", "--hidden", "16",
		"--train-limit", "200", "--test-limit", "50", "--progress", "none", "--log-level", "warn", "--out", out)
	for _, f := range []string{"config.json", "summary.md", "shrink/seed-1/result.json", "naive/seed-1/result.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("the external module's run wrote no %s: %v", f, err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(out, "summary.md"))
	if !strings.Contains(string(md), "shrink") {
		t.Errorf("summary.md does not list the external strategy:\n%s", md)
	}
}
