package results

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Keys of the standard metrics of Table: their names in result.json and
// summary.json.
const (
	KeyACC              = "acc"
	KeyBWT              = "bwt"
	KeyFWT              = "fwt"
	KeyForgetting       = "forgetting"
	KeyLearningAccuracy = "learning_accuracy"
	KeyIntransigence    = "intransigence"
	KeyValACC           = "val_acc"
)

// JointStrategy is the strategy spec whose results of a run folder are the
// joint-training reference of the folder metrics (intransigence): a result
// of strategy "joint" (or "joint:<options>") with the same seed.
const JointStrategy = "joint"

// Input is what a metric is computed from. Compute validates it before any
// metric sees it: R is T×T with T >= 1, B has length T, every value is
// finite and in [0,1]. Fields may be added (for example the scenario, for
// metrics that are undefined in some scenarios); metrics read only those they
// need.
type Input struct {
	// R[i][j] is the test accuracy on task j after training on tasks 0..i.
	R [][]float64
	// B[j] is the accuracy of the randomly initialised model on task j.
	B []float64
	// Scenario is the run's scenario (runspec.Spec.Scenario: "task",
	// "domain" or "class"; "class-il" and the like are accepted), "" when
	// unknown. FWT is undefined in class-IL.
	Scenario string
	// Joint is the accuracy matrix of the joint-training run of the same
	// seed in the same folder (strategy JointStrategy), nil when there is
	// none. Only folder metrics (Metric.Folder) see it: Compute leaves it
	// nil, the summaries fill it.
	Joint [][]float64
	// RVal is the accuracy matrix on the tasks' validation splits (Result.RVal), nil when the
	// run made none. Only folder metrics see it.
	RVal [][]float64
}

// IsClassIL reports whether scenario names the class-incremental scenario
// ("class", "class-il", "class-incremental", any case).
func IsClassIL(scenario string) bool {
	s := strings.ToLower(strings.TrimSpace(scenario))
	return s == "class" || strings.HasPrefix(s, "class-") || strings.HasPrefix(s, "class_")
}

// T returns the number of tasks.
func (in Input) T() int { return len(in.R) }

// Metric is one entry of the metric table (see Table): everything the
// writers, readers, summaries, reports and notebooks need to know about one
// metric.
type Metric struct {
	// Key names the metric in result.json ("metrics") and summary.json
	// ("strategies[].metrics"), e.g. "acc": lower-case letters, digits and
	// '_', unique, and never "undefined" (reserved in result.json).
	Key string
	// Label heads the metric's column in tables and names it in plots, e.g.
	// "ACC" or "Learning acc.".
	Label string
	// Doc explains the metric in a short lower-case phrase without a final
	// period, shown after its label in the reports' legends
	// ("ACC: average final accuracy").
	Doc string
	// Headline puts the metric in the condensed views: the report's bar
	// chart, the sweep summary's best-setting table and the notebooks' bar
	// chart. The full tables show every metric.
	Headline bool
	// Primary marks the metric that ranks settings (the sweep summary picks
	// each strategy's setting with the best mean of it); see PrimaryMetric.
	Primary bool
	// LowerIsBetter is set for metrics where smaller values are better
	// (forgetting); the ranking by the primary metric honours it.
	LowerIsBetter bool
	// Undefined returns why the metric is undefined for in (e.g. "needs at
	// least 2 tasks"), or "" when it is defined; nil means always defined.
	// Compute then records the reason instead of a value, and the summaries
	// leave the result out of the metric's mean and show the reason.
	Undefined func(in Input) string
	// ZeroWhenUndefined makes Compute record 0 instead of the reason when the
	// metric is undefined. No metric of the standard table sets it any more:
	// files written before this change have BWT, FWT and forgetting of a
	// single task as 0; they are now undefined.
	ZeroWhenUndefined bool
	// Folder marks a folder metric: one that needs the other results of the
	// run folder (Input.Joint), so it is not in result.json. Compute skips
	// it; Run.Summary computes it for every "ok" result and aggregates it
	// like the others.
	Folder bool
	// Optional leaves the metric out of tables (WriteTable, summary.md, the report, the sweep
	// summary) when no strategy has a value for it, e.g. validation ACC in a run without a
	// validation split. Files still list it.
	Optional bool
	// Value computes the metric from a validated input where it is defined.
	Value func(in Input) float64
}

