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
	if run, eta := p.jobStatus(); run != "3/4" || eta == "" {
		t.Errorf("after a run: %q %q, want run 3/4 and an ETA", run, eta)
	}
	pb := newProgress("bar", &bar, log)
	pb.job(2, 0)
	ev = loop.Event{Kind: loop.Step, Strategy: "ewc", Seed: 1, Tasks: 2, Step: 8, Steps: 8, Elapsed: time.Second, Samples: 64}
	pb.hook(ev)
	if s := bar.String(); !strings.Contains(s, "run 1/2 ewc") || !strings.Contains(s, "job ETA") {
		t.Errorf("bar %q", s)
	}
}
