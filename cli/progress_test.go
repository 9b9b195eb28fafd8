package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/clgraph/clgraph/loop"
	"github.com/sirupsen/logrus"
)

// TestProgressWholeJob: the display says which run of the job is training (counting runs a
// resume found finished) and, once a run has made progress, the job's ETA, in log lines and on
// the bar.
func TestProgressWholeJob(t *testing.T) {
	var logs, bar bytes.Buffer
	log := logrus.New()
	log.SetOutput(&logs)
	p := newProgress("log", &bar, log)
	p.job(4, 1) // one of four runs finished before
	ev := loop.Event{Strategy: "naive", Seed: 2, Tasks: 2, Steps: 8, Elapsed: time.Second, Samples: 64}
	for _, k := range []loop.EventKind{loop.RunStart, loop.TaskStart} {
		ev.Kind = k
		p.hook(ev)
	}
	ev.Kind, ev.Step = loop.Step, 4
	p.hook(ev)
	out := logs.String()
	if !strings.Contains(out, "run=2/4") || !strings.Contains(out, "job_eta=") {
		t.Errorf("log lines do not say run 2/4 with a job ETA:\n%s", out)
	}
	ev.Kind, ev.Err = loop.RunEnd, nil
	p.hook(ev)
	if runs, eta := p.jobStatus(); runs != "2/4" || eta == "" {
		t.Errorf("after a run: %q runs done, ETA %q; want 2/4 and an ETA", runs, eta)
	}
	pb := newProgress("bar", &bar, log)
	pb.job(2, 0)
	ev = loop.Event{Kind: loop.Step, Strategy: "ewc", Seed: 1, Tasks: 2, Step: 8, Steps: 8, Elapsed: time.Second, Samples: 64}
	pb.hook(ev)
	if s := bar.String(); !strings.Contains(s, "[run 1/2] ewc") || !strings.Contains(s, "job: 0/2 runs done, 1 training, ETA") {
		t.Errorf("bar %q", s)
	}
}

// TestProgressConcurrentRuns: with two runs training at once the bar block has the job's line and
// one line per run, redrawn in place (the cursor moves up over the block it drew), and each log
// line carries its own run's number.
func TestProgressConcurrentRuns(t *testing.T) {
	var bar bytes.Buffer
	log := logrus.New()
	p := newProgress("bar", &bar, log)
	p.job(3, 0)
	a := loop.Event{Kind: loop.Step, Strategy: "naive", Seed: 1, Tasks: 2, Step: 8, Steps: 8, Elapsed: time.Second, Samples: 64}
	b := a
	b.Strategy = "ewc" // its last step: drawn at once, not throttled
	p.hook(a)
	p.hook(b)
	s := bar.String()
	if !strings.Contains(s, "job: 0/3 runs done, 2 training") || !strings.Contains(s, "[run 1/3] naive") || !strings.Contains(s, "[run 2/3] ewc") || !strings.Contains(s, "\033[2A") {
		t.Errorf("block %q", s)
	}
	var logs bytes.Buffer
	log.SetOutput(&logs)
	q := newProgress("log", &logs, log)
	q.job(3, 0)
	for _, e := range []loop.Event{a, b} {
		e.Kind = loop.TaskStart
		q.hook(e)
	}
	if out := logs.String(); !strings.Contains(out, "run=1/3") || !strings.Contains(out, "run=2/3") {
		t.Errorf("log lines %q", out)
	}
}