// undefinedKey is the member of result.json's "metrics" object that maps the
// keys of undefined metrics to the reasons.
const undefinedKey = "undefined"

// needTasks returns an Undefined function for metrics that need at least n
// tasks.
func needTasks(n int) func(in Input) string {
	return func(in Input) string {
		if in.T() < n {
			return fmt.Sprintf("needs at least %d tasks (T = %d)", n, in.T())
		}
		return ""
	}
}

// fwtUndefined says why FWT is undefined for in: fewer than 2 tasks;
// class-IL, where a task not yet trained is scored over output units never
// trained (R[j-1][j] is about 0, so FWT is minus the baseline for every
// method); or every unseen task scored exactly at its baseline (R[j-1][j] ==
// b[j] bit for bit for every j >= 1, as with progressive networks, whose new
// column is untrained), so FWT is 0 by construction.
func fwtUndefined(in Input) string {
	if r := needTasks(2)(in); r != "" {
		return r
	}
	if IsClassIL(in.Scenario) {
		return "class-IL: unseen tasks are scored over untrained output units, so FWT is minus the baseline for every method"
	}
	for j := 1; j < in.T(); j++ {
		if math.Float64bits(in.R[j-1][j]) != math.Float64bits(in.B[j]) {
			return ""
		}
	}
	return "unseen tasks scored exactly at baseline: FWT 0 by construction"
}

// intransigenceUndefined says why intransigence is undefined for in: no
// joint run of the same seed, or one whose matrix is not T×T.
func intransigenceUndefined(in Input) string {
	if in.Joint == nil {
		return "no joint run of the same seed in the folder"
	}
	if !isSquare(in.Joint, in.T()) {
		return fmt.Sprintf("the joint run of the same seed has no complete %d×%d accuracy matrix", in.T(), in.T())
	}
	return ""
}

// Table lists the metrics, in the order of every table, file and plot that
// shows them. Every consumer (Compute, result.json and summary.json, Summary,
// MarkdownSummary, WriteTable, the report in results/report, the sweep
// summary, the notebooks through summary.json's "metrics" listing) loops over
// it, so adding a metric is adding an entry here (and a test of its values).
// Keys are part of the file format: never rename or reuse one. Tests may
// replace Table temporarily; it must not change while a run is written or
// read.
var Table = []Metric{
	{
		Key: KeyACC, Label: "ACC", Doc: "average final accuracy",
		Headline: true, Primary: true,
		Value: func(in Input) float64 { return ACC(in.R) },
	},
	{
		Key: KeyBWT, Label: "BWT", Doc: "backward transfer (negative means forgetting)",
		Headline: true, Undefined: needTasks(2),
		Value: func(in Input) float64 { return BWT(in.R) },
	},
	{
		Key: KeyFWT, Label: "FWT", Doc: "forward transfer against the untrained model",
		Headline: true, Undefined: fwtUndefined,
		Value: func(in Input) float64 { return FWT(in.R, in.B) },
	},
	{
		Key: KeyForgetting, Label: "Forgetting", Doc: "average drop from a task's best accuracy",
		Headline: true, LowerIsBetter: true, Undefined: needTasks(2),
		Value: func(in Input) float64 { return Forgetting(in.R) },
	},
	{
		Key: KeyLearningAccuracy, Label: "Learning acc.", Doc: "accuracy on each task right after training on it",
		Value: func(in Input) float64 { return LearningAccuracy(in.R) },
	},
	{
		Key: KeyIntransigence, Label: "Intransigence", Doc: "joint-training accuracy on each task minus the accuracy right after learning it (same seed)",
		LowerIsBetter: true, Folder: true, Undefined: intransigenceUndefined,
		Value: func(in Input) float64 { return Intransigence(in.R, in.Joint) },
	},
	{
		Key: KeyValACC, Label: "Val. ACC", Doc: "average final accuracy on the validation splits (what sweeps select settings by)",
		Folder: true, Optional: true, Undefined: valUndefined,
		Value: func(in Input) float64 { return ACC(in.RVal) },
	},
}

