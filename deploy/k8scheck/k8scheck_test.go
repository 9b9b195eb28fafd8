package k8scheck

import (
	"os"
	"strings"
	"testing"
)

func read(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../k8s-indexed-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestIndexedJob decodes deploy/k8s-indexed-job.yaml strictly into the Kubernetes types and
// checks it runs a sharded sweep.
func TestIndexedJob(t *testing.T) {
	m, err := Decode([]byte(read(t)))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Claims) != 1 || len(m.Jobs) != 1 {
		t.Fatalf("%d claims and %d jobs, want 1 and 1", len(m.Claims), len(m.Jobs))
	}
	if probs := Check(m); len(probs) > 0 {
		t.Fatalf("the manifest cannot run a sharded sweep:\n%s", strings.Join(probs, "\n"))
	}
	j := m.Jobs[0]
	t.Logf("job %s: %d completions, %d at a time, image %s, args %v", j.Name, *j.Spec.Completions, *j.Spec.Parallelism, j.Spec.Template.Spec.Containers[0].Image, j.Spec.Template.Spec.Containers[0].Args)
}

// TestSpacedFlags: "--out /results/x" (flag and value as two arguments) reads as "--out=/results/x".
func TestSpacedFlags(t *testing.T) {
	good := strings.Replace(read(t), "- --out=/results/regularization", "- --out\n            - /results/regularization", 1)
	if good == read(t) {
		t.Fatal("the manifest has no --out=/results/regularization to split")
	}
	m, err := Decode([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if probs := Check(m); len(probs) > 0 {
		t.Fatalf("spaced --out refused: %v", probs)
	}
}

// TestMistakesCaught edits the manifest in ways a user might and checks each is refused.
func TestMistakesCaught(t *testing.T) {
	good := read(t)
	for name, tc := range map[string]struct{ old, new, want string }{
		"misspelt field":   {"completionMode: Indexed", "completionMod: Indexed", "unknown field"},
		"wrong type":       {"completions: 8", "completions: eight", "cannot unmarshal"},
		"unknown kind":     {"kind: Job", "kind: Jobb", "unexpected kind"},
		"not indexed":      {"completionMode: Indexed", "completionMode: NonIndexed", "not Indexed"},
		"shards mismatch":  {"--shards=8", "--shards=4", "differs from completions"},
		"out not mounted":  {"--out=/results/regularization", "--out=/tmp/regularization", "not on a mounted volume"},
		"claim undefined":  {"claimName: clgraph-results", "claimName: other", "does not define"},
		"too many workers": {"--workers=4", "--workers=8", "exceed"},
	} {
		if !strings.Contains(good, tc.old) {
			t.Fatalf("%s: the manifest has no %q", name, tc.old)
		}
		m, err := Decode([]byte(strings.Replace(good, tc.old, tc.new, 1)))
		var msg string
		if err != nil {
			msg = err.Error()
		} else {
			msg = strings.Join(Check(m), "\n")
		}
		if !strings.Contains(msg, tc.want) {
			t.Errorf("%s: got %q, want an error saying %q", name, msg, tc.want)
		}
	}
}
