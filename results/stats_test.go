package results

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestTQuantile(t *testing.T) {
	// Closed forms: with 1 degree of freedom t is Cauchy, q(p) = tan(π(p − ½));
	// with 2, q(p) = (2p − 1) / √(2p(1 − p)). The df = 4 value is the table's.
	for _, c := range []struct{ p, df, want float64 }{
		{0.975, 1, math.Tan(math.Pi * 0.475)},        // 12.7062
		{0.975, 2, 0.95 / math.Sqrt(2*0.975*0.025)},  // 4.3027
		{0.025, 2, -0.95 / math.Sqrt(2*0.975*0.025)}, // symmetric
		{0.975, 4, 2.7764451051977987},               // printed tables: 2.776
		{0.5, 7, 0},                                  // median
		{0.975, 1e6, 1.959966},                       // → normal
	} {
		if got := TQuantile(c.p, c.df); math.Abs(got-c.want) > 1e-5 {
			t.Errorf("TQuantile(%v, %v) = %v, want %v", c.p, c.df, got, c.want)
		}
	}
	if !math.IsNaN(TQuantile(0.975, 0)) || !math.IsNaN(TQuantile(1, 3)) {
		t.Error("TQuantile outside its domain is not NaN")
	}
	// df = 2: P(|T| >= t) = 1 − t/√(2 + t²).
	if got, want := TTwoSidedP(2, 2), 1-2/math.Sqrt(6); math.Abs(got-want) > 1e-9 {
		t.Errorf("TTwoSidedP(2, 2) = %v, want %v", got, want)
	}
	if TTwoSidedP(0, 3) != 1 || TTwoSidedP(math.Inf(-1), 3) != 0 {
		t.Error("TTwoSidedP at 0 or ∞")
	}
}

func TestSummarizeCI(t *testing.T) {
	// 0.1, 0.2, 0.3: mean 0.2, sd 0.1, half-width t(0.975, 2)·0.1/√3.
	st := Summarize([]float64{0.1, 0.2, 0.3})
	half := 0.95 / math.Sqrt(2*0.975*0.025) * 0.1 / math.Sqrt(3)
	if !st.HasCI() || !near(st.CILow, 0.2-half) || !near(st.CIHigh, 0.2+half) || st.FormatCI(3) != "[-0.048, 0.448]" {
		t.Errorf("Summarize = %+v (%s)", st, st.FormatCI(3))
	}
	data, _ := json.Marshal(st)
	var back Stat
	if err := json.Unmarshal(data, &back); err != nil || !strings.Contains(string(data), `"ci95":[`) || back != st {
		t.Errorf("JSON %s -> %+v, %v", data, back, err)
	}
	one := Summarize([]float64{0.5})
	if one.HasCI() || one.FormatCI(3) != "n/a (n=1)" || one.String() != "0.500 ± n/a (n=1)" {
		t.Errorf("one value: %+v %q %q", one, one.FormatCI(3), one)
	}
	if data, _ := json.Marshal(one); strings.Contains(string(data), "ci95") {
		t.Errorf("one value has an interval in JSON: %s", data)
	}
}

func TestPairedT(t *testing.T) {
	// d = 0.1, 0.2, 0.3: t = 0.2 / (0.1/√3) = 2√3, df = 2, p = 1 − t/√(2 + t²) = 1 − 2√3/√14.
	mean, lo, hi, tt, p := PairedT([]float64{0.1, 0.2, 0.3})
	half := 0.95 / math.Sqrt(2*0.975*0.025) * 0.1 / math.Sqrt(3)
	if !near(mean, 0.2) || !near(lo, 0.2-half) || !near(hi, 0.2+half) || !near(tt, 2*math.Sqrt(3)) || !near(p, 1-2*math.Sqrt(3)/math.Sqrt(14)) {
		t.Errorf("PairedT = %v [%v, %v] t=%v p=%v; want p = %v", mean, lo, hi, tt, p, 1-2*math.Sqrt(3)/math.Sqrt(14))
	}
	if _, _, _, tt, p := PairedT([]float64{0.1, 0.1}); !math.IsInf(tt, 1) || p != 0 {
		t.Errorf("constant non-zero differences: t=%v p=%v", tt, p)
	}
	if _, _, _, _, p := PairedT([]float64{0, 0}); p != 1 {
		t.Errorf("zero differences: p=%v", p)
	}
	if _, lo, _, _, p := PairedT([]float64{0.3}); !math.IsNaN(lo) || !math.IsNaN(p) {
		t.Error("one difference has a test")
	}
}

func TestHolm(t *testing.T) {
	got := Holm([]float64{0.01, 0.04, math.NaN(), 0.03, 0.9})
	// m = 4: 0.01·4 = 0.04; 0.03·3 = 0.09; 0.04·2 = 0.08 → 0.09 (monotone); 0.9·1.
	want := []float64{0.04, 0.09, math.NaN(), 0.09, 0.9}
	for i := range want {
		if !(near(got[i], want[i]) || math.IsNaN(got[i]) && math.IsNaN(want[i])) {
			t.Errorf("Holm = %v, want %v", got, want)
			break
		}
	}
}