// SelectionMetric is the metric sweeps rank settings by when their runs have validation
// splits (val_per_task > 0): validation ACC, so no test number takes part in the choice.
// Without them they rank by PrimaryMetric (test ACC) and say so.
const SelectionMetric = KeyValACC

// valUndefined says why validation ACC is undefined for in: no validation split, or one whose
// matrix does not match R.
func valUndefined(in Input) string {
	if in.RVal == nil {
		return "no validation split (val_per_task 0)"
	}
	if !isSquare(in.RVal, in.T()) {
		return fmt.Sprintf("the validation accuracy matrix is not %d×%d", in.T(), in.T())
	}
	for _, row := range in.RVal {
		for _, v := range row {
			if math.IsNaN(v) || v < 0 || v > 1 {
				return fmt.Sprintf("validation accuracy %v outside [0, 1]", v)
			}
		}
	}
	return ""
}

// Shown returns the entries of Table that tables show for sums: every one but the Optional
// metrics that no strategy of sums has a value for.
func Shown(sums []StrategySummary) []Metric {
	var out []Metric
	for _, mt := range Table {
		if mt.Optional {
			has := false
			for _, s := range sums {
				if s.Metrics.Get(mt.Key).N > 0 {
					has = true
					break
				}
			}
			if !has {
				continue
			}
		}
		out = append(out, mt)
	}
	return out
}

// LookupMetric returns the entry of Table with the given key.
func LookupMetric(key string) (Metric, bool) {
	for _, m := range Table {
		if m.Key == key {
			return m, true
		}
	}
	return Metric{}, false
}

// PrimaryMetric returns the entry of Table marked Primary (the first one if
// several are), or Table[0] if none is.
func PrimaryMetric() Metric {
	for _, m := range Table {
		if m.Primary {
			return m
		}
	}
	return Table[0]
}

// HeadlineMetrics returns the entries of Table marked Headline, in order.
func HeadlineMetrics() []Metric {
	var out []Metric
	for _, m := range Table {
		if m.Headline {
			out = append(out, m)
		}
	}
	return out
}

// Metrics are the values of the metrics of Table for one accuracy matrix, by
// key: each metric has a value or, when it is undefined for the matrix, the
// reason why. See Compute for their definitions. Metrics behaves like a
// value: Set and SetUndefined change m only, never copies of it. The zero
// Metrics holds no metric.
type Metrics struct {
	values    map[string]float64 // nil when empty
	undefined map[string]string  // nil when empty
}

// Get returns the value of the metric key, or NaN when m has no value for it
// (it is undefined, or was not computed).
func (m Metrics) Get(key string) float64 {
	if v, ok := m.values[key]; ok {
		return v
	}
	return math.NaN()
}

// Lookup returns the value of the metric key and whether m has one.
func (m Metrics) Lookup(key string) (float64, bool) {
	v, ok := m.values[key]
	return v, ok
}

// Reason returns why the metric key is undefined, or "" when it is not
// recorded as undefined.
func (m Metrics) Reason(key string) string { return m.undefined[key] }

// Set records v as the value of the metric key.
func (m *Metrics) Set(key string, v float64) {
	m.values = cloneWith(m.values, key, v)
	if _, ok := m.undefined[key]; ok {
		m.undefined = cloneWithout(m.undefined, key)
	}
}

// SetUndefined records that the metric key is undefined, for the given
// (non-empty) reason.
func (m *Metrics) SetUndefined(key, reason string) {
	m.undefined = cloneWith(m.undefined, key, reason)
	if _, ok := m.values[key]; ok {
		m.values = cloneWithout(m.values, key)
	}
}

// Keys returns the keys m has a value or a reason for: those of Table in
// table order, then any others (read from a file written with a larger
// table) in sorted order.
func (m Metrics) Keys() []string {
	return orderedKeys(func(k string) bool {
		_, v := m.values[k]
		_, u := m.undefined[k]
		return v || u
	}, m.values, m.undefined)
}

