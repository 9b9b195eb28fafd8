package strategies_test

import (
	"testing"

	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/streams"
)

// longMeans runs each spec on split MNIST at protocol proto (quick or paper) in scenario sc for
// each seed and returns the mean of each metric in keys per spec.
func longMeans(t *testing.T, proto, sc string, seeds []int64, specs []string, keys ...string) map[string]map[string]float64 {
	t.Helper()
	data := longTest(t)
	p, err := streams.Preset("split-mnist", proto, sc)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]float64{}
	for _, seed := range seeds {
		st, err := streams.Build(data, p.Cell("", seed))
		if err != nil {
			t.Fatal(err)
		}
		for _, spec := range specs {
			m := longRun(t, st, spec, p, seed)
			if out[spec] == nil {
				out[spec] = map[string]float64{}
			}
			for _, k := range keys {
				out[spec][k] += m.Get(k) / float64(len(seeds))
			}
		}
	}
	return out
}

// TestLongZooClassIL: in class-IL split MNIST (quick protocol, seeds 1-3, default options), where
// naive fine-tuning keeps nothing of earlier tasks, the methods with a memory (GEM, iCaRL, DER,
// DER++, GDumb) keep old classes, as their papers and van de Ven et al. (2022) report: mean ACC
// at least 0.2 above naive's and mean BWT above naive's. LwF, without a memory, hardly helps
// there (van de Ven & Tolias 2019: 23.9% against 19.9% for fine-tuning): its mean ACC stays
// within 0.15 of naive's. A-GEM has its own test (TestLongAGEM): at this protocol it does not
// keep old classes, in clgraph as in a PyTorch peer.
func TestLongZooClassIL(t *testing.T) {
	memory := []string{"gem", "icarl", "der", "der:beta=0.5", "gdumb"}
	m := longMeans(t, "quick", "class", []int64{1, 2, 3}, append([]string{"naive", "lwf"}, memory...), results.KeyACC, results.KeyBWT)
	n := m["naive"]
	for _, spec := range memory {
		t.Logf("class-IL %s: ACC %.3f BWT %+.3f, naive ACC %.3f BWT %+.3f", spec, m[spec][results.KeyACC], m[spec][results.KeyBWT], n[results.KeyACC], n[results.KeyBWT])
		if m[spec][results.KeyACC] < n[results.KeyACC]+0.2 || m[spec][results.KeyBWT] <= n[results.KeyBWT] {
			t.Errorf("%s: mean ACC %.3f BWT %+.3f, want ACC >= naive's %.3f + 0.2 and BWT above naive's %+.3f", spec, m[spec][results.KeyACC], m[spec][results.KeyBWT], n[results.KeyACC], n[results.KeyBWT])
		}
	}
	t.Logf("class-IL lwf: ACC %.3f, naive %.3f", m["lwf"][results.KeyACC], n[results.KeyACC])
	if d := m["lwf"][results.KeyACC] - n[results.KeyACC]; d > 0.15 {
		t.Errorf("lwf: mean ACC %.3f is %.3f above naive's: the paper behaviour is hardly any gain in class-IL", m["lwf"][results.KeyACC], d)
	}
}

// TestLongZooTaskDomain: in task- and domain-IL split MNIST (quick protocol, seeds 1-3, default
// options), LwF forgets less than naive fine-tuning (van de Ven & Tolias 2019: 99.6% against
// 87.2% in task-IL, 71.0% against 59.2% in domain-IL), and in task-IL so do XdG alone and XdG
// with SI (Masse et al. 2018; van de Ven et al. 2022).
func TestLongZooTaskDomain(t *testing.T) {
	for _, c := range []struct {
		scenario string
		specs    []string
	}{
		{"task", []string{"lwf", "xdg", "xdg:reg=si"}},
		{"domain", []string{"lwf"}},
	} {
		t.Run(c.scenario, func(t *testing.T) {
			m := longMeans(t, "quick", c.scenario, []int64{1, 2, 3}, append([]string{"naive"}, c.specs...), results.KeyACC, results.KeyForgetting)
			for _, spec := range c.specs {
				t.Logf("%s-IL %s: forgetting %.3f ACC %.3f, naive forgetting %.3f ACC %.3f", c.scenario, spec, m[spec][results.KeyForgetting], m[spec][results.KeyACC], m["naive"][results.KeyForgetting], m["naive"][results.KeyACC])
				if m[spec][results.KeyForgetting] >= m["naive"][results.KeyForgetting] {
					t.Errorf("%s: mean forgetting %.3f, not below naive's %.3f", spec, m[spec][results.KeyForgetting], m["naive"][results.KeyForgetting])
				}
			}
		})
	}
}

// TestLongAGEM: A-GEM (default options: 100 examples per class) forgets less than naive
// fine-tuning in task- and domain-IL split MNIST at the quick protocol (seeds 1-3), and in
// class-IL it keeps old classes at the paper protocol (2000 iterations a task; seeds 1-3): mean
// ACC at least 0.2 above naive's. At the quick protocol (200 iterations) A-GEM does not keep
// them in class-IL, and that is the algorithm, not this implementation: the PyTorch peer
// (perf/peer/torch_run.py --strategy agem, the reference code's A-GEM) scores alike there
// (results/reference/peer-agem.md), so this test asserts only ACC above naive's at that protocol.
func TestLongAGEM(t *testing.T) {
	seeds := []int64{1, 2, 3}
	for _, sc := range []string{"task", "domain"} {
		m := longMeans(t, "quick", sc, seeds, []string{"naive", "agem"}, results.KeyACC, results.KeyForgetting)
		t.Logf("%s-IL agem: forgetting %.3f ACC %.3f, naive forgetting %.3f ACC %.3f", sc, m["agem"][results.KeyForgetting], m["agem"][results.KeyACC], m["naive"][results.KeyForgetting], m["naive"][results.KeyACC])
		if m["agem"][results.KeyForgetting] >= m["naive"][results.KeyForgetting] {
			t.Errorf("%s-IL: agem's mean forgetting %.3f, not below naive's %.3f", sc, m["agem"][results.KeyForgetting], m["naive"][results.KeyForgetting])
		}
	}
	for _, c := range []struct {
		proto  string
		margin float64
	}{{"quick", 0}, {"paper", 0.2}} {
		m := longMeans(t, c.proto, "class", seeds, []string{"naive", "agem"}, results.KeyACC)
		t.Logf("class-IL %s protocol agem: ACC %.3f, naive %.3f", c.proto, m["agem"][results.KeyACC], m["naive"][results.KeyACC])
		if m["agem"][results.KeyACC] <= m["naive"][results.KeyACC]+c.margin {
			t.Errorf("class-IL %s protocol: agem's mean ACC %.3f, want above naive's %.3f + %.1f", c.proto, m["agem"][results.KeyACC], m["naive"][results.KeyACC], c.margin)
		}
	}
}
