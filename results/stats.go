package results

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"
)

// TQuantile returns the p-quantile of Student's t distribution with df
// degrees of freedom (df > 0), e.g. TQuantile(0.975, 4) = 2.7764: the
// multiplier of a 95% confidence interval over 5 values. NaN when df <= 0 or
// p is outside (0, 1).
func TQuantile(p, df float64) float64 {
	if !(df > 0) || !(p > 0 && p < 1) {
		return math.NaN()
	}
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(p)
}

// TTwoSidedP returns the two-sided p-value of the statistic t under Student's
// t distribution with df degrees of freedom: P(|T| >= |t|). It is 1 for t ==
// 0, 0 for infinite t and NaN for df <= 0 or a NaN t.
func TTwoSidedP(t, df float64) float64 {
	if !(df > 0) || math.IsNaN(t) {
		return math.NaN()
	}
	if math.IsInf(t, 0) {
		return 0
	}
	return math.Min(1, 2*distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.CDF(-math.Abs(t)))
}

// PairedMetrics are the keys of the metrics that PairedTests compares.
var PairedMetrics = []string{KeyACC, KeyBWT}

// PairedTest is the paired t-test of the difference of one metric between
// two strategies run on the same seeds: Diff is A − B on each common seed.
type PairedTest struct {
	// Metric is the metric's key.
	Metric string `json:"metric"`
	// A and B are the strategy specs; the difference is A − B.
	A string `json:"a"`
	B string `json:"b"`
	// Seeds are the seeds both have an "ok" result with a value of the
	// metric for, in the order of A's results.
	Seeds []int64 `json:"seeds"`
	// N is len(Seeds).
	N int `json:"n"`
	// MeanDiff is the mean over Seeds of A's value minus B's.
	MeanDiff float64 `json:"mean_diff"`
	// CILow and CIHigh bound the 95% confidence interval of MeanDiff
	// (Student t, N-1 degrees of freedom). NaN when N < 2.
	CILow  float64 `json:"ci95_low"`
	CIHigh float64 `json:"ci95_high"`
	// T is the t statistic MeanDiff / (sd / √N); ±Inf when every difference
	// is the same non-zero value, NaN when N < 2.
	T float64 `json:"t"`
	// P is the two-sided p-value of T with N-1 degrees of freedom (1 when
	// every difference is 0; NaN when N < 2).
	P float64 `json:"p"`
	// PHolm is P after Holm's correction over the tests of the same metric
	// (NaN when P is).
	PHolm float64 `json:"p_holm"`
	// Undefined says why there is no test (fewer than 2 common seeds); ""
	// otherwise.
	Undefined string `json:"undefined,omitempty"`
}

// MarshalJSON encodes t, writing non-finite values as "NaN", "Inf" or "-Inf".
func (t PairedTest) MarshalJSON() ([]byte, error) {
	type plain PairedTest
	return json.Marshal(struct {
		plain
		MeanDiff jfloat `json:"mean_diff"`
		CILow    jfloat `json:"ci95_low"`
		CIHigh   jfloat `json:"ci95_high"`
		T        jfloat `json:"t"`
		P        jfloat `json:"p"`
		PHolm    jfloat `json:"p_holm"`
	}{plain(t), jfloat(t.MeanDiff), jfloat(t.CILow), jfloat(t.CIHigh), jfloat(t.T), jfloat(t.P), jfloat(t.PHolm)})
}

// UnmarshalJSON decodes t, accepting the encodings written by MarshalJSON.
func (t *PairedTest) UnmarshalJSON(data []byte) error {
	type plain PairedTest
	var p plain
	a := struct {
		*plain
		MeanDiff jfloat `json:"mean_diff"`
		CILow    jfloat `json:"ci95_low"`
		CIHigh   jfloat `json:"ci95_high"`
		T        jfloat `json:"t"`
		P        jfloat `json:"p"`
		PHolm    jfloat `json:"p_holm"`
	}{plain: &p}
	if err := json.Unmarshal(data, &a); err != nil {
		return err
	}
	p.MeanDiff, p.CILow, p.CIHigh = float64(a.MeanDiff), float64(a.CILow), float64(a.CIHigh)
	p.T, p.P, p.PHolm = float64(a.T), float64(a.P), float64(a.PHolm)
	*t = PairedTest(p)
	return nil
}