// String formats m as "acc=0.7 bwt=-0.25 ... fwt=undefined(reason)".
func (m Metrics) String() string {
	parts := make([]string, 0, len(m.values)+len(m.undefined))
	for _, k := range m.Keys() {
		if v, ok := m.values[k]; ok {
			parts = append(parts, k+"="+strconv.FormatFloat(v, 'g', -1, 64))
		} else {
			parts = append(parts, k+"=undefined("+m.undefined[k]+")")
		}
	}
	return strings.Join(parts, " ")
}

// cloneWith returns a copy of m (nil allowed) with m[k] = v.
func cloneWith[V any](m map[string]V, k string, v V) map[string]V {
	out := make(map[string]V, len(m)+1)
	maps.Copy(out, m)
	out[k] = v
	return out
}

// cloneWithout returns a copy of m without k, nil when that leaves it empty.
func cloneWithout[V any](m map[string]V, k string) map[string]V {
	out := maps.Clone(m)
	delete(out, k)
	if len(out) == 0 {
		return nil
	}
	return out
}

// orderedKeys returns the keys of Table for which has is true, in table
// order, then the other keys of the maps, sorted.
func orderedKeys[A, B any](has func(string) bool, a map[string]A, b map[string]B) []string {
	var out []string
	known := map[string]bool{}
	for _, mt := range Table {
		known[mt.Key] = true
		if has(mt.Key) {
			out = append(out, mt.Key)
		}
	}
	var extra []string
	for k := range a {
		if !known[k] {
			extra = append(extra, k)
		}
	}
	for k := range b {
		if _, dup := a[k]; !known[k] && !dup {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	return append(out, extra...)
}

// Compute validates the accuracy matrix R and the random-initialisation
// baseline b and returns every metric of Table.
//
// R[i][j] is the test accuracy (a fraction in [0,1]) on task j after training
// on tasks 0..i, so R must be T×T with T >= 1; b[j] is the accuracy of the
// randomly initialised model on task j and must have length T. Every value
// must be finite and lie in [0,1]; otherwise Compute returns an error that
// names the offending entry. A metric whose Undefined function gives a
// reason is recorded as undefined with that reason (or as 0 when it is
// ZeroWhenUndefined): with T == 1, BWT, FWT and Forgetting are undefined.
// Compute does not know the scenario (see ComputeFor) and skips the folder
// metrics (Metric.Folder).
func Compute(R [][]float64, b []float64) (Metrics, error) { return ComputeFor(R, b, "") }

// ComputeFor is Compute for a run of the given scenario
// (runspec.Spec.Scenario), which some metrics depend on (FWT is undefined in
// class-IL).
func ComputeFor(R [][]float64, b []float64, scenario string) (Metrics, error) {
	if err := validate(R, b); err != nil {
		return Metrics{}, err
	}
	return computeInput(Input{R: R, B: b, Scenario: scenario}, false), nil
}

// computeInput evaluates the metrics of Table on a validated input: the
// per-result ones, or with folder set the folder ones.
func computeInput(in Input, folder bool) Metrics {
	var m Metrics
	for _, mt := range Table {
		if mt.Folder != folder {
			continue
		}
		reason := ""
		if mt.Undefined != nil {
			reason = mt.Undefined(in)
		}
		switch {
		case reason == "":
			if m.values == nil {
				m.values = make(map[string]float64, len(Table))
			}
			m.values[mt.Key] = mt.Value(in)
		case mt.ZeroWhenUndefined:
			if m.values == nil {
				m.values = make(map[string]float64, len(Table))
			}
			m.values[mt.Key] = 0
		default:
			if m.undefined == nil {
				m.undefined = map[string]string{}
			}
			m.undefined[mt.Key] = reason
		}
	}
	return m
}

func validate(R [][]float64, b []float64) error {
	T := len(R)
	if T == 0 {
		return errors.New("results: accuracy matrix is empty (need T >= 1 tasks)")
	}
	for i, row := range R {
		if len(row) != T {
			return fmt.Errorf("results: accuracy matrix is not square: row %d has %d columns, want %d (T = number of rows)", i, len(row), T)
		}
		for j, v := range row {
			if err := checkAcc(v); err != nil {
				return fmt.Errorf("results: R[%d][%d]: %w", i, j, err)
			}
		}
	}
	if len(b) != T {
		return fmt.Errorf("results: baseline b has length %d, want %d (one per task)", len(b), T)
	}
	for j, v := range b {
		if err := checkAcc(v); err != nil {
			return fmt.Errorf("results: b[%d]: %w", j, err)
		}
	}
	return nil
}

func checkAcc(v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("value %v is not finite", v)
	}
	if v < 0 || v > 1 {
		return fmt.Errorf("value %v is outside [0,1] (accuracies are fractions, not percentages)", v)
	}
	return nil
}

// ACC returns (1/T) Σ_j R[T-1][j], the mean final accuracy. R must be T×T
// (use Compute to validate); ACC returns NaN for an empty matrix.
func ACC(R [][]float64) float64 {
	T := len(R)
	if T == 0 {
		return math.NaN()
	}
	s := 0.0
	for j := 0; j < T; j++ {
		s += R[T-1][j]
	}
	return s / float64(T)
}

// BWT returns the backward transfer 1/(T-1) Σ_{j<T-1} (R[T-1][j] - R[j][j]).
// It is 0 for T == 1 and NaN for an empty matrix. R must be T×T.
func BWT(R [][]float64) float64 {
	T := len(R)
	if T == 0 {
		return math.NaN()
	}
	if T == 1 {
		return 0
	}
	s := 0.0
	for j := 0; j < T-1; j++ {
		s += R[T-1][j] - R[j][j]
	}
	return s / float64(T-1)
}

// FWT returns the forward transfer 1/(T-1) Σ_{j>=1} (R[j-1][j] - b[j]), where
// b[j] is the accuracy of the randomly initialised model on task j. It is 0
// for T == 1 and NaN for an empty matrix. R must be T×T and b of length T.
func FWT(R [][]float64, b []float64) float64 {
	T := len(R)
	if T == 0 {
		return math.NaN()
	}
	if T == 1 {
		return 0
	}
	s := 0.0
	for j := 1; j < T; j++ {
		s += R[j-1][j] - b[j]
	}
	return s / float64(T-1)
}

// Forgetting returns the average forgetting of Chaudhry et al. (2018):
// the mean over j < T-1 of f_j = max_{l<T-1} R[l][j] - R[T-1][j].
// It is 0 for T == 1 and NaN for an empty matrix. R must be T×T.
func Forgetting(R [][]float64) float64 {
	T := len(R)
	if T == 0 {
		return math.NaN()
	}
	if T == 1 {
		return 0
	}
	s := 0.0
	for j := 0; j < T-1; j++ {
		best := R[0][j]
		for l := 1; l < T-1; l++ {
			best = math.Max(best, R[l][j])
		}
		s += best - R[T-1][j]
	}
	return s / float64(T-1)
}

// LearningAccuracy returns (1/T) Σ_j R[j][j], the mean accuracy on each task
// right after training on it. R must be T×T; it returns NaN when R is empty.
func LearningAccuracy(R [][]float64) float64 {
	T := len(R)
	if T == 0 {
		return math.NaN()
	}
	s := 0.0
	for j := 0; j < T; j++ {
		s += R[j][j]
	}
	return s / float64(T)
}

// Intransigence returns the intransigence of Chaudhry et al. (2018): the
// mean over tasks k of joint[k][k] - R[k][k], where joint is the accuracy
// matrix of joint training (on all the data of tasks 0..k after task k) with
// the same seed. Positive: the model learns new tasks worse than joint
// training does. R and joint must be T×T; it returns NaN when R is empty.
func Intransigence(R, joint [][]float64) float64 {
	T := len(R)
	if T == 0 {
		return math.NaN()
	}
	s := 0.0
	for k := 0; k < T; k++ {
		s += joint[k][k] - R[k][k]
	}
	return s / float64(T)
}

// AverageAccuracyCurve returns, for every row i of R, the mean accuracy on
// the tasks seen so far, (1/(i+1)) Σ_{j<=i} R[i][j]. It accepts partial
// matrices (fewer rows than columns, as written by failed runs); a row
// shorter than i+1 is averaged over the entries it has (NaN if none).
func AverageAccuracyCurve(R [][]float64) []float64 {
	out := make([]float64, len(R))
	for i, row := range R {
		n := min(i+1, len(row))
		if n == 0 {
			out[i] = math.NaN()
			continue
		}
		s := 0.0
		for j := 0; j < n; j++ {
			s += row[j]
		}
		out[i] = s / float64(n)
	}
	return out
}

// Stat is the mean and sample standard deviation of N values (typically one
// metric over seeds), with the 95% confidence interval of the mean.
type Stat struct {
	// Mean is the arithmetic mean (0 when N == 0).
	Mean float64 `json:"mean"`
	// Std is the sample standard deviation (n-1 denominator; 0 when N <= 1:
	// no spread can be estimated from one value, and the tables say "n/a
	// (n=1)").
	Std float64 `json:"std"`
	// N is the number of values.
	N int `json:"n"`
	// CILow and CIHigh bound the 95% confidence interval of the mean,
	// Mean ± t(0.975, N-1)·Std/√N (Student t with N-1 degrees of freedom);
	// both are 0 when N < 2 (no interval: see HasCI). In JSON they are
	// "ci95": [low, high], omitted when N < 2.
	CILow, CIHigh float64 `json:"-"`
	// Undefined says why the metric is undefined for some or all of the
	// results aggregated (the distinct reasons, joined by "; "); those
	// results are not among the N values. "" when it is defined for all; it
	// is omitted from JSON when empty.
	Undefined string `json:"undefined,omitempty"`
}

// HasCI reports whether s has a confidence interval (N >= 2).
func (s Stat) HasCI() bool { return s.N >= 2 }

// Summarize returns the mean, the sample standard deviation (n-1 in the
// denominator) and the 95% confidence interval of the mean of xs. Std is 0
// and there is no interval for a single value; for an empty slice the result
// is the zero Stat. A NaN in xs makes Mean, Std and the interval NaN.
func Summarize(xs []float64) Stat {
	n := len(xs)
	if n == 0 {
		return Stat{}
	}
	mean := 0.0
	for _, x := range xs {
		mean += x
	}
	mean /= float64(n)
	if n == 1 {
		return Stat{Mean: mean, N: 1}
	}
	ss := 0.0
	for _, x := range xs {
		d := x - mean
		ss += d * d
	}
	std := math.Sqrt(ss / float64(n-1))
	half := TQuantile(0.975, float64(n-1)) * std / math.Sqrt(float64(n))
	return Stat{Mean: mean, Std: std, N: n, CILow: mean - half, CIHigh: mean + half}
}

// Undef is the cell text of a metric undefined for every result: an em dash,
// explained by a footnote (UndefinedNotes).
const Undef = "—"

// String formats s with three decimals as "mean ± std", e.g. "0.853 ± 0.012";
// see Format.
func (s Stat) String() string { return s.Format(3) }

// Format formats s with the given number of decimals as "mean ± std";
// "mean ± n/a (n=1)" for a single value, whose spread is unknown; Undef
// ("—") when N == 0 and s says why the metric is undefined; "n/a" when
// N == 0 otherwise.
func (s Stat) Format(decimals int) string {
	switch {
	case s.N == 0 && s.Undefined != "":
		return Undef
	case s.N == 0:
		return "n/a"
	case s.N == 1:
		return fmt.Sprintf("%.*f ± n/a (n=1)", decimals, s.Mean)
	}
	return fmt.Sprintf("%.*f ± %.*f", decimals, s.Mean, decimals, s.Std)
}

// FormatCI formats the 95% confidence interval of s as "[0.841, 0.865]",
// or like Format without a mean when there is none: "n/a (n=1)", Undef,
// "n/a".
func (s Stat) FormatCI(decimals int) string {
	if s.N < 2 { // no interval: what Format says of the spread
		return strings.TrimPrefix(s.Format(decimals), fmt.Sprintf("%.*f ± ", decimals, s.Mean))
	}
	return fmt.Sprintf("[%.*f, %.*f]", decimals, s.CILow, decimals, s.CIHigh)
}
