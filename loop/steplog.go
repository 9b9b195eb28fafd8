package loop

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/clgraph/clgraph/results"
	"github.com/clgraph/clgraph/results/tfevents"
)

// StepsHeader is the first line of steps.csv.
const StepsHeader = "step,task,task_step,loss,penalty,samples_per_s,lr,train_seconds"

// stepLog writes a run's training curve (runspec's step_log): every `every` steps a line of
// steps.csv and TensorBoard scalars (train/loss, train/penalty, train/samples_per_s); after each
// task the accuracy on every task (eval/task_<j>) and the average over the tasks seen
// (eval/avg_acc), and after the last ACC (eval/ACC). Steps are global: task·iterations + the
// step in the task. On resume, steps.csv keeps its lines up to the step resumed from and a new
// event file starts with a SessionLog START there, so TensorBoard drops what an interrupted
// attempt logged past the checkpoint.
type stepLog struct {
	dir    string
	every  int
	lr     float64
	csv    *os.File
	w      *bufio.Writer
	tb     *tfevents.Writer
	last   Event // the event of the previous line (rate over the window since)
	opened bool
}

// stepLogHook returns the hook of a step log in dir (nil when every < 1).
func stepLogHook(dir string, every int, lr float64) Hook {
	if every < 1 {
		return nil
	}
	l := &stepLog{dir: dir, every: every, lr: lr}
	return l.hook
}

func (l *stepLog) hook(e Event) error {
	switch e.Kind {
	case TaskStart:
		if !l.opened {
			return l.open(e)
		}
	case Step:
		if e.Step%l.every == 0 || e.Step == e.Steps {
			return l.line(e)
		}
	case TaskEnd:
		return l.evals(e)
	case RunEnd:
		return l.close()
	}
	return nil
}

// global is e's step counted over the whole run.
func global(e Event) int64 { return int64(e.Task)*int64(e.Steps) + int64(e.Step) }

// open starts the log at e (the first TaskStart: the run's start, or where it resumes).
func (l *stepLog) open(e Event) error {
	l.opened = true
	path := filepath.Join(l.dir, results.StepsFile)
	from := global(e)
	keep := []byte(StepsHeader + "\n")
	if from > 0 {
		if old, err := os.ReadFile(path); err == nil {
			keep = keepLines(old, from)
		}
	}
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return fmt.Errorf("step log: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("step log: %w", err)
	}
	l.csv, l.w = f, bufio.NewWriter(f)
	l.w.Write(keep)
	if l.tb, err = tfevents.Create(l.dir, "clgraph", time.Now()); err != nil {
		return fmt.Errorf("step log: TensorBoard events: %w", err)
	}
	if from > 0 {
		if err := l.tb.Start(from, time.Now()); err != nil {
			return fmt.Errorf("step log: %w", err)
		}
	}
	l.last = e
	return nil
}

// keepLines returns the header and the lines of an earlier steps.csv up to step from.
func keepLines(old []byte, from int64) []byte {
	var out bytes.Buffer
	for i, line := range strings.Split(string(old), "\n") {
		if i == 0 {
			out.WriteString(StepsHeader + "\n")
			continue
		}
		step, _, ok := strings.Cut(line, ",")
		n, err := strconv.ParseInt(step, 10, 64)
		if !ok || err != nil || n > from {
			continue
		}
		out.WriteString(line + "\n")
	}
	return out.Bytes()
}

func (l *stepLog) line(e Event) error {
	if l.w == nil {
		return nil
	}
	rate := 0.0
	if e.Task == l.last.Task {
		if dt := (e.Elapsed - l.last.Elapsed).Seconds(); dt > 0 {
			rate = float64(e.Samples-l.last.Samples) / dt
		}
	} else if s := e.Elapsed.Seconds(); s > 0 {
		rate = float64(e.Samples) / s
	}
	g := global(e)
	fmt.Fprintf(l.w, "%d,%d,%d,%g,%g,%.1f,%g,%.3f\n", g, e.Task+1, e.Step, e.Loss, e.Penalty, rate, l.lr, e.Elapsed.Seconds())
	l.last = e
	if err := l.tb.Scalars(g, time.Now(), []string{"train/loss", "train/penalty", "train/samples_per_s"}, []float32{e.Loss, e.Penalty, float32(rate)}); err != nil {
		return fmt.Errorf("step log: %w", err)
	}
	return nil
}

func (l *stepLog) evals(e Event) error {
	if l.tb == nil || e.Row == nil {
		return nil
	}
	tags := make([]string, 0, len(e.Row)+2)
	vals := make([]float32, 0, len(e.Row)+2)
	var seen float64
	for j, a := range e.Row {
		tags, vals = append(tags, fmt.Sprintf("eval/task_%d", j+1)), append(vals, float32(a))
		if j <= e.Task {
			seen += a / float64(e.Task+1)
		}
	}
	tags, vals = append(tags, "eval/avg_acc"), append(vals, float32(seen))
	if e.Task == e.Tasks-1 {
		tags, vals = append(tags, "eval/ACC"), append(vals, float32(seen))
	}
	if err := l.tb.Scalars(int64(e.Task+1)*int64(e.Steps), time.Now(), tags, vals); err != nil {
		return fmt.Errorf("step log: %w", err)
	}
	return errors.Join(l.w.Flush(), l.tb.Flush())
}

func (l *stepLog) close() error {
	var errs []error
	if l.w != nil {
		errs = append(errs, l.w.Flush(), l.csv.Close())
		l.w = nil
	}
	if l.tb != nil {
		errs = append(errs, l.tb.Close())
		l.tb = nil
	}
	return errors.Join(errs...)
}
