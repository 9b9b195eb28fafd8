package strategies_test

import (
	"testing"

	"github.com/clgraph/clgraph/results"
)

// TestLongDGR: in class-IL split MNIST at the quick protocol (seeds 1-3, default options), where
// naive fine-tuning keeps nothing of earlier tasks, generative replay keeps old classes without
// storing any data (van de Ven & Tolias 2019, paper protocol: DGR 90.79%, DGR with distillation
// 91.79%): dgr, dgr:distill=true and rtf
// each reach a mean ACC at least 0.2 above naive's, with BWT above naive's. In task-IL dgr
// forgets less than naive. The paper protocol's runs (2000 iterations a task) are too long for a
// test; results/reference/dgr-paper-class holds them.
func TestLongDGR(t *testing.T) {
	seeds := []int64{1, 2, 3}
	gen := []string{"dgr", "dgr:distill=true", "rtf"}
	m := longMeans(t, "quick", "class", seeds, append([]string{"naive"}, gen...), results.KeyACC, results.KeyBWT)
	n := m["naive"]
	for _, spec := range gen {
		t.Logf("class-IL %s: ACC %.3f BWT %+.3f, naive ACC %.3f BWT %+.3f (margin %+.3f)", spec, m[spec][results.KeyACC], m[spec][results.KeyBWT], n[results.KeyACC], n[results.KeyBWT], m[spec][results.KeyACC]-n[results.KeyACC])
		if m[spec][results.KeyACC] < n[results.KeyACC]+0.2 || m[spec][results.KeyBWT] <= n[results.KeyBWT] {
			t.Errorf("%s: mean ACC %.3f BWT %+.3f, want ACC >= naive's %.3f + 0.2 and BWT above naive's %+.3f", spec, m[spec][results.KeyACC], m[spec][results.KeyBWT], n[results.KeyACC], n[results.KeyBWT])
		}
	}
	tm := longMeans(t, "quick", "task", seeds, []string{"naive", "dgr"}, results.KeyACC, results.KeyForgetting)
	t.Logf("task-IL dgr: forgetting %.3f ACC %.3f, naive forgetting %.3f ACC %.3f", tm["dgr"][results.KeyForgetting], tm["dgr"][results.KeyACC], tm["naive"][results.KeyForgetting], tm["naive"][results.KeyACC])
	if tm["dgr"][results.KeyForgetting] >= tm["naive"][results.KeyForgetting] {
		t.Errorf("task-IL: dgr's mean forgetting %.3f, not below naive's %.3f", tm["dgr"][results.KeyForgetting], tm["naive"][results.KeyForgetting])
	}
}
