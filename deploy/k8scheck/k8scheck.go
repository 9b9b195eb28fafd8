package k8scheck

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Manifest is a decoded deploy file: its claims and jobs.
type Manifest struct {
	Claims []corev1.PersistentVolumeClaim
	Jobs   []batchv1.Job
}

// typeMeta is a document's kind and API version.
type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

var separator = regexp.MustCompile(`(?m)^---\s*$`)

// Decode splits a multi-document YAML file and decodes each document strictly into its
// Kubernetes type; only v1 PersistentVolumeClaim and batch/v1 Job are expected.
func Decode(data []byte) (*Manifest, error) {
	m := &Manifest{}
	for i, doc := range separator.Split(string(data), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var tm typeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 PersistentVolumeClaim":
			var c corev1.PersistentVolumeClaim
			if err := yaml.UnmarshalStrict([]byte(doc), &c); err != nil {
				return nil, fmt.Errorf("document %d (%s): %w", i+1, tm.Kind, err)
			}
			m.Claims = append(m.Claims, c)
		case "batch/v1 Job":
			var j batchv1.Job
			if err := yaml.UnmarshalStrict([]byte(doc), &j); err != nil {
				return nil, fmt.Errorf("document %d (%s): %w", i+1, tm.Kind, err)
			}
			m.Jobs = append(m.Jobs, j)
		default:
			return nil, fmt.Errorf("document %d: unexpected kind %q of API version %q", i+1, tm.Kind, tm.APIVersion)
		}
	}
	return m, nil
}

func stripComments(doc string) string {
	var b bytes.Buffer
	for _, l := range strings.Split(doc, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// Check reports what keeps the manifest from running a sharded clgraph sweep: each Job must be
// Indexed, with completions equal to the sweep's --shards and parallelism at most completions,
// run 'sweep FILE' with FILE and --out on mounted volumes, mount every claim it names from the
// file, and set CLGRAPH_BLAS_THREADS so that --workers times it fits the CPU it requests.
func Check(m *Manifest) []string {
	var probs []string
	bad := func(format string, a ...any) { probs = append(probs, fmt.Sprintf(format, a...)) }
	if len(m.Jobs) == 0 {
		bad("no Job")
	}
	claims := map[string]bool{}
	for _, c := range m.Claims {
		claims[c.Name] = true
	}
	for _, j := range m.Jobs {
		s := j.Spec
		if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
			bad("job %s: completionMode is not Indexed (shards take their index from JOB_COMPLETION_INDEX)", j.Name)
		}
		if s.Completions == nil || *s.Completions < 1 {
			bad("job %s: no completions", j.Name)
			continue
		}
		if s.Parallelism != nil && *s.Parallelism > *s.Completions {
			bad("job %s: parallelism %d above completions %d", j.Name, *s.Parallelism, *s.Completions)
		}
		vols := map[string]corev1.Volume{}
		for _, v := range s.Template.Spec.Volumes {
			vols[v.Name] = v
			if pvc := v.PersistentVolumeClaim; pvc != nil && !claims[pvc.ClaimName] {
				bad("job %s: volume %s names claim %q, which the file does not define", j.Name, v.Name, pvc.ClaimName)
			}
		}
		if len(s.Template.Spec.Containers) != 1 {
			bad("job %s: %d containers, want 1", j.Name, len(s.Template.Spec.Containers))
			continue
		}
		c := s.Template.Spec.Containers[0]
		mounted := func(path string) bool {
			for _, vm := range c.VolumeMounts {
				if _, ok := vols[vm.Name]; ok && (path == vm.MountPath || strings.HasPrefix(path, strings.TrimSuffix(vm.MountPath, "/")+"/")) {
					return true
				}
			}
			return false
		}
		if len(c.Args) < 2 || c.Args[0] != "sweep" {
			bad("job %s: args %v do not start with 'sweep FILE'", j.Name, c.Args)
			continue
		}
		if !mounted(c.Args[1]) {
			bad("job %s: the sweep file %s is on no mounted volume", j.Name, c.Args[1])
		}
		flags := map[string]string{}
		rest := c.Args[2:]
		for i := 0; i < len(rest); i++ {
			k, v, eq := strings.Cut(strings.TrimLeft(rest[i], "-"), "=")
			if !eq && i+1 < len(rest) && !strings.HasPrefix(rest[i+1], "-") {
				v, i = rest[i+1], i+1 // "--out /results/x", as Go's flag package also reads it
			}
			flags[k] = v
		}
		if out := flags["out"]; out == "" || !mounted(out) {
			bad("job %s: --out %q is not on a mounted volume (results would be lost with the pod)", j.Name, out)
		}
		if n, err := strconv.Atoi(flags["shards"]); err != nil || int32(n) != *s.Completions {
			bad("job %s: --shards %q differs from completions %d", j.Name, flags["shards"], *s.Completions)
		}
		threads := 1
		for _, e := range c.Env {
			if e.Name == "CLGRAPH_BLAS_THREADS" {
				if n, err := strconv.Atoi(e.Value); err == nil && n > 0 {
					threads = n
				} else {
					bad("job %s: CLGRAPH_BLAS_THREADS %q is not a positive integer", j.Name, e.Value)
				}
			}
		}
		if w, err := strconv.Atoi(flags["workers"]); err == nil {
			if cpu, ok := c.Resources.Requests[corev1.ResourceCPU]; ok && int64(w*threads)*1000 > cpu.MilliValue() {
				bad("job %s: --workers %d × %d BLAS threads exceed the %s CPUs requested", j.Name, w, threads, cpu.String())
			}
		}
	}
	return probs
}
