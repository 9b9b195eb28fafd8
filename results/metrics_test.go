package results

import (
	"math"
	"strings"
	"testing"
)

const eps = 1e-12

func near(a, b float64) bool { return math.Abs(a-b) < eps }

// R1 (rows: after task i; cols: task j) and baseline b1.
//
//	      t0   t1   t2
//	after0 0.9  0.1  0.2
//	after1 0.6  0.8  0.3
//	after2 0.5  0.7  0.9      b = 0.1 0.2 0.1
var (
	r1 = [][]float64{{0.9, 0.1, 0.2}, {0.6, 0.8, 0.3}, {0.5, 0.7, 0.9}}
	b1 = []float64{0.1, 0.2, 0.1}
)

// R2 has a task whose best accuracy is not on the diagonal (task 0 improves
// after task 1) and a task whose final accuracy exceeds its diagonal (task 1),
// so Forgetting != -BWT.
//
//	      t0   t1    t2
//	after0 0.8  0.0   0.0
//	after1 0.9  0.7   0.1
//	after2 0.6  0.75  1.0     b = 0.5 0.5 0.5
var (
	r2 = [][]float64{{0.8, 0.0, 0.0}, {0.9, 0.7, 0.1}, {0.6, 0.75, 1.0}}
	b2 = []float64{0.5, 0.5, 0.5}
)

func TestMetricsHandComputed(t *testing.T) {
	cases := []struct {
		name string
		R    [][]float64
		b    []float64
		want map[string]float64
	}{
		{"R1", r1, b1, map[string]float64{
			// ACC = (0.5 + 0.7 + 0.9) / 3 = 2.1 / 3 = 0.7
			KeyACC: 0.7,
			// BWT = ((0.5-0.9) + (0.7-0.8)) / 2 = (-0.4 - 0.1) / 2 = -0.25
			KeyBWT: -0.25,
			// FWT = ((R[0][1]-b[1]) + (R[1][2]-b[2])) / 2 = ((0.1-0.2) + (0.3-0.1)) / 2 = 0.05
			KeyFWT: 0.05,
			// f0 = max(0.9, 0.6) - 0.5 = 0.4; f1 = max(0.1, 0.8) - 0.7 = 0.1; F = 0.25
			KeyForgetting: 0.25,
			// LA = (0.9 + 0.8 + 0.9) / 3 = 2.6 / 3
			KeyLearningAccuracy: 2.6 / 3,
		}},
		{"R2", r2, b2, map[string]float64{
			// ACC = (0.6 + 0.75 + 1.0) / 3 = 2.35 / 3
			KeyACC: 2.35 / 3,
			// BWT = ((0.6-0.8) + (0.75-0.7)) / 2 = (-0.2 + 0.05) / 2 = -0.075
			KeyBWT: -0.075,
			// FWT = ((0.0-0.5) + (0.1-0.5)) / 2 = -0.45
			KeyFWT: -0.45,
			// f0 = max(0.8, 0.9) - 0.6 = 0.3; f1 = max(0.0, 0.7) - 0.75 = -0.05; F = 0.125
			KeyForgetting: 0.125,
			// LA = (0.8 + 0.7 + 1.0) / 3 = 2.5 / 3
			KeyLearningAccuracy: 2.5 / 3,
		}},
		{"T1", [][]float64{{0.7}}, []float64{0.1}, map[string]float64{
			// One task: ACC = LA = R[0][0]; BWT, FWT, Forgetting are undefined (NaN here).
			KeyACC: 0.7, KeyBWT: math.NaN(), KeyFWT: math.NaN(), KeyForgetting: math.NaN(), KeyLearningAccuracy: 0.7,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Compute(c.R, c.b)
			if err != nil {
				t.Fatal(err)
			}
			check := func(name string, got, want float64) {
				t.Helper()
				if !near(got, want) && !(math.IsNaN(got) && math.IsNaN(want)) {
					t.Errorf("%s = %v, want %v", name, got, want)
				}
			}
			if len(got.Keys()) != len(c.want) {
				t.Errorf("Compute gave metrics %v, want %d", got.Keys(), len(c.want))
			}
			check("ACC", got.Get(KeyACC), c.want[KeyACC])
			check("BWT", got.Get(KeyBWT), c.want[KeyBWT])
			check("FWT", got.Get(KeyFWT), c.want[KeyFWT])
			check("Forgetting", got.Get(KeyForgetting), c.want[KeyForgetting])
			check("LearningAccuracy", got.Get(KeyLearningAccuracy), c.want[KeyLearningAccuracy])
			// The individual functions agree with Compute, bit for bit.
			same := func(name string, fn, table float64) {
				t.Helper()
				if math.Float64bits(fn) != math.Float64bits(table) && !math.IsNaN(table) {
					t.Errorf("%s = %v, Compute gave %v", name, fn, table)
				}
			}
			same("ACC()", ACC(c.R), got.Get(KeyACC))
			same("BWT()", BWT(c.R), got.Get(KeyBWT))
			same("FWT()", FWT(c.R, c.b), got.Get(KeyFWT))
			same("Forgetting()", Forgetting(c.R), got.Get(KeyForgetting))
			same("LearningAccuracy()", LearningAccuracy(c.R), got.Get(KeyLearningAccuracy))
		})
	}
}

