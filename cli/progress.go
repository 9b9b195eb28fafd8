package cli

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/clgraph/clgraph/loop"
	"github.com/sirupsen/logrus"
)

// progress shows the runs' progress: on a terminal a block of lines, the job's (runs done of N,
// its ETA) and one bar per run training (several with --workers), redrawn in place; otherwise log
// lines, each with its run's number in the job and the job's ETA. It is safe for concurrent runs.
type progress struct {
	mode string // bar, log, none
	w    io.Writer
	log  *logrus.Logger

	mu          sync.Mutex
	last        time.Time
	total, done int                // runs in the job, runs finished (before this process too)
	trained     int                // runs this process trained to the end
	started     int                // runs this process started
	start       time.Time          // when this process started training
	frac        map[string]float64 // per run training: its share done
	num         map[string]int     // per run training: its number in the job
	lines       map[string]string  // bar mode: per run training, its line
	order       []string           // bar mode: runs training, in start order
	drawn       int                // bar mode: lines of the block on screen
}

// job tells the display the job has total runs, done of them finished already (a resume).
func (p *progress) job(total, done int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.done, p.start = total, done, time.Now()
}

// jobStatus returns the runs done of the job and its ETA ("" until a run has made progress): the
// time this process has trained so far, scaled by the work left over the work done.
func (p *progress) jobStatus() (done string, eta string) {
	if p.total == 0 {
		return "", ""
	}
	var frac float64
	for _, f := range p.frac {
		frac += f
	}
	if w := float64(p.trained) + frac; w > 0 && !p.start.IsZero() {
		left := float64(p.total-p.done) - frac
		eta = fmtDur(time.Duration(float64(time.Since(p.start)) / w * left))
	}
	return fmt.Sprintf("%d/%d", p.done, p.total), eta
}

func eventKey(e loop.Event) string { return fmt.Sprintf("%s\x00%d", e.Strategy, e.Seed) }

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
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frac == nil {
		p.frac, p.num, p.lines = map[string]float64{}, map[string]int{}, map[string]string{}
	}
	k := eventKey(e)
	if _, ok := p.num[k]; !ok && e.Kind != loop.RunEnd {
		p.started++
		p.num[k] = p.done + len(p.order) + 1
		if p.total > 0 {
			p.num[k] = min(p.num[k], p.total)
		}
		p.order = append(p.order, k)
	}
	if e.Kind == loop.Step && e.Steps > 0 && e.Tasks > 0 {
		p.frac[k] = (float64(e.Task) + float64(e.Step)/float64(e.Steps)) / float64(e.Tasks)
	}
	fields := logrus.Fields{"strategy": e.Strategy, "seed": e.Seed, "task": fmt.Sprintf("%d/%d", e.Task+1, e.Tasks)}
	runs, jobETA := p.jobStatus()
	if p.total > 0 {
		fields["run"] = fmt.Sprintf("%d/%d", p.num[k], p.total)
		if jobETA != "" {
			fields["job_eta"] = jobETA
		}
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
			const width = 24
			done := width * e.Step / e.Steps
			bar := strings.Repeat("█", done) + strings.Repeat("░", width-done)
			tag := ""
			if p.total > 0 {
				tag = fmt.Sprintf("[run %d/%d] ", p.num[k], p.total)
			}
			p.lines[k] = fmt.Sprintf("%s%s seed %d task %d/%d %s %d/%d loss %.4f %.0f samples/s ETA %s",
				tag, e.Strategy, e.Seed, e.Task+1, e.Tasks, bar, e.Step, e.Steps, e.Loss, rate, fmtDur(eta))
			if time.Since(p.last) >= 100*time.Millisecond || e.Step == e.Steps {
				p.redraw(runs, jobETA)
			}
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
			p.redraw(runs, jobETA, fmt.Sprintf("%s seed %d task %d/%d done in %s, accuracy on each task: %s%s", e.Strategy, e.Seed, e.Task+1, e.Tasks, fmtDur(e.Elapsed), strings.Join(accs, " "), mem))
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
		p.done++
		if e.Err == nil {
			p.trained++
		}
		delete(p.frac, k)
		delete(p.lines, k)
		delete(p.num, k)
		p.order = slices.DeleteFunc(p.order, func(o string) bool { return o == k })
		if p.mode == "bar" {
			runs, jobETA = p.jobStatus()
			p.redraw(runs, jobETA)
		}
	}
}

// redraw rewrites the bar block in place: permanent lines first (they stay above the block),
// then the job's line and one line per run training.
func (p *progress) redraw(runs, eta string, permanent ...string) {
	p.last = time.Now()
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\033[%dA", p.drawn)
	}
	for _, l := range permanent {
		b.WriteString("\r\033[K" + l + "\n")
	}
	n := 0
	if p.total > 0 && len(p.order) > 0 {
		line := fmt.Sprintf("job: %s runs done, %d training", runs, len(p.order))
		if eta != "" {
			line += ", ETA " + eta
		}
		b.WriteString("\r\033[K" + line + "\n")
		n++
	}
	for _, k := range p.order {
		if l, ok := p.lines[k]; ok {
			b.WriteString("\r\033[K" + l + "\n")
			n++
		}
	}
	b.WriteString("\033[J") // clear what an earlier, taller block left below
	p.drawn = n
	io.WriteString(p.w, b.String())
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
