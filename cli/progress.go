package cli

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/clgraph/clgraph/loop"
	"github.com/sirupsen/logrus"
)

// progress shows a run's progress: a bar per task on a terminal, log lines otherwise, each with
// where the whole job stands (run k of N and the job's ETA) once the job is known (job).
type progress struct {
	mode string // bar, log, none
	w    io.Writer
	log  *logrus.Logger
	last time.Time

	total, done int       // runs in the job, runs finished (before this process too)
	trained     int       // runs this process trained to the end (their time counts in the ETA)
	start       time.Time // when this process started training
	runFrac     float64   // the current run's share done
}

// job tells the display the job has total runs, done of them finished already (a resume).
func (p *progress) job(total, done int) { p.total, p.done, p.start = total, done, time.Now() }

// jobStatus returns "run k/N" and the job's ETA ("" until a run has made progress): the time
// this process has trained so far, scaled to the runs left, the current one by its share done.
func (p *progress) jobStatus() (run, eta string) {
	if p.total == 0 {
		return "", ""
	}
	run = fmt.Sprintf("%d/%d", min(p.done+1, p.total), p.total)
	if f := float64(p.trained) + p.runFrac; f > 0 && !p.start.IsZero() {
		left := float64(p.total-p.done) - p.runFrac
		eta = fmtDur(time.Duration(float64(time.Since(p.start)) / f * left))
	}
	return run, eta
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressModes are the values of --progress.
var progressModes = []string{"auto", "bar", "log", "none"}

// progressFlag is the --progress flag: one of progressModes, refused otherwise when parsed.
type progressFlag struct{ mode *string }

func (f progressFlag) String() string {
	if f.mode == nil {
		return ""
	}
	return *f.mode
}

func (f progressFlag) Set(v string) error {
	if !slices.Contains(progressModes, v) {
		return fmt.Errorf("%q is not a progress display: want one of %s", v, strings.Join(progressModes, ", "))
	}
	*f.mode = v
	return nil
}

func newProgress(mode string, w io.Writer, log *logrus.Logger) *progress {
	if mode == "auto" || mode == "" {
		mode = "log"
		if isTerminal(w) {
			mode = "bar"
		}
	}
	return &progress{mode: mode, w: w, log: log}
}

func fmtDur(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Seconds()+0.5))
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

func (p *progress) hook(e loop.Event) {
	if p.mode == "none" {
		return
	}
	fields := logrus.Fields{"strategy": e.Strategy, "seed": e.Seed, "task": fmt.Sprintf("%d/%d", e.Task+1, e.Tasks)}
	if e.Kind == loop.Step && e.Steps > 0 && e.Tasks > 0 {
		p.runFrac = (float64(e.Task) + float64(e.Step)/float64(e.Steps)) / float64(e.Tasks)
	}
	run, jobETA := p.jobStatus()
	if run != "" {
		fields["run"] = run
		if jobETA != "" {
			fields["job_eta"] = jobETA
		}
	}
	if e.Kind == loop.RunEnd {
		p.done++
		if e.Err == nil {
			p.trained++
		}
		p.runFrac = 0
	}
	switch e.Kind {
	case loop.TaskStart:
		if p.mode == "log" {
			p.log.WithFields(fields).Info("task start")
		}
	case loop.Step:
		rate := float64(e.Samples) / e.Elapsed.Seconds()
		eta := time.Duration(float64(e.Elapsed) / float64(e.Step) * float64(e.Steps-e.Step))
		if p.mode == "bar" {
			if time.Since(p.last) < 100*time.Millisecond && e.Step != e.Steps {
				return
			}
			p.last = time.Now()
			const width = 24
			done := width * e.Step / e.Steps
			bar := strings.Repeat("█", done) + strings.Repeat("░", width-done)
			job := ""
			if run != "" {
				job = "run " + run + " "
				if jobETA != "" {
					defer fmt.Fprintf(p.w, " (job ETA %s)", jobETA)
				}
			}
			fmt.Fprintf(p.w, "\r\033[K%s%s seed %d task %d/%d %s %d/%d loss %.4f %.0f samples/s ETA %s",
				job, e.Strategy, e.Seed, e.Task+1, e.Tasks, bar, e.Step, e.Steps, e.Loss, rate, fmtDur(eta))
			return
		}
		if e.Step%max(1, e.Steps/4) == 0 {
			f := fields
			f["step"] = fmt.Sprintf("%d/%d", e.Step, e.Steps)
			f["loss"] = fmt.Sprintf("%.4f", e.Loss)
			if e.Penalty != 0 {
				f["penalty"] = fmt.Sprintf("%.4f", e.Penalty)
			}
			f["samples_per_s"] = fmt.Sprintf("%.0f", rate)
			f["eta"] = fmtDur(eta)
			p.log.WithFields(f).Info("training")
		}
	case loop.TaskEnd:
		accs := make([]string, len(e.Row))
		for i, a := range e.Row {
			accs[i] = fmt.Sprintf("%.3f", a)
		}
		rss, peak := memStatus()
		if p.mode == "bar" {
			mem := ""
			if peak > 0 {
				mem = fmt.Sprintf(", RSS %s (peak %s)", fmtMiB(rss), fmtMiB(peak))
			}
			fmt.Fprintf(p.w, "\r\033[K%s seed %d task %d/%d done in %s, accuracy on each task: %s%s\n", e.Strategy, e.Seed, e.Task+1, e.Tasks, fmtDur(e.Elapsed), strings.Join(accs, " "), mem)
			return
		}
		f := fields
		f["accuracies"] = strings.Join(accs, " ")
		f["seconds"] = fmt.Sprintf("%.1f", e.Elapsed.Seconds())
		if peak > 0 {
			f["rss_mib"] = fmt.Sprintf("%.0f", float64(rss)/(1<<20))
			f["peak_rss_mib"] = fmt.Sprintf("%.0f", float64(peak)/(1<<20))
		}
		p.log.WithFields(f).Info("task end")
	case loop.RunEnd:
		if e.Err != nil && p.mode == "bar" {
			fmt.Fprintln(p.w)
		}
	}
}

// memStatus returns the process's resident set size and its peak so far (VmRSS and VmHWM of
// /proc/self/status), in bytes; zeros where /proc is not available.
func memStatus() (rss, peak int64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		var kb int64
		if _, err := fmt.Sscanf(strings.TrimSpace(val), "%d kB", &kb); err != nil {
			continue
		}
		if key == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return rss, peak
}

func fmtMiB(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