func TestRunPairedTests(t *testing.T) {
	run := &Run{Config: Config{Strategies: []string{"ewc", "si", "naive"}, Seeds: []int64{1, 2, 3}}}
	accE := []float64{0.8, 0.9, 0.7}
	accS := []float64{0.7, 0.7, 0.4} // ewc − si = 0.1, 0.2, 0.3
	for i, seed := range []int64{1, 2, 3} {
		run.Results = append(run.Results,
			&Result{Strategy: "ewc", Seed: seed, Status: StatusOK, Metrics: metricsOf(map[string]float64{KeyACC: accE[i], KeyBWT: -0.1})},
			&Result{Strategy: "si", Seed: seed, Status: StatusOK, Metrics: metricsOf(map[string]float64{KeyACC: accS[i], KeyBWT: -0.1})})
	}
	run.Results = append(run.Results, &Result{Strategy: "naive", Seed: 2, Status: StatusOK, Metrics: metricsOf(map[string]float64{KeyACC: 0.5})})
	ts := run.PairedTests()
	// ACC: ewc–si (n = 3), ewc–naive (n = 1), si–naive (n = 1); BWT: ewc–si.
	if len(ts) != 4 {
		t.Fatalf("PairedTests = %v", ts)
	}
	es := ts[0]
	wantP := 1 - 2*math.Sqrt(3)/math.Sqrt(14)
	if es.A != "ewc" || es.B != "si" || es.Metric != KeyACC || es.N != 3 || !near(es.MeanDiff, 0.2) || !near(es.P, wantP) || !near(es.PHolm, wantP) || es.Undefined != "" {
		t.Errorf("ewc vs si = %+v", es)
	}
	if s := es.String(); s != "ewc vs si, ACC: +0.200 [-0.048, 0.448], p = 0.074 (Holm 0.074), n = 3" {
		t.Errorf("String = %q", s)
	}
	if ts[1].N != 1 || ts[1].Undefined == "" || !math.IsNaN(ts[1].PHolm) {
		t.Errorf("ewc vs naive = %+v", ts[1])
	}
	if b := ts[3]; b.Metric != KeyBWT || b.MeanDiff != 0 || b.P != 1 {
		t.Errorf("BWT = %+v", b)
	}
	data, err := json.Marshal(ts)
	if err != nil || !strings.Contains(string(data), `"p":"NaN"`) {
		t.Fatalf("JSON %s, %v", data, err)
	}
	var back []PairedTest
	if err := json.Unmarshal(data, &back); err != nil || len(back) != 4 || back[0].P != es.P || !math.IsNaN(back[1].P) {
		t.Errorf("read back %+v, %v", back, err)
	}
	var b strings.Builder
	if err := WriteTable(&b, run); err != nil || !strings.Contains(b.String(), "  ewc vs si, ACC: +0.200 [-0.048, 0.448], p = 0.074 (Holm 0.074), n = 3\n") {
		t.Errorf("WriteTable:\n%s", b.String())
	}
	if md := MarkdownSummary(run); !strings.Contains(md, "| ACC | ewc | si | +0.200 | [-0.048, 0.448] | 0.074 | 0.074 | 3 |\n") {
		t.Errorf("summary.md:\n%s", md)
	}
}

func TestFWTUndefined(t *testing.T) {
	R := [][]float64{{0.9, 0.3}, {0.6, 0.8}}
	b := []float64{0.5, 0.5}
	for _, c := range []struct {
		scenario string
		b        []float64
		reason   string
	}{
		{"task", b, ""},
		{"", b, ""},
		{"class", b, "class-IL"},
		{"class-il", b, "class-IL"},
		{"domain", []float64{0.1, 0.3}, "FWT 0 by construction"}, // R[0][1] == b[1] bit for bit
	} {
		m, err := ComputeFor(R, c.b, c.scenario)
		if err != nil {
			t.Fatal(err)
		}
		if c.reason == "" {
			if v, ok := m.Lookup(KeyFWT); !ok || !near(v, 0.3-c.b[1]) {
				t.Errorf("%q: FWT = %v, %v", c.scenario, v, ok)
			}
		} else if _, ok := m.Lookup(KeyFWT); ok || !strings.Contains(m.Reason(KeyFWT), c.reason) {
			t.Errorf("%q: FWT reason %q, want %q", c.scenario, m.Reason(KeyFWT), c.reason)
		}
		if _, ok := m.Lookup(KeyIntransigence); ok || m.Reason(KeyIntransigence) != "" {
			t.Errorf("Compute computed the folder metric: %v", m)
		}
	}
}

func TestIntransigence(t *testing.T) {
	tasks := []string{"a", "b"}
	b := []float64{0.5, 0.5}
	joint := [][]float64{{0.95, 0.1}, {0.9, 0.9}}
	naive := [][]float64{{0.9, 0.2}, {0.4, 0.7}} // (0.95−0.9 + 0.9−0.7) / 2 = 0.125
	res := func(s string, seed int64, R [][]float64) *Result {
		return &Result{Strategy: s, Seed: seed, Status: StatusOK, Tasks: tasks, R: R, B: b, Metrics: mustCompute(t, R, b)}
	}
	run := &Run{Config: Config{Tasks: tasks, Strategies: []string{"joint", "naive"}, Seeds: []int64{1, 2}},
		Results: []*Result{res("joint", 1, joint), res("naive", 1, naive), res("naive", 2, naive)}}
	sums := run.Summary()
	if st := sums[0].Metrics.Get(KeyIntransigence); st.N != 1 || st.Mean != 0 {
		t.Errorf("joint's intransigence = %+v, want 0", st)
	}
	st := sums[1].Metrics.Get(KeyIntransigence)
	if st.N != 1 || !near(st.Mean, 0.125) || !strings.Contains(st.Undefined, "no joint run of the same seed") {
		t.Errorf("naive's intransigence = %+v, want 0.125 over seed 1, undefined for seed 2", st)
	}
	if got := Intransigence(naive, joint); !near(got, 0.125) {
		t.Errorf("Intransigence = %v", got)
	}
}
