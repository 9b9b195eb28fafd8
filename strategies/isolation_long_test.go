package strategies_test

import (
	"testing"

	"github.com/clgraph/clgraph/results"
)

// TestLongIsolation: in task-IL split MNIST at the quick protocol (seeds 1-3, default options),
// the task-isolation methods forget almost nothing, as their papers report: hat (Serra et al.
// 2018), packnet (Mallya & Lazebnik 2018) and pathnet (Fernando et al. 2017, whose frozen
// modules keep earlier tasks) each have a mean forgetting below 0.01 and below a quarter of
// naive fine-tuning's. hat and packnet also keep a mean ACC no lower than naive's minus 0.01;
// pathnet's paths train a fraction of the task's steps each, so its ACC is only logged.
func TestLongIsolation(t *testing.T) {
	specs := []string{"naive", "hat", "packnet", "pathnet"}
	m := longMeans(t, "quick", "task", []int64{1, 2, 3}, specs, results.KeyACC, results.KeyForgetting)
	n := m["naive"]
	for _, spec := range specs[1:] {
		t.Logf("task-IL %s: ACC %.3f forgetting %.3f, naive ACC %.3f forgetting %.3f", spec, m[spec][results.KeyACC], m[spec][results.KeyForgetting], n[results.KeyACC], n[results.KeyForgetting])
		if f := m[spec][results.KeyForgetting]; f >= 0.01 || f >= n[results.KeyForgetting]/4 {
			t.Errorf("%s: mean forgetting %.3f, want below 0.01 and below a quarter of naive's %.3f", spec, f, n[results.KeyForgetting])
		}
		if spec != "pathnet" && m[spec][results.KeyACC] < n[results.KeyACC]-0.01 {
			t.Errorf("%s: mean ACC %.3f, below naive's %.3f - 0.01", spec, m[spec][results.KeyACC], n[results.KeyACC])
		}
	}
}
