package sweep

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The deploy files cannot run here (no Docker engine, no cluster); these tests check what can be
// checked: they parse, and they run the sweep the way the docs say.

func TestDeployK8sIndexedJob(t *testing.T) {
	data, err := os.ReadFile("../deploy/k8s-indexed-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type container struct {
		Args         []string `yaml:"args"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
		} `yaml:"volumeMounts"`
	}
	type doc struct {
		Kind     string `yaml:"kind"`
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
		Spec struct {
			AccessModes    []string `yaml:"accessModes"`
			CompletionMode string   `yaml:"completionMode"`
			Completions    int      `yaml:"completions"`
			Parallelism    int      `yaml:"parallelism"`
			Template       struct {
				Spec struct {
					RestartPolicy string      `yaml:"restartPolicy"`
					Containers    []container `yaml:"containers"`
					Volumes       []struct {
						Name string `yaml:"name"`
						PVC  struct {
							ClaimName string `yaml:"claimName"`
						} `yaml:"persistentVolumeClaim"`
					} `yaml:"volumes"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	kinds := map[string]doc{}
	for {
		var d doc
		if err := dec.Decode(&d); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		kinds[d.Kind] = d
	}
	pvc, job := kinds["PersistentVolumeClaim"], kinds["Job"]
	if pvc.Metadata.Name == "" || len(pvc.Spec.AccessModes) != 1 || pvc.Spec.AccessModes[0] != "ReadWriteMany" {
		t.Errorf("PVC %+v", pvc)
	}
	s := job.Spec
	if s.CompletionMode != "Indexed" || s.Completions < 2 || s.Parallelism < 1 || s.Template.Spec.RestartPolicy != "Never" {
		t.Errorf("job spec %+v", s)
	}
	if len(s.Template.Spec.Containers) != 1 {
		t.Fatalf("containers %+v", s.Template.Spec.Containers)
	}
	c := s.Template.Spec.Containers[0]
	args := strings.Join(c.Args, " ")
	if !strings.HasPrefix(args, "sweep ") || !strings.Contains(args, "--shards="+strconv.Itoa(s.Completions)) || !strings.Contains(args, "--out=/results/") {
		t.Errorf("args %q (completions %d)", args, s.Completions)
	}
	mounted := false
	for _, v := range s.Template.Spec.Volumes {
		for _, m := range c.VolumeMounts {
			mounted = mounted || (v.PVC.ClaimName == pvc.Metadata.Name && m.Name == v.Name && m.MountPath == "/results")
		}
	}
	if !mounted {
		t.Error("the PVC is not mounted at /results")
	}
}

func TestDeploySlurm(t *testing.T) {
	data, err := os.ReadFile("../deploy/slurm.sbatch")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, w := range []string{"#SBATCH --array=0-", `--shard "$SLURM_ARRAY_TASK_ID/$SHARDS"`, `SHARDS=${SHARDS:-$SLURM_ARRAY_TASK_COUNT}`, "CLGRAPH_BLAS_THREADS", "sweep \"$FILE\""} {
		if !strings.Contains(s, w) {
			t.Errorf("slurm.sbatch lacks %q", w)
		}
	}
	if bash, err := exec.LookPath("bash"); err == nil {
		if out, err := exec.Command(bash, "-n", "../deploy/slurm.sbatch").CombinedOutput(); err != nil {
			t.Errorf("bash -n: %v\n%s", err, out)
		}
	}
}

func TestDeployDockerfile(t *testing.T) {
	data, err := os.ReadFile("../deploy/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, w := range []string{"FROM golang:1.26 AS build", "FROM debian:", "libopenblas0", "CGO_ENABLED=0", "COPY --from=build /out/clgraph", "ENTRYPOINT [\"clgraph\"]", "CLGRAPH_DATA="} {
		if !strings.Contains(s, w) {
			t.Errorf("Dockerfile lacks %q", w)
		}
	}
	if _, err := os.Stat("../examples/sweeps"); err != nil {
		t.Errorf("the Dockerfile copies examples/sweeps: %v", err)
	}
}