// String formats t as "ewc vs si, ACC: +0.012 [-0.004, 0.028], p = 0.21
// (Holm 0.42), n = 5", or with the reason when there is no test.
func (t PairedTest) String() string {
	label := t.Metric
	if mt, ok := LookupMetric(t.Metric); ok {
		label = mt.Label
	}
	head := fmt.Sprintf("%s vs %s, %s: ", t.A, t.B, label)
	if t.Undefined != "" {
		return head + fmt.Sprintf("%+.3f, undefined: %s", t.MeanDiff, t.Undefined)
	}
	return head + fmt.Sprintf("%+.3f [%.3f, %.3f], p %s (Holm %s), n = %d", t.MeanDiff, t.CILow, t.CIHigh, pEq(t.P), FormatP(t.PHolm), t.N)
}

// FormatP formats a p-value with two significant digits, "< 0.001" below that ("n/a" for NaN).
func FormatP(p float64) string {
	switch {
	case math.IsNaN(p):
		return "n/a"
	case p < 0.001:
		return "< 0.001"
	}
	return fmt.Sprintf("%.2g", p)
}

// pEq formats a p-value after "p": "= 0.21", "< 0.001".
func pEq(p float64) string {
	f := FormatP(p)
	if strings.HasPrefix(f, "<") {
		return f
	}
	return "= " + f
}

// PairedT returns the paired t-test of the differences d (one per seed):
// their mean, the 95% confidence interval of the mean, the t statistic and
// its two-sided p-value (N-1 degrees of freedom). With fewer than 2
// differences only the mean is set (the rest NaN).
func PairedT(d []float64) (mean, lo, hi, t, p float64) {
	st := Summarize(d)
	mean = st.Mean
	if st.N < 2 {
		return mean, math.NaN(), math.NaN(), math.NaN(), math.NaN()
	}
	se := st.Std / math.Sqrt(float64(st.N))
	switch {
	case se > 0:
		t = mean / se
	case mean == 0:
		t = 0
	default:
		t = math.Inf(int(math.Copysign(1, mean)))
	}
	return mean, st.CILow, st.CIHigh, t, TTwoSidedP(t, float64(st.N-1))
}

// Holm returns the p-values ps adjusted by Holm's step-down method
// (family-wise error rate): sorted ascending, the k-th smallest (from 0) is
// multiplied by m-k, made non-decreasing and capped at 1. NaNs are left out
// of the family and stay NaN.
func Holm(ps []float64) []float64 {
	out := make([]float64, len(ps))
	var idx []int
	for i, p := range ps {
		out[i] = math.NaN()
		if !math.IsNaN(p) {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return ps[idx[a]] < ps[idx[b]] })
	m := len(idx)
	prev := 0.0
	for k, i := range idx {
		adj := math.Min(1, float64(m-k)*ps[i])
		prev = math.Max(prev, adj)
		out[i] = prev
	}
	return out
}

// PairedTests compares every pair of strategies of the run (in Summary
// order, A before B) on each metric of PairedMetrics over the seeds both ran
// successfully: a paired t-test of A − B, Holm-corrected over the pairs of
// each metric. Pairs with no common seed are left out; pairs with one common
// seed are listed as undefined.
func (r *Run) PairedTests() []PairedTest {
	sums := r.Summary()
	values := seedValues(r.Results, PairedMetrics)
	var out []PairedTest
	for _, k := range PairedMetrics {
		first := len(out)
		for i := range sums {
			for j := i + 1; j < len(sums); j++ {
				if pt, ok := pairedTest(k, sums[i].Strategy, sums[j].Strategy, values[sums[i].Strategy][k], values[sums[j].Strategy][k]); ok {
					out = append(out, pt)
				}
			}
		}
		holmFrom(out, first)
	}
	return out
}

// perSeed holds one metric's value per seed, with the seeds in the order of the results.
type perSeed struct {
	seeds []int64
	vals  map[int64]float64
}

