package results

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// StepRow is one line of a run's steps.csv (StepsFile).
type StepRow struct {
	Step, Task, TaskStep       int
	Loss, Penalty, SamplesPerS float64
	LR, TrainSeconds           float64
}

// ReadSteps reads a steps.csv. A missing file is an error the caller can test with
// errors.Is(err, fs.ErrNotExist) (runs made before step logs, or with step_log 0).
func ReadSteps(path string) ([]StepRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []StepRow
	sc := bufio.NewScanner(f)
	for n := 0; sc.Scan(); n++ {
		if n == 0 {
			continue // header
		}
		fs := strings.Split(sc.Text(), ",")
		if len(fs) != 8 {
			return out, fmt.Errorf("%s line %d: %d fields, want 8", path, n+1, len(fs))
		}
		var r StepRow
		var errs [8]error
		r.Step, errs[0] = strconv.Atoi(fs[0])
		r.Task, errs[1] = strconv.Atoi(fs[1])
		r.TaskStep, errs[2] = strconv.Atoi(fs[2])
		r.Loss, errs[3] = strconv.ParseFloat(fs[3], 64)
		r.Penalty, errs[4] = strconv.ParseFloat(fs[4], 64)
		r.SamplesPerS, errs[5] = strconv.ParseFloat(fs[5], 64)
		r.LR, errs[6] = strconv.ParseFloat(fs[6], 64)
		r.TrainSeconds, errs[7] = strconv.ParseFloat(fs[7], 64)
		for _, e := range errs {
			if e != nil {
				return out, fmt.Errorf("%s line %d: %v", path, n+1, e)
			}
		}
		out = append(out, r)
	}
	return out, sc.Err()
}
