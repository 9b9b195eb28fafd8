package results

import (
	"errors"
	"fmt"
	"math"
)

// Metrics are the standard continual-learning summary metrics of one
// accuracy matrix. See Compute for their definitions.
type Metrics struct {
	// ACC is the average accuracy over all tasks after training on the last task.
	ACC float64 `json:"acc"`
	// BWT is the backward transfer (negative values mean forgetting).
	BWT float64 `json:"bwt"`
	// FWT is the forward transfer relative to the randomly initialised model.
	FWT float64 `json:"fwt"`
	// Forgetting is the average forgetting of Chaudhry et al. (2018).
	Forgetting float64 `json:"forgetting"`
	// LearningAccuracy is the average accuracy on each task right after training on it.
	LearningAccuracy float64 `json:"learning_accuracy"`
}

// Compute validates the accuracy matrix R and the random-initialisation
// baseline b and returns all metrics.
//
// R[i][j] is the test accuracy (a fraction in [0,1]) on task j after training
// on tasks 0..i, so R must be T×T with T >= 1; b[j] is the accuracy of the
// randomly initialised model on task j and must have length T. Every value
// must be finite and lie in [0,1]; otherwise Compute returns an error that
// names the offending entry. With T == 1, BWT, FWT and Forgetting are
// undefined and reported as 0.
func Compute(R [][]float64, b []float64) (Metrics, error) {
	if err := validate(R, b); err != nil {
		return Metrics{}, err
	}
	return Metrics{
		ACC:              ACC(R),
		BWT:              BWT(R),
		FWT:              FWT(R, b),
		Forgetting:       Forgetting(R),
		LearningAccuracy: LearningAccuracy(R),
	}, nil
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
// metric over seeds).
type Stat struct {
	// Mean is the arithmetic mean (0 when N == 0).
	Mean float64 `json:"mean"`
	// Std is the sample standard deviation (n-1 denominator; 0 when N <= 1).
	Std float64 `json:"std"`
	// N is the number of values.
	N int `json:"n"`
}

// Summarize returns the mean and sample standard deviation (n-1 in the
// denominator) of xs. Std is 0 for a single value; for an empty slice the
// result is the zero Stat. A NaN in xs makes Mean and Std NaN.
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
	return Stat{Mean: mean, Std: math.Sqrt(ss / float64(n-1)), N: n}
}

// String formats s with three decimals as "mean ± std", e.g. "0.853 ± 0.012",
// or "n/a" when N == 0.
func (s Stat) String() string { return s.Format(3) }

// Format is like String with the given number of decimals.
func (s Stat) Format(decimals int) string {
	if s.N == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.*f ± %.*f", decimals, s.Mean, decimals, s.Std)
}