// seedValues collects, per strategy and metric key, the values of the "ok" results (the first
// result of a seed counts).
func seedValues(rs []*Result, keys []string) map[string]map[string]*perSeed {
	values := map[string]map[string]*perSeed{}
	for _, res := range rs {
		if res == nil || res.Status != StatusOK || res.Metrics == nil {
			continue
		}
		if values[res.Strategy] == nil {
			values[res.Strategy] = map[string]*perSeed{}
		}
		for _, k := range keys {
			v, ok := res.Metrics.Lookup(k)
			if !ok {
				continue
			}
			ps := values[res.Strategy][k]
			if ps == nil {
				ps = &perSeed{vals: map[int64]float64{}}
				values[res.Strategy][k] = ps
			}
			if _, dup := ps.vals[res.Seed]; !dup {
				ps.seeds = append(ps.seeds, res.Seed)
				ps.vals[res.Seed] = v
			}
		}
	}
	return values
}

// pairedTest is the paired t-test of metric k, A − B over the seeds both have (in A's order);
// false when they share no seed.
func pairedTest(k, nameA, nameB string, a, b *perSeed) (PairedTest, bool) {
	if a == nil || b == nil {
		return PairedTest{}, false
	}
	pt := PairedTest{Metric: k, A: nameA, B: nameB}
	var d []float64
	for _, s := range a.seeds {
		if vb, ok := b.vals[s]; ok {
			pt.Seeds = append(pt.Seeds, s)
			d = append(d, a.vals[s]-vb)
		}
	}
	if len(d) == 0 {
		return pt, false
	}
	pt.N = len(d)
	pt.MeanDiff, pt.CILow, pt.CIHigh, pt.T, pt.P = PairedT(d)
	if pt.N < 2 {
		pt.Undefined = fmt.Sprintf("needs at least 2 common seeds (n = %d)", pt.N)
	}
	return pt, true
}

// holmFrom sets PHolm of out[first:], one family, by Holm's correction.
func holmFrom(out []PairedTest, first int) {
	ps := make([]float64, 0, len(out)-first)
	for _, pt := range out[first:] {
		ps = append(ps, pt.P)
	}
	for i, p := range Holm(ps) {
		out[first+i].PHolm = p
	}
}

// CompareMetrics are the metrics CompareRuns tests.
var CompareMetrics = []string{KeyACC, KeyBWT, KeyForgetting}

// CompareRuns compares two runs strategy by strategy: for each strategy of a that b ran too (in
// a's summary order) and each metric of CompareMetrics, the paired t-test of b's value minus a's
// over the seeds both ran successfully, Holm-corrected over the strategies of each metric. A is
// "<strategy> (run 2)" and B "<strategy> (run 1)", so MeanDiff is run 2 − run 1. Strategies
// with no common seed are left out (only lists them).
func CompareRuns(a, b *Run) (tests []PairedTest, only []string) {
	va, vb := seedValues(a.Results, CompareMetrics), seedValues(b.Results, CompareMetrics)
	inB := map[string]bool{}
	for _, s := range b.Summary() {
		inB[s.Strategy] = true
	}
	for _, s := range a.Summary() {
		if !inB[s.Strategy] {
			only = append(only, s.Strategy+" (run 1 only)")
		}
	}
	inA := map[string]bool{}
	for _, s := range a.Summary() {
		inA[s.Strategy] = true
	}
	for _, s := range b.Summary() {
		if !inA[s.Strategy] {
			only = append(only, s.Strategy+" (run 2 only)")
		}
	}
	for _, k := range CompareMetrics {
		first := len(tests)
		for _, s := range a.Summary() {
			if pt, ok := pairedTest(k, s.Strategy+" (run 2)", s.Strategy+" (run 1)", vb[s.Strategy][k], va[s.Strategy][k]); ok {
				tests = append(tests, pt)
			}
		}
		holmFrom(tests, first)
	}
	return tests, only
}

// SignificantTests returns the tests of ts with a Holm-corrected p-value
// below alpha, in order.
func SignificantTests(ts []PairedTest, alpha float64) []PairedTest {
	return slices.DeleteFunc(slices.Clone(ts), func(t PairedTest) bool { return !(t.PHolm < alpha) })
}