func TestMetricsEmpty(t *testing.T) {
	for name, v := range map[string]float64{
		"ACC": ACC(nil), "BWT": BWT(nil), "FWT": FWT(nil, nil),
		"Forgetting": Forgetting(nil), "LearningAccuracy": LearningAccuracy(nil),
	} {
		if !math.IsNaN(v) {
			t.Errorf("%s(empty) = %v, want NaN", name, v)
		}
	}
}

func TestAverageAccuracyCurve(t *testing.T) {
	// After task 0: 0.9; after 1: (0.6+0.8)/2 = 0.7; after 2: (0.5+0.7+0.9)/3 = 0.7.
	got := AverageAccuracyCurve(r1)
	want := []float64{0.9, 0.7, 0.7}
	if len(got) != len(want) {
		t.Fatalf("len = %d, want %d", len(got), len(want))
	}
	for i := range want {
		if !near(got[i], want[i]) {
			t.Errorf("curve[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	// Partial matrix (failed run) with a ragged row.
	got = AverageAccuracyCurve([][]float64{{0.5, 0.1, 0.1}, {0.4}, {}})
	if !near(got[0], 0.5) || !near(got[1], 0.4) || !math.IsNaN(got[2]) {
		t.Errorf("partial curve = %v, want [0.5 0.4 NaN]", got)
	}
	if len(AverageAccuracyCurve(nil)) != 0 {
		t.Error("curve of nil is not empty")
	}
}

func TestComputeErrors(t *testing.T) {
	cases := []struct {
		name string
		R    [][]float64
		b    []float64
		want string
	}{
		{"empty", nil, nil, "empty"},
		{"not square rows", [][]float64{{0.1, 0.2}}, []float64{0, 0}, "not square"},
		{"ragged", [][]float64{{0.1, 0.2}, {0.3}}, []float64{0, 0}, "row 1 has 1 columns, want 2"},
		{"b short", [][]float64{{0.1, 0.2}, {0.3, 0.4}}, []float64{0}, "baseline b has length 1, want 2"},
		{"b long", [][]float64{{0.1}}, []float64{0, 0}, "baseline b has length 2, want 1"},
		{"NaN in R", [][]float64{{0.1, math.NaN()}, {0.3, 0.4}}, []float64{0, 0}, "R[0][1]: value NaN is not finite"},
		{"Inf in R", [][]float64{{0.1, 0.2}, {math.Inf(1), 0.4}}, []float64{0, 0}, "R[1][0]: value +Inf is not finite"},
		{"NaN in b", [][]float64{{0.1}}, []float64{math.NaN()}, "b[0]: value NaN is not finite"},
		{"percent", [][]float64{{85}}, []float64{0.1}, "outside [0,1]"},
		{"negative b", [][]float64{{0.5}}, []float64{-0.1}, "b[0]: value -0.1 is outside [0,1]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compute(c.R, c.b)
			if err == nil {
				t.Fatal("Compute succeeded, want error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	// mean = 2.5; squared deviations 2.25+0.25+0.25+2.25 = 5; var = 5/3.
	s := Summarize([]float64{1, 2, 3, 4})
	if s.N != 4 || !near(s.Mean, 2.5) || !near(s.Std, math.Sqrt(5.0/3)) {
		t.Errorf("Summarize(1..4) = %+v", s)
	}
	if s := Summarize([]float64{0.5}); s != (Stat{Mean: 0.5, Std: 0, N: 1}) {
		t.Errorf("Summarize(single) = %+v", s)
	}
	if s := Summarize(nil); s != (Stat{}) {
		t.Errorf("Summarize(nil) = %+v", s)
	}
	if s := Summarize([]float64{0.5, math.NaN()}); !math.IsNaN(s.Mean) || s.N != 2 {
		t.Errorf("Summarize with NaN = %+v, want NaN mean", s)
	}
}

func TestStatString(t *testing.T) {
	cases := []struct {
		s    Stat
		want string
	}{
		{Stat{Mean: 0.853, Std: 0.012, N: 3}, "0.853 ± 0.012"},
		{Stat{Mean: 0.5, Std: 0, N: 1}, "0.500 ± n/a (n=1)"},
		{Stat{Undefined: "needs at least 2 tasks (T = 1)"}, "—"},
		{Stat{Mean: -0.25, Std: 0.0504, N: 2}, "-0.250 ± 0.050"},
		{Stat{}, "n/a"},
	}
	for _, c := range cases {
		if got := c.s.String(); got != c.want {
			t.Errorf("%+v.String() = %q, want %q", c.s, got, c.want)
		}
	}
	if got := (Stat{Mean: 1234.56, Std: 7.8, N: 2}).Format(0); got != "1235 ± 8" {
		t.Errorf("Format(0) = %q", got)
	}
}
